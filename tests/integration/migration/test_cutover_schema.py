"""`cutover check` refuses a region whose schema drifted from the migrations (the legacy go-live that met
99 % database CPU over an index missing in production), on a real database, topic and queues."""

from __future__ import annotations

import json
import uuid

import pytest

from shared.db.connection import connect
from shared.settings import CommonSettings
from tests.integration.migration.conftest import Queues, migrated_database, migration_env, run_cli_unchecked

pytestmark = pytest.mark.integration

INDEX_COLUMNS = "(user_id, type, measured_at, id)"
MISSING = f"missing index readings.ix_readings_user_type_measured {INDEX_COLUMNS}"


def _blockers(env: dict[str, str]) -> list[str]:
    check = run_cli_unchecked(["cutover", "check", "--json"], env)
    assert check.returncode == 1, check.stderr
    return list(json.loads(check.stdout)["blockers"])


def _schema_lines(blockers: list[str]) -> list[str]:
    return [line for line in blockers if line.startswith("schema")]


async def test_a_missing_index_blocks_the_cut_over(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues
) -> None:
    env = migration_env(settings, scratch_db, topic, queues)
    # a fresh region: blocked by the missing snapshot and validation, not by its schema
    assert _schema_lines(_blockers(env)) == []
    conn = await connect(settings, scratch_db)
    try:
        async with conn.cursor() as cur:
            await cur.execute("DROP INDEX ix_readings_user_type_measured ON readings")
        blockers = _blockers(env)
        assert _schema_lines(blockers) == [
            f"schema drift in {scratch_db}: {MISSING} (`vitalsync db check` lists every drift)"
        ]
        text = run_cli_unchecked(["cutover", "check"], env)
        assert text.returncode == 1
        assert f"  - schema drift in {scratch_db}: {MISSING}" in text.stdout
        async with conn.cursor() as cur:
            await cur.execute(f"CREATE INDEX ix_readings_user_type_measured ON readings {INDEX_COLUMNS}")
        assert _schema_lines(_blockers(env)) == []
    finally:
        conn.close()


async def test_a_schema_it_cannot_check_blocks(settings: CommonSettings, topic: str, queues: Queues) -> None:
    """A database name too long for the check's scratch database: not checked is not passed."""
    name = f"vitalsync_{uuid.uuid4().hex}{uuid.uuid4().hex}"[:50]
    async with migrated_database(settings, name):
        (line,) = _schema_lines(_blockers(migration_env(settings, name, topic, queues)))
    assert line == f"schema not checked: database name {name!r} must match ^[A-Za-z0-9_]{{1,48}}$"
