"""Errors of the migration package (one base, so callers can catch the family)."""

from __future__ import annotations


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


class MetricsPortError(MigrationError):
    """The metrics endpoint cannot listen on its port (usually: another master or worker has it)."""
