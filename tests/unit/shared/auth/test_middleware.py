"""authenticate / require_role in a small service app built like the real ones, over real HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from shared.auth.issuers import TrustedIssuer
from shared.auth.middleware import (
    PRINCIPAL_KEY,
    TOKEN_VERIFIER,
    AuthenticationError,
    auth_context,
    authenticate,
    require_role,
)
from shared.auth.verifier import TokenVerifier
from shared.settings import CommonSettings
from shared.web.app import create_base_app

from .conftest import COGNITO_JWKS_PATH, LOCAL_JWKS_PATH, JwksServer, Keys, cognito_claims, local_claims

WAIT_S = 5.0


def live_claims(factory: Callable[..., dict[str, Any]] = local_claims, **overrides: Any) -> dict[str, Any]:
    """Claims valid on the real clock: the app's verifier reads time.time()."""
    now = int(time.time())
    return factory(**{"iat": now, "exp": now + 600, **overrides})


async def _me(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    again = await authenticate(request)
    return web.json_response(
        {
            "user_id": principal.user_id,
            "issuer": principal.issuer,
            "roles": sorted(principal.roles),
            "cached": again is principal and request[PRINCIPAL_KEY] is principal,
        }
    )


async def _operator_only(request: web.Request) -> web.Response:
    require_role(await authenticate(request), "operator")
    return web.json_response({"ok": True})


def service_app(issuers: list[TrustedIssuer]) -> web.Application:
    app = create_base_app("test", CommonSettings.model_construct())
    app.cleanup_ctx.append(auth_context(issuers))
    app.router.add_get("/me", _me)
    app.router.add_get("/operator", _operator_only)
    return app


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], issuers: list[TrustedIssuer]) -> TestClient:
    return await aiohttp_client(service_app(issuers))


async def error_code(response: Any, status: int) -> str:
    assert response.status == status
    body = await response.json()
    assert set(body) == {"error"}
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic dXNlcjpwYXNzd29yZA==",
        "Token abc.def.ghi",
        "Bearer",
        "Bearer    ",
        "eyJhbGciOi.e30.c2ln",
    ],
)
async def test_without_a_bearer_token_is_401_token_missing(client: TestClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/me", headers=headers)
    assert await error_code(response, 401) == "TOKEN_MISSING"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
async def test_valid_token_any_scheme_case_gives_principal(client: TestClient, keys: Keys, scheme: str) -> None:
    token = keys.local_es.sign(live_claims())
    response = await client.get("/me", headers={"Authorization": f"{scheme} {token}"})
    assert response.status == 200
    assert await response.json() == {
        "user_id": "user-0001",
        "issuer": "vitalsync-local",
        "roles": ["operator"],
        "cached": True,
    }


async def test_cognito_token_through_the_app(client: TestClient, keys: Keys) -> None:
    token = keys.cognito_rs.sign(live_claims(cognito_claims))
    response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
    assert (await response.json())["user_id"] == "user-0002"


async def test_bad_tokens_are_401_with_their_code_and_never_echoed(
    client: TestClient, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    expired = keys.local_es.sign(live_claims(exp=int(time.time()) - 120))
    wrong_audience = keys.local_es.sign(live_claims(aud="billing"))
    cases = {"garbage.token": "TOKEN_MALFORMED", expired: "TOKEN_EXPIRED", wrong_audience: "TOKEN_INVALID"}
    with caplog.at_level(logging.DEBUG):
        for token, code in cases.items():
            response = await client.get("/me", headers={"Authorization": f"Bearer {token}"})
            assert await error_code(response, 401) == code
            assert token not in await response.text()
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    for token in cases:
        assert token not in logged


async def test_require_role(client: TestClient, keys: Keys) -> None:
    operator = keys.local_es.sign(live_claims())
    clinician = keys.cognito_rs.sign(live_claims(cognito_claims))
    response = await client.get("/operator", headers={"Authorization": f"Bearer {operator}"})
    assert (response.status, await response.json()) == (200, {"ok": True})
    response = await client.get("/operator", headers={"Authorization": f"Bearer {clinician}"})
    assert await error_code(response, 403) == "FORBIDDEN"


async def test_keys_unavailable_is_503_not_401(
    aiohttp_client: Callable[..., Any], issuers: list[TrustedIssuer], keys: Keys, jwks_server: JwksServer
) -> None:
    jwks_server.mode = "error"
    client = await aiohttp_client(service_app(issuers))
    response = await client.get("/me", headers={"Authorization": f"Bearer {keys.local_es.sign(live_claims())}"})
    assert await error_code(response, 503) == "AUTH_UNAVAILABLE"


async def test_refresh_starts_with_the_app_and_stops_with_it_even_mid_fetch(
    aiohttp_client: Callable[..., Any], issuers: list[TrustedIssuer], jwks_server: JwksServer
) -> None:
    jwks_server.gate = asyncio.Event()  # the JWKS endpoint hangs
    client = await aiohttp_client(service_app(issuers))
    async with asyncio.timeout(WAIT_S):
        await jwks_server.arrived.wait()  # fetched at start-up, before any request
        await client.close()
    assert {LOCAL_JWKS_PATH, COGNITO_JWKS_PATH} <= set(jwks_server.requests)
    jwks_server.gate.set()


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="vitalsync"'),
        ("Basic dXNlcjpwYXNz", 'Bearer realm="vitalsync"'),
        (
            "Bearer not-a-jwt",
            'Bearer realm="vitalsync", error="invalid_token", error_description="token is not a compact JWT"',
        ),
    ],
)
async def test_failures_carry_a_www_authenticate_challenge(
    verifier: TokenVerifier, authorization: str | None, challenge: str
) -> None:
    # The shared error middleware does not copy ApiError headers yet, so check them on the exception.
    app = web.Application()
    app[TOKEN_VERIFIER] = verifier
    headers = {} if authorization is None else {"Authorization": authorization}
    request = make_mocked_request("GET", "/me", headers=headers, app=app)
    with pytest.raises(AuthenticationError) as caught:
        await authenticate(request)
    assert caught.value.status == 401
    assert caught.value.headers == {"WWW-Authenticate": challenge}


def test_auth_context_needs_an_issuer() -> None:
    with pytest.raises(ValueError, match="trusted issuer"):
        auth_context([])
