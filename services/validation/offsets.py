"""Kafka coordinates of change records: ``--upto-offsets`` and Kafka's default partitioner.

A change file without partition/offset fields gets them as the topic would have: the partition of
Kafka's default partitioner for the record key (``toPositive(murmur2(key)) % partitions``, as the legacy
export produces, shared/legacy/partitioning.py) and offsets counting on from the snapshot header's.
"""

from __future__ import annotations

from services.validation.errors import OffsetsError
from shared.legacy.partitioning import murmur2
from shared.legacy.partitioning import partition_for as kafka_partition_for

__all__ = ["murmur2", "parse_offsets", "partition_for"]


def parse_offsets(text: str | None) -> dict[int, int] | None:
    """``"0:120,1:98"`` -> {0: 120, 1: 98}: per partition, the first offset NOT to include."""
    if text is None or not text.strip():
        return None
    offsets: dict[int, int] = {}
    for part in text.split(","):
        partition, sep, offset = part.strip().partition(":")
        if not sep or not partition.isdigit() or not offset.isdigit():
            raise OffsetsError(f"--upto-offsets wants PARTITION:OFFSET[,...], got {part.strip()!r}")
        offsets[int(partition)] = int(offset)
    return offsets


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record keyed by ``key`` (its UTF-8 bytes)."""
    return kafka_partition_for(key.encode("utf-8"), partitions)
