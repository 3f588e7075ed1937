"""Through the edge (nginx -> the stack's stats service): an ordinary user's real token is refused."""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from infra.local.stack import Stack

pytestmark = pytest.mark.integration


async def test_reports_through_the_edge_need_the_operator_role(stack: Stack) -> None:
    edge = f"http://127.0.0.1:{stack.settings.edge_port}"
    name = f"stats{uuid.uuid4().hex[:12]}"
    # a client address of our own, so lockouts other tests leave on 127.0.0.1 cannot interfere
    headers = {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"}
    async with aiohttp.ClientSession(headers=headers) as http:
        body = {"login_name": name, "email": f"{name}@example.com", "password": "Correct-Horse-42"}
        async with http.post(f"{edge}/v1/auth/register", json=body) as registered:
            assert registered.status == 201, await registered.text()
            token = (await registered.json())["access_token"]
        async with http.get(f"{edge}/v1/stats/readings-per-day") as anonymous:
            assert anonymous.status == 401
        async with http.get(f"{edge}/v1/stats/jobs", headers={"Authorization": f"Bearer {token}"}) as user:
            assert user.status == 403
            assert (await user.json())["error"]["code"] == "FORBIDDEN"
