"""Bearer-token authentication for aiohttp services: the verifier's cleanup context and request helpers.

Handlers call :func:`authenticate` (and :func:`require_role`); failures are :class:`ApiError` subclasses
so the shared error middleware renders them in the protocol's error shape (DESIGN section 5).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import aiohttp
from aiohttp import hdrs, web

from shared.auth.errors import AuthError, JwksUnavailableError, TokenError, TokenErrorCode
from shared.auth.issuers import TrustedIssuer
from shared.auth.jwks import (
    DEFAULT_FETCH_TIMEOUT_S,
    DEFAULT_MIN_REFRESH_INTERVAL_S,
    DEFAULT_REFRESH_INTERVAL_S,
    JwksCache,
)
from shared.auth.verifier import DEFAULT_LEEWAY_S, Principal, TokenVerifier
from shared.web.errors import ApiError

log = logging.getLogger(__name__)

JWKS_CACHE = web.AppKey("jwks_cache", JwksCache)
TOKEN_VERIFIER = web.AppKey("token_verifier", TokenVerifier)
PRINCIPAL_KEY = web.RequestKey("principal", Principal)

REALM = "vitalsync"
UNAVAILABLE_RETRY_AFTER_S = 5
_BEARER = "bearer"


class AuthenticationError(ApiError, AuthError):
    """A 401 (or 503) that must carry headers: the challenge of RFC 6750 section 3, or Retry-After.

    The shared error middleware has to copy ``headers`` onto the response for clients to see them.
    """

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str]) -> None:
        super().__init__(status, code, message)
        self.headers = dict(headers)


def auth_context(
    issuers: Sequence[TrustedIssuer],
    *,
    leeway_s: float = DEFAULT_LEEWAY_S,
    refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
    min_refresh_interval_s: float = DEFAULT_MIN_REFRESH_INTERVAL_S,
    fetch_timeout_s: float = DEFAULT_FETCH_TIMEOUT_S,
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup-ctx factory: HTTP session, JWKS cache with its refresh task, and the token verifier."""
    trusted = list(issuers)
    if not trusted:
        raise ValueError("at least one trusted issuer is required to authenticate requests")

    async def _ctx(app: web.Application) -> AsyncIterator[None]:
        async with aiohttp.ClientSession(headers={hdrs.USER_AGENT: "vitalsync-jwks"}) as session:
            cache = JwksCache(
                session,
                trusted,
                refresh_interval_s=refresh_interval_s,
                min_refresh_interval_s=min_refresh_interval_s,
                fetch_timeout_s=fetch_timeout_s,
            )
            app[JWKS_CACHE] = cache
            app[TOKEN_VERIFIER] = TokenVerifier(trusted, cache, leeway_s=leeway_s)
            # Fetches right away, so the first requests rarely wait, without blocking start-up on auth.
            refresher = asyncio.create_task(cache.refresh_forever(), name="jwks-refresh")
            try:
                yield
            finally:
                refresher.cancel()
                await asyncio.wait([refresher])
                if not refresher.cancelled() and refresher.exception() is not None:
                    log.error("jwks refresh task had failed", exc_info=refresher.exception())
                await cache.aclose()

    return _ctx


async def authenticate(request: web.Request) -> Principal:
    """The principal of the request's bearer token, verified once per request; 401 if there is none."""
    cached = request.get(PRINCIPAL_KEY)
    if cached is not None:
        return cached
    token = _bearer_token(request.headers.get(hdrs.AUTHORIZATION))
    try:
        principal = await request.config_dict[TOKEN_VERIFIER].verify(token)
    except TokenError as exc:
        log.debug("token rejected code=%s %s %s: %s", exc.code, request.method, request.path, exc.message)
        raise _unauthorized(exc.code, exc.message) from None
    except JwksUnavailableError as exc:
        log.warning("cannot verify token of issuer=%s: its keys are unavailable", exc.issuer)
        raise AuthenticationError(
            503,
            "AUTH_UNAVAILABLE",
            "token verification is temporarily unavailable; retry later",
            {hdrs.RETRY_AFTER: str(UNAVAILABLE_RETRY_AFTER_S)},
        ) from None
    request[PRINCIPAL_KEY] = principal
    return principal


def require_role(principal: Principal, role: str) -> None:
    """Refuse with 403 unless the principal holds ``role``."""
    if role not in principal.roles:
        log.debug("role %s missing user=%s issuer=%s", role, principal.user_id, principal.issuer)
        raise ApiError(403, "FORBIDDEN", f"this operation needs the {role} role")


def _bearer_token(authorization: str | None) -> str:
    """The credentials of ``Authorization: Bearer <token>``; the scheme is case-insensitive (RFC 9110)."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if not scheme:
        raise _unauthorized(TokenErrorCode.TOKEN_MISSING, "an Authorization: Bearer token is required")
    if scheme.lower() != _BEARER:
        raise _unauthorized(TokenErrorCode.TOKEN_MISSING, "the Authorization scheme must be Bearer")
    token = credentials.strip()
    if not token:
        raise _unauthorized(TokenErrorCode.TOKEN_MISSING, "the Bearer credentials are empty")
    return token


def _unauthorized(code: TokenErrorCode, message: str) -> AuthenticationError:
    # RFC 6750 section 3.1: no error attribute when the request carried no token at all.
    challenge = f'Bearer realm="{REALM}"'
    if code is not TokenErrorCode.TOKEN_MISSING:
        challenge += f', error="invalid_token", error_description="{message}"'
    return AuthenticationError(401, code, message, {hdrs.WWW_AUTHENTICATE: challenge})
