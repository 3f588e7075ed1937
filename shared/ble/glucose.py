"""Glucose Service (GLS v1.0.1): Glucose Measurement 0x2A18 and Glucose Feature 0x2A51.

0x2A18 (GLS v1.0.1 and GATT Specification Supplement, "Glucose Measurement"):
``flags u8 | sequence u16 | base time Date Time | [time offset s16 minutes]
| [concentration SFLOAT | type (low nibble) + sample location (high nibble) u8] | [sensor status u16]``.
The concentration is SI on the wire: kg/L (flags bit 2 = 0) or mol/L (bit 2 = 1).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.codes import FeatureBits, code_json, coded, flag_names
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter, Layout
from shared.ble.ieee11073 import SFloatValue, decode_sfloat, json_converted, json_number
from shared.ble.units import kg_per_l_to_mg_per_dl, mol_per_l_to_mg_per_dl

# Flags (GLS "Glucose Measurement", Flags field): bit 0 time offset, bit 1 concentration + type/location,
# bit 2 unit mol/L, bit 3 sensor status annunciation, bit 4 context information follows; 5-7 reserved.
_TIME_OFFSET = 0x01
_CONCENTRATION = 0x02
_MOL_PER_L = 0x04
_STATUS = 0x08
_CONTEXT_FOLLOWS = 0x10
_DEFINED_FLAGS = 0x1F

_HEAD = Layout(("flags", "B"), ("sequence_number", "H"))
_CONCENTRATION_FIELDS = Layout(("concentration", "H"), ("type_and_sample_location", "B"))


class ConcentrationUnit(enum.Enum):
    """Flags bit 2: the SI unit of the concentration field."""

    KG_PER_L = "kg/L"
    MOL_PER_L = "mol/L"


_TO_MG_PER_DL = {
    ConcentrationUnit.KG_PER_L: kg_per_l_to_mg_per_dl,
    ConcentrationUnit.MOL_PER_L: mol_per_l_to_mg_per_dl,
}


class GlucoseType(enum.IntEnum):
    """Low nibble of the type/location byte (GLS "Type" field); 0 and 11-15 are reserved."""

    CAPILLARY_WHOLE_BLOOD = 1
    CAPILLARY_PLASMA = 2
    VENOUS_WHOLE_BLOOD = 3
    VENOUS_PLASMA = 4
    ARTERIAL_WHOLE_BLOOD = 5
    ARTERIAL_PLASMA = 6
    UNDETERMINED_WHOLE_BLOOD = 7
    UNDETERMINED_PLASMA = 8
    INTERSTITIAL_FLUID = 9
    CONTROL_SOLUTION = 10


class SampleLocation(enum.IntEnum):
    """High nibble of the type/location byte (GLS "Sample Location" field); 0 and 5-14 are reserved."""

    FINGER = 1
    ALTERNATE_SITE_TEST = 2
    EARLOBE = 3
    CONTROL_SOLUTION = 4
    NOT_AVAILABLE = 15


class SensorStatus(enum.IntFlag):
    """Sensor Status Annunciation (GLS, same name; SIG XML bit order); bits 12-15 are reserved.

    Nordic's GlucoseMeasurementCallback swaps bits 5 and 6; the SIG definition and the Mindtree/NXP
    ``appl_gls.c`` agree that bit 5 is "result higher than the device can process".
    """

    DEVICE_BATTERY_LOW = 0x0001
    SENSOR_MALFUNCTION = 0x0002
    SAMPLE_SIZE_INSUFFICIENT = 0x0004
    STRIP_INSERTION_ERROR = 0x0008
    STRIP_TYPE_INCORRECT = 0x0010
    RESULT_TOO_HIGH = 0x0020
    RESULT_TOO_LOW = 0x0040
    TEMPERATURE_TOO_HIGH = 0x0080
    TEMPERATURE_TOO_LOW = 0x0100
    READ_INTERRUPTED = 0x0200
    GENERAL_DEVICE_FAULT = 0x0400
    TIME_FAULT = 0x0800


@dataclass(frozen=True, slots=True)
class GlucoseMeasurement:
    """Glucose Measurement 0x2A18: one stored reading, sent when the collector asks through RACP.

    ``concentration``, ``sample_type`` and ``sample_location`` are all present or all None (one flag).
    ``concentration_unit`` mirrors flags bit 2 even without a concentration, so the byte round-trips.
    """

    sequence_number: int
    base_time: DateTime
    time_offset_minutes: int | None = None
    concentration: SFloatValue | None = None
    concentration_unit: ConcentrationUnit = ConcentrationUnit.KG_PER_L
    sample_type: GlucoseType | int | None = None
    sample_location: SampleLocation | int | None = None
    sensor_status: SensorStatus | None = None
    context_follows: bool = False

    NAME: ClassVar[str] = "glucose"
    UUID: ClassVar[int] = 0x2A18

    def __post_init__(self) -> None:
        if not 0 <= self.sequence_number <= 0xFFFF:
            raise _invalid("sequence_number", self.sequence_number, "0-65535")
        if self.time_offset_minutes is not None and not -0x8000 <= self.time_offset_minutes <= 0x7FFF:
            raise _invalid("time_offset", self.time_offset_minutes, "-32768..32767 minutes")
        present = {self.concentration is None, self.sample_type is None, self.sample_location is None}
        if len(present) != 1:
            raise InvalidValueError(
                f"{self.NAME}.type_and_sample_location",
                "concentration, sample type and sample location are sent together (flags bit 1)",
            )
        for name, nibble in (("sample_type", self.sample_type), ("sample_location", self.sample_location)):
            if nibble is not None and not 0 <= nibble <= 0x0F:
                raise _invalid(name, nibble, "0-15 (one nibble)")
        if self.sensor_status is not None and not 0 <= self.sensor_status <= 0xFFFF:
            raise _invalid("sensor_status", int(self.sensor_status), "0-0xFFFF")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> GlucoseMeasurement:
        """Decode a 0x2A18 value; raises BleDecodeError naming the field and byte."""
        reader = FrameReader(data, cls.NAME)
        flags, sequence = reader.fields(_HEAD)
        reader.check_flags(flags, _DEFINED_FLAGS)
        base_time = DateTime.read(reader, "base_time")
        offset = reader.s16("time_offset") if flags & _TIME_OFFSET else None
        concentration = sample_type = location = None
        if flags & _CONCENTRATION:
            raw, type_location = reader.fields(_CONCENTRATION_FIELDS)
            concentration = decode_sfloat(raw)
            sample_type = coded(GlucoseType, type_location & 0x0F)
            location = coded(SampleLocation, type_location >> 4)
        status = SensorStatus(reader.u16("sensor_status")) if flags & _STATUS else None
        reader.finish()
        unit = ConcentrationUnit.MOL_PER_L if flags & _MOL_PER_L else ConcentrationUnit.KG_PER_L
        return cls(
            sequence,
            base_time,
            offset,
            concentration,
            unit,
            sample_type,
            location,
            status,
            bool(flags & _CONTEXT_FOLLOWS),
        )

    def __bytes__(self) -> bytes:
        flags = (
            (_TIME_OFFSET if self.time_offset_minutes is not None else 0)
            | (_CONCENTRATION if self.concentration is not None else 0)
            | (_MOL_PER_L if self.concentration_unit is ConcentrationUnit.MOL_PER_L else 0)
            | (_STATUS if self.sensor_status is not None else 0)
            | (_CONTEXT_FOLLOWS if self.context_follows else 0)
        )
        writer = FrameWriter()
        writer.fields(_HEAD, flags, self.sequence_number)
        self.base_time.write(writer)
        if self.time_offset_minutes is not None:
            writer.s16(self.time_offset_minutes)
        if self.concentration is not None:
            # __post_init__ guarantees type and location are present with the concentration.
            writer.sfloat(self.concentration)
            writer.u8(int(self.sample_type or 0) | int(self.sample_location or 0) << 4)
        if self.sensor_status is not None:
            writer.u16(self.sensor_status)
        return writer.getvalue()

    @property
    def measurement_time(self) -> dt.datetime | None:
        """Base time plus time offset (GLS "Time Offset" field), when the base time is a complete date."""
        base = self.base_time.to_datetime()
        if base is None:
            return None
        return base + dt.timedelta(minutes=self.time_offset_minutes or 0)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: the wire concentration and SI unit, plus mg/dL."""
        concentration = self.concentration
        moment = self.measurement_time
        status = self.sensor_status
        return {
            "sequence_number": self.sequence_number,
            "base_time": self.base_time.to_json(),
            "time_offset_minutes": self.time_offset_minutes,
            "measurement_time": moment.isoformat() if moment else None,
            "concentration": json_number(concentration) if concentration is not None else None,
            "concentration_unit": self.concentration_unit.value,
            "concentration_mg_dl": (
                json_converted(concentration, _TO_MG_PER_DL[self.concentration_unit])
                if concentration is not None
                else None
            ),
            "sample_type": code_json(self.sample_type) if self.sample_type is not None else None,
            "sample_location": code_json(self.sample_location) if self.sample_location is not None else None,
            "sensor_status": flag_names(status) if status is not None else None,
            "sensor_status_raw": f"0x{int(status):04X}" if status is not None else None,
            "context_follows": self.context_follows,
        }


