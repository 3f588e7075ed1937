"""Refresh rotation with reuse detection, logout, password change and reset (both providers)."""

from __future__ import annotations

import asyncio
import math
import re
import time

import jwt
import pytest
from aiohttp.test_utils import TestClient

from services.auth.config import AuthSettings
from tests.integration.auth.conftest import PASSWORD, Register, sent_emails

pytestmark = pytest.mark.integration
NEW_PASSWORD = "Brand-New-Secret-77"


async def _refresh(client: TestClient, token: str) -> tuple[int, dict]:
    response = await client.post("/v1/auth/token", json={"grant_type": "refresh_token", "refresh_token": token})
    return response.status, await response.json()


async def _login(client: TestClient, username: str, password: str) -> tuple[int, dict]:
    response = await client.post(
        "/v1/auth/token", json={"grant_type": "password", "username": username, "password": password}
    )
    return response.status, await response.json()


async def test_refresh_rotates_and_reuse_revokes_the_family(client: TestClient, register: Register) -> None:
    user = await register()
    status, second = await _refresh(client, user["refresh_token"])
    assert status == 200 and second["refresh_token"] != user["refresh_token"] and second["access_token"]
    me = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status == 200
    status, third = await _refresh(client, second["refresh_token"])
    assert status == 200
    # the first token again: someone copied it; the whole family dies, including the newest token
    assert (await _refresh(client, user["refresh_token"]))[0] == 401
    status, body = await _refresh(client, third["refresh_token"])
    assert status == 401 and body["error"]["code"] == "INVALID_REFRESH_TOKEN"


async def test_other_sessions_survive_a_reuse_attack(client: TestClient, register: Register) -> None:
    user = await register()
    _, other = await _login(client, user["login_name"], PASSWORD)
    await _refresh(client, user["refresh_token"])
    await _refresh(client, user["refresh_token"])  # reuse: kills the first family only
    assert (await _refresh(client, other["refresh_token"]))[0] == 200


async def test_unknown_refresh_token_is_401(client: TestClient) -> None:
    status, body = await _refresh(client, "vsr_" + "x" * 43)
    assert status == 401 and body == {
        "error": {"code": "INVALID_REFRESH_TOKEN", "message": "refresh token is not valid"}
    }


async def test_logout_ends_that_session_only(client: TestClient, register: Register) -> None:
    user = await register()
    _, other = await _login(client, user["login_name"], PASSWORD)
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    response = await client.post("/v1/auth/logout", headers=auth, json={"refresh_token": user["refresh_token"]})
    assert response.status == 204
    assert (await _refresh(client, user["refresh_token"]))[0] == 401
    assert (await _refresh(client, other["refresh_token"]))[0] == 200
    unauthenticated = await client.post("/v1/auth/logout", json={"refresh_token": other["refresh_token"]})
    assert unauthenticated.status == 401


async def test_logout_cannot_end_someone_elses_session(client: TestClient, register: Register) -> None:
    alice, bob = await register(), await register()
    auth = {"Authorization": f"Bearer {alice['access_token']}"}
    response = await client.post("/v1/auth/logout", headers=auth, json={"refresh_token": bob["refresh_token"]})
    assert response.status == 204
    assert (await _refresh(client, bob["refresh_token"]))[0] == 200


async def test_change_password_keeps_this_session_and_revokes_the_others(
    client: TestClient, register: Register
) -> None:
    user = await register()
    # Cognito's iat has whole seconds, and tokens of the second of a change stay valid (documented):
    # let the clock leave the second the token was minted in, so the old token is unambiguously older
    minted = jwt.decode(user["access_token"], options={"verify_signature": False})["iat"]
    await asyncio.sleep(max(0.0, math.floor(minted) + 1 - time.time()))  # until a known instant, not a guess
    _, other = await _login(client, user["login_name"], PASSWORD)
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    wrong = await client.put(
        "/v1/auth/password",
        headers=auth,
        json={"old_password": "Not-It-At-All-1", "new_password": NEW_PASSWORD},
    )
    assert wrong.status == 401
    response = await client.put(
        "/v1/auth/password",
        headers=auth,
        json={"old_password": PASSWORD, "new_password": NEW_PASSWORD, "refresh_token": user["refresh_token"]},
    )
    assert response.status == 204, await response.text()
    assert (await _refresh(client, other["refresh_token"]))[0] == 401
    stale = await client.get("/v1/users/me", headers=auth)
    assert stale.status == 401 and (await stale.json())["error"]["code"] == "TOKEN_REVOKED"
    status, renewed = await _refresh(client, user["refresh_token"])
    assert status == 200
    fresh = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {renewed['access_token']}"})
    assert fresh.status == 200
    assert (await _login(client, user["login_name"], PASSWORD))[0] == 401
    assert (await _login(client, user["login_name"], NEW_PASSWORD))[0] == 200


async def test_forgot_and_reset_with_the_emailed_code(client: TestClient, register: Register) -> None:
    settings = AuthSettings()
    user = await register()
    response = await client.post("/v1/auth/password/forgot", json={"username": user["login_name"]})
    assert response.status == 202
    emails = await sent_emails(settings.aws_endpoint_url or "", user["email"])
    assert len(emails) == 1
    code = re.search(r"code is (\d{8})", emails[0]).group(1)  # type: ignore[union-attr]
    bad = await client.post(
        "/v1/auth/password/reset",
        json={
            "username": user["login_name"],
            "code": f"{(int(code) + 1) % 10**8:08d}",
            "new_password": NEW_PASSWORD,
        },
    )
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "INVALID_RESET_CODE"
    good = await client.post(
        "/v1/auth/password/reset",
        json={"username": user["login_name"], "code": code, "new_password": NEW_PASSWORD},
    )
    assert good.status == 204, await good.text()
    assert (await _refresh(client, user["refresh_token"]))[0] == 401  # every session ended
    assert (await _login(client, user["email"], NEW_PASSWORD))[0] == 200
    again = await client.post(
        "/v1/auth/password/reset",
        json={"username": user["login_name"], "code": code, "new_password": "Another-One-88"},
    )
    assert again.status == 400  # one-time


async def test_reset_code_dies_after_too_many_wrong_guesses(client: TestClient, register: Register) -> None:
    settings = AuthSettings()
    user = await register()
    await client.post("/v1/auth/password/forgot", json={"username": user["email"]})
    code = re.search(r"code is (\d{8})", (await sent_emails(settings.aws_endpoint_url or "", user["email"]))[-1])
    assert code is not None
    for guess in range(settings.reset_code_max_attempts):
        await client.post(
            "/v1/auth/password/reset",
            json={"username": user["email"], "code": f"{guess:08d}", "new_password": NEW_PASSWORD},
        )
    late = await client.post(
        "/v1/auth/password/reset",
        json={"username": user["email"], "code": code.group(1), "new_password": NEW_PASSWORD},
    )
    assert late.status == 400


async def test_forgot_password_does_not_enumerate(client: TestClient) -> None:
    response = await client.post("/v1/auth/password/forgot", json={"username": "nobody-here@example.com"})
    assert response.status == 202 and await response.json() == {"status": "accepted"}
