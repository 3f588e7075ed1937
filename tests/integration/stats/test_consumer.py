"""The stats consumer against real Kafka and MariaDB: replays change nothing, the aggregates match a
recomputation from the base tables, and offsets are committed only after the database transaction."""

from __future__ import annotations

import asyncio
from datetime import date

import aiomysql
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from services.stats.consumer import StatsConsumer
from services.stats.verify import verify
from shared.db.connection import connect
from tests.integration.stats.conftest import (
    DAY,
    Scratch,
    consume_to_end,
    end_offsets,
    publish_outbox,
    seed_fleet,
    snapshot,
)

pytestmark = pytest.mark.integration


async def _verify(scratch: Scratch) -> list[dict]:
    conn = await connect(scratch.settings)
    try:
        report = await verify(conn, date(2026, 3, 1), date(2026, 4, 1))
    finally:
        conn.close()
    return [d.as_json() for d in report.differences]


async def _rewind(scratch: Scratch, group: str, partition: int) -> None:
    """Commit offset 0 for one partition of ``group``: the next member replays it from the start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=scratch.settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tp = TopicPartition(scratch.events_topic, partition)
        consumer.assign([tp])
        await consumer.commit({tp: OffsetAndMetadata(0, "")})
    finally:
        await consumer.stop()


async def test_replaying_a_partition_changes_nothing_and_matches_the_base_tables(
    scratch: Scratch, pool: aiomysql.Pool
) -> None:
    await seed_fleet(pool, scratch.events_topic)
    sent = await publish_outbox(pool, scratch.settings, duplicate_every=5)  # the relay re-sends some events
    first = await consume_to_end(pool, scratch)
    once = await snapshot(pool)
    assert first.applied_total == len(once["stats_processed_events"]) < sent
    assert once["stats_daily"] and await _verify(scratch) == []

    ends = await end_offsets(scratch.settings, scratch.events_topic)
    busiest = max(ends, key=lambda tp: ends[tp]).partition
    await _rewind(scratch, scratch.group, busiest)
    replay = await consume_to_end(pool, scratch)
    assert replay.applied_total == 0
    assert await snapshot(pool) == once

    # a brand-new group replays every partition: still nothing changes
    assert (await consume_to_end(pool, scratch, group=scratch.group + "-again")).applied_total == 0
    assert await snapshot(pool) == once


async def test_a_crash_between_database_commit_and_offset_commit_replays_as_a_no_op(
    scratch: Scratch, pool: aiomysql.Pool
) -> None:
    await seed_fleet(pool, scratch.events_topic)
    await publish_outbox(pool, scratch.settings)
    # apply everything without committing offsets (the process "dies" right after the transaction)
    ends = await end_offsets(scratch.settings, scratch.events_topic)
    reader = AIOKafkaConsumer(bootstrap_servers=scratch.settings.kafka_bootstrap, group_id=None)
    await reader.start()
    try:
        reader.assign(list(ends))
        await reader.seek_to_beginning(*ends)
        records = []
        while len(records) < sum(ends.values()):
            for part in (await reader.getmany(timeout_ms=1000)).values():
                records.extend(part)
    finally:
        await reader.stop()
    crashed = StatsConsumer(pool, scratch.settings, group_id=scratch.group)
    await crashed.handle_batch(records, producer=None, stop=asyncio.Event())  # type: ignore[arg-type]
    after_crash = await snapshot(pool)
    assert after_crash["stats_processed_events"]

    restarted = await consume_to_end(pool, scratch)  # no committed offsets: starts from the beginning
    assert restarted.applied_total == 0
    assert await snapshot(pool) == after_crash
    assert await _verify(scratch) == []


async def test_events_arriving_in_several_batches_add_up_to_exact_distinct_counts(
    scratch: Scratch, pool: aiomysql.Pool
) -> None:
    scratch.settings = scratch.settings.model_copy(update={"stats_batch_max_records": 3})
    await seed_fleet(pool, scratch.events_topic)
    await publish_outbox(pool, scratch.settings, duplicate_every=2)  # copies straddle batches
    await consume_to_end(pool, scratch)
    assert await _verify(scratch) == []
    rows = {(r[0], r[1], r[2], r[3]): r[4:] for r in (await snapshot(pool))["stats_daily"]}
    # day 1, eu, BP-1: users 1, 5, 7 (n % 3 != 0) have 2, 3, 2 readings on it -> 7 readings, 3 devices, 3 users
    assert rows[(DAY.date(), "eu", "BP-1", "blood_pressure")] == (7, 3, 3)
