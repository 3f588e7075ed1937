"""Whatever string arrives as a token, the verifier answers with TokenError and nothing else."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.auth.errors import TokenError
from shared.auth.jwks import JwksCache
from shared.auth.verifier import TokenVerifier

from .conftest import (
    COGNITO_JWKS_PATH,
    LOCAL_ISSUER,
    LOCAL_JWKS_PATH,
    JwksServer,
    b64url,
    cognito_claims,
    cognito_trusted,
    es256_key,
    local_trusted,
    rs256_key,
)

LOCAL_KEY = es256_key("prop-local-1")
COGNITO_KEY = rs256_key("prop-cognito-1")
KNOWN_KIDS = [LOCAL_KEY.kid, COGNITO_KEY.kid, "unknown-kid"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
header_dicts = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["ES256", "RS256", "EdDSA", "HS256", "none", "PS256"]) | json_values,
        "kid": st.sampled_from(KNOWN_KIDS) | json_values,
        "typ": st.just("JWT") | json_values,
        "crit": json_values,
        "b64": st.booleans(),
    },
)
claim_dicts = st.fixed_dictionaries(
    {},
    optional={
        "iss": st.sampled_from([LOCAL_ISSUER, cognito_claims()["iss"]]) | json_values,
        "aud": st.just("vitalsync") | json_values,
        "sub": json_values,
        "exp": st.integers() | st.floats() | json_values,
        "nbf": st.integers() | st.floats() | json_values,
        "iat": st.integers() | st.floats() | json_values,
        "token_use": st.just("access") | json_values,
        "roles": json_values,
    },
)


def segment(value: Any) -> str:
    return b64url(json.dumps(value).encode())


structured_tokens = st.builds(
    lambda header, claims, signature: f"{segment(header)}.{segment(claims)}.{b64url(signature)}",
    header_dicts,
    claim_dicts,
    st.binary(max_size=96),
)
segment_soup = st.lists(
    st.binary(max_size=40).map(b64url) | st.text(alphabet="ABCxyz019-_.=+/ ", max_size=12),
    min_size=1,
    max_size=6,
).map(".".join)
tokens = st.text() | segment_soup | structured_tokens
# Correctly signed by a published key, but with arbitrary header extras and claims.
signed_junk = st.builds(lambda claims: LOCAL_KEY.sign(claims), claim_dicts)


@pytest.fixture(scope="module")
async def module_verifier() -> AsyncIterator[TokenVerifier]:
    """One server and verifier for all examples (hypothesis cannot use function-scoped fixtures)."""
    state = JwksServer()
    state.publish(LOCAL_JWKS_PATH, LOCAL_KEY)
    state.publish(COGNITO_JWKS_PATH, COGNITO_KEY)
    state.server = TestServer(state.app())
    await state.server.start_server()
    issuers = [local_trusted(state), cognito_trusted(state)]
    async with aiohttp.ClientSession() as session:
        cache = JwksCache(session, issuers, min_refresh_interval_s=3600)
        yield TokenVerifier(issuers, cache)
        await cache.aclose()
    await state.server.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=tokens | signed_junk)
async def test_any_string_yields_token_error_or_principal(module_verifier: TokenVerifier, token: str) -> None:
    try:
        principal = await module_verifier.verify(token)
    except TokenError as exc:
        assert token not in exc.message or len(token) < 8
    else:  # only a correctly signed token whose claims happen to be valid gets through
        assert principal.issuer == LOCAL_ISSUER
