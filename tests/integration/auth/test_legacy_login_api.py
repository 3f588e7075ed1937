"""Verify-once against the legacy platform's login API (for platforms that cannot export hashes),
with the legacy emulator as the old platform: concurrency cap and circuit breaker."""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from services.auth.app import create_app
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import write_dataset
from simulator.legacy.login_server import create_legacy_login_app
from tests.integration.auth.conftest import auth_settings, client_headers
from tests.integration.auth.test_legacy_migration import run_import

pytestmark = pytest.mark.integration
CAP = 3


@pytest.fixture
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A legacy dataset whose login names and emails are unique to this test (the emulator loads them
    from users.jsonl, so renaming there renames them on the old platform too)."""
    directory = tmp_path_factory.mktemp("legacy")
    write_dataset(generate_dataset(12, 7), directory)
    run = secrets.token_hex(3)
    lines = []
    for line in (directory / "users.jsonl").read_text().splitlines():
        user = json.loads(line)
        user["login_name"] = f"{user['login_name'][:50]}.{run}"
        local, domain = user["email"].split("@", 1)
        user["email"] = f"{local}.{run}@{domain}"
        user["legacy_user_id"] = f"{user['legacy_user_id'][:50]}-{run}"
        lines.append(json.dumps(user))
    (directory / "users.jsonl").write_text("\n".join(lines) + "\n")
    passwords = json.loads((directory / "passwords.json").read_text())
    (directory / "passwords.json").write_text(json.dumps({f"{k[:50]}-{run}": v for k, v in passwords.items()}))
    return directory


@pytest.fixture
async def legacy_platform(dataset_dir: Path) -> Any:
    server = TestServer(create_legacy_login_app(dataset_dir, latency_ms=150))
    await server.start_server()
    yield server
    await server.close()


async def _emulator(server: TestServer, method: str = "GET", path: str = "/_emulator/stats", body: Any = None) -> Any:
    async with aiohttp.ClientSession() as http, http.request(method, str(server.make_url(path)), json=body) as r:
        return await r.json(content_type=None) if r.status != 204 else None


def _hashless_users(dataset_dir: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The dataset's users as a platform without hash export would deliver them (prefixed: unique per run)."""
    passwords = json.loads((dataset_dir / "passwords.json").read_text())
    users = []
    for line in (dataset_dir / "users.jsonl").read_text().splitlines():
        user = json.loads(line)
        users.append({**user, "hash_scheme": None, "hash": None, "salt": None, "params": None})
    return users, passwords


@pytest.fixture
async def api_client(  # type: ignore[no-untyped-def]
    stack, provider: str, legacy_platform: TestServer, dataset_dir: Path, aiohttp_client
) -> TestClient:
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    settings = auth_settings(
        provider,
        legacy_login_url=str(legacy_platform.make_url("")).rstrip("/"),
        legacy_login_app_id=manifest["app_id"],
        legacy_login_app_key=manifest["app_key"],
        legacy_login_concurrency=CAP,
        legacy_breaker_failures=3,
        legacy_breaker_reset_s=60,
    )
    return await aiohttp_client(create_app(settings), headers=client_headers())


async def _imported(tmp_path: Path, users: list[dict[str, Any]], provider: str) -> list[dict[str, Any]]:
    """Import the users; generated names can repeat an earlier run's, so keep the ones that went in."""
    result, rejected = run_import(tmp_path, users, provider)
    assert result.returncode == 0, result.stderr
    assert {r["code"] for r in rejected} <= {"DUPLICATE_LOGIN_NAME", "DUPLICATE_EMAIL"}, rejected
    skipped = {r["legacy_user_id"] for r in rejected}
    kept = [u for u in users if u["legacy_user_id"] not in skipped]
    assert len(kept) >= 11
    return kept


async def _login(client: TestClient, username: str, password: str) -> tuple[int, dict]:
    response = await client.post(
        "/v1/auth/token", json={"grant_type": "password", "username": username, "password": password}
    )
    return response.status, await response.json()


async def test_first_login_checks_once_with_the_legacy_platform_under_a_concurrency_cap(
    api_client: TestClient, legacy_platform: TestServer, dataset_dir: Path, provider: str, tmp_path: Path
) -> None:
    users, passwords = _hashless_users(dataset_dir)
    users = await _imported(tmp_path, users, provider)
    await _emulator(legacy_platform, "DELETE")
    logins = await asyncio.gather(
        *(_login(api_client, u["login_name"], passwords[u["legacy_user_id"]]) for u in users[:8])
    )
    assert [status for status, _ in logins] == [200] * 8
    stats = await _emulator(legacy_platform)
    assert stats["logins"] == 8 and stats["max_in_flight"] <= CAP
    # migrated: the next logins go to our provider only
    again = await asyncio.gather(
        *(_login(api_client, u["login_name"], passwords[u["legacy_user_id"]]) for u in users[:8])
    )
    assert [status for status, _ in again] == [200] * 8
    assert (await _emulator(legacy_platform))["logins"] == 8
    wrong = await _login(api_client, users[-1]["login_name"], "not-the-password")
    assert wrong == (401, {"error": {"code": "INVALID_CREDENTIALS", "message": "wrong login name or password"}})


async def test_breaker_opens_when_the_legacy_platform_is_down(
    api_client: TestClient, legacy_platform: TestServer, dataset_dir: Path, provider: str, tmp_path: Path
) -> None:
    users, passwords = _hashless_users(dataset_dir)
    users = await _imported(tmp_path, users, provider)
    pending = users[-3:]
    await _emulator(legacy_platform, "PUT", "/_emulator/config", {"down": True})
    await _emulator(legacy_platform, "DELETE")
    statuses = []
    for user in pending * 2:
        status, body = await _login(api_client, user["login_name"], passwords[user["legacy_user_id"]])
        statuses.append(status)
        assert body["error"]["code"] == "IDENTITY_PROVIDER_UNAVAILABLE"
    assert statuses == [503] * len(statuses)
    # three failures opened the breaker; the later attempts never reached the old platform
    assert (await _emulator(legacy_platform))["logins"] == 3
