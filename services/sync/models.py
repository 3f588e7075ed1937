"""Request and response bodies of the sync endpoints (DESIGN section 5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

DeviceKind = Literal["blood_pressure", "weight", "body_temperature", "blood_glucose"]
Text64 = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\x20-\x7e]+$")]
BleAddress = Annotated[str, StringConstraints(pattern=r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$")]
MAX_BATCH_ITEMS = 500


class Strict(BaseModel):
    # unknown fields are rejected (documented in docs/decisions.md): a typo must not lose data silently
    model_config = ConfigDict(extra="forbid")


class PairDeviceRequest(Strict):
    kind: DeviceKind
    model: Text64
    serial: Text64
    firmware: Text64 | None = None
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    ble_address: BleAddress | None = None


class UpdateDeviceRequest(Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    firmware: Text64 | None = None
    ble_address: BleAddress | None = None


class DeviceResponse(BaseModel):
    id: str
    kind: str
    model: str
    serial: str
    firmware: str | None
    name: str | None
    ble_address: str | None
    paired_at: str
    unpaired_at: str | None
    last_seen_at: str | None


class DeviceListResponse(BaseModel):
    devices: list[DeviceResponse]


class ReadingsBatchRequest(Strict):
    device_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    # items stay raw here: each is validated on its own so one bad item cannot sink the batch
    readings: list[Any] = Field(min_length=1)


class ReadingResult(BaseModel):
    client_id: str | None
    status: Literal["accepted", "duplicate", "rejected"]
    id: int | None = None
    error: dict[str, Any] | None = None


class ReadingsBatchResponse(BaseModel):
    results: list[ReadingResult]


class ReadingResponse(BaseModel):
    id: int
    client_id: str
    device_id: str | None
    type: str
    measured_at: str
    values: dict[str, Any]
    original_unit: str | None
    source: str


class ReadingsPage(BaseModel):
    readings: list[ReadingResponse]
    next_cursor: str | None


class SettingsDocument(BaseModel):
    device_id: str
    version: int
    settings: dict[str, Any]


class PutSettingsRequest(Strict):
    settings: dict[str, Any]


class Change(BaseModel):
    cursor: str
    entity: Literal["device", "reading", "settings"]
    id: str
    op: Literal["upsert", "delete"]
    changed_at: str
    data: dict[str, Any] | None


class ChangesPage(BaseModel):
    changes: list[Change]
    next_cursor: str
    has_more: bool
