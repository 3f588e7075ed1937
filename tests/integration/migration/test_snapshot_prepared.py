"""The snapshot loader's preparer process (services/migration/preparer.py, prepared.py) on the real
database: a guess that does not hold is caught and the chunk written from its records, a malformed line
ends the load after the chunks before it, a load stopped between its last chunk and marking the end
resumes at the end, a server refusing LOAD DATA gets statements, and a preparer that fails says why."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from services.migration.bulk import is_device
from services.migration.errors import RecordFormatError
from services.migration.inserts import LocalInfileInserter
from services.migration.owners import DbOwners
from services.migration.prepared import PreparedChunk, SpeculationMissed, load_prepared_chunk, prepare_objects
from services.migration.preparer import PreparerFailed
from services.migration.snapshot import SnapshotReport, _ChunkWriter, load_snapshot
from services.migration.snapshot_file import SnapshotReader
from shared.db.connection import connect
from shared.db.pool import create_pool
from shared.settings import CommonSettings
from tests.conftest import free_port
from tests.integration.migration.conftest import Queues, migration_env
from tests.integration.migration.test_pipeline import assert_final_state, query_int
from tests.integration.migration.test_snapshot_inserts import process_context, users_imported

pytestmark = pytest.mark.integration


async def test_a_wrong_guess_is_written_from_the_records(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues, tmp_path: Path
) -> None:
    env = migration_env(settings, scratch_db, topic, queues)
    directory = await users_imported(settings, scratch_db, env, tmp_path, 20, 88)
    snapshot = directory / "snapshot.jsonl.gz"
    reader = SnapshotReader(snapshot)
    entries = list(reader.entries())
    records = [record for _, record in entries]
    ctx = process_context(settings)
    # what a preparer that read no user at all would guess: every reading and setting an orphan
    objects = prepare_objects([r for r in records if not is_device(r, ctx)], ctx, DbOwners())
    assert objects is not None and objects.rows == 0 and objects.failed > 100
    chunk = PreparedChunk(
        b"".join(line for line, _ in entries),
        [(r.partition, r.offset) for r in records],
        [r for r in records if is_device(r, ctx)],
        objects,
        0,
    )
    pool = await create_pool(
        settings.model_copy(update={"db_name": scratch_db}), no_backslash_escapes=True, local_infile=True
    )
    try:
        with LocalInfileInserter() as inserter:
            async with pool.acquire() as conn:
                async with conn.cursor() as cur:
                    with pytest.raises(SpeculationMissed, match="an owner"):
                        await load_prepared_chunk(cur, chunk, ctx, inserter)
                await conn.rollback()
                report = SnapshotReport(reader.snapshot_id)
                await _ChunkWriter(conn, ctx, inserter, report, reader, str(snapshot)).commit(chunk, 0)
    finally:
        pool.close()
        await pool.wait_closed()
        reader.close()
    assert (report.missed, report.records_done, report.failed) == (1, len(records), report.failed)
    assert report.failed < objects.failed  # the records' own path found the owners
    await assert_final_state(settings, scratch_db, directory)


def _with_value(line: bytes, value: str) -> bytes:
    """line's record with a member of its body holding value (JSON text as it is, valid or not)."""
    record = json.loads(line)
    record["object"]["note"] = "@value@"
    return json.dumps(record).replace('"@value@"', value).encode() + b"\n"


# a cut line; and whole records holding what json.loads takes but JSON has not, and no raw row could store
@pytest.mark.parametrize(
    "breaking",
    [
        lambda line: b'{"op": "SNAPSHOT"\n',
        lambda line: _with_value(line, "NaN"),
        lambda line: _with_value(line, "1e400"),
        lambda line: _with_value(line, '"\\ud800"'),
    ],
    ids=["cut", "nan", "infinite", "lone-surrogate"],
)
async def test_a_malformed_line_ends_the_load_after_the_chunks_before_it(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    tmp_path: Path,
    breaking: Callable[[bytes], bytes],
) -> None:
    env = migration_env(settings, scratch_db, topic, queues)
    directory = await users_imported(settings, scratch_db, env, tmp_path, 30, 89)
    lines = gzip.decompress((directory / "snapshot.jsonl.gz").read_bytes()).splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl.gz"
    bad = 301  # a record line (the header is line 1)
    broken.write_bytes(gzip.compress(b"".join([*lines[: bad - 1], breaking(lines[bad - 1]), *lines[bad:]])))
    target = settings.model_copy(update={"db_name": scratch_db})
    pool = await create_pool(target, no_backslash_escapes=True, local_infile=True)
    try:
        with LocalInfileInserter() as inserter, pytest.raises(RecordFormatError, match=f"line {bad}: "):
            await load_snapshot(
                pool, broken, process_context(settings), chunk_size=80, inserter=inserter, settings=target
            )
    finally:
        pool.close()
        await pool.wait_closed()
    done = await query_int(settings, scratch_db, "SELECT records_done FROM migration_snapshot_loads")
    # chunks of 10, 20, 40, 80, 80, ... records: those wholly before the bad line's record 300 are in
    assert done == 10 + 20 + 40 + 80 + 80
    assert await query_int(settings, scratch_db, "SELECT COUNT(*) FROM raw_kii_objects") == done


