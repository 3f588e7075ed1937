"""Benchmark: stats consumer throughput (events/s) from Kafka into the daily aggregates (issue 7).

Setup (not timed): a fresh database with a seeded fleet (users and devices, no readings), a scratch topic
with 6 partitions like ``vitalsync.events.v1``, and N ``reading.created`` events of that fleet measured
over the last three days, keyed by user, produced to it: by default in upload sessions (a device's 1-6 new
readings together, as the sync service publishes them), or ``--pattern uniform`` (no locality at all).

Measured in the same run:
- ceiling: a bare aiokafka consumer reading the N records and doing nothing with them;
- the stats consumer (``StatsConsumer``, the service's code: parse, one transaction per batch with the
  event-id ledger, offset commit after it) from a new group until every end offset is committed;
- replay: a second group over the same records, all of them duplicates (the ledger's cost);
- naive baseline: the same aggregation with one transaction per event (commit per message), on a sample;
- a check that the aggregates' reading counts equal the produced events' (per day, region and type).
Ratios: consumer / ceiling and consumer / naive.

    .venv/bin/python -m bench.stats_consumer [--events 1000000] [--users 50000] [--batch 2000]
        [--pattern sessions|uniform] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiomysql
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.stats_seed import default_plan, seed
from services.stats.aggregates import apply_events
from services.stats.config import StatsSettings
from services.stats.consumer import StatsConsumer
from services.stats.events import parse_event
from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.db.pool import create_pool

PARTITIONS = 6
NAIVE_SAMPLE = 3000


async def _fresh_database(settings: StatsSettings) -> None:
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{settings.db_name}`")
            await cur.execute(f"CREATE DATABASE `{settings.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        admin.close()
    conn = await connect(settings, multi_statements=True)
    try:
        await migrate(conn)
    finally:
        conn.close()


async def _fleet(settings: StatsSettings) -> list[tuple[str, str, str, str]]:
    conn = await connect(settings)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT d.id, d.user_id, u.region, d.kind FROM devices d JOIN users u ON u.id = d.user_id"
            )
            rows = [tuple(r) for r in await cur.fetchall()]
        await conn.commit()
    finally:
        conn.close()
    return rows


def _events(
    fleet: list[tuple[str, str, str, str]], count: int, rng: random.Random, pattern: str = "sessions"
) -> list[tuple[bytes, bytes]]:
    """``count`` reading.created events of the fleet over the last three days.

    ``sessions``: what the sync service publishes: a phone uploads a device's new readings together
    (1-6, a minute apart), so one device's events follow each other on its user's partition.
    ``uniform``: every event an independent random device and time (the worst case for locality).
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    records: list[tuple[bytes, bytes]] = []
    while len(records) < count:
        device_id, user_id, region, kind = fleet[rng.randrange(len(fleet))]
        start = now - timedelta(seconds=rng.uniform(0, 3 * 86_400))
        size = 1 if pattern == "uniform" else rng.randint(1, 6)
        for n in range(min(size, count - len(records))):
            stamp = (start + timedelta(minutes=n)).isoformat() + "Z"
            value = (
                f'{{"id":"{uuid.uuid4()}","type":"reading.created","occurred_at":"{stamp}","user_id":"{user_id}",'
                f'"region":"{region}","data":{{"reading_id":{len(records)},"device_id":"{device_id}","type":"{kind}",'
                f'"measured_at":"{stamp}","primary_value":120.0}}}}'
            )
            records.append((user_id.encode(), value.encode()))
    return records


async def _produce(settings: StatsSettings, topic: str, records: list[tuple[bytes, bytes]]) -> float:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def _ends(settings: StatsSettings, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def ceiling(settings: StatsSettings, topic: str, total: int, batch: int) -> float:
    """Seconds for a bare consumer to fetch every record."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        seen = 0
        while seen < total:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=batch)).values():
                seen += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def consume(pool: aiomysql.Pool, settings: StatsSettings, topic: str, group: str) -> tuple[float, int]:
    """Seconds for StatsConsumer (new group) to commit every end offset; and the events it applied."""
    ends = await _ends(settings, topic)
    consumer = StatsConsumer(pool, settings, topic=topic, group_id=group)
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(consumer.run(stop))
    try:
        while not all(consumer.committed.get(tp, 0) >= end for tp, end in ends.items()):
            assert not task.done(), "consumer ended early"
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await task
    return elapsed, consumer.applied_total


async def naive(pool: aiomysql.Pool, records: list[tuple[bytes, bytes]]) -> float:
    """Seconds for the same effects with one transaction per event."""
    events = [parse_event(value) for _, value in records]
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for event in events:
            await apply_events(conn, [event])
    return time.perf_counter() - started


async def check_counts(settings: StatsSettings, records: list[tuple[bytes, bytes]]) -> bool:
    """stats_daily readings per (day, region, type) equal the counts of the produced events."""
    want: Counter[tuple[date, str, str]] = Counter()
    for _, value in records:
        event = json.loads(value)
        day = datetime.fromisoformat(event["data"]["measured_at"].rstrip("Z")).date()
        want[(day, event["region"], event["data"]["type"])] += 1
    conn = await connect(settings)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT day, region, reading_type, SUM(readings) FROM stats_daily GROUP BY 1, 2, 3")
            have = {(d, r, t): int(n) for d, r, t, n in await cur.fetchall()}
        await conn.commit()
    finally:
        conn.close()
    return have == dict(want)


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = StatsSettings(db_name=args.database, stats_batch_max_records=args.batch, stats_poll_timeout_ms=200)
    loads = [os.getloadavg()[0]]
    topic = f"bench-stats-{uuid.uuid4().hex[:8]}"
    await _fresh_database(settings)
    await seed(settings, args.database, default_plan(args.users, args.seed, readings=0))
    fleet = await _fleet(settings)
    rng = random.Random(args.seed)
    records = _events(fleet, args.events, rng, args.pattern)
    sample = _events(fleet, NAIVE_SAMPLE, rng, args.pattern)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    pool = await create_pool(settings.model_copy(update={"db_pool_max": 4}))
    try:
        produce_s = await _produce(settings, topic, records)
        ceiling_s = await ceiling(settings, topic, len(records), args.batch)
        consumer_s, applied = await consume(pool, settings, topic, f"bench-{topic}")
        assert applied == len(records), (applied, len(records))
        counts_ok = await check_counts(settings, records)
        replay_s, replayed = await consume(pool, settings, topic, f"bench-{topic}-replay")
        assert replayed == 0
        naive_s = await naive(pool, sample)
    finally:
        pool.close()
        await pool.wait_closed()
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.delete_topics([topic])
        finally:
            await admin.close()
    loads.append(os.getloadavg()[0])
    n = len(records)
    rate = n / consumer_s
    return {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores {platform.machine()}",
        "events": n,
        "fleet": {"users": args.users, "devices": len(fleet)},
        "pattern": args.pattern,
        "batch_max_records": args.batch,
        "load_average_1m": [round(x, 1) for x in loads],
        "produce_per_s": round(n / produce_s),
        "ceiling_per_s": round(n / ceiling_s),
        "consumer_s": round(consumer_s, 2),
        "consumer_per_s": round(rate),
        "replay_per_s": round(n / replay_s),
        "naive_per_s": round(len(sample) / naive_s),
        "consumer_vs_ceiling": round(rate / (n / ceiling_s), 3),
        "consumer_vs_naive": round(rate / (len(sample) / naive_s), 1),
        "aggregates_match_events": counts_ok,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="vitalsync_bench_consumer")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--pattern", choices=("sessions", "uniform"), default="sessions")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
