"""The transactional-outbox relay (DESIGN section 8): publish ``outbox`` rows to Kafka and mark them sent.

Delivery is at least once. A batch is claimed, published, acknowledged by the broker (``acks=all``) and
only then marked sent in the claiming transaction; if the process dies, or the database fails, between
the acknowledgement and the commit, the rows are published again by the next attempt. Consumers are
idempotent by event id (the ``event-id`` header and the envelope's ``id``), so a re-send is harmless.

Order: every user's events go to one partition (key = user id). A batch is the oldest unsent rows in id
order, sent in that order through an idempotent producer (see ``publisher``), and the next batch starts
only after the whole batch was acknowledged; a failed batch is retried from its first row by a fresh
producer. So the first delivery of each event of one key happens in id order, and any duplicate is a
later re-send of an event that was already delivered. Causally ordered writes (one commits before the
next starts) have increasing ids; rows of transactions that were in flight together may be published
in commit order instead.

Replicas: rows are claimed with ``FOR UPDATE SKIP LOCKED``, so two relays never publish the same row in
the normal case. SKIP LOCKED alone would let a second relay publish the *next* rows while the first is
still publishing the head, and one user's events would race; so a relay publishes only when its claim
is the head of the queue (no unsent row below its last id is outside its claim) and otherwise backs off
until the next poll. Replicas are therefore hot standbys that take turns batch by batch.

The claiming transaction runs at READ COMMITTED and lasts one batch: at REPEATABLE READ the locking
read would also lock the gap after the last unsent row and block every write that adds an event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any

import aiomysql
import pymysql
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge

from shared.db.pool import DB_POOL
from shared.events.publisher import SEND_TIMEOUT_S, KafkaPublisher, OutgoingMessage, PublishError
from shared.settings import CommonSettings

__all__ = [
    "OUTBOX_RELAY",
    "TRANSIENT_ERRORS",
    "Backlog",
    "OutboxRelay",
    "PublishError",
    "outbox_relay_context",
]

log = logging.getLogger(__name__)

BATCH_SIZE = 500
IDLE_POLL_S = 0.2
BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 5.0
RETENTION = timedelta(days=7)
PURGE_INTERVAL_S = 3600.0
PURGE_BATCH_SIZE = 1000
METRICS_INTERVAL_S = 5.0

# Failures that end when Kafka or the database comes back: the rows stay unsent and run() retries.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    PublishError,
    pymysql.err.OperationalError,
    pymysql.err.InterfaceError,
    OSError,
    TimeoutError,
)

_CLAIM_SQL = (
    "SELECT id, event_id, topic, msg_key, payload, JSON_UNQUOTE(JSON_EXTRACT(payload, '$.type')) "
    "FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
)
# A plain (non-locking) read: counts unsent rows up to our last id, including rows other relays hold.
_UNSENT_UP_TO_SQL = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND id <= %s"
_BACKLOG_SQL = (
    "SELECT COUNT(*), (SELECT TIMESTAMPDIFF(MICROSECOND, created_at, NOW(6)) FROM outbox "
    "WHERE sent_at IS NULL ORDER BY id LIMIT 1) FROM outbox WHERE sent_at IS NULL"
)
_MARK_SENT_SQL = "UPDATE outbox SET sent_at = NOW(6) WHERE id IN %s"
_PURGE_SQL = "DELETE FROM outbox WHERE sent_at < NOW(6) - INTERVAL %s MICROSECOND ORDER BY sent_at, id LIMIT %s"


@dataclass(frozen=True)
class Backlog:
    """Unsent rows and the age of the oldest one (seconds; 0 when nothing waits)."""

    unsent: int
    oldest_age_s: float


class _RelayMetrics:
    """The relay's series, on the registry the app serves (never the global default)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.relayed = Counter(
            "outbox_events_relayed_total", "Outbox rows published to Kafka and marked sent", registry=registry
        )
        self.failures = Counter(
            "outbox_relay_failures_total", "Relay attempts that failed (Kafka or database)", registry=registry
        )
        self.purged = Counter("outbox_events_purged_total", "Sent outbox rows deleted by retention", registry=registry)
        self.unsent = Gauge("outbox_unsent_events", "Outbox rows not yet on Kafka", registry=registry)
        self.oldest_age = Gauge(
            "outbox_oldest_unsent_age_seconds", "Age of the oldest unsent outbox row (relay lag)", registry=registry
        )


