"""`vitalsync legacy export`: the legacy platform's Kafka export, played into a topic.

Decision (issue 8 item 1): the snapshot's records are produced to the topic first, each to the
partition Kafka's default partitioner gives its key (`partitioning`), and the snapshot file's header is
then rewritten with the topic's real end offsets once the broker acknowledged them. On a fresh topic
those are exactly the seed's offsets (record k of partition p lands at offset k), so the file keeps its
bytes; on a topic that already held records the header still tells the truth: change capture starts
after the snapshot's records. Then the change stream (`changes.generate_changes`) is produced at the
given rate, keyed the same way, and written to ``changes.jsonl.gz`` beside the snapshot with each
record's partition, offset and timestamp (for the validator and for tests):
``{"partition", "offset", "timestamp_ms", "record": {...export record...}}``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from shared.kafka_topics import TopicNotFoundError, end_offsets, topic_partitions
from simulator.legacy.export_format import SNAPSHOT_FILE, SnapshotHeader, dumps_line, read_snapshot
from simulator.legacy.model import ExportRecord
from simulator.legacy.partitioning import partition_for, record_key

CHANGES_FILE = "changes.jsonl.gz"
_IN_FLIGHT = 2000  # produce futures awaited together (bounded memory at any rate)

ProgressCallback = Callable[[int], None]


class ExportError(RuntimeError):
    """The topic cannot take the export (missing, or a partition count that differs from the snapshot's)."""


@dataclass(frozen=True)
class ExportResult:
    """What was produced: snapshot records, changes, and the offsets the header now holds."""

    snapshot_records: int
    changes: int
    offsets: dict[int, int]
    elapsed_s: float


async def _partition_count(bootstrap: str, topic: str) -> int:
    try:
        return len(await topic_partitions(bootstrap, topic))
    except KafkaError as error:
        raise ExportError(
            f"cannot reach Kafka at {bootstrap} ({error}); start it with `vitalsync stack up` or pass --bootstrap"
        ) from error
    except TopicNotFoundError as error:
        raise ExportError(
            f"{error}; create it, or pass --topic with one that exists "
            "(`vitalsync stack up` creates the topics of infra/local/kafka/topics.yaml)"
        ) from None


async def _produce(
    producer: AIOKafkaProducer,
    topic: str,
    partitions: int,
    records: Iterable[ExportRecord],
    *,
    rate: float = 0.0,
    progress: ProgressCallback | None = None,
    sink: Callable[[int, int, int, ExportRecord], None] | None = None,
) -> int:
    """Produce records in order (paced at rate per second when > 0); returns how many."""
    started = time.monotonic()
    pending: list[tuple[asyncio.Future[object], ExportRecord]] = []
    count = 0

    async def drain() -> None:
        for future, record in pending:
            metadata = await future
            if sink is not None:
                sink(metadata.partition, metadata.offset, metadata.timestamp, record)  # type: ignore[attr-defined]
        if progress is not None:
            progress(len(pending))
        pending.clear()

    for record in records:
        if rate > 0:
            delay = started + count / rate - time.monotonic()
            if delay > 0:
                await drain()
                await asyncio.sleep(delay)
        key = record_key(record)
        value = dumps_line(record.to_json()).encode("utf-8")
        future = await producer.send(topic, value=value, key=key, partition=partition_for(key, partitions))
        pending.append((future, record))
        count += 1
        if len(pending) >= _IN_FLIGHT:
            await drain()
    await drain()
    return count


def _rewrite_header(path: Path, header: SnapshotHeader) -> None:
    """Replace the snapshot's first line (the records stay byte for byte); written aside, then renamed."""
    temp = path.with_name(path.name + ".tmp")
    with gzip.open(path, "rb") as source, temp.open("wb") as raw:
        source.readline()
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as target:
            target.write((dumps_line(header.to_json()) + "\n").encode("utf-8"))
            while chunk := source.read(1 << 20):
                target.write(chunk)
    temp.replace(path)


async def export(
    directory: Path,
    changes: Iterable[ExportRecord],
    *,
    bootstrap: str,
    topic: str | None = None,
    rate: float = 0.0,
    produce_snapshot: bool = True,
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Produce the snapshot (unless produce_snapshot is False), fix its header, then produce changes."""
    started = time.monotonic()
    snapshot_path = directory / SNAPSHOT_FILE
    header, snapshot = read_snapshot(snapshot_path)
    topic = topic or header.topic
    partitions = await _partition_count(bootstrap, topic)
    if partitions != len(header.partitions):
        raise ExportError(
            f"topic {topic} has {partitions} partitions but the snapshot was cut for {len(header.partitions)}"
        )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    try:
        await producer.start()
        produced = 0
        offsets = dict(header.partitions)
        if produce_snapshot:
            produced = await _produce(producer, topic, partitions, snapshot, progress=progress)
            ends = await end_offsets(bootstrap, topic)
            offsets = ends
            _rewrite_header(snapshot_path, SnapshotHeader(topic, ends, header.taken_at))
        with gzip.open(directory / CHANGES_FILE, "wt", encoding="utf-8") as out:

            def sink(partition: int, offset: int, timestamp: int, record: ExportRecord) -> None:
                line = {"partition": partition, "offset": offset, "timestamp_ms": timestamp, "record": record.to_json()}
                out.write(dumps_line(line) + "\n")

            count = await _produce(producer, topic, partitions, changes, rate=rate, progress=progress, sink=sink)
    finally:
        await producer.stop()
    return ExportResult(produced, count, offsets, time.monotonic() - started)


def read_changes(directory: Path) -> list[tuple[int, int, int, ExportRecord]]:
    """changes.jsonl.gz: (partition, offset, timestamp ms, record) in produce order."""
    out = []
    with gzip.open(directory / CHANGES_FILE, "rt", encoding="utf-8") as lines:
        for line in lines:
            value = json.loads(line)
            out.append(
                (value["partition"], value["offset"], value["timestamp_ms"], ExportRecord.from_json(value["record"]))
            )
    return out
