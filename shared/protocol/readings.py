"""Readings of the four device kinds: a discriminated union on ``type`` with plausibility ranges.

Each item of a batch is validated on its own, and a failure carries a code the client can act on
(the pydantic error *type* is that code): ``SPECIAL_VALUE`` for the BLE special values (NaN, NRes,
+/-INFINITY as the gateway forwards them) and JSON NaN, ``VALUE_OUT_OF_RANGE`` for implausible
values, ``INVALID_UNIT``, ``INVALID_TIMESTAMP`` (no UTC offset, before 2000 or over a day ahead).
Values are stored in canonical units; the original unit and values are kept beside them.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from shared.protocol.units import CONVERSIONS, to_canonical

SPECIAL_STRINGS = frozenset({"NaN", "NRes", "+INFINITY", "-INFINITY", "reserved", "Infinity", "-Infinity"})
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)  # device clocks drift; a reading from tomorrow is a broken clock
ClientId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]

# (quantity, low, high) in canonical units, inclusive: outside is VALUE_OUT_OF_RANGE
RANGES: dict[str, tuple[str, float, float]] = {
    "systolic": ("pressure", 40, 300),
    "diastolic": ("pressure", 20, 200),
    "mean_arterial": ("pressure", 30, 250),
    "pulse": ("rate", 20, 300),
    "weight": ("mass", 1, 500),
    "bmi": ("ratio", 5, 150),
    "height": ("length", 0.3, 2.8),
    "temperature": ("temperature", 25, 45),
    "glucose": ("glucose", 10, 1000),
}


class StrictModel(BaseModel):
    # unknown fields are rejected: a misspelled field would otherwise be silently lost
    model_config = ConfigDict(extra="forbid", allow_inf_nan=True)


class _Values(StrictModel):
    """Values of one reading type; ``canonical`` is computed (and checked) during validation."""

    @model_validator(mode="after")
    def _check(self) -> _Values:
        self.canonical_values  # noqa: B018 - computed here so its checks fail validation; cached after
        return self

    def canonical(self) -> dict[str, Any]:
        raise NotImplementedError

    @functools.cached_property
    def canonical_values(self) -> dict[str, Any]:
        """The values in canonical units (a cached property, not a private attribute: pydantic sets up
        private attributes on every instance, which cost more than validating the reading's numbers)."""
        return self.canonical()


def _number(value: Any, name: str) -> float:
    if isinstance(value, str) and value in SPECIAL_STRINGS:
        raise PydanticCustomError(
            "SPECIAL_VALUE", "{name} is the special value {value}", {"name": name, "value": value}
        )
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("INVALID_VALUE", "{name} must be a number", {"name": name})
    if math.isnan(value) or math.isinf(value):
        raise PydanticCustomError("SPECIAL_VALUE", "{name} is not a finite number", {"name": name})
    return float(value)


def _in_range(name: str, canonical: float, unit_label: str) -> None:
    _, low, high = RANGES[name]
    if not low <= canonical <= high:
        raise PydanticCustomError(
            "VALUE_OUT_OF_RANGE",
            "{name} {value} outside {low}-{high} {unit}",
            {"name": name, "value": round(canonical, 2), "low": low, "high": high, "unit": unit_label},
        )


def _unit(value: Any, quantity: str) -> str:
    if not isinstance(value, str) or value not in CONVERSIONS[quantity]:
        raise PydanticCustomError(
            "INVALID_UNIT", "unit must be one of {allowed}", {"allowed": ", ".join(CONVERSIONS[quantity])}
        )
    return value


class BloodPressureValues(_Values):
    systolic: Any
    diastolic: Any
    mean_arterial: Any = None
    pulse: Any = None
    unit: Any = "mmHg"
    status: list[
        Literal["body_movement", "cuff_fit_loose", "irregular_pulse", "pulse_rate_out_of_range", "improper_position"]
    ] = Field(default_factory=list, max_length=8)
    user_slot: int | None = Field(default=None, ge=0, le=255)

    def canonical(self) -> dict[str, Any]:
        unit = _unit(self.unit, "pressure")
        out: dict[str, Any] = {"unit": "mmHg", "status": self.status, "user_slot": self.user_slot}
        for name in ("systolic", "diastolic", "mean_arterial"):
            raw = getattr(self, name)
            if raw is None and name == "mean_arterial":
                out[name] = None
                continue
            value = to_canonical("pressure", unit, _number(raw, name))
            _in_range(name, value, "mmHg")
            out[name] = round(value, 1)
        if out["systolic"] <= out["diastolic"]:
            raise PydanticCustomError("VALUE_OUT_OF_RANGE", "systolic must be above diastolic")
        if self.pulse is not None:
            pulse = _number(self.pulse, "pulse")
            _in_range("pulse", pulse, "bpm")
            out["pulse"] = pulse
        else:
            out["pulse"] = None
        return out


class WeightValues(_Values):
    weight: Any
    unit: Any = "kg"
    bmi: Any = None
    height: Any = None
    height_unit: Any = "m"
    user_slot: int | None = Field(default=None, ge=0, le=255)

    def canonical(self) -> dict[str, Any]:
        weight = to_canonical("mass", _unit(self.unit, "mass"), _number(self.weight, "weight"))
        _in_range("weight", weight, "kg")
        out: dict[str, Any] = {
            "weight": round(weight, 3),
            "unit": "kg",
            "user_slot": self.user_slot,
            "bmi": None,
            "height": None,
        }
        if self.bmi is not None:
            bmi = _number(self.bmi, "bmi")
            _in_range("bmi", bmi, "kg/m2")
            out["bmi"] = bmi
        if self.height is not None:
            height = to_canonical("length", _unit(self.height_unit, "length"), _number(self.height, "height"))
            _in_range("height", height, "m")
            out["height"] = round(height, 3)
        return out


class TemperatureValues(_Values):
    temperature: Any
    unit: Any = "C"
    site: Literal["armpit", "body", "ear", "finger", "gastro", "mouth", "rectum", "toe", "tympanum"] | None = None

    def canonical(self) -> dict[str, Any]:
        value = to_canonical("temperature", _unit(self.unit, "temperature"), _number(self.temperature, "temperature"))
        _in_range("temperature", value, "C")
        return {"temperature": round(value, 2), "unit": "C", "site": self.site}


class GlucoseValues(_Values):
    glucose: Any
    unit: Any = "mg/dL"
    sample_type: str | None = Field(default=None, max_length=40)
    location: str | None = Field(default=None, max_length=40)
    sensor_status: list[str] = Field(default_factory=list, max_length=16)
    sequence_number: int | None = Field(default=None, ge=0, le=65535)

    def canonical(self) -> dict[str, Any]:
        value = to_canonical("glucose", _unit(self.unit, "glucose"), _number(self.glucose, "glucose"))
        _in_range("glucose", value, "mg/dL")
        return {
            "glucose": round(value, 1),
            "unit": "mg/dL",
            "sample_type": self.sample_type,
            "location": self.location,
            "sensor_status": self.sensor_status,
            "sequence_number": self.sequence_number,
        }


PRIMARY_FIELD = {
    "blood_pressure": "systolic",
    "weight": "weight",
    "body_temperature": "temperature",
    "blood_glucose": "glucose",
}


class _ReadingBase(StrictModel):
    client_id: ClientId
    measured_at: datetime

    @field_validator("measured_at", mode="before")
    @classmethod
    def _offset_required(cls, value: Any) -> Any:
        if isinstance(value, str) and not (
            value.endswith("Z") or value.endswith("z") or "+" in value[10:] or "-" in value[10:]
        ):
            raise PydanticCustomError("INVALID_TIMESTAMP", "measured_at must carry a UTC offset (e.g. +09:00 or Z)")
        return value

    @field_validator("measured_at")
    @classmethod
    def _plausible_time(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise PydanticCustomError("INVALID_TIMESTAMP", "measured_at must carry a UTC offset (e.g. +09:00 or Z)")
        utc = value.astimezone(UTC)
        if utc < EARLIEST or utc > datetime.now(UTC) + MAX_FUTURE:
            raise PydanticCustomError("INVALID_TIMESTAMP", "measured_at is before 2000 or more than a day ahead")
        return utc


class BloodPressureReading(_ReadingBase):
    type: Literal["blood_pressure"]
    values: BloodPressureValues


class WeightReading(_ReadingBase):
    type: Literal["weight"]
    values: WeightValues


class TemperatureReading(_ReadingBase):
    type: Literal["body_temperature"]
    values: TemperatureValues


class GlucoseReading(_ReadingBase):
    type: Literal["blood_glucose"]
    values: GlucoseValues


ReadingIn = Annotated[
    BloodPressureReading | WeightReading | TemperatureReading | GlucoseReading, Field(discriminator="type")
]
READING_TYPES = tuple(PRIMARY_FIELD)


def original_values(values: BaseModel) -> dict[str, Any]:
    """What the client sent, kept beside the canonical values (DESIGN section 5)."""
    return values.model_dump(exclude_none=True)


class Reading(BaseModel):
    """Wrapper so one item validates against the union (``Reading.model_validate({"item": ...})``)."""

    item: ReadingIn
