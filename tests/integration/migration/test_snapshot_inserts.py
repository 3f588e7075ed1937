"""The snapshot loader's two ways of inserting (services/migration/inserts.py): LOAD DATA LOCAL INFILE
(of chunks prepared by the preparer process, or read in process) and statements write the same rows; a
chunk LOAD DATA cannot write whole falls back to statements without losing or doubling a row (a server
refusing LOAD DATA: test_snapshot_prepared; strings through the file: test_db_pool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.migration.processing import ProcessContext
from services.migration.writes import EventTarget
from shared.db.connection import connect
from shared.legacy.transform import default_mapping
from shared.settings import CommonSettings
from tests.integration.migration.conftest import Queues, migration_env, run_cli, seed_dataset
from tests.integration.migration.test_pipeline import assert_final_state, query_int, reset_database

pytestmark = pytest.mark.integration

RAW_STATE = (
    "SELECT object_key, version, op, body, source_partition, source_offset, applied_version, outcome "
    "FROM raw_kii_objects ORDER BY object_key"
)
COUNTS = {
    "readings": "SELECT COUNT(*) FROM readings",
    "devices": "SELECT COUNT(*) FROM devices",
    "settings": "SELECT COUNT(*) FROM device_settings",
    "failures": "SELECT COUNT(*) FROM migration_failures",
    "change_log": "SELECT COUNT(*) FROM change_log",
    "outbox": "SELECT COUNT(*) FROM outbox",
}
# readings without exactly one change_log row and one reading.created event naming their id and user
# (the LOAD DATA path takes the ids from LAST_INSERT_ID, the statements read them back): 0 each
_READINGS_MATCHED = "SELECT COUNT(*) FROM readings r JOIN {announcements} ON {match}"
UNANNOUNCED = {
    "change_log": "SELECT (SELECT COUNT(*) FROM readings) + (SELECT COUNT(*) FROM change_log WHERE entity = 'reading') "
    "- 2 * ("
    + _READINGS_MATCHED.format(
        announcements="change_log c",
        match="c.entity = 'reading' AND c.entity_id = CAST(r.id AS CHAR) AND c.user_id = r.user_id",
    )
    + ")",
    "outbox": "SELECT (SELECT COUNT(*) FROM readings) + (SELECT COUNT(*) FROM outbox "
    "WHERE JSON_VALUE(payload, '$.type') = 'reading.created') - 2 * ("
    + _READINGS_MATCHED.format(
        announcements="outbox o",
        match="JSON_VALUE(o.payload, '$.type') = 'reading.created' "
        "AND JSON_VALUE(o.payload, '$.data.reading_id') = r.id AND o.msg_key = r.user_id",
    )
    + ")",
}


async def _rows(settings: CommonSettings, database: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            return list(await cur.fetchall())
    finally:
        conn.close()


async def _loads(settings: CommonSettings) -> int:
    """LOAD DATA statements the server ran so far (tests run one at a time)."""
    rows = await _rows(settings, "", "SHOW GLOBAL STATUS LIKE 'Com_load'")
    return int(rows[0][1])


async def users_imported(
    settings: CommonSettings, database: str, env: dict[str, str], tmp_path: Path, users: int, seed: int
) -> Path:
    """A fresh database with a seeded dataset's users imported (its snapshot not loaded); the dataset."""
    directory = seed_dataset(tmp_path / "legacy", users, seed=seed)
    await reset_database(settings, database)
    run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env)
    return directory


def process_context(settings: CommonSettings) -> ProcessContext:
    """What an in-process `load_snapshot` needs, as the CLI builds it (default mapping)."""
    return ProcessContext(default_mapping(), EventTarget(settings.region, settings.events_topic))


async def _load(settings: CommonSettings, database: str, env: dict[str, str], directory: Path) -> dict[str, Any]:
    """Fresh database, users imported, snapshot loaded by the CLI; what it wrote."""
    await reset_database(settings, database)
    run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env)
    report = json.loads(run_cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz"), "--json"], env).stdout)
    await assert_final_state(settings, database, directory)
    counts = {name: await query_int(settings, database, sql) for name, sql in COUNTS.items()}
    unannounced = {name: await query_int(settings, database, sql) for name, sql in UNANNOUNCED.items()}
    assert unannounced == {"change_log": 0, "outbox": 0}
    return {"report": report, "counts": counts, "raw": await _rows(settings, database, RAW_STATE)}


async def test_load_data_and_statements_write_the_same_rows(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues, tmp_path: Path
) -> None:
    directory = seed_dataset(tmp_path / "legacy", 60, seed=85)
    env = migration_env(settings, scratch_db, topic, queues)
    before = await _loads(settings)
    by_load_data = await _load(settings, scratch_db, env, directory)
    assert await _loads(settings) - before >= 4  # raw rows, readings, change_log and outbox of every chunk
    before = await _loads(settings)
    by_statements = await _load(
        settings, scratch_db, {**env, "VITALSYNC_MIGRATION_SNAPSHOT_LOAD_DATA": "false"}, directory
    )
    assert await _loads(settings) == before
    # and LOAD DATA of chunks this process reads itself, without the preparer process
    in_process = await _load(settings, scratch_db, {**env, "VITALSYNC_MIGRATION_SNAPSHOT_PREPARER": "false"}, directory)
    assert by_load_data["counts"]["readings"] > 100 and by_load_data["counts"]["failures"] > 0
    assert by_load_data["report"]["chunks_rewritten"] == 0  # the preparer's guesses held
    assert by_load_data == by_statements == in_process


async def test_a_chunk_load_data_cannot_write_whole_goes_by_statements(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues, tmp_path: Path
) -> None:
    directory = seed_dataset(tmp_path / "legacy", 40, seed=86)
    env = migration_env(settings, scratch_db, topic, queues)
    first = await _load(settings, scratch_db, env, directory)
    # the raw rows and the checkpoint go, the readings stay: every reading of the second load exists
    # already, so each chunk's LOAD DATA into readings skips rows (warnings) and must be redone
    conn = await connect(settings, scratch_db)
    async with conn.cursor() as cur:
        await cur.execute("DELETE FROM raw_kii_objects")
        await cur.execute("DELETE FROM migration_snapshot_loads")
        await cur.execute("UPDATE readings SET primary_value = -1")
    conn.close()
    result = run_cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz"), "--json"], env)
    assert "this chunk goes by statements" in result.stderr
    assert json.loads(result.stdout)["records_done"] == first["report"]["records_done"]
    assert await query_int(settings, scratch_db, "SELECT COUNT(*) FROM readings") == first["counts"]["readings"]
    assert await query_int(settings, scratch_db, "SELECT COUNT(*) FROM readings WHERE primary_value = -1") == 0
    assert await _rows(settings, scratch_db, RAW_STATE) == first["raw"]
    await assert_final_state(settings, scratch_db, directory)
