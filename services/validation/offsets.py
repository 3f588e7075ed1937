"""Kafka coordinates of change records: ``--upto-offsets`` and Kafka's default partitioner.

A change file without partition/offset fields gets them as the topic would have: the partition of
Kafka's default partitioner for the record key (``toPositive(murmur2(key)) % partitions``, as the legacy
export produces, simulator/legacy/partitioning.py) and offsets counting on from the snapshot header's.
"""

from __future__ import annotations

from services.validation.errors import OffsetsError

_MASK_32 = 0xFFFFFFFF


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


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (seed 0x9747b28c) as the signed 32-bit int Java's Utils.murmur2 returns."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK_32
    whole = length - length % 4
    for index in range(0, whole, 4):
        k = (int.from_bytes(data[index : index + 4], "little") * m) & _MASK_32
        k ^= k >> r
        k = (k * m) & _MASK_32
        h = ((h * m) & _MASK_32) ^ k
    tail = length % 4
    if tail:
        if tail == 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * m) & _MASK_32
    h ^= h >> 13
    h = (h * m) & _MASK_32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a record keyed by key (toPositive(murmur2) % n)."""
    return (murmur2(key.encode("utf-8")) & 0x7FFFFFFF) % partitions
