"""How the master collects a batch and how a worker polls and deletes (pure: fake consumer and queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import TopicPartition

from services.migration.config import MigrationSettings
from services.migration.master import Master
from services.migration.queue import DeleteCoalescer, ReceivedMessage
from services.migration.worker import Worker

PARTITION = TopicPartition("legacy.export.v1", 0)


class ScriptedConsumer:
    """getmany() hands out the scripted polls in turn (an empty one after a short wait), then waits out its
    timeout with nothing."""

    def __init__(self, polls: Sequence[Sequence[int]]) -> None:
        self.polls = [list(poll) for poll in polls]
        self.calls: list[tuple[int, int | None]] = []

    async def getmany(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[TopicPartition, list[Any]]:
        self.calls.append((timeout_ms, max_records))
        poll = self.polls.pop(0) if self.polls else []
        if poll:
            return {PARTITION: poll[:max_records]}
        await asyncio.sleep(timeout_ms / 1000 if not self.polls else 0.01)  # an empty scripted poll: a short wait
        return {}


def _master(**settings: Any) -> Master:
    return Master(MigrationSettings(**settings), pool=None, queue=None)  # type: ignore[arg-type]


async def test_without_a_window_a_batch_is_one_poll() -> None:
    consumer = ScriptedConsumer([[1, 2], [3]])
    records = await _master(migration_batch_window_ms=0)._collect(consumer)  # type: ignore[arg-type]
    assert records == [1, 2]
    assert len(consumer.calls) == 1


async def test_a_window_keeps_polling_until_it_closes() -> None:
    consumer = ScriptedConsumer([[1, 2], [3], [], [4]])
    records = await _master(migration_batch_window_ms=1000)._collect(consumer)  # type: ignore[arg-type]
    assert records == [1, 2, 3, 4]
    # after the first records every poll only waits for what is left of the window
    assert all(0 < timeout <= 1000 for timeout, _ in consumer.calls[1:])
    assert consumer.calls[-1][0] < 1000


async def test_a_window_stops_at_the_record_limit() -> None:
    consumer = ScriptedConsumer([[1, 2, 3], [4, 5, 6], [7]])
    master = _master(migration_batch_window_ms=10_000, migration_poll_max_records=5)
    records = await master._collect(consumer)  # type: ignore[arg-type]
    assert records == [1, 2, 3, 4, 5]
    assert [limit for _, limit in consumer.calls] == [5, 2]


async def test_nothing_to_collect_returns_after_one_poll_timeout() -> None:
    consumer = ScriptedConsumer([])
    master = _master(migration_batch_window_ms=10_000, migration_poll_timeout_ms=20)
    assert await master._collect(consumer) == []  # type: ignore[arg-type]
    assert consumer.calls == [(20, 500)]


def _message(number: int) -> ReceivedMessage:
    return ReceivedMessage(f"m-{number}", f"r-{number}", "{}", "lane-0", 1)


class ScriptedQueue:
    """receive() answers with the scripted batches, then with nothing; records the long-poll wait asked."""

    def __init__(self, batches: Sequence[int], stop_when: Callable[[list[int]], bool]) -> None:
        self.batches = list(batches)
        self.waits: list[int] = []
        self.stop_when = stop_when
        self.worker: Worker | None = None

    async def receive(self, max_messages: int, wait_s: int, visibility_timeout_s: int | None) -> list[ReceivedMessage]:
        self.waits.append(wait_s)
        if self.stop_when(self.waits) and self.worker is not None:
            self.worker.stop()
        count = self.batches.pop(0) if self.batches else 0
        return [_message(n) for n in range(count)]


class RecordingWorker(Worker):
    """Counts the batches it is handed instead of processing them."""

    handled: list[int]

    async def handle_batch(self, messages: Sequence[ReceivedMessage]) -> None:
        self.handled.append(len(messages))


def _worker(queue: ScriptedQueue, **settings: Any) -> RecordingWorker:
    worker = RecordingWorker(MigrationSettings(**settings), pool=None, queue=queue, ctx=None)  # type: ignore[arg-type]
    worker.handled = []
    queue.worker = worker
    return worker


async def test_worker_long_polls_when_idle_and_short_polls_while_messages_come() -> None:
    # idle, a batch, then nothing: long poll, long poll (answered), short polls while busy
    queue = ScriptedQueue([0, 3], stop_when=lambda waits: len(waits) >= 5)
    worker = _worker(queue, migration_wait_time_s=7, migration_busy_window_ms=60_000, migration_busy_poll_pause_ms=1)
    await asyncio.wait_for(worker._receive_loop(), 5)
    assert worker.handled == [3]
    assert queue.waits == [7, 7, 0, 0, 0]


async def test_worker_goes_back_to_long_polls_after_the_busy_window() -> None:
    queue = ScriptedQueue([2], stop_when=lambda waits: waits.count(7) >= 2)
    worker = _worker(queue, migration_wait_time_s=7, migration_busy_window_ms=50, migration_busy_poll_pause_ms=5)
    await asyncio.wait_for(worker._receive_loop(), 5)
    assert queue.waits[0] == 7
    assert 0 in queue.waits[1:]
    first_short, back_to_long = queue.waits.index(0), queue.waits.index(7, 1)
    assert first_short < back_to_long
    assert set(queue.waits[first_short:back_to_long]) == {0}


class SlowDeletes:
    """delete() takes a while and records each request's messages; fails when told to."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[list[str]] = []
        self.fail = fail

    async def delete(self, messages: Sequence[ReceivedMessage]) -> None:
        self.requests.append([m.message_id for m in messages])
        await asyncio.sleep(0.05)
        if self.fail:
            raise OSError("connection reset")


async def test_deletes_asked_while_one_is_in_flight_share_the_next_request() -> None:
    queue = SlowDeletes()
    deleter = DeleteCoalescer(queue, linger_s=0)  # type: ignore[arg-type]

    async def later(delay: float, number: int) -> None:
        await asyncio.sleep(delay)
        await deleter.delete([_message(number)])

    await asyncio.gather(later(0, 1), later(0.01, 2), later(0.02, 3), later(0.03, 4))
    assert queue.requests == [["m-1"], ["m-2", "m-3", "m-4"]]


async def test_a_failed_delete_raises_for_every_caller_it_carried() -> None:
    deleter = DeleteCoalescer(SlowDeletes(fail=True), linger_s=0.01)  # type: ignore[arg-type]
    results = await asyncio.gather(deleter.delete([_message(1)]), deleter.delete([_message(2)]), return_exceptions=True)
    assert [type(result) for result in results] == [OSError, OSError]
