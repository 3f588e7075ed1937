"""Fixtures for the stats service against the real MariaDB and Kafka (and moto, nginx).

Every test gets a scratch database (migrated, dropped afterwards) and scratch topics, so the stack's own
``vitalsync`` database, ``vitalsync.events.v1`` and the running stats service are never disturbed.
Base rows are written with the same shared/store functions the sync service uses, so the outbox holds
the real event payloads; ``publish_outbox`` plays the relay's part.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiomysql
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.stats.config import StatsSettings
from services.stats.consumer import StatsConsumer
from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.db.pool import create_pool
from shared.settings import CommonSettings
from shared.store.devices import pair_device
from shared.store.readings import NewReading, insert_readings

EVENT_PARTITIONS = 3
DAY = datetime(2026, 3, 10, 8, 0)
FAST: dict[str, Any] = {"stats_poll_timeout_ms": 100, "stats_retry_backoff_max_s": 0.5}


@dataclass
class Scratch:
    """A scratch database and topics, and settings that point at them."""

    settings: StatsSettings
    events_topic: str
    dlq_topic: str
    group: str = field(default_factory=lambda: f"stats-test-{uuid.uuid4().hex[:10]}")


async def _admin(settings: CommonSettings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    return admin


async def create_database(settings: CommonSettings, prefix: str = "vitalsync_stats") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        admin.close()
    conn = await connect(settings, name, multi_statements=True)
    try:
        await migrate(conn)
    finally:
        conn.close()
    return name


async def drop_database(settings: CommonSettings, name: str) -> None:
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        admin.close()


@pytest.fixture
async def scratch(settings: CommonSettings) -> AsyncIterator[Scratch]:
    """A migrated scratch database plus scratch events (3 partitions) and DLQ topics."""
    database = await create_database(settings)
    suffix = uuid.uuid4().hex[:10]
    events, dlq = f"stats-test-events-{suffix}", f"stats-test-dlq-{suffix}"
    admin = await _admin(settings)
    try:
        await admin.create_topics(
            [NewTopic(events, EVENT_PARTITIONS, replication_factor=1), NewTopic(dlq, 1, replication_factor=1)]
        )
    finally:
        await admin.close()
    stats_settings = StatsSettings(
        db_name=database,
        events_topic=events,
        stats_dlq_topic=dlq,
        stats_consumer_enabled=False,
        stats_scheduler_enabled=False,
        **FAST,
    )
    try:
        yield Scratch(stats_settings, events, dlq)
    finally:
        await drop_database(settings, database)
        admin = await _admin(settings)
        try:
            await admin.delete_topics([events, dlq])
        finally:
            await admin.close()


@pytest.fixture
async def pool(scratch: Scratch) -> AsyncIterator[aiomysql.Pool]:
    created = await create_pool(scratch.settings)
    yield created
    created.close()
    await created.wait_closed()


# --- base rows and their events ------------------------------------------------------------------------


async def add_user(pool: aiomysql.Pool, region: str) -> str:
    user_id = str(uuid.uuid4())
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO users (id, login_name, email, region, profile, idp) VALUES (%s, %s, %s, %s, '{}', 'local')",
            (user_id, f"u-{user_id}", f"{user_id}@example.test", region),
        )
        await conn.commit()
    return user_id


async def pair(
    pool: aiomysql.Pool, topic: str, user_id: str, region: str, model: str, *, kind: str = "blood_pressure"
) -> str:
    async with pool.acquire() as conn, conn.cursor() as cur:
        device, _ = await pair_device(
            cur,
            user_id,
            {"kind": kind, "model": model, "serial": uuid.uuid4().hex[:12], "firmware": "1.0.0"},
            datetime(2026, 1, 1),
            region,
            topic,
        )
        await conn.commit()
    return device.id


async def add_readings(
    pool: aiomysql.Pool,
    topic: str,
    user_id: str,
    region: str,
    device_id: str | None,
    moments: list[datetime],
    reading_type: str = "blood_pressure",
) -> None:
    readings = [
        NewReading(uuid.uuid4().hex, reading_type, moment, 120.0, "mmHg", {"systolic": 120}, device_id)
        for moment in moments
    ]
    async with pool.acquire() as conn, conn.cursor() as cur:
        await insert_readings(cur, user_id, readings, "api", region, topic)
        if device_id and moments:
            await cur.execute(
                "UPDATE devices SET last_seen_at = GREATEST(COALESCE(last_seen_at, %s), %s) WHERE id = %s",
                (max(moments), max(moments), device_id),
            )
        await conn.commit()


async def seed_fleet(pool: aiomysql.Pool, topic: str) -> None:
    """Users in two regions; one with two models, two users whose model names differ only in case, a user
    with two devices of one model, a reading without a device, readings over three days."""
    for n in range(8):
        region = "eu" if n % 2 else "jp"
        user = await add_user(pool, region)
        model = "BP-1" if n % 3 else "bp-1"  # byte-wise different models for the stats
        device = await pair(pool, topic, user, region, model)
        moments = [DAY + timedelta(days=d, hours=h) for d in range(3) for h in range(n % 3 + 1)]
        await add_readings(pool, topic, user, region, device, moments)
        if n == 0:
            scale = await pair(pool, topic, user, region, "WS-2", kind="weight")
            await add_readings(pool, topic, user, region, scale, [DAY, DAY + timedelta(hours=1)], "weight")
            second = await pair(pool, topic, user, region, "BP-1")
            await add_readings(pool, topic, user, region, second, [DAY + timedelta(hours=2)])
        if n == 1:
            await add_readings(pool, topic, user, region, None, [DAY + timedelta(hours=5)], "body_temperature")


async def publish_outbox(pool: aiomysql.Pool, settings: CommonSettings, *, duplicate_every: int = 0) -> int:
    """Publish unsent outbox rows in id order (key = user id), like the relay; optionally send some twice."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SELECT id, topic, msg_key, payload FROM outbox WHERE sent_at IS NULL ORDER BY id")
        rows = await cur.fetchall()
        await conn.commit()
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = 0
        for n, (_, topic, key, payload) in enumerate(rows, start=1):
            value = payload.encode() if isinstance(payload, str) else payload
            copies = 2 if duplicate_every and n % duplicate_every == 0 else 1
            for _ in range(copies):
                await producer.send(topic, value, key=key.encode())
                sent += 1
        await producer.flush()
    finally:
        await producer.stop()
    async with pool.acquire() as conn, conn.cursor() as cur:
        if rows:
            await cur.execute("UPDATE outbox SET sent_at = NOW(6) WHERE id IN %s", ([r[0] for r in rows],))
        await conn.commit()
    return sent


