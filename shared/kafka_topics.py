"""What the broker says about a topic: its partitions and their end offsets.

Asked of the broker, never of a consumer's metadata: `AIOKafkaConsumer.partitions_for_topic` answers
from the topics the consumer subscribed to, so for a topic it only assigns or inspects it is None
(`topics()` fetches the cluster's metadata into a copy it returns, not into the consumer). Read that way,
a status saw no partitions and reported a lag of 0 whatever the backlog.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class TopicNotFoundError(LookupError):
    """The broker has no such topic (the message names it and the broker)."""


async def topic_partitions(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition numbers, in order; KafkaError when the broker cannot be reached."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = described[0].get("partitions") if described else None
    if not found or described[0].get("error_code"):
        raise TopicNotFoundError(f"topic {topic} does not exist on {bootstrap}")
    return sorted(int(partition["partition"]) for partition in found)


async def end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> the offset the next record there will take; KafkaError when the broker cannot be reached."""
    partitions = await topic_partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        await consumer.start()
        ends = await consumer.end_offsets([TopicPartition(topic, partition) for partition in partitions])
    finally:
        await consumer.stop()
    return {tp.partition: int(offset) for tp, offset in ends.items()}