def _invalid(field: str, value: int, valid: str) -> InvalidValueError:
    return InvalidValueError(f"{GlucoseMeasurement.NAME}.{field}", f"invalid value {value}", detail=f"valid: {valid}")


class GlucoseFeatures(enum.IntFlag):
    """Glucose Feature bits (GLS "Glucose Feature"); bits 11-15 are reserved and kept as they arrive."""

    LOW_BATTERY_DETECTION = 0x0001
    SENSOR_MALFUNCTION_DETECTION = 0x0002
    SENSOR_SAMPLE_SIZE = 0x0004
    STRIP_INSERTION_ERROR_DETECTION = 0x0008
    STRIP_TYPE_ERROR_DETECTION = 0x0010
    RESULT_HIGH_LOW_DETECTION = 0x0020
    TEMPERATURE_HIGH_LOW_DETECTION = 0x0040
    READ_INTERRUPT_DETECTION = 0x0080
    GENERAL_DEVICE_FAULT = 0x0100
    TIME_FAULT = 0x0200
    MULTIPLE_BOND = 0x0400


@dataclass(frozen=True, slots=True)
class GlucoseFeature(FeatureBits):
    """Glucose Feature 0x2A51 (u16): which sensor status bits the meter can report."""

    NAME: ClassVar[str] = "glucose_feature"
    UUID: ClassVar[int] = 0x2A51
    FLAGS: ClassVar[type[enum.IntFlag]] = GlucoseFeatures
