"""Weight Scale Service (WSS v1.0): Weight Measurement 0x2A9D and Weight Scale Feature 0x2A9E.

Weight, BMI and height travel as unsigned integers in fixed steps (GATT Specification Supplement,
"Weight Measurement"); they are kept as those integers (``*_raw``) so a value re-encodes byte-exact,
and the properties give them in the wire unit and in kg / m.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.codes import code_json, coded
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter
from shared.ble.units import inch_to_m, lb_to_kg

# Flags (WSS "Weight Measurement", Flags field): bit 0 units, bit 1 time stamp, bit 2 user id,
# bit 3 BMI and height; bits 4-7 reserved.
_IMPERIAL = 0x01
_TIME_STAMP = 0x02
_USER_ID = 0x04
_BMI_AND_HEIGHT = 0x08
_DEFINED_FLAGS = 0x0F

_WEIGHT_UNSUCCESSFUL_RAW = 0xFFFF


class WeightUnits(enum.Enum):
    """Flags bit 0: SI (weight 0.005 kg, height 0.001 m) or imperial (0.01 lb, 0.1 in)."""

    SI = "SI"
    IMPERIAL = "imperial"


class MeasurementUnsuccessful(enum.Enum):
    """Weight 0xFFFF: the scale could not take a measurement (WSS "Weight" field); a state, not a weight."""

    MEASUREMENT_UNSUCCESSFUL = "measurement unsuccessful"


MEASUREMENT_UNSUCCESSFUL = MeasurementUnsuccessful.MEASUREMENT_UNSUCCESSFUL

# Wire steps per unit, so values come from one exact division: 0.005 kg = 1/200 kg (WSS "Weight" field).
_WEIGHT_STEPS_PER_UNIT = {WeightUnits.SI: 200, WeightUnits.IMPERIAL: 100}  # per kg / per lb
_HEIGHT_STEPS_PER_UNIT = {WeightUnits.SI: 1000, WeightUnits.IMPERIAL: 10}  # per m / per inch
_BMI_STEPS_PER_UNIT = 10


@dataclass(frozen=True, slots=True)
class WeightMeasurement:
    """Weight Measurement 0x2A9D: weight in wire steps, optional time stamp, user, BMI and height."""

    units: WeightUnits
    weight_raw: int | MeasurementUnsuccessful
    time_stamp: DateTime | None = None
    user_id: int | None = None  # 255 = unknown user
    bmi_raw: int | None = None
    height_raw: int | None = None

    NAME: ClassVar[str] = "weight"
    UUID: ClassVar[int] = 0x2A9D

    def __post_init__(self) -> None:
        weight = self.weight_raw
        if isinstance(weight, int) and not 0 <= weight < _WEIGHT_UNSUCCESSFUL_RAW:
            raise InvalidValueError(
                f"{self.NAME}.weight",
                f"invalid value {weight}",
                detail="valid: 0-65534 steps; 0xFFFF is MEASUREMENT_UNSUCCESSFUL",
            )
        if self.user_id is not None and not 0 <= self.user_id <= 0xFF:
            raise InvalidValueError(f"{self.NAME}.user_id", f"invalid value {self.user_id}")
        if (self.bmi_raw is None) != (self.height_raw is None):
            raise InvalidValueError(f"{self.NAME}.bmi", "BMI and height are sent together (flags bit 3)")
        for name, raw in (("bmi", self.bmi_raw), ("height", self.height_raw)):
            if raw is not None and not 0 <= raw <= 0xFFFF:
                raise InvalidValueError(f"{self.NAME}.{name}", f"invalid value {raw}", detail="valid: 0-65535")
        if weight is MEASUREMENT_UNSUCCESSFUL and self.bmi_raw is not None:
            # WSS "Weight" field: with an unsuccessful measurement only the time stamp and user id may follow.
            raise InvalidValueError(
                f"{self.NAME}.bmi", "BMI and height must be omitted when the measurement was unsuccessful"
            )

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> WeightMeasurement:
        """Decode a 0x2A9D value; raises BleDecodeError naming the field and byte."""
        reader = FrameReader(data, cls.NAME)
        flags = reader.u8("flags")
        reader.check_flags(flags, _DEFINED_FLAGS)
        raw = reader.u16("weight")
        weight: int | MeasurementUnsuccessful = MEASUREMENT_UNSUCCESSFUL if raw == _WEIGHT_UNSUCCESSFUL_RAW else raw
        time_stamp = DateTime.read(reader, "time_stamp") if flags & _TIME_STAMP else None
        user_id = reader.u8("user_id") if flags & _USER_ID else None
        bmi_offset = reader.offset
        bmi = reader.u16("bmi") if flags & _BMI_AND_HEIGHT else None
        height = reader.u16("height") if flags & _BMI_AND_HEIGHT else None
        reader.finish()
        units = WeightUnits.IMPERIAL if flags & _IMPERIAL else WeightUnits.SI
        args = (units, weight, time_stamp, user_id, bmi, height)
        return reader.build(cls, args, {"bmi": bmi_offset})

    def __bytes__(self) -> bytes:
        flags = (
            (_IMPERIAL if self.units is WeightUnits.IMPERIAL else 0)
            | (_TIME_STAMP if self.time_stamp is not None else 0)
            | (_USER_ID if self.user_id is not None else 0)
            | (_BMI_AND_HEIGHT if self.bmi_raw is not None else 0)
        )
        writer = FrameWriter()
        writer.u8(flags)
        weight = self.weight_raw
        writer.u16(_WEIGHT_UNSUCCESSFUL_RAW if weight is MEASUREMENT_UNSUCCESSFUL else weight)
        if self.time_stamp is not None:
            self.time_stamp.write(writer)
        if self.user_id is not None:
            writer.u8(self.user_id)
        if self.bmi_raw is not None and self.height_raw is not None:
            writer.u16(self.bmi_raw)
            writer.u16(self.height_raw)
        return writer.getvalue()

    @property
    def weight(self) -> float | None:
        """Weight in the wire unit (kg or lb); None when the measurement was unsuccessful."""
        if self.weight_raw is MEASUREMENT_UNSUCCESSFUL:
            return None
        return self.weight_raw / _WEIGHT_STEPS_PER_UNIT[self.units]

    @property
    def weight_kg(self) -> float | None:
        """Weight in kg whatever the wire unit; None when the measurement was unsuccessful."""
        weight = self.weight
        if weight is None or self.units is WeightUnits.SI:
            return weight
        return lb_to_kg(weight)

    @property
    def bmi(self) -> float | None:
        """Body mass index (0.1 steps), when sent."""
        return None if self.bmi_raw is None else self.bmi_raw / _BMI_STEPS_PER_UNIT

    @property
    def height(self) -> float | None:
        """Height in the wire unit (m or inch), when sent."""
        return None if self.height_raw is None else self.height_raw / _HEIGHT_STEPS_PER_UNIT[self.units]

    @property
    def height_m(self) -> float | None:
        """Height in metres whatever the wire unit, when sent."""
        height = self.height
        if height is None or self.units is WeightUnits.SI:
            return height
        return inch_to_m(height)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: wire values in the wire unit, plus kg and m."""
        si = self.units is WeightUnits.SI
        weight, weight_kg, height_m = self.weight, self.weight_kg, self.height_m
        unsuccessful = MEASUREMENT_UNSUCCESSFUL.value
        return {
            "units": self.units.value,
            "weight": unsuccessful if weight is None else weight,
            "weight_unit": "kg" if si else "lb",
            "weight_kg": unsuccessful if weight_kg is None else round(weight_kg, 6),
            "time_stamp": self.time_stamp.to_json() if self.time_stamp else None,
            "user_id": self.user_id,
            "bmi": self.bmi,
            "height": self.height,
            "height_unit": "m" if si else "in",
            "height_m": round(height_m, 6) if height_m is not None else None,
        }


