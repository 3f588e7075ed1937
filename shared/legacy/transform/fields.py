"""Reading single legacy fields: epoch-ms timestamps, strings, bit masks, and protocol errors.

Every helper raises `FieldFailure` (pattern + legacy field + message); `transform` turns it into
the `TransformFailure` of the object. Timestamps follow the protocol's rule (shared.protocol.readings:
not before 2000, not over a day ahead), with "ahead" measured from the object's upload (`_created`)
instead of the wall clock, so the transform is pure and a replay years later decides the same.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from shared.legacy.transform.mapping import FieldSource, ReadingBucket
from shared.legacy.transform.rows import FailurePattern
from shared.protocol.readings import EARLIEST, MAX_FUTURE, PRIMARY_FIELD
from shared.protocol.units import CONVERSIONS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
BLE_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")
# The protocol's error types (pydantic error `type`) -> failure patterns; anything else is malformed.
_PROTOCOL_PATTERNS: Mapping[str, FailurePattern] = {
    "INVALID_TIMESTAMP": FailurePattern.INVALID_TIMESTAMP,
    "missing": FailurePattern.MISSING_FIELD,
    "INVALID_UNIT": FailurePattern.UNKNOWN_UNIT,
    "SPECIAL_VALUE": FailurePattern.SPECIAL_VALUE,
    "VALUE_OUT_OF_RANGE": FailurePattern.VALUE_OUT_OF_RANGE,
}
# When one reading has several faults, the report shows the first of these (stable, and the most basic).
_PRIORITY = (*_PROTOCOL_PATTERNS.values(), FailurePattern.MALFORMED_OBJECT)


class FieldFailure(Exception):
    """A legacy field that stops the object from becoming rows."""

    def __init__(self, pattern: FailurePattern, field: str | None, message: str) -> None:
        super().__init__(message)
        self.pattern = pattern
        self.field = field
        self.message = message


def from_epoch_ms(value: float) -> datetime:
    """Epoch milliseconds as an aware UTC datetime (OverflowError beyond year 1..9999)."""
    return EPOCH + value * _MS


def to_epoch_ms(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds (sub-millisecond parts dropped: Kii keeps milliseconds)."""
    return (moment - EPOCH) // _MS


def system_time(body: Mapping[str, Any], name: str) -> datetime:
    """A Kii system time field (`_created`, `_modified`): epoch ms, set by the platform."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldFailure(FailurePattern.MALFORMED_OBJECT, name, f"{name} must be epoch milliseconds")
    try:
        return from_epoch_ms(value)
    except OverflowError:
        raise FieldFailure(FailurePattern.MALFORMED_OBJECT, name, f"{name} is out of range") from None


def timestamp(body: Mapping[str, Any], name: str, *, uploaded: datetime) -> datetime:
    """An app time field in epoch ms: INVALID_TIMESTAMP when null, not a number, before 2000 or ahead."""
    if name not in body:
        raise FieldFailure(FailurePattern.MISSING_FIELD, name, f"{name} is missing")
    value = body[name]
    if value is None:
        raise FieldFailure(FailurePattern.INVALID_TIMESTAMP, name, f"{name} is null")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise FieldFailure(FailurePattern.INVALID_TIMESTAMP, name, f"{name} must be epoch milliseconds")
    try:
        moment = from_epoch_ms(value)
    except OverflowError:
        raise FieldFailure(FailurePattern.INVALID_TIMESTAMP, name, f"{name} is out of range") from None
    if moment < EARLIEST:
        raise FieldFailure(FailurePattern.INVALID_TIMESTAMP, name, f"{name} is before 2000")
    if moment > uploaded + MAX_FUTURE:
        raise FieldFailure(FailurePattern.INVALID_TIMESTAMP, name, f"{name} is more than a day after the upload")
    return moment


def text(body: Mapping[str, Any], source: FieldSource | None, *, max_length: int, required: bool) -> str | None:
    """A string field (values translated by the mapping); None when absent and optional."""
    if source is None:
        return None
    value = body.get(source.legacy)
    if value is None:
        if required:
            raise FieldFailure(FailurePattern.MISSING_FIELD, source.legacy, f"{source.legacy} is missing")
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise FieldFailure(
            FailurePattern.MALFORMED_OBJECT, source.legacy, f"{source.legacy} must be text of 1-{max_length} characters"
        )
    return source.values.get(value, value)


def flag_names(source: FieldSource, value: Any) -> list[str]:
    """An integer bit mask as the list of its names, in bit order; unknown bits are malformed."""
    assert source.flags is not None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FieldFailure(FailurePattern.MALFORMED_OBJECT, source.legacy, f"{source.legacy} must be a bit mask")
    unknown = value & ~sum(source.flags)
    if unknown:
        raise FieldFailure(
            FailurePattern.MALFORMED_OBJECT, source.legacy, f"{source.legacy} has unknown bits {unknown}"
        )
    names: list[str] = []
    for bit, name in sorted(source.flags.items()):
        if value & bit and name not in names:
            names.append(name)
    return names


def protocol_values(body: Mapping[str, Any], entry: ReadingBucket) -> dict[str, Any]:
    """The reading's values under protocol names (null counts as absent, so the protocol says MISSING)."""
    values: dict[str, Any] = {}
    for name, source in entry.fields.items():
        value = body.get(source.legacy)
        if value is None:
            continue
        if source.flags is not None:
            value = flag_names(source, value)
        elif isinstance(value, str):
            value = source.values.get(value, value)
        values[name] = value
    return values


def protocol_failure(error: ValidationError, entry: ReadingBucket, client_id_source: str) -> FieldFailure:
    """The protocol's first (by `_PRIORITY`) complaint about a reading, named by legacy field."""
    details = error.errors()

    def rank(detail: Any) -> int:
        pattern = _PROTOCOL_PATTERNS.get(detail["type"], FailurePattern.MALFORMED_OBJECT)
        return _PRIORITY.index(pattern)

    detail = min(details, key=rank)
    pattern = _PROTOCOL_PATTERNS.get(detail["type"], FailurePattern.MALFORMED_OBJECT)
    return FieldFailure(pattern, _legacy_field(detail, entry, client_id_source), detail["msg"])


def _legacy_field(detail: Any, entry: ReadingBucket, client_id_source: str) -> str | None:
    loc = [part for part in detail["loc"] if isinstance(part, str)]
    # loc is ("item", <type>, "values", <field>) or ("item", <type>, <field>); model checks stop at "values"
    name = loc[3] if len(loc) > 3 and loc[2] == "values" else (loc[2] if len(loc) == 3 else None)
    context = detail.get("ctx") or {}
    if name == "client_id":
        return client_id_source
    if name == "measured_at":
        return entry.measured_at
    if name in (None, "values"):
        if detail["type"] == "INVALID_UNIT":
            name = "height_unit" if context.get("allowed") == ", ".join(CONVERSIONS["length"]) else "unit"
        else:
            name = context.get("name") or PRIMARY_FIELD[entry.reading_type]
    source = entry.fields.get(str(name))
    return source.legacy if source is not None else str(name)
