"""The outbox relay against the real MariaDB and Kafka: every committed event reaches Kafka at least once,
in order per user, nothing rolled back leaks out, and rows wait through a Kafka outage (DESIGN section 8).

Each test gets a scratch database and a scratch topic, so the stack's own outbox and
``vitalsync.events.v1`` are untouched.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import aiomysql
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry

from infra.local.processes import stop_process
from infra.local.stack import Stack
from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.db.pool import DB_POOL, create_pool
from shared.events.envelope import Event
from shared.events.publisher import KafkaPublisher, OutgoingMessage
from shared.events.relay import OutboxRelay, outbox_relay_context
from shared.settings import CommonSettings
from shared.store.outbox import add_event
from shared.web.app import METRICS, create_base_app

pytestmark = pytest.mark.integration

PARTITIONS = 3
FAST: dict[str, Any] = {"idle_poll_s": 0.05, "backoff_initial_s": 0.1, "backoff_max_s": 1.0, "send_timeout_s": 3.0}


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
async def scratch_settings(settings: CommonSettings) -> AsyncIterator[CommonSettings]:
    """Settings naming a freshly migrated scratch database, dropped afterwards."""
    name = f"vitalsync_relay_{uuid.uuid4().hex[:12]}"
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}`")
        conn = await connect(settings, name, multi_statements=True)
        try:
            await migrate(conn)
        finally:
            conn.close()
        yield settings.model_copy(update={"db_name": name})
    finally:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@pytest.fixture
async def pool(scratch_settings: CommonSettings) -> AsyncIterator[aiomysql.Pool]:
    scratch = await create_pool(scratch_settings)
    yield scratch
    scratch.close()
    await scratch.wait_closed()


async def _admin(settings: CommonSettings) -> AIOKafkaAdminClient:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    return admin


@pytest.fixture
async def topic(settings: CommonSettings) -> AsyncIterator[str]:
    """A scratch topic with three partitions, deleted afterwards (by a fresh client: Kafka may have restarted)."""
    name = f"relay-test-{uuid.uuid4().hex[:12]}"
    admin = await _admin(settings)
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    yield name
    admin = await _admin(settings)
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


# --- helpers --------------------------------------------------------------------------------------------


def _event(user: str, seq: int) -> Event:
    return Event(type="reading.created", user_id=user, region="eu", data={"seq": seq})


async def _write(pool: aiomysql.Pool, topic: str, events: list[Event], *, commit: bool = True) -> None:
    """Insert ``events`` with add_event in one transaction, then commit or roll it back."""
    async with pool.acquire() as conn:
        async with conn.cursor() as cur:
            for event in events:
                await add_event(cur, event, topic)
        await (conn.commit() if commit else conn.rollback())


async def _scalar(pool: aiomysql.Pool, sql: str) -> int:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql)
        (value,) = await cur.fetchone()
        await conn.rollback()
    return int(value)


async def _unsent(pool: aiomysql.Pool) -> int:
    return await _scalar(pool, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out after {timeout_s:g}s waiting for {what}"
        await asyncio.sleep(0.1)


async def _read_topic(settings: CommonSettings, topic: str) -> list[ConsumerRecord]:
    """Every record on ``topic`` from the beginning up to the current end offsets, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord] = []

        async def caught_up() -> bool:
            for chunk in (await consumer.getmany(*partitions, timeout_ms=200)).values():
                records.extend(chunk)
            return all([await consumer.position(tp) >= ends[tp] for tp in partitions])

        await _eventually(caught_up, 30, f"reading {sum(ends.values())} records from {topic}")
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.partition, r.offset))


def _ids_by_key(records: list[ConsumerRecord]) -> dict[str, list[str]]:
    """Event ids per Kafka key in log order (one key lives on one partition)."""
    keyed: dict[str, list[str]] = defaultdict(list)
    for record in records:
        keyed[record.key.decode()].append(dict(record.headers)["event-id"].decode())
    return keyed


