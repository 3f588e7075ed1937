"""Migrated users log in with their old passwords (issue 8 item 4): users.jsonl of a legacy dataset goes
through auth's import (`vitalsync users import`) into the stack's database, then POST /v1/auth/token
through the stack's edge. The stack's auth service has no legacy hash key, so the HMAC-SHA256 users
log in through an auth app given the dataset's hash.key instead (same database, same import)."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.local.stack import Stack
from services.auth.app import create_app
from services.auth.config import AuthSettings
from shared.settings import CommonSettings
from tests.conftest import subprocess_env
from tests.integration.auth.conftest import client_headers
from tests.integration.migration.conftest import run_cli, seed_dataset

pytestmark = pytest.mark.integration


def _make_names_unique(users_file: Path, run: str) -> None:
    """Suffix every login name and email with ``run`` (hashes cover the password only, so logins still work)."""
    users = [json.loads(line) for line in users_file.read_text(encoding="utf-8").splitlines()]
    for user in users:
        if isinstance(user.get("login_name"), str):
            user["login_name"] = f"{user['login_name']}.{run}"
        if isinstance(user.get("email"), str) and "@" in user["email"]:
            local, domain = user["email"].split("@", 1)
            user["email"] = f"{local}.{run}@{domain}"
    users_file.write_text("".join(json.dumps(user, ensure_ascii=False) + "\n" for user in users), encoding="utf-8")


def _imported(directory: Path, report: Path) -> list[dict[str, Any]]:
    """The users.jsonl records the import did not reject."""
    rejected = {json.loads(line)["legacy_user_id"] for line in report.read_text(encoding="utf-8").splitlines()}
    lines = (directory / "users.jsonl").read_text(encoding="utf-8").splitlines()
    return [user for user in map(json.loads, lines) if user["legacy_user_id"] not in rejected]


async def test_migrated_users_log_in_with_their_old_passwords(
    stack: Stack, settings: CommonSettings, tmp_path: Path, aiohttp_client: Any
) -> None:
    # a seed of its own per run, and login names made unique to it: the generator draws names from a small
    # pool, and the stack's database keeps every earlier run's accounts
    directory = seed_dataset(tmp_path / "legacy", 16, seed=random.randrange(10**6, 10**7))
    _make_names_unique(directory / "users.jsonl", uuid.uuid4().hex[:8])
    summary = json.loads(
        run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], subprocess_env()).stdout
    )
    passwords = json.loads((directory / "passwords.json").read_text(encoding="utf-8"))
    # lines the generator made invalid on purpose are rejected by the import and are not ours to log in as
    users = _imported(directory, Path(summary["report"]))
    assert summary["created"] == len(users) >= 8
    edge = f"http://127.0.0.1:{settings.edge_port}"
    through_edge = [u for u in users if u["hash_scheme"] != "hmac-sha256"]
    assert through_edge
    async with aiohttp.ClientSession() as http:
        for user in through_edge:
            body = {
                "grant_type": "password",
                "username": user["login_name"],
                "password": passwords[user["legacy_user_id"]],
            }
            async with http.post(f"{edge}/v1/auth/token", json=body) as response:
                assert response.status == 200, (user["hash_scheme"], await response.text())
                assert (await response.json())["access_token"]
            body["password"] = passwords[user["legacy_user_id"]] + "x"
            async with http.post(f"{edge}/v1/auth/token", json=body) as response:
                assert response.status in (400, 401), await response.text()
    keyed = [u for u in users if u["hash_scheme"] == "hmac-sha256"]
    client = await aiohttp_client(
        create_app(AuthSettings(legacy_hash_key_file=directory / "hash.key")), headers=client_headers()
    )
    for user in keyed:
        body = {"grant_type": "password", "username": user["login_name"], "password": passwords[user["legacy_user_id"]]}
        response = await client.post("/v1/auth/token", json=body)
        assert response.status == 200, await response.text()
