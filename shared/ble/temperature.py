"""Health Thermometer Service (HTS v1.0): Temperature Measurement 0x2A1C and Temperature Type 0x2A1D.

0x2A1C (HTS v1.0 and GATT Specification Supplement, "Temperature Measurement"):
``flags u8 | temperature FLOAT (32-bit) | [Date Time] | [temperature type u8]``. Intermediate Temperature
0x2A1E uses the same layout and the same class.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.codes import code_json, coded
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter
from shared.ble.ieee11073 import FloatValue, json_converted, json_number
from shared.ble.units import fahrenheit_to_celsius

# Flags (HTS "Temperature Measurement", Flags field): bit 0 unit, bit 1 time stamp, bit 2 temperature
# type; bits 3-7 reserved.
_FAHRENHEIT = 0x01
_TIME_STAMP = 0x02
_TYPE = 0x04
_DEFINED_FLAGS = 0x07


class TemperatureUnit(enum.Enum):
    """Flags bit 0: the unit of the temperature field."""

    CELSIUS = "celsius"
    FAHRENHEIT = "fahrenheit"


class TemperatureType(enum.IntEnum):
    """Where the temperature was taken (GATT Specification Supplement "Temperature Type"); 0, 10-255 RFU."""

    ARMPIT = 1
    BODY = 2
    EAR = 3
    FINGER = 4
    GASTROINTESTINAL_TRACT = 5
    MOUTH = 6
    RECTUM = 7
    TOE = 8
    TYMPANUM = 9


_TO_CELSIUS = {TemperatureUnit.CELSIUS: None, TemperatureUnit.FAHRENHEIT: fahrenheit_to_celsius}


@dataclass(frozen=True, slots=True)
class TemperatureMeasurement:
    """Temperature Measurement 0x2A1C: a body temperature, optionally time-stamped and located."""

    unit: TemperatureUnit
    temperature: FloatValue
    time_stamp: DateTime | None = None
    temperature_type: TemperatureType | int | None = None

    NAME: ClassVar[str] = "temperature"
    UUID: ClassVar[int] = 0x2A1C

    def __post_init__(self) -> None:
        if self.temperature_type is not None and not 0 <= self.temperature_type <= 0xFF:
            raise InvalidValueError(f"{self.NAME}.temperature_type", f"invalid value {self.temperature_type}")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> TemperatureMeasurement:
        """Decode a 0x2A1C / 0x2A1E value; raises BleDecodeError naming the field and byte."""
        reader = FrameReader(data, cls.NAME)
        flags = reader.u8("flags")
        reader.check_flags(flags, _DEFINED_FLAGS)
        temperature = reader.float32("temperature")
        time_stamp = DateTime.read(reader, "time_stamp") if flags & _TIME_STAMP else None
        kind = coded(TemperatureType, reader.u8("temperature_type")) if flags & _TYPE else None
        reader.finish()
        unit = TemperatureUnit.FAHRENHEIT if flags & _FAHRENHEIT else TemperatureUnit.CELSIUS
        return cls(unit, temperature, time_stamp, kind)

    def __bytes__(self) -> bytes:
        flags = (
            (_FAHRENHEIT if self.unit is TemperatureUnit.FAHRENHEIT else 0)
            | (_TIME_STAMP if self.time_stamp is not None else 0)
            | (_TYPE if self.temperature_type is not None else 0)
        )
        writer = FrameWriter()
        writer.u8(flags)
        writer.float32(self.temperature)
        if self.time_stamp is not None:
            self.time_stamp.write(writer)
        if self.temperature_type is not None:
            writer.u8(self.temperature_type)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: the wire value and unit, plus degrees Celsius."""
        kind = self.temperature_type
        return {
            "unit": self.unit.value,
            "temperature": json_number(self.temperature),
            "temperature_celsius": json_converted(self.temperature, _TO_CELSIUS[self.unit]),
            "time_stamp": self.time_stamp.to_json() if self.time_stamp else None,
            "temperature_type": code_json(kind) if kind is not None else None,
        }


@dataclass(frozen=True, slots=True)
class TemperatureTypeValue:
    """Temperature Type 0x2A1D: the fixed measurement site of a thermometer, read once."""

    temperature_type: TemperatureType | int

    NAME: ClassVar[str] = "temperature_type"
    UUID: ClassVar[int] = 0x2A1D

    def __post_init__(self) -> None:
        if not 0 <= self.temperature_type <= 0xFF:
            raise InvalidValueError(f"{self.NAME}.temperature_type", f"invalid value {self.temperature_type}")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> TemperatureTypeValue:
        """Decode a 0x2A1D value (one byte)."""
        reader = FrameReader(data, cls.NAME)
        kind = coded(TemperatureType, reader.u8("temperature_type"))
        reader.finish()
        return cls(kind)

    def __bytes__(self) -> bytes:
        return bytes((self.temperature_type,))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"temperature_type": code_json(self.temperature_type)}