def _first_occurrences(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


def _expected_by_key(events: list[Event]) -> dict[str, list[str]]:
    keyed: dict[str, list[str]] = defaultdict(list)
    for event in events:
        keyed[event.user_id].append(event.id)
    return keyed


class _Writer:
    """Inserts one event per transaction for a rotating set of users until stopped, remembering the order."""

    def __init__(self, pool: aiomysql.Pool, topic: str, users: list[str], per_txn: int = 1) -> None:
        self.pool, self.topic, self.users, self.per_txn = pool, topic, users, per_txn
        self.written: list[Event] = []
        self.stop = asyncio.Event()

    async def run(self, limit: int | None = None, pause_s: float = 0.01) -> None:
        seq = 0
        while not self.stop.is_set() and (limit is None or len(self.written) < limit):
            events = [_event(self.users[(seq + i) % len(self.users)], seq + i) for i in range(self.per_txn)]
            await _write(self.pool, self.topic, events)
            self.written.extend(events)
            seq += self.per_txn
            await asyncio.sleep(pause_s)  # pacing, not waiting: keep the outage window's row count modest


async def _finish(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


# --- tests ----------------------------------------------------------------------------------------------


async def test_relay_publishes_every_committed_event_once_in_order_per_user(
    settings: CommonSettings, pool: aiomysql.Pool, topic: str
) -> None:
    users = [f"user-{i:02d}" for i in range(20)]
    events = [_event(users[i % 20], i) for i in range(1000)]
    for start in range(0, len(events), 10):
        await _write(pool, topic, events[start : start + 10])
    registry = CollectorRegistry()

    async with OutboxRelay(pool, settings.kafka_bootstrap, registry=registry, **FAST) as relay:
        counts = [await relay.relay_once() for _ in range(3)]
        await relay.refresh_metrics()

    assert counts == [500, 500, 0]
    records = await _read_topic(settings, topic)
    ids = [dict(r.headers)["event-id"].decode() for r in records]
    assert len(ids) == 1000 and set(ids) == {e.id for e in events}
    assert _ids_by_key(records) == _expected_by_key(events)
    first = next(r for r in records if dict(r.headers)["event-id"].decode() == events[0].id)
    assert first.key == b"user-00" and dict(first.headers)["event-type"] == b"reading.created"
    assert Event.model_validate_json(first.value) == events[0]
    assert await _unsent(pool) == 0
    assert await _scalar(pool, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL") == 1000
    assert registry.get_sample_value("outbox_events_relayed_total") == 1000
    assert registry.get_sample_value("outbox_unsent_events") == 0


async def test_events_of_a_rolled_back_transaction_never_appear(
    settings: CommonSettings, pool: aiomysql.Pool, topic: str
) -> None:
    kept = [_event("user-a", i) for i in range(5)]
    dropped = [_event("user-a", 100 + i) for i in range(5)] + [_event("user-b", 200)]
    await _write(pool, topic, kept[:2])
    await _write(pool, topic, dropped, commit=False)
    await _write(pool, topic, kept[2:])

    async with OutboxRelay(pool, settings.kafka_bootstrap, **FAST) as relay:
        assert await relay.relay_once() == 5
        assert await relay.relay_once() == 0

    records = await _read_topic(settings, topic)
    assert _ids_by_key(records) == {"user-a": [e.id for e in kept]}
    assert await _scalar(pool, "SELECT COUNT(*) FROM outbox") == 5


class _CrashesBeforeCommit(KafkaPublisher):
    """The real publisher, then a crash: the broker has the batch, the database never hears of it."""

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        await super().publish(messages)
        raise _SimulatedCrashError


class _SimulatedCrashError(RuntimeError):
    pass


async def test_a_crash_between_ack_and_commit_resends_the_same_events(
    settings: CommonSettings, pool: aiomysql.Pool, topic: str
) -> None:
    events = [_event(f"user-{i % 3}", i) for i in range(12)]
    await _write(pool, topic, events)
    crashing = _CrashesBeforeCommit(settings.kafka_bootstrap)
    async with OutboxRelay(pool, settings.kafka_bootstrap, batch_size=5, publisher=crashing) as relay:
        with pytest.raises(_SimulatedCrashError):
            await relay.relay_once()
    assert await _unsent(pool) == 12  # the claim rolled back: nothing is marked sent
    async with OutboxRelay(pool, settings.kafka_bootstrap, **FAST) as relay:
        assert await relay.relay_once() == 12

    records = await _read_topic(settings, topic)
    keyed = _ids_by_key(records)
    assert len(records) == 17  # the first five twice
    assert {k: _first_occurrences(v) for k, v in keyed.items()} == _expected_by_key(events)
    first_five = {e.id for e in events[:5]}
    resent = [i for ids in keyed.values() for i in ids]
    assert {i for i in resent if resent.count(i) == 2} == first_five


async def test_the_cleanup_context_runs_the_relay_with_the_app_and_stops_it_on_shutdown(
    scratch_settings: CommonSettings, topic: str, aiohttp_client: Any
) -> None:
    app = create_base_app("relay-test", scratch_settings)
    app.cleanup_ctx.append(
        outbox_relay_context(scratch_settings, registry=app[METRICS].registry, idle_poll_s=0.05, metrics_interval_s=0.1)
    )
    client = await aiohttp_client(app)
    pool = app[DB_POOL]
    events = [_event("user-a", i) for i in range(20)]
    await _write(pool, topic, events)
    await _eventually(lambda: _is_zero(_unsent(pool)), 20, "the app's relay to publish")

    async def metrics_show_it() -> bool:
        body = await (await client.get("/metrics")).text()
        return "outbox_events_relayed_total 20.0" in body and "outbox_unsent_events 0.0" in body

    await _eventually(metrics_show_it, 10, "the relay's metrics on /metrics")
    await asyncio.wait_for(client.close(), 15)  # cancels the relay task and awaits it
    assert _ids_by_key(await _read_topic(scratch_settings, topic)) == _expected_by_key(events)


async def test_rows_wait_while_kafka_is_down_and_flush_in_order_when_it_returns(
    stack: Stack, settings: CommonSettings, pool: aiomysql.Pool, topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shared.events.relay")
    kafka = stack.component("kafka")
    registry = CollectorRegistry()
    relay = OutboxRelay(pool, settings.kafka_bootstrap, batch_size=100, registry=registry, **FAST)
    writer = _Writer(pool, topic, [f"user-{i}" for i in range(10)])
    relay_task = asyncio.create_task(relay.run())
    writer_task = asyncio.create_task(writer.run())
    try:
        await _eventually(lambda: _true(relay.relayed_total >= 100), 20, "the relay to publish before the outage")
        try:
            assert await asyncio.to_thread(stop_process, stack.paths.pid("kafka"), kafka.stop_timeout_s)
            unsent_at_stop, written_at_stop = await _unsent(pool), len(writer.written)
            await _eventually(
                lambda: _true(len(writer.written) >= written_at_stop + 150), 20, "writes during the outage"
            )
            assert await _unsent(pool) >= unsent_at_stop + 100  # rows accumulate, nothing is marked sent
        finally:
            await asyncio.to_thread(stack.up)
        await _eventually(lambda: _true(len(writer.written) >= written_at_stop + 250), 20, "writes after the outage")
        writer.stop.set()
        await writer_task
        await _eventually(lambda: _is_zero(_unsent(pool)), 60, "the backlog to flush after Kafka returned")
    finally:
        writer.stop.set()
        await _finish(relay_task, writer_task)

    records = await _read_topic(settings, topic)
    written = writer.written
    by_id = {e.id: e for e in written}
    received = [dict(r.headers)["event-id"].decode() for r in records]
    assert set(received) == set(by_id), "every committed event arrives at least once, nothing else does"
    assert {k: _first_occurrences(v) for k, v in _ids_by_key(records).items()} == _expected_by_key(written)
    for record in records:  # a duplicate is a re-send of the very same event
        assert Event.model_validate_json(record.value) == by_id[dict(record.headers)["event-id"].decode()]
    assert await _scalar(pool, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == 0
    outage_logs = [r for r in caplog.records if r.name == "shared.events.relay" and r.levelno == logging.WARNING]
    assert len(outage_logs) == 1, "one warning per outage, not one per attempt"
    assert (registry.get_sample_value("outbox_relay_failures_total") or 0) >= 1
    assert any("publishing again" in r.getMessage() for r in caplog.records)
    gc.collect()  # a discarded producer's leftovers would log "exception was never retrieved" now
    assert not [r.getMessage() for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR]
    duplicates = len(received) - len(set(received))
    print(f"outage test: {len(written)} events, {duplicates} re-sent duplicate(s)")


async def test_two_relays_share_the_table_without_losing_or_duplicating_events(
    settings: CommonSettings, pool: aiomysql.Pool, topic: str
) -> None:
    users = [f"user-{i}" for i in range(12)]
    preloaded = [_event(users[i % 12], i) for i in range(400)]
    await _write(pool, topic, preloaded)
    writer = _Writer(pool, topic, users, per_txn=5)
    relays = [OutboxRelay(pool, settings.kafka_bootstrap, batch_size=50, **FAST) for _ in range(2)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        await writer.run(limit=600, pause_s=0.005)
        await _eventually(lambda: _is_zero(_unsent(pool)), 30, "both relays to drain the outbox")
    finally:
        await _finish(*tasks)

    events = preloaded + writer.written
    records = await _read_topic(settings, topic)
    received = [dict(r.headers)["event-id"].decode() for r in records]
    assert set(received) == {e.id for e in events}
    assert len(received) == len(events), "no event was published twice"
    assert _ids_by_key(records) == _expected_by_key(events), "replicas keep each user's order"
    assert sum(r.relayed_total for r in relays) == len(events)
    assert all(r.relayed_total > 0 for r in relays), "both replicas took turns"


class _GatedPublisher(KafkaPublisher):
    """The real publisher, held at the start of a batch until the test lets it go."""

    def __init__(self, bootstrap_servers: str) -> None:
        super().__init__(bootstrap_servers)
        self.claimed, self.proceed = asyncio.Event(), asyncio.Event()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        self.claimed.set()
        await self.proceed.wait()
        await super().publish(messages)


async def test_a_claim_in_progress_blocks_neither_writers_nor_a_second_relay(
    settings: CommonSettings, pool: aiomysql.Pool, topic: str
) -> None:
    head = [_event("user-a", i) for i in range(3)]
    later = [_event("user-a", 10), _event("user-b", 11)]
    await _write(pool, topic, head)
    gated = _GatedPublisher(settings.kafka_bootstrap)
    async with (
        OutboxRelay(pool, settings.kafka_bootstrap, publisher=gated) as first,
        OutboxRelay(pool, settings.kafka_bootstrap, **FAST) as second,
    ):
        first_batch = asyncio.create_task(first.relay_once())
        await asyncio.wait_for(gated.claimed.wait(), 5)  # the first relay holds its claim, mid-batch
        await asyncio.wait_for(_write(pool, topic, later), 5)  # no gap lock keeps a writer waiting
        # The second skips the held rows, sees they are older than its claim and leaves the turn to the first.
        assert await asyncio.wait_for(second.relay_once(), 5) == 0
        gated.proceed.set()
        assert await first_batch == 3
        assert await second.relay_once() == 2
    records = await _read_topic(settings, topic)
    assert _ids_by_key(records) == _expected_by_key(head + later)
    assert len(records) == 5


async def test_purge_deletes_only_rows_sent_before_the_retention(pool: aiomysql.Pool, topic: str) -> None:
    await _write(pool, topic, [_event("user-a", i) for i in range(30)])
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SELECT MIN(id) FROM outbox")
        (first_id,) = await cur.fetchone()
        await cur.execute("UPDATE outbox SET sent_at = NOW(6) - INTERVAL 10 DAY WHERE id <= %s", (first_id + 16,))
        await cur.execute("UPDATE outbox SET sent_at = NOW(6) - INTERVAL 1 DAY WHERE sent_at IS NULL AND id % 2 = 0")
        await conn.commit()
    unsent_before = await _unsent(pool)
    relay = OutboxRelay(pool, "127.0.0.1:1", retention=None)

    assert await relay.purge_sent(timedelta(days=7), batch_size=5) == 17
    assert await _scalar(pool, "SELECT COUNT(*) FROM outbox") == 13
    assert await _unsent(pool) == unsent_before
    assert await relay.purge_sent(timedelta(days=7)) == 0


async def _true(value: bool) -> bool:
    return value


async def _is_zero(count: Awaitable[int]) -> bool:
    return await count == 0
