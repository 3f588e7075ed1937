"""The stats consumer: ``vitalsync.events.v1`` -> streaming aggregates, exactly-once in effect.

Per batch (``getmany``): parse every record; apply the valid ones in one database transaction that also
records their event ids (services/stats/aggregates.py); dead-letter the invalid ones to the DLQ topic and
wait for the broker's acknowledgement; only then commit the offsets. A crash anywhere before the offset
commit replays the batch, and the event-id ledger turns the replay into a no-op, so every event's effect
lands once (CONVENTIONS: auto-commit off, commit after the effect is durable, dead-letter, don't drop).

Failures: database or Kafka outages are retried with backoff and never skip a record; a batch the
database refuses for its data (not for an outage) is split, and only the events that fail alone go to
the DLQ. Logs name topic, partition, offset and event id, never payloads (they carry health data).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeAlias

import aiomysql
import pymysql
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.stats.aggregates import BatchOutcome, KnownRows, apply_events
from services.stats.config import StatsSettings
from services.stats.errors import EventRejectedError
from services.stats.events import StatsEvent, event_id_hint, parse_event
from shared.db.pool import DB_POOL

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.2
DLQ_SEND_TIMEOUT_S = 10.0
_DUPLICATE_KEY = 1062
# The database refused the data itself: retrying cannot help, so the batch is split to find the culprit.
_DATA_ERRORS = (pymysql.err.DataError, pymysql.err.IntegrityError)

Record: TypeAlias = ConsumerRecord


class StopRequestedError(Exception):
    """The service is stopping while a batch still waits for a dependency; its offsets stay uncommitted."""


@dataclass(frozen=True)
class DeadLetter:
    """A record that will not be applied, and why."""

    record: Record
    reason: str
    event_id: str | None


@dataclass
class ParsedBatch:
    """One fetched batch: its parsed events (with their records), the unparseable records, the offsets."""

    events: list[StatsEvent] = field(default_factory=list)
    sources: dict[int, Record] = field(default_factory=dict)  # id(event) -> record
    letters: list[DeadLetter] = field(default_factory=list)
    offsets: dict[TopicPartition, int] = field(default_factory=dict)


def parse_batch(records: Sequence[Record]) -> ParsedBatch:
    """Parse every record; the ones that are not valid events become dead letters."""
    batch = ParsedBatch()
    for record in records:
        try:
            event = parse_event(record.value)
        except EventRejectedError as exc:
            batch.letters.append(DeadLetter(record, exc.reason, event_id_hint(record.value)))
            continue
        batch.sources[id(event)] = record
        batch.events.append(event)
    return batch


class _Metrics:
    def __init__(self, registry: CollectorRegistry | None) -> None:
        registry = registry or CollectorRegistry()
        self.events = Counter(
            "stats_events_total",
            "Events consumed, by outcome (applied, duplicate, ignored, dead_lettered)",
            ["outcome"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "stats_batch_duration_seconds",
            "Time to apply one batch and commit its offsets",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self.retries = Counter(
            "stats_batch_retries_total", "Batch attempts that failed and were retried", registry=registry
        )


class StatsConsumer:
    """A consumer-group member; ``run(stop)`` loops until ``stop`` is set."""

    def __init__(
        self,
        pool: aiomysql.Pool,
        settings: StatsSettings,
        *,
        topic: str | None = None,
        group_id: str | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self.topic = topic or settings.events_topic
        self.group_id = group_id or settings.stats_consumer_group
        self._metrics = _Metrics(registry)
        self._client_id = f"vitalsync-stats-{socket.gethostname()}-{os.getpid()}"
        self.applied_total = 0
        self.dead_lettered_total = 0
        self.committed: dict[TopicPartition, int] = {}
        self._known = KnownRows(settings.stats_known_rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; (re)connects with backoff while Kafka is unavailable."""
        delay = BACKOFF_INITIAL_S
        while not stop.is_set():
            consumer = self._new_consumer()
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.kafka_bootstrap,
                client_id=self._client_id + "-dlq",
                acks="all",
                enable_idempotence=True,
            )
            try:
                await consumer.start()
                await producer.start()
                log.info("stats consumer joined group=%s topic=%s", self.group_id, self.topic)
                delay = BACKOFF_INITIAL_S
                await self._consume(consumer, producer, stop)
            except StopRequestedError:
                log.info("stats consumer stopping with a batch uncommitted; it will be replayed (no-op)")
            except (KafkaError, OSError) as exc:
                log.warning("stats consumer lost Kafka (%s); reconnecting in %.1fs", _describe(exc), delay)
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, self._settings.stats_retry_backoff_max_s)
            except Exception:
                # a bug or an unforeseen failure: restart from the last committed offsets (replays are no-ops)
                log.exception("stats consumer failed; restarting in %.1fs", delay)
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, self._settings.stats_retry_backoff_max_s)
            finally:
                await _quietly(producer.stop())
                await _quietly(consumer.stop())

    def _new_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self._settings.kafka_bootstrap,
            group_id=self.group_id,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # a new group starts from the oldest retained event
            max_poll_interval_ms=600_000,  # a batch may wait out a database failover
        )

    async def _consume(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        """Apply batches in order; the next batch is fetched and parsed while this one is in the database."""
        ready: asyncio.Queue[ParsedBatch] = asyncio.Queue(maxsize=1)
        reader = asyncio.create_task(self._read(consumer, ready, stop), name="stats-consumer-reader")
        try:
            while not stop.is_set():
                taking = asyncio.ensure_future(ready.get())
                await asyncio.wait({taking, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not taking.done():
                    taking.cancel()
                    reader.result()  # the reader ended: re-raise its error (or return when stopping)
                    return
                batch = taking.result()
                with self._metrics.batch_seconds.time():
                    await self.apply_batch(batch, producer, stop)
                    await self._commit(consumer, batch.offsets)
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, consumer: AIOKafkaConsumer, ready: asyncio.Queue[ParsedBatch], stop: asyncio.Event) -> None:
        timeout_ms = self._settings.stats_poll_timeout_ms
        max_records = self._settings.stats_batch_max_records
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
            records = [record for partition_records in fetched.values() for record in partition_records]
            if records:
                batch = parse_batch(records)
                batch.offsets = {tp: part[-1].offset + 1 for tp, part in fetched.items() if part}
                await ready.put(batch)

    async def handle_batch(self, records: Sequence[Record], producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        """Parse, apply and dead-letter one batch; returns once both are durable (offsets may be committed)."""
        await self.apply_batch(parse_batch(records), producer, stop)

    async def apply_batch(self, batch: ParsedBatch, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        """Apply the parsed events and dead-letter the rest; returns once both are durable."""
        events, letters = batch.events, list(batch.letters)
        outcome = await self._apply_with_retry(events, stop) if events else BatchOutcome()
        letters += [DeadLetter(batch.sources[id(event)], reason, event.id) for event, reason in outcome.rejected]
        if letters:
            await self._dead_letter_with_retry(letters, producer, stop)
        self.applied_total += outcome.applied
        self.dead_lettered_total += len(letters)
        for name, count in (
            ("applied", outcome.applied),
            ("duplicate", outcome.duplicates),
            ("ignored", outcome.ignored),
            ("dead_lettered", len(letters)),
        ):
            if count:
                self._metrics.events.labels(name).inc(count)

    async def _apply_with_retry(self, events: Sequence[StatsEvent], stop: asyncio.Event) -> BatchOutcome:
        delay = BACKOFF_INITIAL_S
        while True:
            try:
                return await self._apply(events)
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError, TimeoutError) as exc:
                log.warning("stats batch of %d event(s) not applied (%s); retrying", len(events), _describe(exc))
            except pymysql.err.IntegrityError as exc:
                if exc.args[0] != _DUPLICATE_KEY:
                    raise
                # another member applied some of these events during a rebalance; the retry skips them
                log.info("stats batch raced another consumer (%s); retrying", _describe(exc))
            self._metrics.retries.inc()
            if await _sleep_unless(stop, delay):
                raise StopRequestedError
            delay = min(delay * 2, self._settings.stats_retry_backoff_max_s)

    async def _apply(self, events: Sequence[StatsEvent]) -> BatchOutcome:
        try:
            return await self._apply_once(events)
        except _DATA_ERRORS as exc:
            if isinstance(exc, pymysql.err.IntegrityError) and exc.args[0] == _DUPLICATE_KEY:
                raise
            if len(events) == 1:
                return BatchOutcome(rejected=[(events[0], f"database refused the event: {_describe(exc)}")])
        # split: apply one at a time so only the events the database refuses are dead-lettered
        log.warning("stats batch refused by the database; applying its %d event(s) one by one", len(events))
        total = BatchOutcome()
        for event in events:
            single = await self._apply([event])
            total.applied += single.applied
            total.duplicates += single.duplicates
            total.ignored += single.ignored
            total.rejected += single.rejected
        return total

    async def _apply_once(self, events: Sequence[StatsEvent]) -> BatchOutcome:
        conn = await self._pool.acquire()
        try:
            return await apply_events(conn, events, self._known)
        except BaseException:
            conn.close()  # the connection's state is unknown after a failure: never reuse it
            raise
        finally:
            self._pool.release(conn)

    async def _dead_letter_with_retry(
        self, letters: Sequence[DeadLetter], producer: AIOKafkaProducer, stop: asyncio.Event
    ) -> None:
        for letter in letters:
            log.warning(
                "dead-lettering topic=%s partition=%d offset=%d event_id=%s: %s",
                letter.record.topic,
                letter.record.partition,
                letter.record.offset,
                letter.event_id,
                letter.reason,
            )
        delay = BACKOFF_INITIAL_S
        while True:
            try:
                async with asyncio.timeout(DLQ_SEND_TIMEOUT_S):
                    acks = [
                        await producer.send(
                            self._settings.stats_dlq_topic,
                            letter.record.value,
                            key=letter.record.key,
                            headers=self._headers(letter),
                        )
                        for letter in letters
                    ]
                    await asyncio.gather(*acks)
                return
            except (KafkaError, TimeoutError, OSError) as exc:
                # not committed: the batch is redelivered and the letters re-sent (duplicates are harmless)
                log.warning("cannot dead-letter %d record(s) (%s); retrying", len(letters), _describe(exc))
            if await _sleep_unless(stop, delay):
                raise StopRequestedError
            delay = min(delay * 2, self._settings.stats_retry_backoff_max_s)

    def _headers(self, letter: DeadLetter) -> list[tuple[str, bytes]]:
        record = letter.record
        headers = [
            ("error", letter.reason.encode()),
            ("source-topic", record.topic.encode()),
            ("source-partition", str(record.partition).encode()),
            ("source-offset", str(record.offset).encode()),
            ("consumer-group", self.group_id.encode()),
            ("failed-at", datetime.now(UTC).isoformat().encode()),
        ]
        if letter.event_id:
            headers.append(("event-id", letter.event_id.encode()))
        return headers

    async def _commit(self, consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int]) -> None:
        try:
            await consumer.commit(offsets)
        except CommitFailedError as exc:
            # the group rebalanced: the new owner replays from the last commit, and the ledger skips what we applied
            log.info("offset commit refused after a rebalance (%s); the batch will be replayed as a no-op", exc)
            return
        self.committed.update(offsets)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; True when stopping."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True


async def _quietly(closing: object) -> None:
    try:
        await closing  # type: ignore[misc]
    except (KafkaError, OSError) as exc:
        log.debug("closing a Kafka client failed: %s", exc)


STOP_GRACE_S = 10.0
STATS_CONSUMER = web.AppKey("stats_consumer", StatsConsumer)


def consumer_context(
    settings: StatsSettings, registry_of: Callable[[web.Application], CollectorRegistry] | None = None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup-ctx factory: run the consumer on the app's DB_POOL; on shutdown let the batch finish, then stop."""

    async def _ctx(app: web.Application) -> AsyncIterator[None]:
        registry = registry_of(app) if registry_of else None
        consumer = StatsConsumer(app[DB_POOL], settings, registry=registry)
        app[STATS_CONSUMER] = consumer
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop), name="stats-consumer")
        task.add_done_callback(_report_crash)
        yield
        stop.set()
        done, _ = await asyncio.wait([task], timeout=min(settings.shutdown_timeout_s, STOP_GRACE_S))
        if not done:
            task.cancel()
            await asyncio.wait([task])

    return _ctx


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("stats consumer stopped on an unexpected error; aggregates fall behind", exc_info=exc)
