"""The auth use cases, shared by the protocol routes and the Kii-compatible routes.

Transactions are explicit: each use case takes a pooled connection, does its reads and writes and
the provider call, and commits once, so a failure leaves no half-written user or session.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import aiomysql
import pymysql

from services.auth.config import AuthSettings
from services.auth.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    InvalidResetCodeError,
    LoginNameTakenError,
    PasswordResetRequiredError,
    UserNotFoundError,
    WeakPasswordError,
)
from services.auth.legacy_passwords import LegacyPasswords
from services.auth.mailer import Mailer
from services.auth.passwords import check_password_policy
from services.auth.providers.base import IdentityProvider
from services.auth.repo import users
from services.auth.repo.users import UserRow
from services.auth.reset_codes import ResetCodes
from services.auth.sessions import SessionRef, SessionStore
from services.auth.throttle import Throttle, account_key, address_key
from shared.db.transactions import rollback_after
from shared.events.envelope import Event
from shared.store.outbox import add_event

log = logging.getLogger(__name__)
DUPLICATE_KEY = 1062


@dataclass(frozen=True)
class IssuedTokens:
    user_id: str
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class NewUser:
    login_name: str
    email: str | None
    password: str
    display_name: str | None = None
    country: str | None = None
    locale: str | None = None
    profile: dict[str, object] | None = None


class AuthService:
    """Registration, login (with lazy legacy migration), refresh rotation, logout and password flows."""

    def __init__(
        self,
        settings: AuthSettings,
        pool: aiomysql.Pool,
        provider: IdentityProvider,
        sessions: SessionStore,
        throttle: Throttle,
        legacy: LegacyPasswords,
        reset_codes: ResetCodes,
        mailer: Mailer,
    ) -> None:
        self.settings = settings
        self._pool = pool
        self.provider = provider
        self._sessions = sessions
        self._throttle = throttle
        self._legacy = legacy
        self._codes = reset_codes
        self._mailer = mailer

    def check_policy(self, password: str, *names: str | None) -> None:
        check_password_policy(
            password,
            min_length=self.settings.password_min_length,
            max_length=self.settings.password_max_length,
            names=names,
        )

    async def register(self, new: NewUser) -> IssuedTokens:
        """Create the user and its identity, open a first session, announce ``user.registered``."""
        self.check_policy(new.password, new.login_name, new.email)
        user = UserRow(
            id=str(uuid.uuid4()),
            login_name=new.login_name,
            email=new.email,
            display_name=new.display_name,
            country=new.country,
            locale=new.locale,
            region=self.settings.region,
            profile=new.profile or {},
            idp=self.provider.name,
            idp_subject=None,
            legacy_user_id=None,
            legacy_hash_scheme=None,
            legacy_hash=None,
            legacy_salt=None,
            legacy_hash_params=None,
            password_migrated_at=None,
            tokens_valid_after=None,
            status="active",
            created_at=_utc_now(),
            updated_at=_utc_now(),
        )
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            try:
                await users.insert(cur, user)
            except pymysql.err.IntegrityError as exc:
                await conn.rollback()
                raise _duplicate(exc) from None
            provider_created = False
            try:
                user.idp_subject = await self.provider.create_user(cur, user, new.password)
                provider_created = True
                await users.set_idp_subject(cur, user.id, user.idp_subject)
                session = await self.provider.session_after_password_set(cur, user, new.password)
                _, refresh = await self._sessions.open(cur, user.id, session.provider_refresh)
                await add_event(
                    cur,
                    self._event("user.registered", user.id, {"idp": self.provider.name}),
                    self.settings.events_topic,
                )
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                if provider_created:
                    await self.provider.delete_user(user)
                raise
        log.info("user %s registered (idp %s)", user.id, self.provider.name)
        return IssuedTokens(user.id, session.access_token, refresh, session.expires_in)

    async def login(self, username: str, password: str, address: str) -> IssuedTokens:
        """Password grant: throttled, enumeration-safe, migrating a legacy password on first success."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            user = await users.get_by_username(cur, username)
            await conn.commit()
        keys = [account_key(user.id if user else None, username)]
        if address not in self.settings.throttle_exempt_addresses:
            keys.append(address_key(address))
        await self._throttle.check(keys)
        try:
            tokens = await self._login_checked(user, password)
        except InvalidCredentialsError:
            await self._throttle.record_failure(keys[0], self.settings.lockout_account_threshold)
            if len(keys) > 1:
                await self._throttle.record_failure(keys[1], self.settings.lockout_address_threshold)
            raise
        await self._throttle.clear(keys[0])
        return tokens

    async def _login_checked(self, user: UserRow | None, password: str) -> IssuedTokens:
        if user is None or user.status != "active":
            await self.provider.burn_time(password)
            raise InvalidCredentialsError("wrong login name or password")
        migrated = False
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            try:
                if self._legacy.pending(user):
                    # Lock the row: concurrent first logins of one user migrate exactly once.
                    locked = await users.get_by_id(cur, user.id, for_update=True)
                    assert locked is not None
                    user = locked
                    if self._legacy.pending(user):
                        await self._migrate_legacy_password(cur, user, password)
                        migrated = True
                session = (
                    await self.provider.session_after_password_set(cur, user, password)
                    if migrated
                    else await self.provider.authenticate(cur, user, password)
                )
                _, refresh = await self._sessions.open(cur, user.id, session.provider_refresh)
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                raise
        return IssuedTokens(user.id, session.access_token, refresh, session.expires_in)

    async def _migrate_legacy_password(self, cur: aiomysql.Cursor, user: UserRow, password: str) -> None:
        if not await self._legacy.verify(user, password):
            raise InvalidCredentialsError("wrong login name or password")
        try:
            await self.provider.set_password(cur, user, password)
        except WeakPasswordError:
            raise PasswordResetRequiredError(
                "your password is correct but too short for the new system; reset it by email"
            ) from None
        await users.clear_legacy_hash(cur, user.id)
        await add_event(
            cur,
            self._event("user.migrated", user.id, {"legacy_user_id": user.legacy_user_id}),
            self.settings.events_topic,
        )
        log.info("user %s migrated its legacy password", user.id)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        """Rotate: the presented token is spent; a spent token presented again revokes its family."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            try:
                ref = await self._sessions.consume(cur, refresh_token)
                if not isinstance(ref, SessionRef):
                    await conn.commit()  # keep the family revoked
                    log.warning("refresh token reuse: family %s of user %s revoked", ref[0], ref[1])
                    raise InvalidRefreshTokenError("refresh token is not valid")
                user = await users.get_by_id(cur, ref.user_id)
                if user is None or user.status != "active":
                    raise InvalidRefreshTokenError("refresh token is not valid")
                session = await self.provider.refresh(cur, user, ref.provider_refresh)
                new_token = await self._sessions.rotate(cur, ref, session.provider_refresh)
                await conn.commit()
            except InvalidCredentialsError:
                await conn.rollback()
                raise InvalidRefreshTokenError("refresh token is not valid") from None
            except BaseException:
                await rollback_after(conn)
                raise
        return IssuedTokens(ref.user_id, session.access_token, new_token, session.expires_in)

    async def logout(self, user_id: str, refresh_token: str) -> None:
        """Revoke the session of ``refresh_token`` if it is the caller's; silent otherwise."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            family = await self._sessions.family_of(cur, refresh_token)
            if family is not None and family[1] == user_id:
                await self._sessions.revoke_family(cur, family[0], "logout")
            await conn.commit()

    async def forgot_password(self, username: str) -> None:
        """Email a one-time code when the account exists; the caller answers 202 either way."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            user = await users.get_by_username(cur, username)
            if user is None or not user.email or user.status != "active":
                await conn.rollback()
                return
            code = await self._codes.issue(cur, user.id)
            await conn.commit()
        await self._mailer.send_reset_code(user.email, code, self.settings.reset_code_ttl_s // 60)
        log.info("password reset code sent to user %s", user.id)

    async def reset_password(self, username: str, code: str, new_password: str) -> None:
        """Redeem the code, set the password, end every session and any pending legacy migration."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            user = await users.get_by_username(cur, username)
            if user is None:
                await conn.rollback()
                raise InvalidResetCodeError("reset code is wrong or expired")
            try:
                await self._codes.redeem(cur, user.id, code)
            except InvalidResetCodeError:
                await conn.commit()  # the failed attempt counts
                raise
            try:
                self.check_policy(new_password, user.login_name, user.email)
                await self._set_password_everywhere(cur, user, new_password, keep=None)
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                raise

    async def change_password(self, user_id: str, old: str, new: str, keep_refresh: str | None) -> None:
        """Verify the old password, set the new one, revoke every other session."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            try:
                user = await users.get_by_id(cur, user_id, for_update=True)
                if user is None:
                    raise UserNotFoundError("user not found")
                if self._legacy.pending(user):
                    await self._migrate_legacy_password(cur, user, old)
                else:
                    await self.provider.authenticate(cur, user, old)
                self.check_policy(new, user.login_name, user.email)
                keep = await self._sessions.family_of(cur, keep_refresh) if keep_refresh else None
                await self._set_password_everywhere(
                    cur, user, new, keep=keep[0] if keep and keep[1] == user_id else None
                )
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                raise

    async def _set_password_everywhere(
        self, cur: aiomysql.Cursor, user: UserRow, password: str, keep: str | None
    ) -> None:
        await self.provider.set_password(cur, user, password)
        if user.password_migrated_at is None and user.legacy_user_id is not None:
            await users.clear_legacy_hash(cur, user.id)  # a reset ends the legacy path too
        await self._sessions.revoke_user(cur, user.id, "password_changed", keep=keep)
        await users.revoke_tokens(cur, user.id)
        await self.provider.sign_out_everywhere(user)
        if keep is not None:
            # the provider's sign-out also ended the kept session's provider token: renew it
            session = await self.provider.session_after_password_set(cur, user, password)
            if session.provider_refresh:
                await self._sessions.set_provider_refresh(cur, keep, session.provider_refresh)

    async def get_user(self, user_id: str) -> UserRow:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            user = await users.get_by_id(cur, user_id)
            await conn.commit()
        if user is None:
            raise UserNotFoundError("user not found")
        return user

    async def update_user(self, user_id: str, changes: dict[str, object]) -> UserRow:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await conn.begin()
            await users.update_profile(cur, user_id, changes)
            await conn.commit()
        return await self.get_user(user_id)

    def _event(self, kind: str, user_id: str, data: dict[str, object]) -> Event:
        return Event(type=kind, user_id=user_id, region=self.settings.region, data=data)  # type: ignore[arg-type]


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _duplicate(exc: pymysql.err.IntegrityError) -> Exception:
    text = str(exc.args[1]) if len(exc.args) > 1 else ""
    if exc.args[0] == DUPLICATE_KEY and "uq_users_email" in text:
        return EmailTakenError("email is already registered")
    if exc.args[0] == DUPLICATE_KEY:
        return LoginNameTakenError("login name is taken")
    return exc
