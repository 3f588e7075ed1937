"""Sessions as refresh-token families (OAuth 2.0 Security BCP, refresh token rotation).

Each login opens a family; each refresh marks the presented token used and issues its successor.
A used token presented again means it was copied: the whole family is revoked, so both the thief
and the victim must log in again. Only SHA-256 digests of tokens are stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiomysql

from services.auth.errors import InvalidRefreshTokenError
from services.auth.sealing import Sealer

TOKEN_PREFIX = "vsr_"  # noqa: S105 - marks our refresh tokens for secret scanners


@dataclass(frozen=True)
class SessionRef:
    """The family a presented refresh token belongs to, locked for the caller's transaction."""

    family_id: str
    user_id: str
    provider_refresh: str | None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SessionStore:
    """SQL of ``token_families`` and ``refresh_tokens``; every method runs in the caller's transaction."""

    def __init__(self, sealer: Sealer, ttl_s: int) -> None:
        self._sealer = sealer
        self._ttl = timedelta(seconds=ttl_s)

    async def open(self, cur: aiomysql.Cursor, user_id: str, provider_refresh: str | None) -> tuple[str, str]:
        """Start a family; returns (family id, first refresh token)."""
        family_id = str(uuid.uuid4())
        sealed = self._sealer.seal(provider_refresh.encode()) if provider_refresh else None
        await cur.execute(
            "INSERT INTO token_families (id, user_id, provider_refresh) VALUES (%s, %s, %s)",
            (family_id, user_id, sealed),
        )
        return family_id, await self._issue(cur, family_id)

    async def _issue(self, cur: aiomysql.Cursor, family_id: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        await cur.execute(
            "INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES (%s, %s, %s)",
            (_digest(token), family_id, _now() + self._ttl),
        )
        return token

    async def consume(self, cur: aiomysql.Cursor, token: str) -> SessionRef | tuple[str, str]:
        """Mark ``token`` used and return its family; on reuse, revoke the family and return
        ``(family_id, user_id)`` so the caller commits the revocation before refusing."""
        await cur.execute(
            "SELECT t.family_id, t.expires_at, t.used_at, f.user_id, f.provider_refresh, f.revoked_at "
            "FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id "
            "WHERE t.token_hash = %s FOR UPDATE",
            (_digest(token),),
        )
        found = await cur.fetchone()
        if found is None:
            raise InvalidRefreshTokenError("refresh token is not valid")
        family_id, expires_at, used_at, user_id, sealed, revoked_at = found
        if revoked_at is not None or expires_at <= _now():
            raise InvalidRefreshTokenError("refresh token is not valid")
        if used_at is not None:
            await self.revoke_family(cur, family_id, "reuse")
            return family_id, user_id
        await cur.execute("UPDATE refresh_tokens SET used_at = %s WHERE token_hash = %s", (_now(), _digest(token)))
        provider_refresh = self._sealer.open(bytes(sealed)).decode() if sealed else None
        return SessionRef(family_id, user_id, provider_refresh)

    async def rotate(self, cur: aiomysql.Cursor, ref: SessionRef, provider_refresh: str | None) -> str:
        """Issue the successor token in the family (and keep the provider token current)."""
        if provider_refresh and provider_refresh != ref.provider_refresh:
            await self.set_provider_refresh(cur, ref.family_id, provider_refresh)
        return await self._issue(cur, ref.family_id)

    async def set_provider_refresh(self, cur: aiomysql.Cursor, family_id: str, provider_refresh: str) -> None:
        """Point a family at a new provider refresh token (after the provider signed everyone out)."""
        await cur.execute(
            "UPDATE token_families SET provider_refresh = %s WHERE id = %s",
            (self._sealer.seal(provider_refresh.encode()), family_id),
        )

    async def family_of(self, cur: aiomysql.Cursor, token: str) -> tuple[str, str] | None:
        """(family id, user id) of a token, used or not; None when unknown."""
        await cur.execute(
            "SELECT f.id, f.user_id FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id "
            "WHERE t.token_hash = %s",
            (_digest(token),),
        )
        found = await cur.fetchone()
        return (found[0], found[1]) if found else None

    async def revoke_family(self, cur: aiomysql.Cursor, family_id: str, reason: str) -> None:
        await cur.execute(
            "UPDATE token_families SET revoked_at = %s, revoke_reason = %s WHERE id = %s AND revoked_at IS NULL",
            (_now(), reason, family_id),
        )

    async def revoke_user(self, cur: aiomysql.Cursor, user_id: str, reason: str, keep: str | None = None) -> int:
        """Revoke every live family of the user except ``keep``; returns how many."""
        await cur.execute(
            "UPDATE token_families SET revoked_at = %s, revoke_reason = %s "
            "WHERE user_id = %s AND revoked_at IS NULL AND id <> %s",
            (_now(), reason, user_id, keep or ""),
        )
        return int(cur.rowcount)
