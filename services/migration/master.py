"""``vitalsync migrate follow``: the master. Export topic -> raw rows + one SQS FIFO message per record.

Per batch (``getmany``), in this order (CONVENTIONS: auto-commit off, commit after effects are durable):

1. upsert the batch's raw rows and commit (newer version wins, so a replayed record changes nothing);
2. send the records to SQS FIFO (group = owner scope; a scope's records of the batch packed into one
   message in topic order, deduplication id = its first record's partition-offset) and wait for SQS to
   accept all of them;
3. only then move ``migration_offsets`` forward (commit) and commit the same offsets to Kafka.

Steps 2-3 of a batch run while the next batch is polled and upserted (step 1): the two halves wait on
different servers, and a change no longer waits for the previous batch's send before its upsert. Sends
stay one batch after the other, so a group's messages still go in topic order, and offsets still only
move past a batch after its send. Any failure drops the batch in hand and replays from the stored offsets.

A crash before 3 replays the batch from the stored offsets: the raw upsert is a no-op and the messages
are either dropped by SQS's deduplication (within its 5-minute window) or processed again by a worker
as a no-op (it applies a raw version only once). A record that is not an export record at all is kept in
``migration_failures`` (pattern MALFORMED_RECORD) and passed over, never dropped silently.
The source of truth for the position is ``migration_offsets`` (written by the snapshot load first);
Kafka's committed offsets of the consumer group mirror it for tooling.

Metrics (`metrics.MasterMetrics`): records consumed per partition move after step 3; the lag gauge is
the consumer's last known high watermark (it comes with every fetch response, so it costs no request)
minus the committed offset, refreshed after every poll.

The queue-depth ceiling is checked without a request while the last depth SQS reported plus the messages
sent since stays under it (deletes only lower the real depth), so a busy master asks SQS once every few
batches instead of before each.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import aiomysql
import pymysql
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from botocore.exceptions import BotoCoreError, ClientError
from prometheus_client import CollectorRegistry

from services.migration import repo
from services.migration.config import MigrationSettings
from services.migration.errors import (
    MALFORMED_RECORD,
    KafkaUnavailableError,
    NotInitialisedError,
    RecordFormatError,
    TopicMissingError,
)
from services.migration.metrics import MasterMetrics
from services.migration.queue import OutgoingMessage, SendError, WorkQueue
from services.migration.records import SourceRecord, decode_record, pack
from shared.db.connection import unavailable
from shared.db.transactions import rollback_after
from shared.kafka_topics import TopicNotFoundError, topic_partitions

log = logging.getLogger(__name__)

BACKOFF_INITIAL_S = 0.2
BACKOFF_MAX_S = 5.0
DEPTH_CHECK_INTERVAL_S = 0.5
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    pymysql.err.OperationalError,
    pymysql.err.InterfaceError,
    KafkaError,
    SendError,
    ClientError,
    BotoCoreError,
    OSError,
    TimeoutError,
)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """A batch whose raw rows are committed: what step 2 sends and where step 3 moves the offsets."""

    messages: list[OutgoingMessage]
    records_per_message: list[int]
    next_offsets: dict[int, int]
    consumed: Counter[int]


class Master:
    """Consumes the export topic from migration_offsets until `stop()`."""

    def __init__(
        self,
        settings: MigrationSettings,
        pool: aiomysql.Pool,
        queue: WorkQueue,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.queue = queue
        self.topic = settings.migration_topic
        self.metrics = MasterMetrics(registry or CollectorRegistry())
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self.committed: dict[int, int] = {}
        self._publishing: asyncio.Task[None] | None = None
        self._depth_bound: int | None = None  # last reported depth + messages sent since (None: ask)

    def stop(self) -> None:
        """Finish the batch in hand, then return from run()."""
        self._stopping.set()

    async def run(self) -> None:
        """Follow the topic until stopped; transient failures are retried with backoff, never skipped."""
        try:
            async with self.pool.acquire() as conn, conn.cursor() as cur:
                self.committed = await repo.read_offsets(cur, self.topic)
                await conn.rollback()
        except (pymysql.err.OperationalError, OSError) as error:  # nothing consumed yet: stop, saying why
            raise unavailable(self.settings, self.settings.db_name, error) from error
        if not self.committed:
            raise NotInitialisedError(
                f"no change-capture offsets for topic {self.topic}: load the snapshot first "
                "(`vitalsync migrate snapshot FILE` writes its header's offsets)"
            )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            group_id=self.settings.migration_consumer_group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.settings.migration_poll_max_records,
        )
        self._consumer = consumer
        try:
            try:
                await consumer.start()
                partitions = await topic_partitions(self.settings.kafka_bootstrap, self.topic)
            except KafkaError as error:  # nothing consumed yet: stop, saying why
                raise KafkaUnavailableError(self.settings.kafka_bootstrap, error) from error
            except TopicNotFoundError as error:
                raise TopicMissingError(error) from None
            assignment = [TopicPartition(self.topic, p) for p in partitions]
            consumer.assign(assignment)
            self._seek_committed(assignment)
            log.info("master following %s from %s", self.topic, dict(sorted(self.committed.items())))
            backoff = BACKOFF_INITIAL_S
            while not self._stopping.is_set():
                try:
                    await self._wait_for_queue_room()
                    records = await self._collect(consumer)
                    if records:
                        stored = await self.store_batch(records)
                        await self._published()
                        self._publishing = asyncio.create_task(self.publish_batch(stored))
                    self._observe_lag(assignment)
                    backoff = BACKOFF_INITIAL_S
                except TRANSIENT_ERRORS as error:
                    log.warning("master batch failed (%r); replaying from the stored offsets in %.1fs", error, backoff)
                    await self._published(check=False)
                    self._depth_bound = None
                    self._seek_committed(assignment)
                    try:
                        await asyncio.wait_for(self._stopping.wait(), backoff)
                    except TimeoutError:
                        pass
                    backoff = min(backoff * 2, BACKOFF_MAX_S)
            await self._published(check=False)
        finally:
            if self._publishing is not None:
                self._publishing.cancel()
                await asyncio.gather(self._publishing, return_exceptions=True)
            self._consumer = None
            await consumer.stop()
        log.info("master stopped at %s", dict(sorted(self.committed.items())))

    async def _collect(self, consumer: AIOKafkaConsumer) -> list[ConsumerRecord]:
        """The next batch: what one poll returns or, with a batch window, what arrives within it.

        The window polls again and again until it closes rather than sleeping and polling once: the
        consumer fetches a partition again only after its buffered records were taken, so a single late
        poll would hand out records fetched a window earlier and hold the newer ones for a second window.
        """
        window_s = self.settings.migration_batch_window_ms / 1000
        limit = self.settings.migration_poll_max_records
        records: list[ConsumerRecord] = []
        closes: float | None = None
        loop = asyncio.get_running_loop()
        while len(records) < limit and not self._stopping.is_set():
            timeout_ms = self.settings.migration_poll_timeout_ms
            if closes is not None:
                timeout_ms = int((closes - loop.time()) * 1000)
                if timeout_ms <= 0:
                    break
            batch = await consumer.getmany(timeout_ms=timeout_ms, max_records=limit - len(records))
            records.extend(r for chunk in batch.values() for r in chunk)
            if not records:
                break
            if closes is None:
                closes = loop.time() + window_s
        return records

    def _seek_committed(self, assignment: Sequence[TopicPartition]) -> None:
        assert self._consumer is not None
        for tp in assignment:
            self._consumer.seek(tp, self.committed.get(tp.partition, 0))

    def _observe_lag(self, assignment: Sequence[TopicPartition]) -> None:
        """Set the lag gauge of every partition whose high watermark a fetch has reported."""
        assert self._consumer is not None
        for tp in assignment:
            high = self._consumer.highwater(tp)
            if high is not None:
                self.metrics.lag.labels(str(tp.partition)).set(max(high - self.committed.get(tp.partition, 0), 0))

    async def _published(self, *, check: bool = True) -> None:
        """Wait for the batch being sent (steps 2-3); its error is raised when check, else only logged."""
        task, self._publishing = self._publishing, None
        if task is None:
            return
        try:
            await task
        except TRANSIENT_ERRORS as error:
            if check:
                raise
            log.debug("dropped with its batch: %r", error)

    async def _wait_for_queue_room(self) -> None:
        """Hold intake while the queue is deeper than the ceiling: lag then shows in Kafka, where status sees it."""
        ceiling = self.settings.migration_max_queue_depth
        while not self._stopping.is_set():
            if self._depth_bound is not None and self._depth_bound < ceiling:
                return
            self._depth_bound = (await self.queue.depth()).total
            if self._depth_bound < ceiling:
                return
            try:
                await asyncio.wait_for(self._stopping.wait(), DEPTH_CHECK_INTERVAL_S)
            except TimeoutError:
                pass

    async def store_batch(self, batch: Sequence[ConsumerRecord]) -> StoredBatch:
        """Step 1: decode the batch and commit its raw rows (and malformed records' failures)."""
        records: list[SourceRecord] = []
        malformed: list[repo.FailureParams] = []
        next_offsets: dict[int, int] = {}
        for message in batch:
            next_offsets[message.partition] = max(next_offsets.get(message.partition, 0), message.offset + 1)
            try:
                records.append(
                    decode_record(
                        message.value or b"",
                        partition=message.partition,
                        offset=message.offset,
                        timestamp_ms=message.timestamp,
                    )
                )
            except RecordFormatError as error:
                key = f"kafka://{message.topic}/{message.partition}/{message.offset}"
                log.warning("malformed export record at %s: %s", key, error)
                malformed.append((key, "", 0, MALFORMED_RECORD, None, str(error), 1, False))
        async with self.pool.acquire() as conn:
            try:
                async with conn.cursor() as cur:
                    await repo.upsert_raw(cur, records)
                    await repo.record_failures(cur, malformed)
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                raise
        packed = pack(records, self.settings.migration_records_per_message, self.settings.migration_group_lanes)
        return StoredBatch(
            messages=[OutgoingMessage(work.encode(), group, work.deduplication_id) for group, work in packed],
            records_per_message=[len(work.items) for _, work in packed],
            next_offsets=next_offsets,
            consumed=Counter(message.partition for message in batch),
        )

    async def publish_batch(self, stored: StoredBatch) -> None:
        """Steps 2-3: send the batch's messages, then move the stored offsets (and Kafka's copy) past it."""
        await self.queue.send(stored.messages)
        if self._depth_bound is not None:
            self._depth_bound += len(stored.messages)
        self.metrics.messages_sent.inc(len(stored.messages))
        for size in stored.records_per_message:
            self.metrics.records_per_message.observe(size)
        async with self.pool.acquire() as conn:
            try:
                async with conn.cursor() as cur:
                    await repo.advance_offsets(cur, self.topic, stored.next_offsets)
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                raise
        self.committed.update(stored.next_offsets)
        self.metrics.last_commit.set_to_current_time()
        for partition, count in stored.consumed.items():
            self.metrics.consumed.labels(str(partition)).inc(count)
        if self._consumer is not None:
            try:
                await self._consumer.commit({TopicPartition(self.topic, p): o for p, o in stored.next_offsets.items()})
            except KafkaError as error:  # the database holds the position; Kafka's copy is for tooling
                log.warning("could not mirror offsets to Kafka: %r", error)
