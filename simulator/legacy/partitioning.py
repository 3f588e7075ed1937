"""Record keys and Kafka partitions of the legacy export topic.

A record's key is its object's kiicloud:// URI in UTF-8 (scope + bucket + objectID, DESIGN section 10),
and its partition is what Kafka's default partitioner picks for that key:
``toPositive(murmur2(key)) % partitions`` with Kafka's murmur2 (seed 0x9747b28c, as
org.apache.kafka.common.utils.Utils.murmur2). So the snapshot's per-partition offsets agree with a
topic that a real producer (Java, or aiokafka's DefaultPartitioner) fills with the same keys.
"""

from __future__ import annotations

from shared.legacy.partitioning import DEFAULT_PARTITIONS, murmur2, partition_for
from simulator.legacy.model import ExportRecord

__all__ = ["DEFAULT_PARTITIONS", "murmur2", "partition_for", "record_key"]


def record_key(record: ExportRecord) -> bytes:
    """The Kafka key of a record: its kiicloud:// object URI, UTF-8 encoded."""
    return record.key.encode("utf-8")
