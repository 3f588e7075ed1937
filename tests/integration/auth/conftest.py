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
    """Settings for a test app (the throttle tests tighten the lockout themselves)."""
    values: dict[str, Any] = {"identity_provider": provider, **overrides}
    return AuthSettings(**values)


@pytest.fixture(params=["local", "cognito"])
def provider(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_headers() -> dict[str, str]:
    """Each test client gets its own address (via the trusted-proxy header): lockout counters live in
    the database and outlive a test, so a shared 127.0.0.1 would couple unrelated tests."""
    return {"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"}


@pytest.fixture
async def client(stack: Stack, provider: str, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    return await aiohttp_client(create_app(auth_settings(provider)), headers=client_headers())


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