class OutboxRelay:
    """Publishes the ``outbox`` table to Kafka in id order; ``run()`` loops until cancelled."""

    def __init__(
        self,
        pool: aiomysql.Pool,
        bootstrap_servers: str,
        *,
        batch_size: int = BATCH_SIZE,
        idle_poll_s: float = IDLE_POLL_S,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        retention: timedelta | None = RETENTION,
        purge_interval_s: float = PURGE_INTERVAL_S,
        metrics_interval_s: float = METRICS_INTERVAL_S,
        send_timeout_s: float = SEND_TIMEOUT_S,
        registry: CollectorRegistry | None = None,
        publisher: KafkaPublisher | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._pool = pool
        self._publisher = publisher or KafkaPublisher(bootstrap_servers, send_timeout_s=send_timeout_s)
        self._batch_size = batch_size
        self._idle_poll_s = idle_poll_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._retention = retention
        self._purge_interval_s = purge_interval_s
        self._metrics_interval_s = metrics_interval_s
        self._metrics = _RelayMetrics(registry) if registry is not None else None
        self.relayed_total = 0  # rows this instance published and marked sent

    async def __aenter__(self) -> OutboxRelay:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the Kafka producer (``run()`` does this itself when it ends)."""
        await self._publisher.close()

    async def run(self) -> None:
        """Relay until cancelled: batches back to back, a poll when idle, backoff while a dependency is down."""
        loop = asyncio.get_running_loop()
        delay = self._backoff_initial_s
        outage_started: float | None = None
        failed_attempts = 0
        next_metrics = loop.time()
        next_purge = loop.time() + self._purge_interval_s
        try:
            while True:
                now = loop.time()
                if self._metrics is not None and now >= next_metrics:
                    next_metrics = now + self._metrics_interval_s
                    await self._housekeeping("metrics", self.refresh_metrics())
                if self._retention is not None and now >= next_purge:
                    next_purge = now + self._purge_interval_s
                    await self._housekeeping("purge", self.purge_sent(self._retention))
                try:
                    sent = await self.relay_once()
                except TRANSIENT_ERRORS as exc:
                    failed_attempts += 1
                    if self._metrics is not None:
                        self._metrics.failures.inc()
                    if outage_started is None:  # once per outage, not per attempt
                        outage_started = loop.time()
                        log.warning(
                            "outbox relay cannot publish, rows wait unsent; retrying every <=%gs: %s: %s",
                            self._backoff_max_s,
                            type(exc).__name__,
                            exc,
                        )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self._backoff_max_s)
                    continue
                if outage_started is not None:
                    log.info(
                        "outbox relay publishing again after %.1fs and %d failed attempt(s)",
                        loop.time() - outage_started,
                        failed_attempts,
                    )
                    outage_started, failed_attempts, delay = None, 0, self._backoff_initial_s
                if sent < self._batch_size:
                    await asyncio.sleep(self._idle_poll_s)
        finally:
            await self.close()

    async def relay_once(self) -> int:
        """Publish the oldest unsent rows (one batch) and mark them sent; return how many (0: idle or not our turn)."""
        async with self._pool.acquire() as conn:
            try:
                rows = await self._relay_batch(conn)
            except BaseException:
                # Closing (not awaiting a rollback) makes the server roll back and release the claim at once,
                # also when cancelled or when the database is the thing that failed.
                conn.close()
                raise
        self.relayed_total += rows
        if self._metrics is not None:
            self._metrics.relayed.inc(rows)
        return rows

    async def _relay_batch(self, conn: aiomysql.Connection) -> int:
        async with conn.cursor() as cur:
            await cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")  # the next transaction only
            await conn.begin()
            await cur.execute(_CLAIM_SQL, (self._batch_size,))
            rows: Sequence[tuple[Any, ...]] = await cur.fetchall()
            if not rows or not await _holds_head(cur, rows):
                await conn.rollback()
                return 0
            await self._publisher.publish([_message(row) for row in rows])
            ids = [row[0] for row in rows]
            await cur.execute(_MARK_SENT_SQL, (ids,))  # one statement; pymysql renders the list as (1, 2, ...)
            await conn.commit()
        return len(rows)

    async def backlog(self) -> Backlog:
        """How many rows wait and how old the oldest is."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(_BACKLOG_SQL)
            unsent, oldest_age_us = await cur.fetchone()
            await conn.rollback()  # end the read's transaction so the connection goes back to the pool
        return Backlog(int(unsent), (oldest_age_us or 0) / 1_000_000)

    async def refresh_metrics(self) -> None:
        """Update the unsent and lag gauges (no-op without a registry)."""
        if self._metrics is None:
            return
        backlog = await self.backlog()
        self._metrics.unsent.set(backlog.unsent)
        self._metrics.oldest_age.set(backlog.oldest_age_s)

    async def purge_sent(self, older_than: timedelta, *, batch_size: int = PURGE_BATCH_SIZE) -> int:
        """Delete rows sent more than ``older_than`` ago, ``batch_size`` per transaction; return how many."""
        older_than_us = older_than // timedelta(microseconds=1)
        total = 0
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            while True:
                # READ COMMITTED: no gap lock next to the unsent rows, so event writers are never blocked
                await cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
                await cur.execute(_PURGE_SQL, (older_than_us, batch_size))
                deleted = int(cur.rowcount)
                await conn.commit()
                total += deleted
                if deleted < batch_size:
                    break
        if total:
            log.info("outbox purge deleted %d row(s) sent before now - %s", total, older_than)
            if self._metrics is not None:
                self._metrics.purged.inc(total)
        return total

    async def _housekeeping(self, what: str, job: Any) -> None:
        """Await a metrics refresh or a purge; a failure is retried at the next interval."""
        try:
            await job
        except TRANSIENT_ERRORS as exc:
            log.debug("outbox %s skipped: %s: %s", what, type(exc).__name__, exc)


async def _holds_head(cur: aiomysql.Cursor, rows: Sequence[tuple[Any, ...]]) -> bool:
    """True when the claim is the whole head of the queue (no other relay holds older unsent rows)."""
    await cur.execute(_UNSENT_UP_TO_SQL, (rows[-1][0],))
    (unsent_up_to_last,) = await cur.fetchone()
    return int(unsent_up_to_last) == len(rows)


def _message(row: tuple[Any, ...]) -> OutgoingMessage:
    _id, event_id, topic, msg_key, payload, event_type = row
    headers = [("event-id", str(event_id).encode())]
    if event_type:
        headers.append(("event-type", str(event_type).encode()))
    value = payload if isinstance(payload, bytes) else str(payload).encode()
    return OutgoingMessage(topic=topic, key=str(msg_key).encode(), value=value, headers=tuple(headers))


OUTBOX_RELAY = web.AppKey("outbox_relay", OutboxRelay)


def outbox_relay_context(
    settings: CommonSettings, *, registry: CollectorRegistry | None = None, **relay_options: Any
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup-ctx factory: run a relay on the app's DB_POOL; cancel and await it on shutdown.

    Append it after the pool's context so the relay stops first. A batch that is cancelled mid-way is
    not marked sent (its claim rolls back), so the next start re-publishes it: nothing is half-done.
    """

    async def _ctx(app: web.Application) -> AsyncIterator[None]:
        relay = OutboxRelay(app[DB_POOL], settings.kafka_bootstrap, registry=registry, **relay_options)
        app[OUTBOX_RELAY] = relay
        task = asyncio.create_task(relay.run(), name="outbox-relay")
        task.add_done_callback(_report_crash)
        yield
        task.cancel()
        await asyncio.wait([task])  # waits for the relay to unwind; our own cancellation still propagates

    return _ctx


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("outbox relay stopped on an unexpected error; events stay unsent", exc_info=exc)
