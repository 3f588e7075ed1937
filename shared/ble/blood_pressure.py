"""Blood Pressure Service (BLS v1.1.1): Measurement 0x2A35, Intermediate Cuff Pressure 0x2A36, Feature 0x2A49.

0x2A35 and 0x2A36 share one layout (BLS v1.1.1 "Blood Pressure Measurement" and "Intermediate Cuff
Pressure"; GATT Specification Supplement, same names):
``flags u8 | 3 x SFLOAT | [Date Time] | [pulse rate SFLOAT] | [user id u8] | [measurement status u16]``.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.codes import FeatureBits, code_json
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter, Layout
from shared.ble.ieee11073 import SFloatValue, Special, decode_sfloat, json_converted, json_number
from shared.ble.units import kpa_to_mmhg

# Flags (BLS "Blood Pressure Measurement", Flags field): bit 0 unit, then one bit per optional field in
# wire order; bits 5-7 reserved.
_KPA = 0x01
_TIME_STAMP = 0x02
_PULSE_RATE = 0x04
_USER_ID = 0x08
_STATUS = 0x10
_DEFINED_FLAGS = 0x1F

_HEAD = Layout(("flags", "B"), ("systolic", "H"), ("diastolic", "H"), ("mean_arterial_pressure", "H"))


class PressureUnit(enum.Enum):
    """Flags bit 0: the unit of the three pressure fields."""

    MMHG = "mmHg"
    KPA = "kPa"


_TO_MMHG = {PressureUnit.MMHG: None, PressureUnit.KPA: kpa_to_mmhg}


class PulseRateRange(enum.IntEnum):
    """Measurement Status bits 3-4 (BLS "Measurement Status" field); 3 is reserved for future use."""

    WITHIN_RANGE = 0
    EXCEEDS_UPPER_LIMIT = 1
    BELOW_LOWER_LIMIT = 2
    RESERVED = 3


@dataclass(frozen=True, slots=True)
class MeasurementStatus:
    """Measurement Status u16 (BLS, same name); reserved bits 6-15 stay in ``reserved_bits``."""

    body_movement: bool = False
    cuff_too_loose: bool = False
    irregular_pulse: bool = False
    pulse_rate_range: PulseRateRange = PulseRateRange.WITHIN_RANGE
    improper_measurement_position: bool = False
    reserved_bits: int = 0

    def __post_init__(self) -> None:
        if self.reserved_bits & ~0xFFC0:
            raise InvalidValueError(
                "measurement_status.reserved_bits",
                f"invalid value 0x{self.reserved_bits:X}",
                detail="only bits 6-15 are reserved",
            )

    @staticmethod
    @functools.cache  # 65,536 possible codes, immutable values: decode each once
    def from_raw(raw: int) -> MeasurementStatus:
        """The status of a raw u16."""
        return MeasurementStatus(
            body_movement=bool(raw & 0x01),
            cuff_too_loose=bool(raw & 0x02),
            irregular_pulse=bool(raw & 0x04),
            pulse_rate_range=PulseRateRange((raw >> 3) & 0x03),
            improper_measurement_position=bool(raw & 0x20),
            reserved_bits=raw & 0xFFC0,
        )

    @property
    def raw(self) -> int:
        """The u16 sent on the wire."""
        return (
            self.body_movement
            | self.cuff_too_loose << 1
            | self.irregular_pulse << 2
            | self.pulse_rate_range << 3
            | self.improper_measurement_position << 5
            | self.reserved_bits
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "body_movement": self.body_movement,
            "cuff_too_loose": self.cuff_too_loose,
            "irregular_pulse": self.irregular_pulse,
            "pulse_rate_range": code_json(self.pulse_rate_range),
            "improper_measurement_position": self.improper_measurement_position,
            "raw": f"0x{self.raw:04X}",
        }


_Fields = tuple[
    PressureUnit,
    SFloatValue,
    SFloatValue,
    SFloatValue,
    DateTime | None,
    SFloatValue | None,
    int | None,
    MeasurementStatus | None,
]


def _read(reader: FrameReader) -> _Fields:
    """All fields of a 0x2A35/0x2A36 frame, in the field order of :class:`BloodPressureMeasurement`."""
    flags, first, second, third = reader.fields(_HEAD)
    reader.check_flags(flags, _DEFINED_FLAGS)
    time_stamp = DateTime.read(reader, "time_stamp") if flags & _TIME_STAMP else None
    pulse_rate = reader.sfloat("pulse_rate") if flags & _PULSE_RATE else None
    user_id = reader.u8("user_id") if flags & _USER_ID else None
    status = MeasurementStatus.from_raw(reader.u16("measurement_status")) if flags & _STATUS else None
    reader.finish()
    unit = PressureUnit.KPA if flags & _KPA else PressureUnit.MMHG
    return (
        unit,
        decode_sfloat(first),
        decode_sfloat(second),
        decode_sfloat(third),
        time_stamp,
        pulse_rate,
        user_id,
        status,
    )


def _write(fields: _Fields) -> bytes:
    unit, first, second, third, time_stamp, pulse_rate, user_id, status = fields
    flags = (
        (_KPA if unit is PressureUnit.KPA else 0)
        | (_TIME_STAMP if time_stamp is not None else 0)
        | (_PULSE_RATE if pulse_rate is not None else 0)
        | (_USER_ID if user_id is not None else 0)
        | (_STATUS if status is not None else 0)
    )
    writer = FrameWriter()
    writer.u8(flags)
    writer.sfloat(first)
    writer.sfloat(second)
    writer.sfloat(third)
    if time_stamp is not None:
        time_stamp.write(writer)
    if pulse_rate is not None:
        writer.sfloat(pulse_rate)
    if user_id is not None:
        writer.u8(user_id)
    if status is not None:
        writer.u16(status.raw)
    return writer.getvalue()


def _check_user_id(owner: str, user_id: int | None) -> None:
    if user_id is not None and not 0 <= user_id <= 0xFF:
        raise InvalidValueError(f"{owner}.user_id", f"invalid value {user_id}", detail="valid: 0-255")


def _optional_json(
    time_stamp: DateTime | None,
    pulse_rate: SFloatValue | None,
    user_id: int | None,
    status: MeasurementStatus | None,
) -> dict[str, Any]:
    return {
        "time_stamp": time_stamp.to_json() if time_stamp else None,
        "pulse_rate_bpm": json_number(pulse_rate) if pulse_rate is not None else None,
        "user_id": user_id,
        "measurement_status": status.to_json() if status else None,
    }


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    """Blood Pressure Measurement 0x2A35: one finished reading, indicated to the collector."""

    unit: PressureUnit
    systolic: SFloatValue
    diastolic: SFloatValue
    mean_arterial_pressure: SFloatValue
    time_stamp: DateTime | None = None
    pulse_rate: SFloatValue | None = None
    user_id: int | None = None  # BLS "User ID": 0-254 defined by the service, 255 = unknown user
    measurement_status: MeasurementStatus | None = None

    NAME: ClassVar[str] = "blood_pressure"
    UUID: ClassVar[int] = 0x2A35

    def __post_init__(self) -> None:
        _check_user_id(self.NAME, self.user_id)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> BloodPressureMeasurement:
        """Decode a 0x2A35 value; raises BleDecodeError naming the field and byte."""
        return cls(*_read(FrameReader(data, cls.NAME)))

    def __bytes__(self) -> bytes:
        return _write(
            (
                self.unit,
                self.systolic,
                self.diastolic,
                self.mean_arterial_pressure,
                self.time_stamp,
                self.pulse_rate,
                self.user_id,
                self.measurement_status,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: wire values in the wire unit, plus the same pressures in mmHg."""
        to_mmhg = _TO_MMHG[self.unit]
        return {
            "unit": self.unit.value,
            "systolic": json_number(self.systolic),
            "diastolic": json_number(self.diastolic),
            "mean_arterial_pressure": json_number(self.mean_arterial_pressure),
            "systolic_mmhg": json_converted(self.systolic, to_mmhg),
            "diastolic_mmhg": json_converted(self.diastolic, to_mmhg),
            "mean_arterial_pressure_mmhg": json_converted(self.mean_arterial_pressure, to_mmhg),
            **_optional_json(self.time_stamp, self.pulse_rate, self.user_id, self.measurement_status),
        }


