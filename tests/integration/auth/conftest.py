"""Auth service under test: the real app factory against the stack's MariaDB and moto (both providers)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from infra.local.stack import Stack
from services.auth.app import create_app
from services.auth.config import AuthSettings

PASSWORD = "Correct-Horse-42"


def auth_settings(provider: str, **overrides: Any) -> AuthSettings:
    """Settings for a test app. Every test client comes from 127.0.0.1, so the per-address lockout is
    set out of reach here; the throttle tests give each client its own address instead."""
    values: dict[str, Any] = {"identity_provider": provider, "lockout_address_threshold": 1_000_000, **overrides}
    return AuthSettings(**values)


@pytest.fixture(params=["local", "cognito"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(stack: Stack, provider: str, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(auth_settings(provider)))


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


Register = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def register(client: TestClient) -> Register:
    async def _register(login_name: str | None = None, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        name = login_name or unique_name()
        body = {"login_name": name, "email": f"{name}@example.com", "password": password, **extra}
        response = await client.post("/v1/auth/register", json=body)
        assert response.status == 201, await response.text()
        return {**(await response.json()), "login_name": name, "email": body["email"], "password": password}

    return _register


async def sent_emails(endpoint: str, to: str) -> list[str]:
    """Bodies of emails moto's SES accepted for ``to`` (moto's model-data API)."""
    async with aiohttp.ClientSession() as http, http.get(f"{endpoint}/moto-api/data.json") as response:
        data = await response.json(content_type=None)
    bodies = []
    for message in data["ses"]["Message"]:
        if to in message["destinations"]["ToAddresses"]:
            bodies.append(message["body"])
    return bodies
