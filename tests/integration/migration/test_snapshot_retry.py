"""A snapshot chunk that loses on a lock (deadlock or lock wait timeout, e.g. against `follow`) is rolled
back and tried again instead of ending the load."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiomysql
import pytest

from services.migration.snapshot import load_snapshot
from shared.db.connection import connect
from shared.settings import CommonSettings
from tests.integration.migration.conftest import Queues, migration_env
from tests.integration.migration.test_pipeline import assert_final_state, query_int
from tests.integration.migration.test_snapshot_inserts import process_context, users_imported

pytestmark = pytest.mark.integration


async def test_a_chunk_that_times_out_on_a_lock_is_tried_again(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    directory = await users_imported(
        settings, scratch_db, migration_env(settings, scratch_db, topic, queues), tmp_path, 20, 88
    )
    # another transaction holds every user row: the load's first chunk waits 1 s, times out, and retries
    holder = await connect(settings, scratch_db)
    await holder.begin()
    async with holder.cursor() as cur:
        await cur.execute("SELECT id FROM users FOR UPDATE")
    pool = await aiomysql.create_pool(
        host=settings.db_host,
        port=settings.db_port,
        unix_socket=settings.db_unix_socket,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        db=scratch_db,
        autocommit=False,
        charset="utf8mb4",
        init_command="SET time_zone = '+00:00', innodb_lock_wait_timeout = 1",
    )
    ctx = process_context(settings)
    loading = asyncio.create_task(load_snapshot(pool, directory / "snapshot.jsonl.gz", ctx, chunk_size=10_000))
    try:
        deadline = time.monotonic() + 30
        while not any("trying again" in record.getMessage() for record in caplog.records):
            assert time.monotonic() < deadline and not loading.done(), "the chunk never timed out on the lock"
            await asyncio.sleep(0.05)
        await holder.rollback()  # the lock goes; the retry gets through
        report = await asyncio.wait_for(loading, 60)
    finally:
        holder.close()
        pool.close()
        await pool.wait_closed()
    retries = [r.getMessage() for r in caplog.records if "trying again" in r.getMessage()]
    assert retries and "1205" in retries[0]
    assert report.records_done == await query_int(settings, scratch_db, "SELECT COUNT(*) FROM raw_kii_objects")
    await assert_final_state(settings, scratch_db, directory)
