"""Each trusted issuer's signing keys, fetched from its JWKS and cached by (issuer, kid).

Verification must not call the auth service per request (DESIGN section 4), so keys are fetched
ahead of time in the background and again when a token names a kid we have not seen (a rotation).
That on-demand refresh is rate-limited per issuer and single-flight, so a flood of tokens with
made-up kids costs the JWKS endpoint at most one request per ``min_refresh_interval_s``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from shared.auth.errors import AuthError, JwksUnavailableError
from shared.auth.issuers import TrustedIssuer

log = logging.getLogger(__name__)

DEFAULT_REFRESH_INTERVAL_S = 300.0
DEFAULT_MIN_REFRESH_INTERVAL_S = 30.0
DEFAULT_FETCH_TIMEOUT_S = 5.0
FAILED_RETRY_S = 1.0
MAX_JWKS_BYTES = 64 * 1024  # a JWKS with a few rotated keys is a few KiB; refuse anything absurd
MAX_KEYS_PER_ISSUER = 32
_SIGNING_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})  # never "oct": a public JWKS has no secret keys


class JwksFetchError(AuthError):
    """One fetch of a JWKS document failed or returned nothing usable; the cache keeps its old keys."""


@dataclass
class _IssuerState:
    """What the cache knows about one issuer, and the fetch of its JWKS in flight, if any."""

    config: TrustedIssuer
    keys: dict[str, jwt.PyJWK] = field(default_factory=dict)
    last_attempt_s: float | None = None
    last_fetch_ok: bool = False
    inflight: asyncio.Task[None] | None = None
    installed: bool = False  # the keys come from `install` (the issuer's own ring): never fetched over them


class JwksCache:
    """Public keys of the trusted issuers, refreshed in the background and on unknown kids."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        issuers: Iterable[TrustedIssuer],
        *,
        refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
        min_refresh_interval_s: float = DEFAULT_MIN_REFRESH_INTERVAL_S,
        fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._states = {issuer.issuer: _IssuerState(issuer) for issuer in issuers}
        self._refresh_interval_s = refresh_interval_s
        self._min_refresh_interval_s = min_refresh_interval_s
        self._timeout = aiohttp.ClientTimeout(total=fetch_timeout_s)
        self._monotonic = monotonic

    @property
    def issuers(self) -> frozenset[str]:
        """The issuer identifiers whose keys this cache holds."""
        return frozenset(self._states)

    def known_kids(self, issuer: str) -> frozenset[str]:
        """The kids currently cached for ``issuer`` (for diagnostics and tests)."""
        return frozenset(self._state(issuer).keys)

    async def get_key(self, issuer: str, kid: str) -> jwt.PyJWK | None:
        """The issuer's key with ``kid``, refreshing once (rate-limited) if it is not cached yet.

        Returns None when the issuer's current JWKS does not list the kid; raises
        :class:`JwksUnavailableError` when we cannot tell because the last fetch failed.
        """
        state = self._state(issuer)
        key = state.keys.get(kid)
        if key is not None or state.installed:
            return key
        if state.inflight is not None or self._refresh_allowed(state):
            await self._refresh(state)
            key = state.keys.get(kid)
            if key is not None:
                return key
        if not state.last_fetch_ok:
            raise JwksUnavailableError(issuer)
        return None

    async def refresh(self, issuer: str) -> bool:
        """Fetch the issuer's JWKS now, joining a fetch already in flight; True if it succeeded."""
        state = self._state(issuer)
        if not state.installed:
            await self._refresh(state)
        return state.last_fetch_ok

    def install(self, issuer: str, document: Any) -> None:
        """Use a JWKS document the caller already holds (the auth service's own key ring), no fetch.

        From then on the issuer is the caller's to keep current (auth installs its ring again after
        every reload): a fetch from the JWKS URL could reach a replica that has not read a new key yet
        and would replace the ring that signed the token with an older one.
        """
        state = self._state(issuer)
        state.keys = _signing_keys(state.config, document)
        state.last_fetch_ok = True
        state.installed = True

    async def refresh_forever(self) -> None:
        """Refresh every issuer each ``refresh_interval_s`` (sooner after a failure) until cancelled."""
        while True:
            results = await asyncio.gather(*(self.refresh(issuer) for issuer in self._states))
            delay_s = self._refresh_interval_s if all(results) else self._min_refresh_interval_s
            await asyncio.sleep(delay_s)

    async def aclose(self) -> None:
        """Cancel fetches still in flight, before the caller closes the session they use."""
        tasks = [state.inflight for state in self._states.values() if state.inflight is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def _state(self, issuer: str) -> _IssuerState:
        try:
            return self._states[issuer]
        except KeyError:
            raise ValueError(f"issuer {issuer!r} is not configured in this JWKS cache") from None

    def _refresh_allowed(self, state: _IssuerState) -> bool:
        if state.last_attempt_s is None:
            return True
        # After a failed fetch (the issuer was still starting, or briefly down) retry sooner: at most
        # once per FAILED_RETRY_S, so a flood of requests still cannot hammer the endpoint.
        interval = (
            self._min_refresh_interval_s if state.last_fetch_ok else min(FAILED_RETRY_S, self._min_refresh_interval_s)
        )
        return self._monotonic() - state.last_attempt_s >= interval

    async def _refresh(self, state: _IssuerState) -> None:
        if state.inflight is None:
            state.last_attempt_s = self._monotonic()
            state.inflight = asyncio.create_task(self._fetch_into(state), name=f"jwks-fetch {state.config.issuer}")
        # shield: a waiting request that is cancelled must not cancel the fetch others share
        await asyncio.shield(state.inflight)

    async def _fetch_into(self, state: _IssuerState) -> None:
        issuer = state.config
        try:
            document = await self._fetch_document(issuer.jwks_url)
            keys = _signing_keys(issuer, document)
        except (aiohttp.ClientError, TimeoutError, JwksFetchError) as exc:
            state.last_fetch_ok = False
            log.warning(
                "jwks fetch failed issuer=%s url=%s, keeping %d cached keys: %s: %s",
                issuer.issuer,
                issuer.jwks_url,
                len(state.keys),
                type(exc).__name__,
                exc,
            )
        else:
            added, removed = sorted(keys.keys() - state.keys.keys()), sorted(state.keys.keys() - keys.keys())
            state.keys = keys
            state.last_fetch_ok = True
            if added or removed:
                log.info("jwks updated issuer=%s added=%s removed=%s", issuer.issuer, added, removed)
        finally:
            state.inflight = None

    async def _fetch_document(self, url: str) -> Any:
        async with self._session.get(
            url, timeout=self._timeout, allow_redirects=False, headers={"Accept": "application/json"}
        ) as response:
            if response.status != 200:
                raise JwksFetchError(f"HTTP status {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(8192):
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise JwksFetchError(f"document larger than {MAX_JWKS_BYTES} bytes")
        try:
            return json.loads(body)
        except ValueError as exc:
            raise JwksFetchError("document is not JSON") from exc


def _signing_keys(issuer: TrustedIssuer, document: Any) -> dict[str, jwt.PyJWK]:
    """The usable signing keys of a JWKS document, by kid; unusable entries are skipped, not fatal."""
    raw_keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(raw_keys, list):
        raise JwksFetchError('document has no "keys" list')
    keys: dict[str, jwt.PyJWK] = {}
    for raw in raw_keys[:MAX_KEYS_PER_ISSUER]:
        key = _signing_key(issuer, raw)
        if key is not None and key.key_id is not None:
            keys.setdefault(key.key_id, key)
    if not keys:
        # The provider always publishes its current key: an empty set means a broken deployment,
        # and dropping every key would lock out every user, so treat it as a failed fetch.
        raise JwksFetchError("document lists no usable signing key")
    return keys


def _signing_key(issuer: TrustedIssuer, raw: Any) -> jwt.PyJWK | None:
    if not isinstance(raw, dict):
        return None
    kid = raw.get("kid")
    if not isinstance(kid, str) or not kid:
        log.info("jwks key without kid skipped issuer=%s", issuer.issuer)
        return None
    if raw.get("use", "sig") != "sig" or raw.get("kty") not in _SIGNING_KEY_TYPES:
        log.info("jwks key skipped issuer=%s kid=%s: not a public signing key", issuer.issuer, kid)
        return None
    try:
        key = jwt.PyJWK(raw)
    except (jwt.PyJWTError, TypeError, ValueError, KeyError, AttributeError) as exc:
        log.warning("jwks key unusable issuer=%s kid=%s: %s", issuer.issuer, kid, type(exc).__name__)
        return None
    if key.algorithm_name not in issuer.algorithms:
        log.info("jwks key skipped issuer=%s kid=%s: algorithm not allowed", issuer.issuer, kid)
        return None
    return key
