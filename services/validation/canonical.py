"""One canonical text per processed row, computed alike in Python (expected rows) and in SQL (the table).

The validator compares tens of millions of rows without moving them: both sides reduce each row to
``CRC32(canonical text)`` and sum those per key segment; only segments whose (count, sum) differ are
looked at closer (services/validation/README.md, "Checksums"). The canonical text is the compared
columns joined by U+001F, each column written so that MariaDB 10.11 and MySQL 8 produce the same
characters Python does:

- text: as stored; NULL is ``NULL_TEXT`` for every kind;
- datetime: ``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC, as the services store it);
- float: micro-units, ``FLOOR(v * 1000000 + 0.5)`` (a difference under 1e-6 is no difference);
- int: decimal digits;
- json: per `JsonEncoding`: the stored text, or a normal form, depending on how the writer
  serialised documents (the validator probes that on the live table, see `pick_encoding`).

A checksum is a filter, not the judge: rows whose checksums differ are fetched and compared value by
value (`services.validation.diff`), so an encoding that does not match the writer's only costs time.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from services.validation.json_encodings import JsonEncoding
from shared.legacy.transform import DeviceRow, ReadingRow, Row, SettingsRow

NULL_TEXT = "~NULL~"
FIELD_SEPARATOR = "\x1f"
MICRO = 1_000_000
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"
# MySQL's DATE_FORMAT spelling of DATETIME_FORMAT ('%' doubled: every query runs with parameters).
_SQL_DATETIME_FORMAT = "'%%Y-%%m-%%d %%H:%%i:%%s.%%f'"
_SQL_NULL = f"'{NULL_TEXT}'"

ColumnKind = Literal["text", "datetime", "float", "int", "json"]


@dataclass(frozen=True, slots=True)
class Column:
    """A compared column and how its value is written canonically."""

    name: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A processed table as the validator compares it: key (user_id, key_column), columns, type label."""

    name: str
    key_column: str
    type_column: str | None
    type_label: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        """The column called name."""
        return next(column for column in self.columns if column.name == name)


# The compared columns (DESIGN section 7). Left out on purpose: readings.id (AUTO_INCREMENT) and
# created_at, devices.created_at/updated_at/last_seen_at and device_settings.updated_at: bookkeeping the
# database or later sync traffic sets, not data the legacy platform had.
READINGS = TableSpec(
    "readings",
    "client_id",
    "type",
    "reading",
    (
        Column("user_id", "text"),
        Column("client_id", "text"),
        Column("device_id", "text"),
        Column("type", "text"),
        Column("measured_at", "datetime"),
        Column("primary_value", "float"),
        Column("original_unit", "text"),
        Column("reading_values", "json"),
        Column("source", "text"),
    ),
)
DEVICES = TableSpec(
    "devices",
    "id",
    None,
    "device",
    (
        Column("id", "text"),
        Column("user_id", "text"),
        Column("kind", "text"),
        Column("model", "text"),
        Column("serial", "text"),
        Column("firmware", "text"),
        Column("name", "text"),
        Column("ble_address", "text"),
        Column("paired_at", "datetime"),
        Column("unpaired_at", "datetime"),
    ),
)
DEVICE_SETTINGS = TableSpec(
    "device_settings",
    "device_id",
    None,
    "device_settings",
    (
        Column("device_id", "text"),
        Column("user_id", "text"),
        Column("version", "int"),
        Column("document", "json"),
    ),
)
TABLES: Mapping[str, TableSpec] = {spec.name: spec for spec in (READINGS, DEVICES, DEVICE_SETTINGS)}


def datetime_text(moment: datetime | None) -> str | None:
    """A datetime as the canonical UTC text (naive values are UTC already, as aiomysql returns them)."""
    if moment is None:
        return None
    if moment.tzinfo is not None:
        if moment.tzinfo is not UTC:
            moment = moment.astimezone(UTC)
        moment = moment.replace(tzinfo=None)
    return moment.isoformat(" ", "microseconds")  # == strftime(DATETIME_FORMAT), faster


def row_values(row: Row) -> tuple[TableSpec, dict[str, Any]]:
    """The table of a transformed row and its compared values (datetimes as canonical text)."""
    if isinstance(row, ReadingRow):
        return READINGS, {
            "user_id": row.user_id,
            "client_id": row.client_id,
            "device_id": row.device_id,
            "type": row.type,
            "measured_at": datetime_text(row.measured_at),
            "primary_value": row.primary_value,
            "original_unit": row.original_unit,
            "reading_values": row.reading_values,
            "source": row.source,
        }
    if isinstance(row, DeviceRow):
        return DEVICES, {
            "id": row.id,
            "user_id": row.user_id,
            "kind": row.kind,
            "model": row.model,
            "serial": row.serial,
            "firmware": row.firmware,
            "name": row.name,
            "ble_address": row.ble_address,
            "paired_at": datetime_text(row.paired_at),
            "unpaired_at": datetime_text(row.unpaired_at),
        }
    if isinstance(row, SettingsRow):
        return DEVICE_SETTINGS, {
            "device_id": row.device_id,
            "user_id": row.user_id,
            "version": row.version,
            "document": row.document,
        }
    raise TypeError(f"not a processed row: {type(row).__name__}")