async def produce_raw(settings: CommonSettings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Send (key, value) records as given (malformed ones included)."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for key, value in records:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def end_offsets(settings: CommonSettings, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def committed_offsets(
    settings: CommonSettings, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """The group's committed offset per partition (0 where it has none)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        return {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()


async def read_topic(settings: CommonSettings, topic: str) -> list[ConsumerRecord]:  # type: ignore[type-arg]
    """Every record on ``topic`` up to its current end."""
    ends = await end_offsets(settings, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        records = []
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            batch = await consumer.getmany(timeout_ms=1000)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out after {timeout_s:g}s waiting for {what}"
        await asyncio.sleep(0.1)


async def consume_to_end(
    pool: aiomysql.Pool, scratch: Scratch, *, group: str | None = None, timeout_s: float = 60
) -> StatsConsumer:
    """Run a consumer of ``group`` until it has committed every partition's end offset, then stop it."""
    ends = await end_offsets(scratch.settings, scratch.events_topic)
    group = group or scratch.group
    before = await committed_offsets(scratch.settings, group, list(ends))
    consumer = StatsConsumer(pool, scratch.settings, group_id=group)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))

    async def caught_up() -> bool:
        assert not task.done(), "the consumer task ended early"
        return all(consumer.committed.get(tp, before[tp]) >= end for tp, end in ends.items())

    try:
        await eventually(caught_up, timeout_s, "the consumer to commit the end offsets")
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    return consumer


STATS_TABLES = {
    "stats_daily": "day, region, model, reading_type, readings, active_devices, active_users",
    "stats_daily_members": "day, region, model, reading_type, user_id, device_id",
    "stats_daily_regions": "day, region, readings, active_users",
    "stats_daily_region_members": "day, region, user_id",
    "stats_devices": "device_id, user_id, region, kind, model, firmware, paired_at, unpaired_at, last_seen_at",
    "stats_processed_events": "occurred_on, event_id",
}


async def snapshot(pool: aiomysql.Pool) -> dict[str, list[tuple[Any, ...]]]:
    """The full content of every streaming-aggregate table (timestamps of the write itself left out)."""
    result = {}
    async with pool.acquire() as conn, conn.cursor() as cur:
        for table, columns in STATS_TABLES.items():
            await cur.execute(f"SELECT {columns} FROM {table} ORDER BY {columns}")
            result[table] = list(await cur.fetchall())
        await conn.commit()
    return result


def event_json(**fields: Any) -> bytes:
    return json.dumps(fields).encode()
