"""``vitalsync migrate work``: a worker. SQS FIFO message -> raw row -> transform -> processed rows.

Per received batch, messages are grouped by MessageGroupId (owner scope, or its lane) keeping their
order; groups run concurrently, a group's messages one after the other. Each message is one database
transaction (`batch.process_batch`: the raw rows are locked, each object transformed if its version is
newer than the applied one, written, marked applied; new readings together, the rest one by one with
`processing.process_object`); the message is deleted only after that commit. A crash before the
delete means a redelivery, which finds the version applied and does nothing.

A message whose processing raises (not a clean transform failure, which is a migration_failures row
and a delete) is left undeleted and made visible again after a short backoff, with the group's later
messages of the batch, so order holds; its exception is recorded in migration_failures (pattern
PROCESSING_ERROR, DATABASE_REJECTED, RAW_ROW_MISSING or UNREADABLE_MESSAGE) with the receive count,
and after the queue's maxReceiveCount receives SQS moves it to the DLQ (marked dead_lettered_at).

A `migrate requeue` message (``requeue`` set) processes its objects with `retry`: a version that was
applied but failed (or waits for a device) is processed again, and on success its failure row goes in
the same transaction.

Metrics (`metrics.WorkerMetrics`) move after the commit of the records they count: applied by outcome,
stale (nothing to do), failed by pattern; the end-to-end lag is observed for change records that were
processed (not for stale ones, and not for requeued ones, whose Kafka timestamp is from the first try).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

import aiomysql
import pymysql
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry

from services.migration import repo
from services.migration.batch import process_batch
from services.migration.config import MigrationSettings
from services.migration.errors import (
    DATABASE_REJECTED,
    LOCK_CONFLICT_RETRIES,
    PROCESSING_ERROR,
    RAW_ROW_MISSING,
    UNREADABLE_MESSAGE,
    RawRowMissingError,
    RecordFormatError,
    lock_conflict,
)
from services.migration.metrics import WorkerMetrics
from services.migration.processing import Outcome, ProcessContext, Processed
from services.migration.queue import DeleteCoalescer, ReceivedMessage, WorkQueue
from services.migration.records import WorkItem, WorkMessage
from shared.db.transactions import rollback_after

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 5.0


def failure_pattern(error: BaseException) -> str:
    """The migration_failures pattern of an exception raised while processing a message."""
    if isinstance(error, RecordFormatError):
        return UNREADABLE_MESSAGE
    if isinstance(error, RawRowMissingError):
        return RAW_ROW_MISSING
    if isinstance(error, pymysql.err.DataError | pymysql.err.IntegrityError):
        return DATABASE_REJECTED
    return PROCESSING_ERROR


class Worker:
    """Receives and processes messages until `stop()`."""

    def __init__(
        self,
        settings: MigrationSettings,
        pool: aiomysql.Pool,
        queue: WorkQueue,
        ctx: ProcessContext,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.queue = queue
        self.ctx = ctx
        self.metrics = WorkerMetrics(registry or CollectorRegistry())
        self._stopping = asyncio.Event()
        self._deleter = DeleteCoalescer(queue)
        self.max_receive_count: int | None = None

    def stop(self) -> None:
        """Finish the batches in hand (commit and delete), then return from run()."""
        self._stopping.set()

    async def run(self) -> None:
        """Run the receive loops until stopped."""
        self.max_receive_count = await self.queue.max_receive_count()
        loops = [asyncio.create_task(self._receive_loop()) for _ in range(self.settings.migration_worker_receivers)]
        try:
            await asyncio.gather(*loops)
        finally:
            for loop in loops:
                loop.cancel()
            await asyncio.gather(*loops, return_exceptions=True)

    async def _receive_loop(self) -> None:
        """Receive and handle batches: short polls while busy, long polls when idle (config)."""
        backoff = BACKOFF_INITIAL_S
        busy_window_s = self.settings.migration_busy_window_ms / 1000
        last_message = -busy_window_s
        while not self._stopping.is_set():
            busy = time.monotonic() - last_message < busy_window_s
            try:
                messages = await self.queue.receive(
                    self.settings.migration_receive_batch, 0 if busy else self.settings.migration_wait_time_s, None
                )
                backoff = BACKOFF_INITIAL_S
                if messages:
                    last_message = time.monotonic()
                    self.metrics.messages_received.inc(len(messages))
                    await self.handle_batch(messages)
                elif busy:
                    await self._pause(self.settings.migration_busy_poll_pause_ms / 1000)
            except (ClientError, BotoCoreError, OSError, pymysql.err.OperationalError) as error:
                log.warning("worker receive/delete failed (%r); retrying in %.1fs", error, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short by stop()."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    async def handle_batch(self, messages: Sequence[ReceivedMessage]) -> None:
        """Process a received batch, its groups concurrently; each group's messages in order."""
        groups: dict[str, list[ReceivedMessage]] = {}
        for message in messages:
            groups.setdefault(message.group_id, []).append(message)
        await asyncio.gather(*(self._handle_group(group) for group in groups.values()))

    async def _handle_group(self, group: Sequence[ReceivedMessage]) -> None:
        """Process a group's messages in order; delete what committed as soon as the group is done (FIFO
        hands out the group's next message only then, so a slow group of the batch does not hold the
        others), and make the rest visible again after the retry backoff."""
        done, later = list(group), []
        for index, message in enumerate(group):
            if not await self.handle_message(message):
                done, later = list(group[:index]), list(group[index:])
                break
        if done:
            await self._deleter.delete(done)
        if later:
            await self.queue.retry_later(later, self.settings.migration_retry_backoff_s)

    def _last_receive(self, message: ReceivedMessage) -> bool:
        return self.max_receive_count is not None and message.receive_count >= self.max_receive_count

    async def handle_message(self, message: ReceivedMessage) -> bool:
        """Process a message's records in order; False when one raised (timed; counted when dead-lettered)."""
        started = time.perf_counter()
        ok = await self._apply_message(message)
        self.metrics.processing_seconds.observe(time.perf_counter() - started)
        if not ok and self._last_receive(message):
            self.metrics.dead_lettered.inc()
        return ok

    async def _apply_message(self, message: ReceivedMessage) -> bool:
        """Process a message's records in order, one transaction each; False when one raised.

        Records before the failing one stay applied (a redelivery finds them done); the ones after it
        wait for the retry, so the scope's order holds. On the last receive before the DLQ the failing
        record is recorded as dead-lettered and the others are processed all the same.
        """
        try:
            work = WorkMessage.decode(message.body)
        except RecordFormatError as error:
            key = f"sqs://{message.message_id}"
            log.warning("unreadable message %s (receive %d): %s", key, message.receive_count, error)
            await self._record_exception(key, 0, failure_pattern(error), error, message.receive_count)
            return False
        try:
            # the usual case: every record of the message in one transaction (one commit)
            await self._process(work.items, message.receive_count, work.requeue)
            return True
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - retried record by record below, to find the one that fails
            log.debug("message %s failed as a whole; retrying its records one by one", message.message_id)
        last_chance = self._last_receive(message)
        ok = True
        for item in work.items:
            try:
                await self._process([item], message.receive_count, work.requeue)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure is recorded and the message retried
                pattern = failure_pattern(error)
                log.warning(
                    "processing %s failed (%s, receive %d): %r", item.key, pattern, message.receive_count, error
                )
                await self._record_exception(item.key, item.version, pattern, error, message.receive_count)
                ok = False
                if not last_chance:
                    return False
        return ok

    async def _process(self, items: Sequence[WorkItem], receive_count: int, retry: bool) -> None:
        """Process items in one transaction, then count what they became."""
        results = await self._transaction(items, receive_count, retry)
        self._count(items, results, retry)

    async def _transaction(self, items: Sequence[WorkItem], receive_count: int, retry: bool) -> list[Processed | None]:
        attempt = 1
        while True:
            async with self.pool.acquire() as conn:
                try:
                    async with conn.cursor() as cur:
                        keys = [item.key for item in items]
                        results = await process_batch(cur, keys, self.ctx, receive_count=receive_count, retry=retry)
                    await conn.commit()
                    return results
                except pymysql.err.OperationalError as error:
                    await rollback_after(conn)
                    if not lock_conflict(error) or attempt == LOCK_CONFLICT_RETRIES:
                        raise
                except BaseException:
                    await rollback_after(conn)
                    raise
            attempt += 1

    def _count(self, items: Sequence[WorkItem], results: Sequence[Processed | None], retry: bool) -> None:
        committed_ms = time.time() * 1000
        for item, result in zip(items, results, strict=True):
            if result is None:
                self.metrics.stale.inc()
                continue
            if result.outcome == Outcome.FAILED:
                self.metrics.failed.labels(result.pattern or "").inc()
            else:
                self.metrics.applied.labels(result.outcome.value).inc()
            if item.timestamp_ms is not None and not retry:
                self.metrics.end_to_end_seconds.observe(max(committed_ms - item.timestamp_ms, 0) / 1000)

    async def _record_exception(self, key: str, version: int, pattern: str, error: BaseException, count: int) -> None:
        self.metrics.failed.labels(pattern).inc()
        dead = self.max_receive_count is not None and count >= self.max_receive_count
        bucket = ""
        try:
            async with self.pool.acquire() as conn:
                async with conn.cursor() as cur:
                    await cur.execute("SELECT bucket, version FROM raw_kii_objects WHERE object_key = %s", (key,))
                    found = await cur.fetchone()
                    if found is not None:
                        bucket, version = found[0], int(found[1])
                    await repo.record_failure(
                        cur,
                        key,
                        bucket,
                        version,
                        pattern,
                        type(error).__name__,
                        str(error) or repr(error),
                        receive_count=count,
                        dead_lettered=dead,
                    )
                await conn.commit()
        except (pymysql.err.MySQLError, OSError) as db_error:
            log.error("could not record the failure of %s: %r", key, db_error)