@dataclass(frozen=True, slots=True)
class IntermediateCuffPressure:
    """Intermediate Cuff Pressure 0x2A36: the cuff pressure while it inflates (BLS, same name).

    The layout is that of 0x2A35 with the diastolic and MAP fields unused; BLS says to send NaN there,
    some servers send zero (Nordic's test frames), so whatever arrived is kept for a byte-exact re-encode.
    """

    unit: PressureUnit
    cuff_pressure: SFloatValue
    time_stamp: DateTime | None = None
    pulse_rate: SFloatValue | None = None
    user_id: int | None = None
    measurement_status: MeasurementStatus | None = None
    unused_diastolic: SFloatValue = Special.NAN
    unused_mean_arterial_pressure: SFloatValue = Special.NAN

    NAME: ClassVar[str] = "intermediate_cuff_pressure"
    UUID: ClassVar[int] = 0x2A36

    def __post_init__(self) -> None:
        _check_user_id(self.NAME, self.user_id)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> IntermediateCuffPressure:
        """Decode a 0x2A36 value; raises BleDecodeError naming the field and byte."""
        unit, cuff, unused_diastolic, unused_map, time_stamp, pulse_rate, user_id, status = _read(
            FrameReader(data, cls.NAME)
        )
        return cls(unit, cuff, time_stamp, pulse_rate, user_id, status, unused_diastolic, unused_map)

    def __bytes__(self) -> bytes:
        return _write(
            (
                self.unit,
                self.cuff_pressure,
                self.unused_diastolic,
                self.unused_mean_arterial_pressure,
                self.time_stamp,
                self.pulse_rate,
                self.user_id,
                self.measurement_status,
            )
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: the cuff pressure in the wire unit and in mmHg."""
        return {
            "unit": self.unit.value,
            "cuff_pressure": json_number(self.cuff_pressure),
            "cuff_pressure_mmhg": json_converted(self.cuff_pressure, _TO_MMHG[self.unit]),
            **_optional_json(self.time_stamp, self.pulse_rate, self.user_id, self.measurement_status),
        }


class BloodPressureFeatures(enum.IntFlag):
    """Blood Pressure Feature bits (BLS, same name); reserved bits 6-15 are kept as they arrive."""

    BODY_MOVEMENT_DETECTION = 0x0001
    CUFF_FIT_DETECTION = 0x0002
    IRREGULAR_PULSE_DETECTION = 0x0004
    PULSE_RATE_RANGE_DETECTION = 0x0008
    MEASUREMENT_POSITION_DETECTION = 0x0010
    MULTIPLE_BONDS = 0x0020


@dataclass(frozen=True, slots=True)
class BloodPressureFeature(FeatureBits):
    """Blood Pressure Feature 0x2A49 (u16): what the cuff can detect."""

    NAME: ClassVar[str] = "blood_pressure_feature"
    UUID: ClassVar[int] = 0x2A49
    FLAGS: ClassVar[type[enum.IntFlag]] = BloodPressureFeatures
