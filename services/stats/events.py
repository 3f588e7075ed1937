"""What the stats consumer accepts from ``vitalsync.events.v1``: the envelope of shared/events, checked
strictly enough that a valid event can always be written (ids and names fit their columns).

Parsing is pure. A record that is not JSON, has an unknown type or lacks a field raises
:class:`EventRejectedError` with a reason that names fields but never echoes values (events carry
health data, and the reason travels to logs and the dead-letter topic).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, field_validator

from services.stats.errors import EventRejectedError
from shared.events.envelope import EventType

AsciiId = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=r"^[\x21-\x7e]+$")]
EventId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
Region = Annotated[str, StringConstraints(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9_-]+$")]
ReadingType = Annotated[str, StringConstraints(min_length=1, max_length=24, pattern=r"^[a-z0-9_]+$")]
Model = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Firmware = Annotated[str, StringConstraints(max_length=64)]

HANDLED_TYPES = ("reading.created", "device.paired", "device.unpaired")
# Known types without a stats effect: acknowledged and skipped (no write, no dead letter).
IGNORED_TYPES: tuple[str, ...] = tuple(t for t in get_args(EventType) if t not in HANDLED_TYPES)
NO_DEVICE = ""  # device_id of readings taken without a paired device
NO_DEVICE_MODEL = "(no device)"  # their model in the aggregates


def utc_naive(moment: datetime) -> datetime:
    """Naive UTC, as the database stores it; a naive input is taken to be UTC already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def key_text(value: str) -> str:
    """A grouping key as the database compares it: PAD SPACE collations ignore trailing spaces."""
    return value.rstrip(" ")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ReadingCreatedData(_Strict):
    reading_id: int
    device_id: AsciiId | None
    type: ReadingType
    measured_at: datetime
    primary_value: float | None = None

    _utc = field_validator("measured_at")(utc_naive)


class DevicePairedData(_Strict):
    device_id: AsciiId
    kind: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    model: Model
    firmware: Firmware | None = None


class DeviceUnpairedData(_Strict):
    device_id: AsciiId


class _Envelope(_Strict):
    id: EventId
    occurred_at: datetime
    user_id: AsciiId
    region: Region

    _utc = field_validator("occurred_at")(utc_naive)

    @field_validator("region")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


class ReadingCreated(_Envelope):
    type: Literal["reading.created"]
    data: ReadingCreatedData


class DevicePaired(_Envelope):
    type: Literal["device.paired"]
    data: DevicePairedData


class DeviceUnpaired(_Envelope):
    type: Literal["device.unpaired"]
    data: DeviceUnpairedData


class IgnoredEvent(_Envelope):
    type: Literal["settings.changed", "user.registered", "user.migrated"]
    data: dict[str, Any] = Field(default_factory=dict)


StatsEvent = ReadingCreated | DevicePaired | DeviceUnpaired | IgnoredEvent
_ADAPTER: TypeAdapter[StatsEvent] = TypeAdapter(Annotated[StatsEvent, Field(discriminator="type")])
_MAX_REASONS = 3


def parse_event(value: bytes | None) -> StatsEvent:
    """The typed event in a record's value, or :class:`EventRejectedError` saying what is wrong."""
    if not value:
        raise EventRejectedError("empty record value")
    try:
        return _ADAPTER.validate_json(value)
    except ValidationError as exc:
        raise EventRejectedError(_reason(exc)) from None


def _reason(exc: ValidationError) -> str:
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    if first["type"] == "json_invalid":
        return "invalid JSON"
    if first["type"] == "union_tag_invalid":
        return "unknown event type"
    if first["type"] == "union_tag_not_found":
        return "missing field type"
    parts = []
    for error in errors[:_MAX_REASONS]:
        # the first location element is the union tag (the event type); the rest is the field path
        where = ".".join(str(p) for p in error["loc"][1:]) or "(event)"
        parts.append(f"missing field {where}" if error["type"] == "missing" else f"{where}: {error['msg']}")
    more = f" (+{len(errors) - _MAX_REASONS} more)" if len(errors) > _MAX_REASONS else ""
    return "; ".join(parts) + more


def event_id_hint(value: bytes | None) -> str | None:
    """The envelope id of a rejected record if one can be read, for logs and DLQ headers."""
    if not value:
        return None
    try:
        loaded = _ID_ONLY.validate_json(value)
    except ValidationError:
        return None
    return loaded.id


class _IdOnly(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: EventId


_ID_ONLY = TypeAdapter(_IdOnly)
