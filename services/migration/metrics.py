"""What the master and the workers count, on the process's own registry (served on ``/metrics``).

Labels stay bounded: partitions of the export topic, outcomes and failure pattern codes; never object
keys, owner ids or message ids. Counters move only after the effect they count is durable (the
master's offsets committed, the worker's transaction committed), so a replayed batch is counted once.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# records per message: up to migration_records_per_message (at most 500)
_RECORDS_PER_MESSAGE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500)
_PROCESSING_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# change capture's target is p99 under 1 s (bench/migration_lag.py); the tail shows how far off it is
_END_TO_END_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class MasterMetrics:
    """`migrate follow`: intake per partition, what went to SQS, how far behind the topic it is."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.consumed = Counter(
            "migration_records_consumed",
            "Export records consumed and committed (raw upserted, sent to SQS, offsets stored)",
            ["partition"],
            registry=registry,
        )
        self.messages_sent = Counter(
            "migration_sqs_messages_sent", "SQS FIFO messages accepted by SQS", registry=registry
        )
        self.records_per_message = Histogram(
            "migration_records_per_message",
            "Records announced per SQS message (one owner scope of one batch)",
            buckets=_RECORDS_PER_MESSAGE_BUCKETS,
            registry=registry,
        )
        self.lag = Gauge(
            "migration_kafka_lag",
            "Records on the export topic past the committed offset (last known high watermark minus committed)",
            ["partition"],
            registry=registry,
        )
        self.last_commit = Gauge(
            "migration_last_commit_timestamp_seconds",
            "Unix time of the last offsets commit",
            registry=registry,
        )


class WorkerMetrics:
    """`migrate work`: messages in, what each record became, how long it took."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages_received = Counter(
            "migration_messages_received", "SQS messages received (redeliveries included)", registry=registry
        )
        self.applied = Counter(
            "migration_records_applied",
            "Records whose version the processed schema now reflects, by outcome (rows, ignored, deleted)",
            ["outcome"],
            registry=registry,
        )
        self.stale = Counter(
            "migration_records_stale",
            "Records skipped because their version (or a newer one) was applied already",
            registry=registry,
        )
        self.failed = Counter(
            "migration_records_failed",
            "Record processing attempts that ended in migration_failures, by pattern code",
            ["pattern"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "migration_messages_dead_lettered",
            "Messages that failed on their last receive, so SQS moves them to the DLQ",
            registry=registry,
        )
        self.processing_seconds = Histogram(
            "migration_message_processing_seconds",
            "Time from a message's decoding to the commit of its records",
            buckets=_PROCESSING_BUCKETS_S,
            registry=registry,
        )
        self.end_to_end_seconds = Histogram(
            "migration_end_to_end_lag_seconds",
            "Kafka record timestamp to the commit that processed it (change records; not snapshot or requeue)",
            buckets=_END_TO_END_BUCKETS_S,
            registry=registry,
        )
