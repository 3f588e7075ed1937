"""Lazy legacy-password migration (DESIGN section 4): verify the old password once, then forget it.

Two methods: the imported legacy hash (the platform's export plus its hash key), or, for platforms
that cannot export hashes, one call to the legacy platform's login API. That call is capped in
concurrency and guarded by a circuit breaker, so a login storm after cut-over cannot flood the old
system: when it is down, users get a retryable 503 instead of a pile-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp

from services.auth.config import AuthSettings
from services.auth.errors import ProviderUnavailableError
from services.auth.repo.users import UserRow
from shared.legacy.hash_schemes import LegacyHash, LegacyHashError, verify_legacy_password

log = logging.getLogger(__name__)


class CircuitBreaker:
    """Opens after ``failures`` consecutive errors; after ``reset_s`` lets one trial call through."""

    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    def allow(self) -> bool:
        if self._opened_at is None:
            return True
        if self._clock() - self._opened_at >= self._reset_s and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def success(self) -> None:
        self._failures, self._opened_at, self._trial_running = 0, None, False

    def failure(self) -> None:
        self._failures += 1
        self._trial_running = False
        if self._failures >= self._threshold:
            self._opened_at = self._clock()

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None


class LegacyLoginClient:
    """The legacy platform's token endpoint (Kii shape): 200 means the password is right."""

    def __init__(self, settings: AuthSettings, session: aiohttp.ClientSession) -> None:
        assert settings.legacy_login_url
        self._url = settings.legacy_login_url.rstrip("/") + "/api/oauth2/token"
        self._headers = {
            "X-Kii-AppID": settings.legacy_login_app_id,
            "X-Kii-AppKey": settings.legacy_login_app_key.get_secret_value(),
        }
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=settings.legacy_login_timeout_s)
        self._slots = asyncio.Semaphore(settings.legacy_login_concurrency)
        self.breaker = CircuitBreaker(settings.legacy_breaker_failures, settings.legacy_breaker_reset_s)

    async def verify(self, username: str, password: str) -> bool:
        if not self.breaker.allow():
            raise ProviderUnavailableError("the legacy platform is not answering; retry later or reset your password")
        async with self._slots:
            try:
                async with self._session.post(
                    self._url,
                    json={"username": username, "password": password},
                    headers=self._headers,
                    timeout=self._timeout,
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.warning("legacy login API unreachable: %s", type(exc).__name__)
                self.breaker.failure()
                raise ProviderUnavailableError("the legacy platform is not answering; retry later") from None
        if status == 200:
            self.breaker.success()
            return True
        if status in (400, 401):  # a wrong password (Kii: 400 invalid_grant) is an answer, not a fault
            self.breaker.success()
            return False
        self.breaker.failure()
        raise ProviderUnavailableError("the legacy platform is not answering; retry later")


class LegacyPasswords:
    """Decides whether a user still needs the legacy check, and performs it."""

    def __init__(self, hash_key: bytes | None, api: LegacyLoginClient | None) -> None:
        self._hash_key = hash_key
        self._api = api

    def pending(self, user: UserRow) -> bool:
        """True while the user's password still lives only on the legacy side."""
        if user.password_migrated_at is not None or user.legacy_user_id is None:
            return False
        return user.has_legacy_hash or self._api is not None

    async def verify(self, user: UserRow, password: str) -> bool:
        if user.has_legacy_hash:
            try:
                legacy = LegacyHash.from_record(
                    user.legacy_hash_scheme or "",
                    user.legacy_hash or "",
                    user.legacy_salt,
                    user.legacy_hash_params,
                )
                return await asyncio.to_thread(verify_legacy_password, password, legacy, self._hash_key)
            except LegacyHashError as exc:
                # e.g. an hmac-sha256 user but no hash key configured: an operator problem, not the user's
                log.error("legacy hash of user %s cannot be checked: %s", user.id, type(exc).__name__)
                raise ProviderUnavailableError("legacy password cannot be checked; contact support") from None
        if self._api is not None:
            return await self._api.verify(user.login_name, password)
        return False
