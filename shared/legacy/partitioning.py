"""Kafka's default partitioner for keyed records: ``toPositive(murmur2(key)) % partitions``.

murmur2 as org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c), so offsets computed here
agree with a topic that a real producer (Java, or aiokafka's DefaultPartitioner) fills with the same
keys. The legacy export emulator places records with it and the validator reconstructs offsets with it.
"""

from __future__ import annotations

import struct

DEFAULT_PARTITIONS = 6
_MASK_32 = 0xFFFFFFFF
_M = 0x5BD1E995
_R = 24
_SEED = 0x9747B28C


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of data, as the signed 32-bit int Java's Utils.murmur2 returns."""
    length = len(data)
    h = (_SEED ^ length) & _MASK_32
    whole = length - length % 4
    # one unpack of all whole 4-byte words (little-endian, as Java reads them) instead of a slice each
    for k in struct.unpack(f"<{whole // 4}I", data[:whole]):
        k = (k * _M) & _MASK_32
        k ^= k >> _R
        k = (k * _M) & _MASK_32
        h = ((h * _M) & _MASK_32) ^ k
    tail = length % 4
    if tail:
        # Java's switch falls through from case 3 to case 1; bytes are signed there, but the masks
        # `& 0xff` make them unsigned before shifting, as here.
        if tail == 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * _M) & _MASK_32
    h ^= h >> 13
    h = (h * _M) & _MASK_32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key: bytes, partitions: int = DEFAULT_PARTITIONS) -> int:
    """The partition Kafka's default partitioner gives a keyed record: toPositive(murmur2) % partitions."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    return (murmur2(key) & 0x7FFFFFFF) % partitions
