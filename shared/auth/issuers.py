"""Which token issuers a service trusts, and how each one's tokens name the audience, user and roles.

Services read a list of :class:`TrustedIssuer` from their settings (a JSON list in the environment);
:func:`cognito_issuer` and :func:`local_issuer` build the two kinds DESIGN section 4 names.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Only asymmetric algorithms: with a public JWKS, an HMAC algorithm would let anyone holding the public
# key sign tokens (the classic alg-confusion attack), and "none" signs nothing at all.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}
)
LOCAL_AUDIENCE = "vitalsync"
JWKS_PATH = "/.well-known/jwks.json"


class TrustedIssuer(BaseModel):
    """One issuer whose access tokens we accept, verified against the keys at ``jwks_url``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = Field(min_length=1)
    jwks_url: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    audience_claim: Literal["aud", "client_id"] = "aud"
    user_claim: str = Field(default="sub", min_length=1)
    roles_claim: str = Field(default="roles", min_length=1)
    algorithms: tuple[str, ...] = ("ES256", "RS256")

    @field_validator("jwks_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("jwks_url must be an http(s) URL")
        return value

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one algorithm is required")
        refused = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if refused:
            raise ValueError(f"algorithms {refused} are not allowed; use only {sorted(ASYMMETRIC_ALGORITHMS)}")
        return value


def local_issuer(issuer: str, auth_base_url: str, audience: str = LOCAL_AUDIENCE) -> TrustedIssuer:
    """The auth service's own provider: ``sub`` is the user id, keys at ``{auth}/.well-known/jwks.json``."""
    return TrustedIssuer(
        issuer=issuer,
        jwks_url=auth_base_url.rstrip("/") + JWKS_PATH,
        audience=audience,
        algorithms=("ES256", "RS256", "EdDSA"),
    )


def cognito_issuer(region: str, user_pool_id: str, client_id: str, *, endpoint_url: str | None = None) -> TrustedIssuer:
    """A Cognito user pool; ``endpoint_url`` points the JWKS at moto, whose tokens keep the AWS issuer."""
    issuer = f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"
    # Cognito access tokens carry no "aud"; the app client is in "client_id" and our user id in
    # "username" (the pool is set up so the Cognito username is our user id).
    base = f"{endpoint_url.rstrip('/')}/{user_pool_id}" if endpoint_url else issuer
    return TrustedIssuer(
        issuer=issuer,
        jwks_url=base + JWKS_PATH,
        audience=client_id,
        audience_claim="client_id",
        user_claim="username",
        roles_claim="cognito:groups",
        algorithms=("RS256",),
    )
