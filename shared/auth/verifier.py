"""Verify an access token locally against its issuer's published keys (DESIGN section 4).

Order matters: the unverified ``iss`` only selects which issuer's rules and keys apply; nothing else
from the token is believed until its signature checks out with that issuer's key for its ``kid``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jwt

from shared.auth.errors import TokenError, TokenErrorCode
from shared.auth.issuers import TrustedIssuer
from shared.auth.jwks import JwksCache

DEFAULT_LEEWAY_S = 30.0
MAX_TOKEN_CHARS = 16 * 1024  # real access tokens are ~1-2 KiB; bound the work a junk header can cause
MAX_KID_CHARS = 256
MAX_USER_ID_CHARS = 256
ACCESS_USE = "access"  # the token_use of access tokens (Cognito's ID tokens say "id")
# JWS compact serialisation: header.payload.signature, base64url without padding
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Time claims are checked here against the injected clock, the rest of the claims below.
_SIGNATURE_ONLY: jwt.types.Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}
_UNVERIFIED: jwt.types.Options = {"verify_signature": False}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified access token speaks for, and until when."""

    user_id: str
    issuer: str
    roles: frozenset[str]
    token_id: str | None
    expires_at: int
    #: when the token was minted (``iat``, possibly fractional), so a service holding revocation state
    #: can reject older ones
    issued_at: float | None = None


class TokenVerifier:
    """Turns a bearer token into a :class:`Principal` or raises :class:`TokenError`."""

    def __init__(
        self,
        issuers: Iterable[TrustedIssuer],
        jwks_cache: JwksCache,
        leeway_s: float = DEFAULT_LEEWAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._issuers = {issuer.issuer: issuer for issuer in issuers}
        missing = sorted(self._issuers.keys() - jwks_cache.issuers)
        if missing:
            raise ValueError(f"the JWKS cache does not hold keys for issuers {missing}")
        self._jwks = jwks_cache
        self._leeway_s = leeway_s
        self._clock = clock

    async def verify(self, token: str) -> Principal:
        """The principal of a valid access token; :class:`TokenError` for anything else."""
        if not token:
            raise TokenError(TokenErrorCode.TOKEN_MISSING, "no token was presented")
        header, unverified_claims = _parse(token)
        issuer = self._trusted_issuer(unverified_claims)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in issuer.algorithms:
            raise _invalid("token algorithm is not accepted for its issuer")
        kid = header.get("kid")
        if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_CHARS:
            raise _invalid("token has no usable key id (kid)")
        key = await self._jwks.get_key(issuer.issuer, kid)
        if key is None:
            raise _invalid("token is signed with a key its issuer does not publish")
        if key.algorithm_name != alg:
            raise _invalid("token algorithm does not match its signing key")
        claims = _verified_claims(token, key, alg)
        return self._principal(issuer, claims)

    def _trusted_issuer(self, claims: dict[str, Any]) -> TrustedIssuer:
        iss = claims.get("iss")
        issuer = self._issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise _invalid("token issuer is not trusted")
        return issuer

    def _principal(self, issuer: TrustedIssuer, claims: dict[str, Any]) -> Principal:
        if claims.get("iss") != issuer.issuer:  # the signed payload is the one we read unverified
            raise _invalid("token issuer is not trusted")
        expires_at = self._check_times(claims)
        if not _audience_matches(claims.get(issuer.audience_claim), issuer.audience):
            raise _invalid("token is not meant for this audience")
        if "token_use" in claims and claims["token_use"] != ACCESS_USE:
            raise _invalid("token is not an access token")
        user_id = claims.get(issuer.user_claim)
        if not isinstance(user_id, str) or not 0 < len(user_id) <= MAX_USER_ID_CHARS:
            raise _invalid("token does not name a user")
        roles = claims.get(issuer.roles_claim, [])
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise _invalid("token roles claim is not a list of strings")
        token_id = claims.get("jti")
        if token_id is not None and not isinstance(token_id, str):
            raise _invalid("token id (jti) is not a string")
        return Principal(
            user_id=user_id,
            issuer=issuer.issuer,
            roles=frozenset(roles),
            token_id=token_id,
            expires_at=expires_at,
            issued_at=_numeric_date(claims, "iat"),
        )

    def _check_times(self, claims: dict[str, Any]) -> int:
        """Check exp/nbf/iat against our clock with leeway for skew between hosts; return exp."""
        now = self._clock()
        exp = _numeric_date(claims, "exp")
        if exp is None:
            raise _invalid("token has no expiry (exp)")
        if exp <= now - self._leeway_s:
            raise TokenError(TokenErrorCode.TOKEN_EXPIRED, "token has expired")
        nbf = _numeric_date(claims, "nbf")
        if nbf is not None and nbf > now + self._leeway_s:
            raise _invalid("token is not valid yet (nbf)")
        iat = _numeric_date(claims, "iat")
        if iat is not None and iat > now + self._leeway_s:
            raise _invalid("token was issued in the future (iat)")
        return int(exp)


def _parse(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, unverified; TOKEN_MALFORMED if it is not one."""
    if len(token) > MAX_TOKEN_CHARS or not _COMPACT_JWS.fullmatch(token):
        raise TokenError(TokenErrorCode.TOKEN_MALFORMED, "token is not a compact JWT")
    try:
        decoded = jwt.api_jwt.decode_complete(token, options=_UNVERIFIED)
    except jwt.PyJWTError:
        raise TokenError(TokenErrorCode.TOKEN_MALFORMED, "token header or payload cannot be decoded") from None
    return decoded["header"], decoded["payload"]


def _verified_claims(token: str, key: jwt.PyJWK, alg: str) -> dict[str, Any]:
    try:
        decoded = jwt.api_jwt.decode_complete(token, key, algorithms=[alg], options=_SIGNATURE_ONLY)
    except jwt.InvalidSignatureError:
        raise _invalid("token signature does not verify") from None
    except jwt.PyJWTError:
        raise _invalid("token cannot be verified") from None
    claims: dict[str, Any] = decoded["payload"]
    return claims


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 section 2) or None if absent; anything else is invalid."""
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(f"token claim {name} is not a number of seconds")
    if isinstance(value, float) and not math.isfinite(value):
        raise _invalid(f"token claim {name} is not a number of seconds")
    return value


def _audience_matches(value: Any, audience: str) -> bool:
    if isinstance(value, str):
        return value == audience
    if isinstance(value, list):
        return audience in value and all(isinstance(item, str) for item in value)
    return False


def _invalid(message: str) -> TokenError:
    return TokenError(TokenErrorCode.TOKEN_INVALID, message)
