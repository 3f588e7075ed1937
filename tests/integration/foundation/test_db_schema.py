"""Migrations and the drift check against the real MariaDB of the local stack."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.db.connection import connect
from shared.db.migrations import Migration, MigrationError, load_migrations, migrate
from shared.db.schema_check import check_schema
from shared.settings import CommonSettings
from tests.conftest import subprocess_env

pytestmark = pytest.mark.integration


@pytest.fixture
async def scratch_db(settings: CommonSettings) -> AsyncIterator[str]:
    """A fresh, empty database named vitalsync_t<random>, dropped afterwards."""
    name = f"{settings.db_name}_t{uuid.uuid4().hex[:10]}"
    conn = await connect(settings, "")
    async with conn.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}`")
    try:
        yield name
    finally:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE `{name}`")
        conn.close()


def _cli(*args: str, database: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "db", *args, "--database", database],
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(),
        timeout=120,
    )


def test_migrate_twice_is_harmless_and_check_passes(scratch_db: str) -> None:
    first = _cli("migrate", database=scratch_db)
    second = _cli("migrate", database=scratch_db)
    check = _cli("check", database=scratch_db)
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in load_migrations())
    assert first.returncode == 0 and f"applied {len(load_migrations())} migration(s): {names}" in first.stdout
    assert second.returncode == 0 and second.stdout.strip() == "applied 0 migration(s)"
    assert check.returncode == 0, check.stderr
    assert "matches the migrations" in check.stdout


async def test_migrate_creates_a_missing_database(settings: CommonSettings) -> None:
    name = f"{settings.db_name}_t{uuid.uuid4().hex[:10]}"
    try:
        created = _cli("migrate", database=name)
        assert created.returncode == 0, created.stderr
        assert created.stdout.startswith(f"applied {len(load_migrations())} migration(s): 0001_")
        assert _cli("check", database=name).returncode == 0
    finally:
        conn = await connect(settings, "")
        async with conn.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def test_migrate_refuses_a_name_it_cannot_quote() -> None:
    result = _cli("migrate", database="eu`; DROP DATABASE vitalsync")
    assert result.returncode == 2
    assert result.stderr.startswith("error: database name 'eu`; DROP DATABASE vitalsync': use 1-64 letters")


async def test_check_names_every_drift(settings: CommonSettings, scratch_db: str) -> None:
    conn = await connect(settings, scratch_db, multi_statements=True)
    try:
        await migrate(conn)
        async with conn.cursor() as cur:
            await cur.execute("ALTER TABLE readings DROP INDEX ix_readings_user_type_measured")
            await cur.execute("ALTER TABLE devices ADD COLUMN color VARCHAR(10) NULL")
            await cur.execute("CREATE INDEX ix_load_test ON users (country)")
            await cur.execute("ALTER TABLE users MODIFY display_name VARCHAR(100) NOT NULL")
    finally:
        conn.close()
    result = _cli("check", database=scratch_db)
    assert result.returncode == 1
    lines = [line.strip() for line in result.stderr.splitlines()[1:]]
    assert sorted(lines) == sorted(
        [
            "missing index readings.ix_readings_user_type_measured (user_id, type, measured_at, id)",
            "extra column devices.color varchar(10) NULL",
            "extra index users.ix_load_test (country)",
            "column users.display_name differs: declared varchar(200) NULL, live varchar(100) NOT NULL",
        ]
    )


async def test_check_reports_pending_migrations(scratch_db: str) -> None:
    result = _cli("check", database=scratch_db)
    assert result.returncode == 1
    assert "pending migration 0001_initial_schema (run `vitalsync db migrate`)" in result.stderr
    assert "missing table users" in result.stderr


async def test_edited_applied_migration_is_refused(settings: CommonSettings, scratch_db: str) -> None:
    conn = await connect(settings, scratch_db, multi_statements=True)
    try:
        original = load_migrations()
        await migrate(conn, original)
        edited = [Migration(m.version, m.name, m.sql + "\n-- tweak\n") for m in original]
        with pytest.raises(MigrationError, match=re.escape("0001_initial_schema.sql was edited after it was applied")):
            await migrate(conn, edited)
        drifts = await check_schema(conn, scratch_db, edited)
        assert any("was edited after it was applied" in d for d in drifts)
    finally:
        conn.close()


async def test_failed_migration_is_not_recorded(settings: CommonSettings, scratch_db: str) -> None:
    conn = await connect(settings, scratch_db, multi_statements=True)
    try:
        broken = [
            *load_migrations(),
            Migration(9999, "broken", "CREATE TABLE t2 (id INT);\nALTER TABLE nope ADD x INT;"),
        ]
        with pytest.raises(MigrationError, match=re.escape("9999_broken.sql failed")):
            await migrate(conn, broken)
        async with conn.cursor() as cur:
            await cur.execute("SELECT version FROM schema_migrations ORDER BY version")
            assert [v for (v,) in await cur.fetchall()] == [m.version for m in load_migrations()]
    finally:
        conn.close()


def test_unreachable_database_is_one_clear_line(free_db_port: int) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "db", "migrate"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env=subprocess_env(VITALSYNC_DB_PORT=str(free_db_port)),
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot connect to MySQL at 127.0.0.1:{free_db_port}")
    assert "vitalsync stack up" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def free_db_port() -> int:
    from tests.conftest import free_port

    return free_port()
