"""The Kafka side of the outbox relay (DESIGN section 8): publish one batch and return only when the
broker has acknowledged all of it, or raise and leave nothing behind that could still be delivered.

One idempotent producer session (``acks="all"``, ``enable_idempotence=True``) is kept between batches.
Within a session the broker accepts a partition's records only in sequence order, and aiokafka keeps at
most one request per partition in flight, so retries neither reorder nor duplicate: what a session gets
onto a partition is always an in-order run of what was sent to it. After a failure the session is
discarded before anyone retries, so an old session cannot deliver records after a newer one started.
(Residual case: a batch the broker *rejects* for good, e.g. a corrupt record, while the next batch of the
same partition is already on the wire; that next batch lands first. Timeouts and outages cannot do this.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 10.0  # start + every acknowledgement of one batch; the whole batch fails after this
# One request per broker is in flight at a time; a larger per-partition batch lets a relay batch of
# 500 events go out in one round trip instead of several 16 KiB ones (broker limit is ~1 MiB).
MAX_BATCH_BYTES = 256 * 1024
CLIENT_ID = "vitalsync-outbox-relay"


class PublishError(RuntimeError):
    """Kafka did not acknowledge a whole batch in time (or refused it); none of it may be marked sent."""


@dataclass(frozen=True)
class OutgoingMessage:
    """One record as it goes onto the topic."""

    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class KafkaPublisher:
    """Publishes batches through one idempotent producer, recreated after any failure."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        send_timeout_s: float = SEND_TIMEOUT_S,
        client_id: str = CLIENT_ID,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._send_timeout_s = send_timeout_s
        self._client_id = client_id
        self._max_batch_bytes = max_batch_bytes
        self._producer: AIOKafkaProducer | None = None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send ``messages`` in order; return once the broker acknowledged every one (``acks=all``)."""
        acks: list[asyncio.Future[object]] = []
        try:
            async with asyncio.timeout(self._send_timeout_s):
                producer = await self._started()
                for message in messages:
                    # send() only queues the record (in call order, per partition); the future resolves on the ack
                    acks.append(
                        await producer.send(
                            message.topic, message.value, key=message.key, headers=list(message.headers)
                        )
                    )
                await asyncio.gather(*acks)
        except asyncio.CancelledError:
            await self._discard(acks)
            raise
        except (KafkaError, TimeoutError, OSError) as exc:
            await self._discard(acks)
            raise PublishError(
                f"Kafka at {self._bootstrap_servers} did not acknowledge {len(messages)} message(s) within "
                f"{self._send_timeout_s:g}s ({type(exc).__name__}: {exc or 'no answer'})"
            ) from exc

    async def close(self) -> None:
        """Close the producer; between batches it holds nothing unacknowledged, so nothing is lost."""
        await self._discard([])

    async def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=int(self._send_timeout_s * 1000),
                max_batch_size=self._max_batch_bytes,
            )
            self._producer = producer  # set first, so a failed start is cleaned up by _discard
            await producer.start()
        return self._producer

    async def _discard(self, acks: list[asyncio.Future[object]]) -> None:
        """Drop the producer so nothing it still holds can reach Kafka after this returns."""
        producer, self._producer = self._producer, None
        for ack in acks:
            ack.add_done_callback(_consume_outcome)
        if producer is None:
            return
        # An idempotent aiokafka producer retries a batch until the broker takes it, and stop() flushes
        # first, so stop() alone waits out a whole outage (aio-libs/aiokafka#1101) and then delivers the
        # batch late, after a newer session re-sent its rows. So stop the sender task first (no deliveries
        # after that), then fail what is still queued so the flush in stop() has nothing to wait for. This
        # uses aiokafka 0.x internals; if they change, fall back to a bounded stop().
        sender = getattr(producer, "_sender", None)
        accumulator = getattr(producer, "_message_accumulator", None)
        if sender is not None and accumulator is not None:
            await sender.close()
            _fail_queued(accumulator, PublishError("producer discarded after a failed batch"))
            await producer.stop()
            return
        try:
            async with asyncio.timeout(self._send_timeout_s):
                await producer.stop()
        except TimeoutError:
            log.warning(
                "kafka producer %s did not stop within %gs; abandoning it", self._client_id, self._send_timeout_s
            )


def _fail_queued(accumulator: Any, error: Exception) -> None:
    """Fail every batch a stopped sender still holds, without leaving asyncio errors behind."""
    queued = [batch for batches in accumulator._batches.values() for batch in batches]
    # A batch put back for a retry has left _pending_batches, but the done callback aiokafka attached when
    # it was first sent removes it from there: put it back so that callback does not raise KeyError.
    accumulator._pending_batches.update(batch for batch in queued if batch.retry_count)
    held = [*queued, *accumulator._pending_batches]
    accumulator.fail_all(error)
    for batch in held:  # nobody waits for room in these batches any more
        _consume_outcome(batch._drain_waiter)


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    """Mark a discarded future's failure as seen (asyncio would log each one as never retrieved)."""
    if future.done() and not future.cancelled():
        future.exception()