def db_values(spec: TableSpec, row: Sequence[Any]) -> dict[str, Any]:
    """The compared values of a database row selected as `select_columns(spec)` (JSON parsed)."""
    values: dict[str, Any] = {}
    for column, value in zip(spec.columns, row, strict=True):
        if value is None:
            values[column.name] = None
        elif column.kind == "datetime":
            values[column.name] = datetime_text(value)
        elif column.kind == "json":
            values[column.name] = json.loads(value) if isinstance(value, str | bytes) else value
        elif column.kind == "float":
            values[column.name] = float(value)
        elif column.kind == "int":
            values[column.name] = int(value)
        else:
            values[column.name] = value.decode() if isinstance(value, bytes) else str(value)
    return values


def micro_units(value: float) -> int:
    """A float as whole micro-units, rounded half up exactly as the SQL side does it."""
    return math.floor(value * MICRO + 0.5)


# --- canonical text and checksums -----------------------------------------------------------------


def canonical_text(spec: TableSpec, values: Mapping[str, Any], encoding: JsonEncoding) -> str:
    """The row's canonical text: each compared column written canonically, joined by U+001F."""
    parts: list[str] = []
    for column in spec.columns:
        value = values[column.name]
        if value is None:
            parts.append(NULL_TEXT)
        elif column.kind == "json":
            parts.append(encoding.python(value))
        elif column.kind == "float":
            parts.append(str(micro_units(value)))
        elif column.kind == "int":
            parts.append(str(int(value)))
        else:
            parts.append(value)
    return FIELD_SEPARATOR.join(parts)


def reversible(spec: TableSpec, values: Mapping[str, Any], text: str) -> bool:
    """Whether `values_from_canonical` gives the values back from text (no separator, tab or line break
    inside a value, no text that reads as NULL); JSON texts never contain raw control characters."""
    if "\t" in text or "\n" in text or text.count(FIELD_SEPARATOR) != len(spec.columns) - 1:
        return False
    return all(values[column.name] != NULL_TEXT for column in spec.columns if column.kind == "text")


def values_from_canonical(spec: TableSpec, text: str) -> dict[str, Any]:
    """The compared values a canonical text was made of (floats to the micro-unit, JSON by value)."""
    values: dict[str, Any] = {}
    for column, part in zip(spec.columns, text.split(FIELD_SEPARATOR), strict=True):
        if part == NULL_TEXT:
            values[column.name] = None
        elif column.kind == "json":
            values[column.name] = json.loads(part)
        elif column.kind == "float":
            values[column.name] = int(part) / MICRO
        elif column.kind == "int":
            values[column.name] = int(part)
        else:
            values[column.name] = part
    return values


def row_checksum(spec: TableSpec, values: Mapping[str, Any], encoding: JsonEncoding) -> int:
    """CRC32 of the canonical text's UTF-8 bytes: the same number as `checksum_sql` on the stored row."""
    return zlib.crc32(canonical_text(spec, values, encoding).encode("utf-8"))


def _column_sql(column: Column, alias: str, encoding: JsonEncoding) -> str:
    ref = f"{alias}.{column.name}"
    if column.kind == "datetime":
        expr = f"DATE_FORMAT({ref}, {_SQL_DATETIME_FORMAT})"
    elif column.kind == "float":
        expr = f"CAST(FLOOR({ref} * {MICRO} + 0.5) AS SIGNED)"
    elif column.kind == "json":
        expr = encoding.sql(ref)
    else:
        expr = ref
    # bytes, not text: ascii key columns beside utf8mb4 text would not concatenate (collations), and the
    # stored UTF-8 bytes are what Python hashes; no conversion is cheaper than CONVERT(... USING utf8mb4)
    return f"CAST(IFNULL({expr}, {_SQL_NULL}) AS BINARY)"


def checksum_sql(spec: TableSpec, encoding: JsonEncoding, alias: str = "t") -> str:
    """SQL for the row's checksum (a query using it must be run with parameters: '%' is doubled)."""
    parts = ", ".join(_column_sql(column, alias, encoding) for column in spec.columns)
    return f"CRC32(CONCAT_WS(CHAR(31), {parts}))"


def select_columns(spec: TableSpec, alias: str = "t") -> str:
    """The compared columns in spec order, for `db_values`."""
    return ", ".join(f"{alias}.{column.name}" for column in spec.columns)


def as_int(value: int | Decimal | None) -> int:
    """A SUM() result (DECIMAL, or NULL over no rows) as an int."""
    return 0 if value is None else int(value)
