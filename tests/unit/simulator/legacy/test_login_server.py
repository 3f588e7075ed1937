"""The legacy login API over real HTTP: Kii's token shape, invalid_grant, outage knobs and request stats."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from simulator.legacy.export_format import PASSWORDS_FILE
from simulator.legacy.login_server import LegacyAccounts, LegacyDatasetError, create_legacy_login_app
from simulator.legacy.model import LegacyDataset

TOKEN = "/api/oauth2/token"


@pytest.fixture
def passwords(dataset_dir: Path) -> dict[str, str]:
    return dict(json.loads((dataset_dir / PASSWORDS_FILE).read_text(encoding="utf-8")))


@pytest.fixture
async def client(aiohttp_client: Callable[..., Any], dataset_dir: Path) -> TestClient:
    return await aiohttp_client(create_legacy_login_app(dataset_dir))


def app_headers(dataset: LegacyDataset) -> dict[str, str]:
    # The JS SDK sends lowercase header names (kii-api.md section 1.2).
    return {"x-kii-appid": dataset.app_id, "x-kii-appkey": dataset.app_key}


async def login(client: TestClient, dataset: LegacyDataset, username: str, password: str) -> tuple[int, Any]:
    response = await client.post(TOKEN, json={"username": username, "password": password}, headers=app_headers(dataset))
    return response.status, await response.json()


async def stats(client: TestClient) -> dict[str, int]:
    response = await client.get("/_emulator/stats")
    assert response.status == 200
    return dict(await response.json())


async def test_every_scheme_logs_in_with_the_right_password(
    client: TestClient, dataset: LegacyDataset, passwords: dict[str, str]
) -> None:
    first_per_scheme = {user.legacy_hash.scheme: user for user in reversed(dataset.users)}
    assert len(first_per_scheme) == 7
    for user in first_per_scheme.values():
        status, body = await login(client, dataset, user.login_name, passwords[user.legacy_user_id])
        assert status == 200, (user.legacy_hash.scheme, body)
        assert body["id"] == user.legacy_user_id and body["token_type"] == "bearer"
        assert body["expires_in"] == 2147483647 and len(body["access_token"]) >= 32


async def test_email_works_as_username_in_any_case_and_with_prefix(
    client: TestClient, dataset: LegacyDataset, passwords: dict[str, str]
) -> None:
    user = next(user for user in dataset.users if user.email)
    assert user.email is not None
    for username in (user.email, user.email.upper(), f"EMAIL:{user.email}"):
        status, body = await login(client, dataset, username, passwords[user.legacy_user_id])
        assert (status, body["id"]) == (200, user.legacy_user_id)


async def test_wrong_password_and_unknown_user_get_the_same_invalid_grant(
    client: TestClient, dataset: LegacyDataset, passwords: dict[str, str]
) -> None:
    user = dataset.users[0]
    wrong = await login(client, dataset, user.login_name, passwords[user.legacy_user_id] + "!")
    unknown = await login(client, dataset, "nobody.here", "whatever1")
    assert wrong == unknown
    assert wrong[0] == 400 and wrong[1]["errorCode"] == "invalid_grant" and wrong[1]["error_description"]
    assert await stats(client) == {
        "logins": 2,
        "succeeded": 0,
        "failures": 2,
        "unavailable": 0,
        "in_flight": 0,
        "max_in_flight": 1,
    }


async def test_form_body_and_app_scoped_path_are_accepted(
    client: TestClient, dataset: LegacyDataset, passwords: dict[str, str]
) -> None:
    user = dataset.users[1]
    response = await client.post(
        f"/api/apps/{dataset.app_id}/oauth2/token",
        data={"grant_type": "password", "username": user.login_name, "password": passwords[user.legacy_user_id]},
    )
    assert response.status == 200 and (await response.json())["id"] == user.legacy_user_id


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"x-kii-appid": "otherapp"}, {"username": "a", "password": "b"}, 404, "APP_NOT_FOUND"),
        (None, "not json", 400, "INVALID_JSON"),
        (None, {"username": "a"}, 400, "invalid_request"),
        (None, {"grant_type": "client_credentials", "client_id": "x"}, 400, "unsupported_grant_type"),
    ],
)
async def test_malformed_requests_get_kii_errors(
    client: TestClient,
    dataset: LegacyDataset,
    headers: dict[str, str] | None,
    body: object,
    status: int,
    code: str,
) -> None:
    payload = body if isinstance(body, str) else json.dumps(body)
    response = await client.post(
        TOKEN, data=payload, headers=headers or {**app_headers(dataset), "Content-Type": "application/json"}
    )
    assert response.status == status and (await response.json())["errorCode"] == code


async def test_down_mode_answers_503_and_comes_back(
    client: TestClient, dataset: LegacyDataset, passwords: dict[str, str]
) -> None:
    user = dataset.users[0]
    response = await client.put("/_emulator/config", json={"down": True})
    assert response.status == 200 and (await response.json())["down"] is True
    status, body = await login(client, dataset, user.login_name, passwords[user.legacy_user_id])
    assert (status, body["errorCode"]) == (503, "RESOURCE_TEMPORARILY_UNAVAILABLE")
    await client.put("/_emulator/config", json={"down": False})
    status, _ = await login(client, dataset, user.login_name, passwords[user.legacy_user_id])
    assert status == 200
    counts = await stats(client)
    assert (counts["logins"], counts["succeeded"], counts["failures"], counts["unavailable"]) == (2, 1, 1, 1)
    assert (await client.delete("/_emulator/stats")).status == 204
    assert (await stats(client))["logins"] == 0


async def test_failure_rate_fails_about_that_share(
    aiohttp_client: Callable[..., Any], dataset_dir: Path, dataset: LegacyDataset
) -> None:
    client = await aiohttp_client(create_legacy_login_app(dataset_dir, failure_rate=0.5, failure_seed=1))
    statuses = Counter([(await login(client, dataset, "nobody", "pw12"))[0] for _ in range(60)])
    assert statuses.keys() == {400, 503} and 15 <= statuses[503] <= 45
    assert (await stats(client))["unavailable"] == statuses[503]


async def test_latency_shows_concurrent_logins_in_flight(
    aiohttp_client: Callable[..., Any], dataset_dir: Path, dataset: LegacyDataset, passwords: dict[str, str]
) -> None:
    client = await aiohttp_client(create_legacy_login_app(dataset_dir, latency_ms=150))
    user = dataset.users[0]
    results = await asyncio.gather(
        *(login(client, dataset, user.login_name, passwords[user.legacy_user_id]) for _ in range(5))
    )
    assert [status for status, _ in results] == [200] * 5
    counts = await stats(client)
    assert counts["max_in_flight"] == 5 and counts["in_flight"] == 0 and counts["succeeded"] == 5


async def test_config_refuses_bad_knobs(client: TestClient) -> None:
    for body in ({"failure_rate": 2}, {"latency_ms": -1}, {"down": "yes"}, {"speed": 1}, [1]):
        response = await client.put("/_emulator/config", json=body)
        assert response.status == 400, body
    assert (await (await client.get("/_emulator/config")).json()) == {
        "latency_ms": 0,
        "failure_rate": 0.0,
        "down": False,
    }


def test_a_directory_without_a_dataset_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LegacyDatasetError, match="cannot read the dataset"):
        LegacyAccounts.load(tmp_path)