async def test_a_load_stopped_before_marking_its_end_resumes_at_the_end(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues, tmp_path: Path
) -> None:
    """Chunks are committed as they come and the end is marked after the last: a run killed in between
    reads nothing again and marks the end; the run after that finds the load finished."""
    env = migration_env(settings, scratch_db, topic, queues)
    directory = await users_imported(settings, scratch_db, env, tmp_path, 10, 91)
    target = settings.model_copy(update={"db_name": scratch_db})
    pool = await create_pool(target, no_backslash_escapes=True, local_infile=True)

    async def load() -> SnapshotReport:
        with LocalInfileInserter() as inserter:
            return await load_snapshot(
                pool,
                directory / "snapshot.jsonl.gz",
                process_context(settings),
                chunk_size=100,
                inserter=inserter,
                settings=target,
            )

    finished = "SELECT COUNT(*) FROM migration_snapshot_loads WHERE finished_at IS NOT NULL"
    try:
        first = await load()
        assert first.records_done > 100 and not first.already_loaded
        assert await query_int(settings, scratch_db, finished) == 1
        conn = await connect(settings, scratch_db)
        async with conn.cursor() as cur:  # as if killed after the last chunk's commit
            await cur.execute("UPDATE migration_snapshot_loads SET finished_at = NULL")
        await conn.commit()
        conn.close()
        again = await load()
        assert (again.resumed_at, again.records_done, again.rows, again.already_loaded) == (
            first.records_done,
            first.records_done,
            0,
            False,
        )
        assert await query_int(settings, scratch_db, finished) == 1
        assert (await load()).already_loaded
    finally:
        pool.close()
        await pool.wait_closed()
    await assert_final_state(settings, scratch_db, directory)


@pytest.mark.parametrize("prepared", [False, True], ids=["in-process", "preparer"])
async def test_a_server_refusing_load_data_gets_statements(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    prepared: bool,
) -> None:
    directory = await users_imported(
        settings, scratch_db, migration_env(settings, scratch_db, topic, queues), tmp_path, 30, 87
    )
    # a connection that did not ask for LOCAL files: the server answers LOAD DATA LOCAL with error 1148
    target = settings.model_copy(update={"db_name": scratch_db})
    pool = await create_pool(target, no_backslash_escapes=True)
    try:
        with LocalInfileInserter() as inserter:
            report = await load_snapshot(
                pool,
                directory / "snapshot.jsonl.gz",
                process_context(settings),
                chunk_size=500,
                inserter=inserter,
                settings=target if prepared else None,
            )
    finally:
        pool.close()
        await pool.wait_closed()
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and "go by statements from here on" in refusals[0]  # asked once, not per chunk
    assert report.records_done == await query_int(settings, scratch_db, "SELECT COUNT(*) FROM raw_kii_objects")
    await assert_final_state(settings, scratch_db, directory)


async def test_a_preparer_that_fails_ends_the_load_with_its_reason(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues, tmp_path: Path
) -> None:
    """The preparer's own connection refused (the loader's works): one error naming it and the way out, the
    password nowhere, and nothing written that a second run would not resume from."""
    env = migration_env(settings, scratch_db, topic, queues)
    directory = await users_imported(settings, scratch_db, env, tmp_path, 10, 90)
    target = settings.model_copy(update={"db_name": scratch_db})
    pool = await create_pool(target, no_backslash_escapes=True, local_infile=True)
    unreachable = target.model_copy(update={"db_port": free_port(), "db_unix_socket": None, "db_host": "127.0.0.1"})
    try:
        with LocalInfileInserter() as inserter, pytest.raises(PreparerFailed) as failed:
            await load_snapshot(
                pool,
                directory / "snapshot.jsonl.gz",
                process_context(settings),
                chunk_size=100,
                inserter=inserter,
                settings=unreachable,
            )
    finally:
        pool.close()
        await pool.wait_closed()
    message = str(failed.value)
    assert message.startswith("the snapshot's preparer failed (OperationalError: ")
    assert message.endswith("or without the preparer: VITALSYNC_MIGRATION_SNAPSHOT_PREPARER=false")
    assert settings.db_password.get_secret_value() not in message
    assert await query_int(settings, scratch_db, "SELECT records_done FROM migration_snapshot_loads") == 0
    assert await query_int(settings, scratch_db, "SELECT COUNT(*) FROM raw_kii_objects") == 0
