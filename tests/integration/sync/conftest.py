"""Sync service under test: the real app factory against the stack's MariaDB; users come from the
stack's auth service through the edge, so tokens are the ones real clients get."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from infra.local.stack import Stack
from services.sync.app import create_app
from services.sync.config import SyncSettings

PASSWORD = "Sync-Test-Password-9"


@pytest.fixture
async def client(stack: Stack, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(SyncSettings()))


NewUser = Callable[[], Awaitable[dict[str, str]]]


@pytest.fixture
def new_user(stack: Stack) -> NewUser:
    async def _new_user() -> dict[str, str]:
        name = f"s{uuid.uuid4().hex[:12]}"
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"http://127.0.0.1:{stack.settings.edge_port}/v1/auth/register",
                json={"login_name": name, "email": f"{name}@example.com", "password": PASSWORD},
            )
            assert response.status == 201, await response.text()
            body = await response.json()
        return {"user_id": body["user_id"], "token": body["access_token"]}

    return _new_user


def auth(user: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {user['token']}"}


async def pair(client: TestClient, user: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"kind": "blood_pressure", "model": "BP-7000", "serial": uuid.uuid4().hex[:10], **fields}
    response = await client.post("/v1/devices", json=body, headers=auth(user))
    assert response.status in (200, 201), await response.text()
    return dict(await response.json())


def bp(client_id: str, systolic: float = 128, at: str = "2026-11-20T08:00:00+09:00", **values: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "type": "blood_pressure",
        "measured_at": at,
        "values": {"systolic": systolic, "diastolic": 82, "pulse": 64, "unit": "mmHg", **values},
    }
