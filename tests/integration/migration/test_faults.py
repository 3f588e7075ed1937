"""Faults that must be harmless or contained (issue 8 item 6): a replayed Kafka range, redelivered SQS
messages, a snapshot load killed half way, and a poison record (DLQ + migration_failures)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from shared.db.connection import connect
from shared.settings import CommonSettings
from simulator.legacy.export_format import dumps_line, read_snapshot
from simulator.legacy.model import SETTINGS_BUCKET, ExportRecord, Op
from simulator.legacy.partitioning import partition_for, record_key
from tests.integration.migration.conftest import (
    MAX_RECEIVES,
    Processes,
    Queues,
    eventually,
    migration_env,
    run_cli,
    run_cli_unchecked,
    seed_dataset,
    spawn,
)
from tests.integration.migration.test_pipeline import (
    assert_final_state,
    caught_up,
    query_int,
    reset_database,
    start_pipeline,
)

pytestmark = pytest.mark.integration


async def _counts(settings: CommonSettings, database: str) -> tuple[int, int, int]:
    return (
        await query_int(settings, database, "SELECT COUNT(*) FROM change_log"),
        await query_int(settings, database, "SELECT COUNT(*) FROM outbox"),
        await query_int(settings, database, "SELECT COUNT(*) FROM raw_kii_objects"),
    )


async def test_replayed_kafka_range_and_redelivered_messages_change_nothing(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
) -> None:
    directory = seed_dataset(tmp_path / "legacy", 40, seed=83)
    env, total = await start_pipeline(settings, scratch_db, topic, queues, directory, 1_500)
    group = processes(env)
    group.start("master", "follow")
    group.start("worker", "work")
    await eventually(lambda: caught_up(settings, scratch_db, queues, total), 90, "the first pass")
    assert group.terminate_all() == {"master": 0, "worker": 0}, group.logs()
    before = await _counts(settings, scratch_db)

    # replay: move change capture back to the snapshot's offsets; redeliver: resend the messages of 60
    # raw objects with fresh deduplication ids (as SQS does after a lost delete), twice
    header, _ = read_snapshot(directory / "snapshot.jsonl.gz")
    conn = await connect(settings, scratch_db)
    try:
        async with conn.cursor() as cur:
            for partition, offset in header.partitions.items():
                await cur.execute(
                    "UPDATE migration_offsets SET next_offset = %s WHERE partition_id = %s", (offset, partition)
                )
            await cur.execute(
                "SELECT object_key, version, scope_type, scope_id FROM raw_kii_objects ORDER BY RAND(7) LIMIT 60"
            )
            raws = await cur.fetchall()
        await conn.commit()
    finally:
        conn.close()
    for copy in range(2):
        for start in range(0, len(raws), 10):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": json.dumps({"records": [[key, version, 0, 0, None]]}),
                    "MessageGroupId": f"{scope_type}:{scope_id}" if scope_id else scope_type,
                    "MessageDeduplicationId": f"redelivery-{copy}-{start + i}",
                }
                for i, (key, version, scope_type, scope_id) in enumerate(raws[start : start + 10])
            ]
            queues.client.send_message_batch(QueueUrl=queues.url, Entries=entries)
    group.start("master", "follow")
    group.start("worker", "work")
    await eventually(lambda: caught_up(settings, scratch_db, queues, total), 120, "the replay and redeliveries")
    assert group.terminate_all() == {"master": 0, "worker": 0}, group.logs()
    assert await _counts(settings, scratch_db) == before  # not one write: no change_log, outbox or raw row more
    await assert_final_state(settings, scratch_db, directory)


def _children(pid: int) -> list[int]:
    """Processes whose parent is pid (a preparer orphaned by kill -9 has another parent: see the caller)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pids: list[int]) -> list[int]:
    """Those of pids that still run (an orphan is reaped by init once it ends)."""
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
async def test_snapshot_load_killed_half_way_resumes_without_duplicates(
    settings: CommonSettings, scratch_db: str, topic: str, queues: Queues, tmp_path: Path, stop: signal.Signals
) -> None:
    await reset_database(settings, scratch_db)
    directory = seed_dataset(tmp_path / "legacy", 150, seed=84)
    env = migration_env(settings, scratch_db, topic, queues)
    run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env)
    snapshot = directory / "snapshot.jsonl.gz"
    process = spawn(["migrate", "snapshot", str(snapshot), "--chunk", "50"], env, stderr=tmp_path / "stderr")

    async def some_chunks_committed() -> bool:
        try:
            return (
                await query_int(
                    settings, scratch_db, "SELECT COALESCE(MAX(records_done), 0) FROM migration_snapshot_loads"
                )
                >= 500
            )
        except Exception:
            return False

    await eventually(some_chunks_committed, 60, "the first checkpoints")
    preparers = _children(process.pid)
    assert len(preparers) == 1, "the load prepares its chunks in a child process"
    os.kill(process.pid, stop)
    code = process.wait(timeout=30)

    async def preparer_gone() -> bool:  # killed by the loader it serves, or ended by its broken pipe
        return not _alive(preparers)

    await eventually(preparer_gone, 30, "the preparer process to end with its loader")
    done = await query_int(settings, scratch_db, "SELECT records_done FROM migration_snapshot_loads")
    _, records = read_snapshot(snapshot)
    assert 0 < done < len(records), "the load must be killed half way"
    if stop == signal.SIGINT:  # Ctrl-C: the chunk in hand is committed, then where it stands, no traceback
        said = (tmp_path / "stderr").read_text()
        assert code == 130, said[-400:]
        assert "Traceback" not in said
        assert f"stopped: {done} records are committed; run the same command again" in " ".join(said.split())
    resumed = run_cli(["migrate", "snapshot", str(snapshot), "--json"], env)
    report = json.loads(resumed.stdout)
    assert report["resumed_at"] == done and report["records_done"] == len(records)
    assert resumed.stderr.strip() == ""  # the stored offsets are kept without a warning
    assert await query_int(settings, scratch_db, "SELECT COUNT(*) FROM raw_kii_objects") == len(records)
    # every reading once, with one change_log row and one event: nothing of the killed chunk survived
    readings = await query_int(settings, scratch_db, "SELECT COUNT(*) FROM readings")
    logged = await query_int(settings, scratch_db, "SELECT COUNT(*) FROM change_log WHERE entity = 'reading'")
    assert logged == readings
    await assert_final_state(settings, scratch_db, directory)
    again = json.loads(run_cli(["migrate", "snapshot", str(snapshot), "--json"], env).stdout)
    assert again["already_loaded"] is True


