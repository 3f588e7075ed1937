"""The self-hosted identity provider: argon2id hashes in MySQL, ES256 JWTs from the key ring."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid

import aiomysql
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.auth.errors import InvalidCredentialsError
from services.auth.providers.base import ProviderSession
from services.auth.repo.users import UserRow
from services.auth.signing import KeyRing


class LocalIdentityProvider:
    """Passwords hashed with argon2id (cost from the settings, see AuthSettings.argon2_*)."""

    name = "local"

    def __init__(
        self, keyring: KeyRing, issuer: str, audience: str, token_ttl_s: int, hasher: PasswordHasher | None = None
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._ttl = token_ttl_s
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    async def start(self) -> None:
        """Nothing to open: keys are loaded by the app's key-ring context."""

    async def close(self) -> None:
        """Nothing to release."""

    async def create_user(self, cur: aiomysql.Cursor, user: UserRow, password: str | None) -> str:
        if password is not None:
            await self.set_password(cur, user, password)
        return user.id

    async def delete_user(self, user: UserRow) -> None:
        """Credentials live in the same transaction as the user row: the rollback removed them."""

    async def set_password(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> None:
        hashed = await asyncio.to_thread(self._hasher.hash, password)
        await cur.execute(
            "INSERT INTO local_credentials (user_id, password_hash) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash)",
            (user.id, hashed),
        )

    async def authenticate(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> ProviderSession:
        await cur.execute("SELECT password_hash FROM local_credentials WHERE user_id = %s", (user.id,))
        found = await cur.fetchone()
        if found is None:
            await self.burn_time(password)
            raise InvalidCredentialsError("wrong login name or password")
        try:
            await asyncio.to_thread(self._hasher.verify, found[0], password)
        except (VerificationError, InvalidHashError):
            raise InvalidCredentialsError("wrong login name or password") from None
        if self._hasher.check_needs_rehash(found[0]):
            await self.set_password(cur, user, password)
        return self._session(user)

    async def session_after_password_set(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> ProviderSession:
        return self._session(user)

    async def refresh(self, cur: aiomysql.Cursor, user: UserRow, provider_refresh: str | None) -> ProviderSession:
        return self._session(user)

    async def sign_out_everywhere(self, user: UserRow) -> None:
        """Sessions are the service's refresh families, revoked by the caller; access tokens expire."""

    async def burn_time(self, password: str) -> None:
        try:
            await asyncio.to_thread(self._hasher.verify, self._dummy_hash, password)
        except VerificationError:
            pass

    def _session(self, user: UserRow) -> ProviderSession:
        now = time.time()
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": user.id,
            # fractional (RFC 7519 NumericDate allows it): revocation at a password change can then tell
            # a token minted just before it from one minted just after, within the same second
            "iat": round(now, 3),
            "nbf": int(now),
            "exp": int(now) + self._ttl,
            "jti": str(uuid.uuid4()),
            "token_use": "access",
        }
        return ProviderSession(self._keyring.sign(claims), self._ttl)
