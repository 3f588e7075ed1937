"""Settings of the migration processes (environment prefix ``VITALSYNC_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import CommonSettings


class MigrationSettings(CommonSettings):
    """Where the export topic and the queues are, and how big the batches are."""

    migration_topic: str = "legacy.export.v1"
    # the master's consumer group: Kafka keeps its committed offsets for tooling; the source of truth
    # for where change capture resumes is the migration_offsets table
    migration_consumer_group: str = "vitalsync-migration-master"
    migration_queue_name: str = "migration-records.fifo"
    migration_dlq_name: str = "migration-records-dlq.fifo"
    # set to skip the GetQueueUrl look-up (and to point at a queue of another account)
    migration_queue_url: str | None = None
    migration_dlq_url: str | None = None
    # the bucket mapping (default: the old VitalSync app's, shared/legacy/transform/default_mapping.yaml)
    migration_mapping_file: Path | None = None

    # master: records per poll, and a ceiling on messages waiting in the queue (sent, not yet deleted)
    # so a slow worker fleet shows up as Kafka lag instead of an ever deeper queue
    migration_poll_max_records: int = Field(default=500, ge=1)
    migration_poll_timeout_ms: int = Field(default=200, ge=1)
    migration_max_queue_depth: int = Field(default=500, ge=1)
    # master: keep collecting records for this long after the first one of a batch arrived. Fewer, fuller
    # messages (with lanes, one per lane and window) for up to this much added latency; 0: each batch is
    # what one poll returns. SQS bills per request, and moto's FIFO send slows down as its queue deepens
    migration_batch_window_ms: int = Field(default=0, ge=0, le=10_000)
    # records of one owner scope per message (one message per scope and batch, up to this many)
    migration_records_per_message: int = Field(default=50, ge=1, le=500)
    # 0: one SQS message group per owner scope (DESIGN section 8). N: owner scopes hashed onto N groups
    # ("lanes"); a message then carries the batch's records of every scope of its lane, still in topic
    # order per scope. Far fewer messages when changes are spread over many owners (the queue's cost is
    # per message), for a coarser stall: a failing record holds its lane, not only its owner.
    migration_group_lanes: int = Field(default=0, ge=0, le=100_000)
    # worker: messages per receive (SQS allows 10), receives in flight, long-poll wait, retry backoff
    migration_receive_batch: int = Field(default=10, ge=1, le=10)
    migration_worker_receivers: int = Field(default=2, ge=1)
    migration_wait_time_s: int = Field(default=1, ge=0, le=20)
    # while messages keep coming, a receiver polls without waiting and pauses this long after an empty
    # answer; it goes back to long polls once nothing came for `migration_busy_window_ms`. A long poll
    # does not always see a group freed while it waits (moto snapshots the in-flight groups when the
    # poll starts), which held a freed group's next message for up to the whole wait (README, Decisions)
    migration_busy_poll_pause_ms: int = Field(default=20, ge=1, le=1000)
    migration_busy_window_ms: int = Field(default=1000, ge=0, le=60_000)
    migration_retry_backoff_s: int = Field(default=2, ge=0, le=900)
    # snapshot: records per transaction (a checkpoint is committed with each)
    migration_snapshot_chunk: int = Field(default=2000, ge=1)
    # snapshot: rows of objects new to the database go by LOAD DATA LOCAL INFILE (services/migration/
    # inserts.py); off, or refused by the server (MySQL 8 needs local_infile=1), they go by statements
    migration_snapshot_load_data: bool = True
    # with LOAD DATA: a forked child decodes and transforms the next chunks while this process writes
    # (services/migration/preparer.py); off for a machine with one core, where the two would take turns
    migration_snapshot_preparer: bool = True

    # /metrics, /healthz and /readyz of `migrate follow` and `migrate work` (0: any free port, logged);
    # several workers on one host need one port each (`--metrics-port`)
    migration_master_port: int = Field(default=8084, ge=0, le=65535)
    migration_worker_port: int = Field(default=8085, ge=0, le=65535)