class WeightScaleFeatures(enum.IntFlag):
    """Weight Scale Feature bits 0-2 (WSS "Weight Scale Feature")."""

    TIME_STAMP_SUPPORTED = 0x01
    MULTIPLE_USERS_SUPPORTED = 0x02
    BMI_SUPPORTED = 0x04


class WeightResolution(enum.IntEnum):
    """Weight Scale Feature bits 3-6: the scale's real granularity (the wire step stays 0.005 kg)."""

    NOT_SPECIFIED = 0
    KG_0_5_OR_LB_1 = 1
    KG_0_2_OR_LB_0_5 = 2
    KG_0_1_OR_LB_0_2 = 3
    KG_0_05_OR_LB_0_1 = 4
    KG_0_02_OR_LB_0_05 = 5
    KG_0_01_OR_LB_0_02 = 6
    KG_0_005_OR_LB_0_01 = 7


class HeightResolution(enum.IntEnum):
    """Weight Scale Feature bits 7-9: the height granularity."""

    NOT_SPECIFIED = 0
    M_0_01_OR_IN_1 = 1
    M_0_005_OR_IN_0_5 = 2
    M_0_001_OR_IN_0_1 = 3


_RESERVED_FEATURE_BITS = 0xFFFFFC00  # bits 10-31


