"""Change records read straight from the legacy export topic, instead of a changes file.

`vitalsync validate --kafka-topic TOPIC` reads each partition from the snapshot header's offset (where
change capture starts, DESIGN section 10) up to ``--upto-offsets`` (exclusive), or up to the end offsets
the topic had when the validation started, and writes the records to a changes file in the format
`vitalsync legacy export` writes (``{"partition", "offset", "timestamp_ms", "record"}`` per line), which
the validator then reads like any other. No consumer group and no commits: the validator only looks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from services.validation.errors import LegacyInputError
from shared.kafka_topics import TopicNotFoundError, topic_partitions

POLL_TIMEOUT_MS = 1000
POLL_MAX_RECORDS = 5000
DEFAULT_DEADLINE_S = 600.0


async def dump_topic(
    bootstrap: str,
    topic: str,
    start: Mapping[int, int],
    path: Path,
    *,
    upto: Mapping[int, int] | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S,
) -> dict[int, int]:
    """Write the topic's records in [start, upto) per partition to path; returns the end offset used per partition."""
    try:
        partitions = await topic_partitions(bootstrap, topic)
    except KafkaError as exc:
        raise LegacyInputError(f"cannot describe topic {topic} on {bootstrap}: {exc}") from exc
    except TopicNotFoundError as exc:
        raise LegacyInputError(str(exc)) from None
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
        assigned = [TopicPartition(topic, partition) for partition in partitions]
        consumer.assign(assigned)
        latest = await consumer.end_offsets(assigned)
        ends = {tp: (upto[tp.partition] if upto and tp.partition in upto else latest[tp]) for tp in assigned}
        remaining = set()
        for tp in assigned:
            first = start.get(tp.partition, 0)
            if first < ends[tp]:
                consumer.seek(tp, first)
                remaining.add(tp)
        await _copy(consumer, remaining, ends, path, time.monotonic() + deadline_s, topic)
        return {tp.partition: ends[tp] for tp in assigned}
    except KafkaError as exc:
        raise LegacyInputError(f"cannot read topic {topic} from {bootstrap}: {exc}") from exc
    finally:
        await consumer.stop()


async def _copy(
    consumer: AIOKafkaConsumer,
    remaining: set[TopicPartition],
    ends: Mapping[TopicPartition, int],
    path: Path,
    deadline: float,
    topic: str,
) -> None:
    with path.open("w", encoding="utf-8") as out:
        while remaining:
            if time.monotonic() > deadline:
                missing = ", ".join(f"{tp.partition}:{ends[tp]}" for tp in sorted(remaining, key=lambda t: t.partition))
                raise LegacyInputError(f"topic {topic} did not reach offsets {missing} in time")
            batches = await consumer.getmany(*remaining, timeout_ms=POLL_TIMEOUT_MS, max_records=POLL_MAX_RECORDS)
            lines = []
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= ends[tp]:
                        continue
                    value = record.value.decode("utf-8") if record.value is not None else "null"
                    coordinates = json.dumps({"partition": tp.partition, "offset": record.offset})[:-1]
                    lines.append(f'{coordinates}, "timestamp_ms": {record.timestamp}, "record": {value}}}\n')
            await asyncio.to_thread(out.writelines, lines)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
