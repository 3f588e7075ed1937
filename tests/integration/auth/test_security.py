"""Brute-force lockout, and no secret in logs or error bodies across a full flow."""

from __future__ import annotations

import logging
import re
import uuid

import pytest
from aiohttp.test_utils import TestClient

from services.auth.app import create_app
from services.auth.config import AuthSettings
from tests.integration.auth.conftest import (
    PASSWORD,
    Register,
    auth_settings,
    client_headers,
    sent_emails,
    unique_name,
)
from tests.integration.auth.test_legacy_migration import legacy_record, run_import

pytestmark = pytest.mark.integration


def _address() -> str:
    """A fresh client address per test (lockout state outlives test runs): 2001:db8::/32 is documentation."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


async def _login(client: TestClient, username: str, password: str, address: str) -> tuple[int, dict, dict]:
    response = await client.post(
        "/v1/auth/token",
        json={"grant_type": "password", "username": username, "password": password},
        headers={"X-Forwarded-For": f"203.0.113.9, {address}"},
    )
    return response.status, await response.json(), dict(response.headers)


@pytest.fixture
async def strict_client(stack, provider: str, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    settings = auth_settings(provider, lockout_account_threshold=3, lockout_address_threshold=6, lockout_base_s=30)
    return await aiohttp_client(create_app(settings), headers=client_headers())


async def test_account_locks_after_repeated_failures_and_says_when_to_retry(
    strict_client: TestClient, provider: str
) -> None:
    name, address = unique_name(), _address()
    response = await strict_client.post(
        "/v1/auth/register", json={"login_name": name, "email": f"{name}@example.com", "password": PASSWORD}
    )
    assert response.status == 201
    statuses = [(await _login(strict_client, name, "Wrong-Password-1", address))[0] for _ in range(3)]
    assert statuses == [401, 401, 401]
    status, body, headers = await _login(strict_client, name, PASSWORD, _address())  # even the right password
    assert status == 429 and body["error"]["code"] == "TOO_MANY_ATTEMPTS"
    assert 1 <= int(headers["Retry-After"]) <= 30


async def test_unknown_names_lock_the_same_way(strict_client: TestClient) -> None:
    name, address = unique_name(), _address()
    statuses = [(await _login(strict_client, name, "Wrong-Password-1", address))[0] for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


async def test_one_address_spraying_many_accounts_is_locked(strict_client: TestClient) -> None:
    address = _address()
    statuses = [(await _login(strict_client, unique_name(), "Spray-Password-1", address))[0] for _ in range(7)]
    assert statuses[:6] == [401] * 6 and statuses[6] == 429


async def test_a_success_clears_the_account_counter(strict_client: TestClient, register: Register) -> None:
    name, address = unique_name(), _address()
    await strict_client.post(
        "/v1/auth/register", json={"login_name": name, "email": f"{name}@x.org", "password": PASSWORD}
    )
    for _ in range(2):
        await _login(strict_client, name, "Wrong-Password-1", address)
    assert (await _login(strict_client, name, PASSWORD, address))[0] == 200
    assert [(await _login(strict_client, name, "Wrong-Password-1", address))[0] for _ in range(2)] == [401, 401]


async def test_short_legacy_password_under_cognito_asks_for_a_reset(stack, tmp_path, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    record = legacy_record("sha256-salted", "abcd")  # Kii allowed 4 characters; Cognito needs 6
    run_import(tmp_path, [record], "cognito")
    client = await aiohttp_client(create_app(auth_settings("cognito")), headers=client_headers())
    status, body, _ = await _login(client, record["login_name"], "abcd", _address())
    assert status == 403 and body["error"]["code"] == "PASSWORD_RESET_REQUIRED"
    status, body, _ = await _login(client, record["login_name"], "abce", _address())
    assert status == 401  # a wrong old password still gets the ordinary answer


async def test_no_secret_reaches_logs_or_error_bodies(
    client: TestClient,
    register: Register,
    provider: str,
    tmp_path,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    caplog.set_level(logging.DEBUG)
    legacy = legacy_record("pbkdf2-sha256", "Legacy-Secret-Pw-9")
    run_import(tmp_path, [legacy], provider)
    bodies: list[str] = []
    user = await register(password="Very-Secret-Pass-1")
    secrets = {
        "Very-Secret-Pass-1",
        "Brand-New-Secret-2",
        "Legacy-Secret-Pw-9",
        user["access_token"],
        user["refresh_token"],
        legacy["hash"],
        legacy["salt"] or "never-present",
    }
    auth = {"Authorization": f"Bearer {user['access_token']}"}
    for call in (
        client.post(
            "/v1/auth/token",
            json={"grant_type": "password", "username": user["login_name"], "password": "Very-Secret-Pass-1"},
        ),
        client.post(
            "/v1/auth/token",
            json={"grant_type": "password", "username": user["login_name"], "password": "Brand-New-Secret-2"},
        ),
        client.post("/v1/auth/token", json={"grant_type": "refresh_token", "refresh_token": user["refresh_token"]}),
        client.post("/v1/auth/token", json={"grant_type": "refresh_token", "refresh_token": user["refresh_token"]}),
        client.put(
            "/v1/auth/password",
            headers=auth,
            json={"old_password": "Very-Secret-Pass-1", "new_password": "Brand-New-Secret-2"},
        ),
        client.post("/v1/auth/password/forgot", json={"username": user["email"]}),
        client.post(
            "/v1/auth/token",
            json={"grant_type": "password", "username": legacy["login_name"], "password": "Legacy-Secret-Pw-9"},
        ),
        client.post(
            "/v1/auth/register", json={"login_name": unique_name(), "password": "Very-Secret-Pass-1", "email": "bad"}
        ),
        client.get("/v1/users/me", headers={"Authorization": f"Bearer {user['access_token']}x"}),
    ):
        response = await call
        bodies.append(await response.text())
    code = re.search(r"code is (\d{8})", (await sent_emails(AuthSettings().aws_endpoint_url or "", user["email"]))[-1])
    assert code is not None
    secrets.add(code.group(1))
    logged = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, 'exc_text', '')}" for r in caplog.records)
    for secret in secrets:
        assert secret not in logged, "a secret reached the logs"
        assert all(secret not in body for body in bodies[4:]), "a secret reached an error body"
    assert any("registered" in r.getMessage() for r in caplog.records)  # the capture did see the flow