async def test_poison_record_ends_in_the_dlq_and_in_migration_failures(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
) -> None:
    directory = seed_dataset(tmp_path / "legacy", 20, seed=85)
    env, total = await start_pipeline(settings, scratch_db, topic, queues, directory, 0)
    # a settings document whose version overflows device_settings.version: the transform accepts it, the
    # database refuses it on every attempt (an exception, not a clean transform failure)
    _, snapshot = read_snapshot(directory / "snapshot.jsonl.gz")
    target = next(r for r in snapshot if r.bucket == SETTINGS_BUCKET)
    assert target.body is not None
    poison = ExportRecord(
        Op.UPDATE,
        target.app_id,
        target.scope,
        target.bucket,
        target.object_id,
        5_000_000_000,
        target.modified_at + 1000,
        {**target.body, "_version": "5000000000", "language": "fr"},
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        key = record_key(poison)
        await producer.send_and_wait(
            topic, dumps_line(poison.to_json()).encode(), key=key, partition=partition_for(key, 6)
        )
    finally:
        await producer.stop()
    group = processes(env)
    group.start("master", "follow")
    group.start("worker", "work")

    async def dead_lettered() -> bool:
        return queues.depth(queues.dlq_url) == 1 and queues.depth() == 0

    await eventually(dead_lettered, 90, "the poison message to reach the DLQ")
    conn = await connect(settings, scratch_db)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT pattern, field, version, receive_count, dead_lettered_at FROM migration_failures "
                "WHERE object_key = %s",
                (poison.key,),
            )
            pattern, field, version, receive_count, dead_lettered_at = await cur.fetchone()
    finally:
        conn.close()
    assert (pattern, field, version, receive_count) == ("DATABASE_REJECTED", "DataError", 5_000_000_000, MAX_RECEIVES)
    assert dead_lettered_at is not None
    check = run_cli_unchecked(["cutover", "check"], env)
    assert check.returncode == 1
    assert "dead-letter queue holds 1 message(s)" in check.stdout
    assert "validation not run" in check.stdout
    assert "1 raw object(s) not processed yet" in check.stdout
    assert group.terminate_all() == {"master": 0, "worker": 0}, group.logs()
    del total
    await asyncio.sleep(0)
