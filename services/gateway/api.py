"""The gateway's client of the mobile-sync protocol v1 (DESIGN section 5): tokens, devices, batches.

One ``aiohttp.ClientSession`` (owned by the caller) for everything. :class:`Tokens` logs in with the
password grant, refreshes shortly before the access token expires or when a request gets 401, and
logs in again when the refresh token is refused. Failures become the gateway's typed errors
(:mod:`services.gateway.errors`): connection errors, timeouts, 5xx and the edge's 502-504 are
:class:`ApiUnavailableError` (retry later, the queue keeps the data), 429 is
:class:`ApiThrottledError` with Retry-After, other 4xx are :class:`ApiRequestError` with the
protocol's error code. No token or password is ever logged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from services.gateway.errors import (
    ApiRequestError,
    ApiThrottledError,
    ApiUnavailableError,
    CredentialsRejectedError,
)

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 30.0
# Refresh when less than this share of the access token's lifetime is left (and at least 30 s before).
REFRESH_AHEAD_SHARE = 0.2
REFRESH_AHEAD_MIN_S = 30.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who the gateway uploads as."""

    username: str
    password: str

    def __repr__(self) -> str:  # keep the password out of tracebacks and logs
        return f"Credentials(username={self.username!r}, password=***)"


@dataclass(slots=True)
class _TokenSet:
    access_token: str
    refresh_token: str
    user_id: str
    expires_at: float  # monotonic
    lifetime_s: float


class Tokens:
    """Access and refresh tokens for one user; one login or refresh at a time."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        base_url: str,
        credentials: Credentials,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._credentials = credentials
        self._clock = clock
        self._tokens: _TokenSet | None = None
        self._lock = asyncio.Lock()
        self.logins = 0
        self.refreshes = 0

    @property
    def user_id(self) -> str | None:
        """The user the tokens belong to (after the first login)."""
        return self._tokens.user_id if self._tokens else None

    async def access_token(self) -> str:
        """A valid access token: logs in first, refreshes ahead of expiry."""
        async with self._lock:
            tokens = self._tokens
            if tokens is None:
                tokens = await self._login()
            elif self._expiring(tokens):
                tokens = await self._refresh_or_login(tokens)
            return tokens.access_token

    async def invalidate(self, rejected_access_token: str) -> None:
        """A request got 401 with this token: refresh (or log in) before the next request."""
        async with self._lock:
            tokens = self._tokens
            if tokens is not None and tokens.access_token == rejected_access_token:
                await self._refresh_or_login(tokens)

    def _expiring(self, tokens: _TokenSet) -> bool:
        ahead = max(REFRESH_AHEAD_MIN_S, tokens.lifetime_s * REFRESH_AHEAD_SHARE)
        return self._clock() >= tokens.expires_at - ahead

    async def _refresh_or_login(self, tokens: _TokenSet) -> _TokenSet:
        try:
            return await self._grant({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token})
        except ApiRequestError as error:
            logger.info("refresh token refused (%s); logging in again", error.code)
            return await self._login()
        finally:
            self.refreshes += 1

    async def _login(self) -> _TokenSet:
        self.logins += 1
        body = {
            "grant_type": "password",
            "username": self._credentials.username,
            "password": self._credentials.password,
        }
        try:
            return await self._grant(body)
        except ApiRequestError as error:
            if error.status in (400, 401, 403):
                raise CredentialsRejectedError(f"login as {self._credentials.username!r} refused: {error}") from None
            raise

    async def _grant(self, body: dict[str, str]) -> _TokenSet:
        started = self._clock()
        data = await send(self._http, "POST", f"{self._base_url}/v1/auth/token", body)
        lifetime = float(data.get("expires_in", 900))
        tokens = _TokenSet(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or (self._tokens.refresh_token if self._tokens else "")),
            user_id=str(data.get("user_id") or (self._tokens.user_id if self._tokens else "")),
            expires_at=started + lifetime,
            lifetime_s=lifetime,
        )
        self._tokens = tokens
        return tokens


class SyncApi:
    """Devices and readings endpoints, authenticated with :class:`Tokens`."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, tokens: Tokens) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self.tokens = tokens

    async def register_device(self, body: Mapping[str, Any]) -> str:
        """``POST /v1/devices`` (idempotent on user + model + serial); returns sync's device id."""
        data = await self._authorized("POST", "/v1/devices", body)
        return str(data["id"])

    async def upload(self, device_id: str, readings: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``POST /v1/readings:batch``; returns the per-item results in request order."""
        data = await self._authorized("POST", "/v1/readings:batch", {"device_id": device_id, "readings": readings})
        results = data.get("results")
        if not isinstance(results, list) or len(results) != len(readings):
            raise ApiUnavailableError("readings:batch answered without one result per reading")
        return results

    async def _authorized(self, method: str, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        for attempt in (1, 2):
            token = await self.tokens.access_token()
            try:
                return await send(self._http, method, f"{self._base_url}{path}", body, token)
            except ApiRequestError as error:
                if error.status != 401:
                    raise
                if attempt == 2:
                    raise CredentialsRejectedError(f"{path}: fresh tokens refused too ({error.code})") from None
                await self.tokens.invalidate(token)
        raise AssertionError("unreachable")


async def send(
    http: aiohttp.ClientSession, method: str, url: str, body: Mapping[str, Any], token: str | None = None
) -> dict[str, Any]:
    """One JSON request; errors mapped to the gateway's typed errors (module doc)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        async with http.request(
            method, url, json=body, headers=headers, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        ) as response:
            status = response.status
            retry_after = _retry_after(response.headers.get("Retry-After"))
            try:
                data = await response.json(content_type=None)
            except (ValueError, aiohttp.ContentTypeError):
                data = None
    except (aiohttp.ClientError, TimeoutError) as error:
        raise ApiUnavailableError(f"{method} {url}: {type(error).__name__}: {error}") from error
    if 200 <= status < 300 and isinstance(data, dict):
        return data
    code, message = _error_of(data, status)
    if status == 429:
        raise ApiThrottledError(f"{status} {code}: {message}", retry_after)
    if status >= 500 or status in (408, 425) or not isinstance(data, dict):
        raise ApiUnavailableError(f"{method} {url}: {status} {code}", retry_after)
    raise ApiRequestError(status, code, message)


def _error_of(data: Any, status: int) -> tuple[str, str]:
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("code", f"HTTP_{status}")), str(error.get("message", ""))
    return f"HTTP_{status}", ""


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
