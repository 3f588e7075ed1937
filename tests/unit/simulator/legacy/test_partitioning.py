"""Kafka's murmur2 and default partitioner, so snapshot offsets agree with a real producer's placement."""

from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from simulator.legacy.partitioning import murmur2, partition_for

# apache/kafka clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java, testMurmur2
# (commit f55581dc73953c3509a4702433aeeeddc2970779); the empty key's value is not in that test but
# is what aiokafka's port gives (it equals the seed mixed with length 0 through the finaliser).
KAFKA_VECTORS = [
    (b"21", -973932308),
    (b"foobar", -790332482),
    (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829),
    (b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    (b"abc", 479470107),
    (b"", 275646681),
]


@pytest.mark.parametrize(("key", "expected"), KAFKA_VECTORS)
def test_murmur2_matches_the_java_client(key: bytes, expected: int) -> None:
    assert murmur2(key) == expected


def test_partition_is_to_positive_modulo() -> None:
    # toPositive(-790332482) = 1357151166, and 1357151166 % 50 = 16.
    assert partition_for(b"foobar", 50) == 16
    with pytest.raises(ValueError):
        partition_for(b"x", 0)


@given(key=st.binary(min_size=1, max_size=80), partitions=st.integers(min_value=1, max_value=64))
def test_partition_matches_aiokafkas_default_partitioner(key: bytes, partitions: int) -> None:
    all_partitions = list(range(partitions))
    assert partition_for(key, partitions) == DefaultPartitioner()(key, all_partitions, all_partitions)
