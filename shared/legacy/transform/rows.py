"""What a transform produces: processed rows (one dataclass per table), a failure, or a delete target.

Rows carry exactly the columns of infra/db/migrations/0001_initial_schema.sql that a writer sets,
with datetimes as timezone-aware UTC (the database stores them as UTC DATETIME(6)). The one column
left out is `readings.id`, an AUTO_INCREMENT: a reading's identity is (user_id, client_id), the table's
unique key, so a writer inserting with ON DUPLICATE KEY never duplicates a reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from shared.protocol.readings import (
    PRIMARY_FIELD,
    BloodPressureReading,
    GlucoseReading,
    TemperatureReading,
    WeightReading,
    original_values,
)

ProtocolReading = BloodPressureReading | WeightReading | TemperatureReading | GlucoseReading


class FailurePattern(StrEnum):
    """Why a legacy object did not become rows; the validation report groups failures by these."""

    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"  # zero, null, not a number, before 2000 or > 1 day after upload
    UNKNOWN_UNIT = "UNKNOWN_UNIT"  # a unit the protocol does not know (the protocol's INVALID_UNIT)
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"  # outside the protocol's plausibility ranges
    SPECIAL_VALUE = "SPECIAL_VALUE"  # NaN, NRes, +/-INFINITY
    MISSING_FIELD = "MISSING_FIELD"  # a field the target needs is absent or null (a null time: INVALID_TIMESTAMP)
    ORPHAN_OWNER = "ORPHAN_OWNER"  # the owning user is not known (account deleted, not imported)
    UNKNOWN_DEVICE = "UNKNOWN_DEVICE"  # settings whose device is not known (a reading keeps device_id NULL)
    OBJECT_TOO_LARGE = "OBJECT_TOO_LARGE"  # compact JSON over Kii's 65534 characters
    UNMAPPED_BUCKET = "UNMAPPED_BUCKET"  # no mapping entry for this scope type and bucket
    MALFORMED_OBJECT = "MALFORMED_OBJECT"  # wrong shape or type (not a number, not a string, bad record)


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A `devices` row."""

    id: str
    user_id: str
    kind: str
    model: str
    serial: str
    firmware: str | None
    name: str | None
    ble_address: str | None
    paired_at: datetime
    unpaired_at: datetime | None
    last_seen_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReadingRow:
    """A `readings` row (without the AUTO_INCREMENT id); see `reading_values_document` for the JSON."""

    user_id: str
    device_id: str | None
    type: str
    client_id: str
    measured_at: datetime
    primary_value: float | None
    original_unit: str | None
    reading_values: dict[str, Any]
    source: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SettingsRow:
    """A `device_settings` row."""

    device_id: str
    user_id: str
    version: int
    document: dict[str, Any]
    updated_at: datetime


Row = DeviceRow | ReadingRow | SettingsRow


@dataclass(frozen=True, slots=True)
class TransformWarning:
    """Something worth counting that did not stop the rows (e.g. a reading kept without its device)."""

    pattern: FailurePattern
    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class TransformFailure:
    """A legacy object that cannot become rows: its key ("" when unreadable), the pattern, the field, why."""

    key: str
    pattern: FailurePattern
    field: str | None
    message: str


@dataclass(frozen=True, slots=True)
class Transformed:
    """The rows of one legacy object (none for an ignored bucket).

    `thing_id` is the Kii thing a device row stands for, so a resolver can answer `thing_device` for
    the settings in that thing's scope (the devices table has no column for it).
    """

    key: str
    rows: tuple[Row, ...]
    warnings: tuple[TransformWarning, ...] = ()
    thing_id: str | None = None


TransformResult = Transformed | TransformFailure


@dataclass(frozen=True, slots=True)
class DeleteTarget:
    """The row a DELETE record removes: the table and its key columns.

    `action` is "unpair" for devices: readings reference the device (foreign key) and stay the
    user's, so the writer sets `unpaired_at = deleted_at` instead of deleting the row.
    """

    key: str
    table: Literal["devices", "readings", "device_settings"]
    row_key: dict[str, str]
    action: Literal["delete", "unpair"]
    deleted_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A DELETE in a bucket the mapping ignores: nothing to remove."""

    key: str
    reason: str = "the mapping ignores this bucket"


DeleteResult = DeleteTarget | Ignored | TransformFailure


def reading_values_document(reading: ProtocolReading, legacy: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `readings.reading_values` JSON: canonical values, the original ones beside them, legacy extras.

    Layout: the protocol's canonical values at the top level (so queries read `$.systolic`), then
    ``original``: the values as the client (or the old app) gave them, in protocol field names and the
    original unit (DESIGN section 5), and, for migrated objects, ``legacy``: the old app's fields
    that have no protocol value (device serial, body fat, meal timing, notes...), kept verbatim.
    """
    document: dict[str, Any] = dict(reading.values.canonical_values)
    document["original"] = original_values(reading.values)
    if legacy:
        document["legacy"] = legacy
    return document


def reading_row(
    reading: ProtocolReading,
    *,
    user_id: str,
    device_id: str | None,
    source: str,
    created_at: datetime,
    legacy: dict[str, Any] | None = None,
) -> ReadingRow:
    """The `readings` row of a reading the protocol validated (sync and migration write alike)."""
    document = reading_values_document(reading, legacy)
    primary = document[PRIMARY_FIELD[reading.type]]
    return ReadingRow(
        user_id=user_id,
        device_id=device_id,
        type=reading.type,
        client_id=reading.client_id,
        measured_at=reading.measured_at,
        primary_value=None if primary is None else float(primary),
        original_unit=str(reading.values.unit),
        reading_values=document,
        source=source,
        created_at=created_at,
    )
