"""The local provider's signing keys rotate without breaking a session: publish, activate, retire."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import jwt
import pytest

from services.auth.app import create_app
from services.auth.keys import KEYRING
from shared.db.pool import DB_POOL
from tests.integration.auth.conftest import PASSWORD, auth_settings, client_headers, unique_name

pytestmark = pytest.mark.integration


async def _kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


async def test_rotation_publishes_first_then_signs_and_old_tokens_keep_working(stack, aiohttp_client) -> None:  # type: ignore[no-untyped-def]
    settings = auth_settings("local", signing_key_publish_ahead_s=0, keyring_reload_s=0.2)
    client = await aiohttp_client(create_app(settings), headers=client_headers())
    name = unique_name()
    registered = await (
        await client.post(
            "/v1/auth/register", json={"login_name": name, "email": f"{name}@example.com", "password": PASSWORD}
        )
    ).json()
    old_token, old_kid = registered["access_token"], await _kid_of(registered["access_token"])
    keyring = client.app[KEYRING]
    new_kid = await keyring.rotate(client.app[DB_POOL], publish_ahead=timedelta(seconds=1))

    jwks = await (await client.get("/.well-known/jwks.json")).json()
    assert {old_kid, new_kid} <= {key["kid"] for key in jwks["keys"]}  # published before it signs
    early = await (
        await client.post("/v1/auth/token", json={"grant_type": "password", "username": name, "password": PASSWORD})
    ).json()
    assert await _kid_of(early["access_token"]) == old_kid

    async def new_key_signs() -> str:
        while True:
            body = await (
                await client.post(
                    "/v1/auth/token", json={"grant_type": "password", "username": name, "password": PASSWORD}
                )
            ).json()
            if await _kid_of(body["access_token"]) == new_kid:
                return str(body["access_token"])
            await asyncio.sleep(0.2)

    new_token = await asyncio.wait_for(new_key_signs(), 10)
    for token in (old_token, new_token):  # both verify: the retired key stays published
        response = await client.get("/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200
