"""Errors of the migration package (one base, so callers can catch the family)."""

from __future__ import annotations

import pymysql

# migration_failures patterns of the pipeline itself, beside the transform's (FailurePattern)
MALFORMED_RECORD = "MALFORMED_RECORD"  # master: an export record that does not parse (no raw row)
UNREADABLE_MESSAGE = "UNREADABLE_MESSAGE"  # worker: a queue message that does not parse (no raw row)
RAW_ROW_MISSING = "RAW_ROW_MISSING"  # worker: a message names an object raw_kii_objects does not hold
DATABASE_REJECTED = "DATABASE_REJECTED"  # worker: MariaDB refused a value (DataError, IntegrityError)
PROCESSING_ERROR = "PROCESSING_ERROR"  # worker: anything else that failed on the message's last receive
PIPELINE_PATTERNS = (MALFORMED_RECORD, UNREADABLE_MESSAGE, RAW_ROW_MISSING, DATABASE_REJECTED, PROCESSING_ERROR)

# a transaction that lost a deadlock, or waited too long for a lock, is rolled back and tried again
LOCK_CONFLICT_CODES = frozenset({1213, 1205})  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
LOCK_CONFLICT_RETRIES = 5


def lock_conflict(error: BaseException) -> bool:
    """The database gave up on the transaction over locks: retrying it is safe and usually succeeds."""
    return isinstance(error, pymysql.err.OperationalError) and bool(error.args) and error.args[0] in LOCK_CONFLICT_CODES


class MigrationError(Exception):
    """Base of every error the migration raises."""


class RecordFormatError(MigrationError, ValueError):
    """An export record or queue message that does not have the documented shape."""


class RawRowMissingError(MigrationError):
    """A queue message names an object that raw_kii_objects does not hold (a foreign or corrupt message)."""


class NotInitialisedError(MigrationError):
    """Change capture has no starting offsets: load the snapshot first (it writes them)."""


class QueueNotFoundError(MigrationError):
    """The configured SQS queue does not exist."""


class KafkaUnavailableError(MigrationError):
    """The Kafka cluster cannot be reached (the message names the bootstrap servers and the fix)."""

    def __init__(self, bootstrap: str, error: BaseException) -> None:
        super().__init__(
            f"cannot reach Kafka at {bootstrap} ({error}); start it with `vitalsync stack up` or set "
            "VITALSYNC_KAFKA_BOOTSTRAP"
        )


class TopicMissingError(MigrationError):
    """The configured export topic does not exist on the broker."""

    def __init__(self, error: LookupError) -> None:
        super().__init__(f"{error}: set VITALSYNC_MIGRATION_TOPIC to the legacy export topic")


class QueueUnavailableError(MigrationError):
    """SQS cannot be reached (no endpoint, no credentials) to look up the configured queue."""


class MetricsPortError(MigrationError):
    """The metrics endpoint cannot listen on its port (usually: another master or worker has it)."""