NO_FEATURES = WeightScaleFeatures(0)


@dataclass(frozen=True, slots=True)
class WeightScaleFeature:
    """Weight Scale Feature 0x2A9E (u32): optional fields and resolutions the scale supports."""

    features: WeightScaleFeatures = NO_FEATURES
    weight_resolution: WeightResolution | int = WeightResolution.NOT_SPECIFIED
    height_resolution: HeightResolution | int = HeightResolution.NOT_SPECIFIED
    reserved_bits: int = 0

    NAME: ClassVar[str] = "weight_scale_feature"
    UUID: ClassVar[int] = 0x2A9E

    def __post_init__(self) -> None:
        for name, value, limit in (
            ("features", int(self.features), 0x07),
            ("weight_resolution", int(self.weight_resolution), 0x0F),
            ("height_resolution", int(self.height_resolution), 0x07),
        ):
            if not 0 <= value <= limit:
                raise InvalidValueError(f"{self.NAME}.{name}", f"invalid value {value}", detail=f"valid: 0-{limit}")
        if self.reserved_bits & ~_RESERVED_FEATURE_BITS:
            raise InvalidValueError(f"{self.NAME}.reserved_bits", "only bits 10-31 are reserved")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> WeightScaleFeature:
        """Decode a 0x2A9E value."""
        reader = FrameReader(data, cls.NAME)
        raw = reader.u32("features")
        reader.finish()
        return cls(
            WeightScaleFeatures(raw & 0x07),
            coded(WeightResolution, (raw >> 3) & 0x0F),
            coded(HeightResolution, (raw >> 7) & 0x07),
            raw & _RESERVED_FEATURE_BITS,
        )

    @property
    def raw(self) -> int:
        """The u32 sent on the wire."""
        return (
            int(self.features)
            | int(self.weight_resolution) << 3
            | int(self.height_resolution) << 7
            | self.reserved_bits
        )

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        writer.u32(self.raw)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "time_stamp_supported": WeightScaleFeatures.TIME_STAMP_SUPPORTED in self.features,
            "multiple_users_supported": WeightScaleFeatures.MULTIPLE_USERS_SUPPORTED in self.features,
            "bmi_supported": WeightScaleFeatures.BMI_SUPPORTED in self.features,
            "weight_resolution": code_json(self.weight_resolution),
            "height_resolution": code_json(self.height_resolution),
            "raw": f"0x{self.raw:08X}",
        }
