"""Legacy users: import with legacy hashes, first login migrates the password exactly once."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from services.auth.app import create_app
from shared.db.connection import connect
from shared.legacy.hash_schemes import SCHEMES, generate_legacy_hash
from shared.settings import CommonSettings
from tests.conftest import subprocess_env
from tests.integration.auth.conftest import auth_settings, client_headers, unique_name

pytestmark = pytest.mark.integration
HASH_KEY = b"legacy-platform-hash-key-32bytes"
# cheap parameters: the point is the scheme's algorithm, not its cost
CHEAP = {
    "pbkdf2-sha256": {"iterations": 1000},
    "bcrypt": {"cost": 4},
    "scrypt": {"n": 1024, "r": 8, "p": 1, "dklen": 32},
    "firebase-scrypt": {"rounds": 8, "mem_cost": 10},
    "argon2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
}


def legacy_record(scheme: str, password: str, **fields: Any) -> dict[str, Any]:
    name = fields.pop("login_name", unique_name("legacy"))
    legacy = generate_legacy_hash(scheme, password, params=CHEAP.get(scheme), key=HASH_KEY)
    return {
        "legacy_user_id": fields.pop("legacy_user_id", unique_name("kii-")),
        "login_name": name,
        "email": f"{name}@example.org",
        "display_name": "Legacy 利用者",
        "country": "JP",
        "locale": "ja-JP",
        "attributes": {"plan": "gold"},
        "hash_scheme": legacy.scheme,
        "hash": legacy.hash,
        "salt": legacy.salt,
        "params": dict(legacy.params),
        **fields,
    }


def run_import(
    tmp_path: Path, records: list[Any], provider: str
) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    source = tmp_path / "users.jsonl"
    source.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    (tmp_path / "hash.key").write_bytes(HASH_KEY)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vitalsync_cli",
            "users",
            "import",
            str(source),
            "--hash-key-file",
            str(tmp_path / "hash.key"),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env=subprocess_env(VITALSYNC_IDENTITY_PROVIDER=provider),
    )
    rejected = [json.loads(line) for line in (tmp_path / "users.jsonl.rejected.jsonl").read_text().splitlines()]
    return result, rejected


@pytest.fixture
async def legacy_client(stack, provider: str, tmp_path: Path, aiohttp_client) -> TestClient:  # type: ignore[no-untyped-def]
    (tmp_path / "hash.key").write_bytes(HASH_KEY)
    app = create_app(auth_settings(provider, legacy_hash_key_file=tmp_path / "hash.key"))
    return await aiohttp_client(app, headers=client_headers())


async def _login(client: TestClient, username: str, password: str) -> tuple[int, dict]:
    response = await client.post(
        "/v1/auth/token", json={"grant_type": "password", "username": username, "password": password}
    )
    return response.status, await response.json()


async def _user_row(login_name: str) -> dict[str, Any]:
    conn = await connect(CommonSettings())
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT id, legacy_hash, legacy_hash_scheme, password_migrated_at, idp, idp_subject FROM users "
                "WHERE login_name = %s",
                (login_name,),
            )
            row = await cur.fetchone()
            await cur.execute(
                "SELECT COUNT(*) FROM outbox WHERE msg_key = %s AND JSON_VALUE(payload, '$.type') = 'user.migrated'",
                (row[0],),
            )
            (events,) = await cur.fetchone()
    finally:
        conn.close()
    keys = ("id", "legacy_hash", "scheme", "migrated_at", "idp", "idp_subject")
    return {**dict(zip(keys, row, strict=True)), "migrated_events": events}


async def test_every_scheme_logs_in_with_the_old_password_once(
    legacy_client: TestClient, provider: str, tmp_path: Path
) -> None:
    passwords = {scheme: f"old-{scheme}-pässwörd-ü" for scheme in SCHEMES}
    records = [legacy_record(scheme, passwords[scheme]) for scheme in SCHEMES]
    result, rejected = run_import(tmp_path, records, provider)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == len(SCHEMES) and rejected == []
    for record in records:
        before = await _user_row(record["login_name"])
        assert before["legacy_hash"] and before["migrated_at"] is None and before["idp"] == provider
        assert before["idp_subject"]
        wrong = await _login(legacy_client, record["login_name"], "not-the-old-one")
        assert wrong == (401, {"error": {"code": "INVALID_CREDENTIALS", "message": "wrong login name or password"}})
        status, body = await _login(legacy_client, record["email"], passwords[record["hash_scheme"]])
        assert status == 200, (record["hash_scheme"], body)
        after = await _user_row(record["login_name"])
        assert after["legacy_hash"] is None and after["scheme"] is None and after["migrated_at"] is not None
        assert after["migrated_events"] == 1
        # afterwards the provider alone answers
        assert (await _login(legacy_client, record["login_name"], passwords[record["hash_scheme"]]))[0] == 200
        assert (await _user_row(record["login_name"]))["migrated_events"] == 1


async def test_concurrent_first_logins_migrate_exactly_once(
    legacy_client: TestClient, provider: str, tmp_path: Path
) -> None:
    record = legacy_record("bcrypt", "concurrent-old-password")
    result, _ = run_import(tmp_path, [record], provider)
    assert result.returncode == 0, result.stderr
    results = await asyncio.gather(
        *(_login(legacy_client, record["login_name"], "concurrent-old-password") for _ in range(8))
    )
    assert [status for status, _ in results] == [200] * 8
    assert len({body["user_id"] for _, body in results}) == 1
    assert (await _user_row(record["login_name"]))["migrated_events"] == 1


async def test_reimport_updates_without_duplicating_and_keeps_a_migrated_password(
    legacy_client: TestClient, provider: str, tmp_path: Path
) -> None:
    record = legacy_record("sha256-salted", "first-old-password")
    run_import(tmp_path, [record], provider)
    first = await _user_row(record["login_name"])
    record_again = {**record, "display_name": "Renamed"}
    result, _ = run_import(tmp_path, [record_again], provider)
    assert json.loads(result.stdout) | {"report": None} == {"created": 0, "updated": 1, "rejected": 0, "report": None}
    assert (await _user_row(record["login_name"]))["id"] == first["id"]
    assert (await _login(legacy_client, record["login_name"], "first-old-password"))[0] == 200
    # a late re-import (second hash delivery) must not resurrect the legacy hash
    run_import(
        tmp_path,
        [
            legacy_record(
                "sha256-salted",
                "stale-password",
                login_name=record["login_name"],
                legacy_user_id=record["legacy_user_id"],
            )
        ],
        provider,
    )
    assert (await _user_row(record["login_name"]))["legacy_hash"] is None
    assert (await _login(legacy_client, record["login_name"], "stale-password"))[0] == 401
    assert (await _login(legacy_client, record["login_name"], "first-old-password"))[0] == 200


async def test_bad_lines_are_rejected_with_reasons_and_nothing_half_written(tmp_path: Path, provider: str) -> None:
    good = legacy_record("pbkdf2-sha256", "pw-good-1")
    taken = legacy_record("pbkdf2-sha256", "pw", login_name=good["login_name"])
    records = [
        good,
        {**legacy_record("sha256-salted", "x"), "email": "not-an-email"},
        {**legacy_record("sha256-salted", "x"), "hash_scheme": "md5-crypt"},
        {**legacy_record("sha256-salted", "x"), "hash": "%%%not-base64%%%"},
        {**legacy_record("bcrypt", "x"), "hash": "$2b$04$tooshort"},
        {**legacy_record("pbkdf2-sha256", "x"), "params": {"iterations": 10**9}},
        taken,
        "{not json",
        {**legacy_record("sha256-salted", "x"), "login_name": "a b"},
    ]
    result, rejected = run_import(tmp_path, records, provider)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["created"] == 1
    assert [(r["line"], r["code"]) for r in rejected] == [
        (2, "BAD_EMAIL"),
        (3, "UNKNOWN_SCHEME"),
        (4, "MALFORMED_HASH"),
        (5, "MALFORMED_HASH"),
        (6, "INVALID_PARAMS"),
        (7, "DUPLICATE_LOGIN_NAME"),
        (8, "INVALID_JSON"),
        (9, "BAD_LOGIN_NAME"),
    ]
    report_text = (tmp_path / "users.jsonl.rejected.jsonl").read_text()
    for record in records[1:7]:
        assert isinstance(record, dict) and record["hash"] not in report_text


def test_import_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "users", "import", str(tmp_path / "nope.jsonl")],
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(COLUMNS="300"),
    )
    assert result.returncode == 2
    assert "nope.jsonl does not exist or is not a file" in result.stderr and "Traceback" not in result.stderr
