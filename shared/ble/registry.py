"""Which codec decodes which characteristic: 16-bit UUID -> decoder, and UUID parsing for callers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from shared.ble import (
    battery,
    blood_pressure,
    datetime_fields,
    device_info,
    glucose,
    racp,
    temperature,
    weight,
)
from shared.ble.errors import UnknownCharacteristicError
from shared.ble.frame import FrameBytes
from shared.ble.glucose_context import GlucoseMeasurementContext

# Core Specification Vol 3 Part B §2.5.1: a 16-bit UUID is 0000xxxx-0000-1000-8000-00805F9B34FB.
_BASE_UUID_PREFIX = "0000"
_BASE_UUID_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_HEX_DIGITS = frozenset("0123456789abcdef")


class CharacteristicValue(Protocol):
    """What every decoded value offers: its exact wire bytes and a JSON-ready dict."""

    def __bytes__(self) -> bytes: ...

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: wire values, wire units, canonical units, specials as strings."""
        ...


@dataclass(frozen=True, slots=True)
class Codec:
    """One characteristic: its 16-bit UUID, SIG name and decoder."""

    uuid: int
    name: str
    decode: Callable[[FrameBytes], CharacteristicValue]


CODECS: Mapping[int, Codec] = MappingProxyType(
    {
        codec.uuid: codec
        for codec in (
            Codec(0x2A08, "Date Time", datetime_fields.DateTime.from_bytes),
            Codec(0x2A0A, "Day Date Time", datetime_fields.DayDateTime.from_bytes),
            Codec(0x2A0F, "Local Time Information", datetime_fields.LocalTimeInformation.from_bytes),
            Codec(0x2A2B, "Current Time", datetime_fields.CurrentTime.from_bytes),
            Codec(0x2A35, "Blood Pressure Measurement", blood_pressure.BloodPressureMeasurement.from_bytes),
            Codec(0x2A36, "Intermediate Cuff Pressure", blood_pressure.IntermediateCuffPressure.from_bytes),
            Codec(0x2A49, "Blood Pressure Feature", blood_pressure.BloodPressureFeature.from_bytes),
            Codec(0x2A9D, "Weight Measurement", weight.WeightMeasurement.from_bytes),
            Codec(0x2A9E, "Weight Scale Feature", weight.WeightScaleFeature.from_bytes),
            Codec(0x2A1C, "Temperature Measurement", temperature.TemperatureMeasurement.from_bytes),
            Codec(0x2A1D, "Temperature Type", temperature.TemperatureTypeValue.from_bytes),
            Codec(0x2A1E, "Intermediate Temperature", temperature.TemperatureMeasurement.from_bytes),
            Codec(0x2A18, "Glucose Measurement", glucose.GlucoseMeasurement.from_bytes),
            Codec(0x2A34, "Glucose Measurement Context", GlucoseMeasurementContext.from_bytes),
            Codec(0x2A51, "Glucose Feature", glucose.GlucoseFeature.from_bytes),
            Codec(racp.UUID, "Record Access Control Point", racp.decode_racp),
            Codec(0x2A19, "Battery Level", battery.BatteryLevel.from_bytes),
            Codec(0x2A23, "System ID", device_info.SystemId.from_bytes),
            Codec(0x2A24, "Model Number String", device_info.ModelNumber.from_bytes),
            Codec(0x2A25, "Serial Number String", device_info.SerialNumber.from_bytes),
            Codec(0x2A26, "Firmware Revision String", device_info.FirmwareRevision.from_bytes),
            Codec(0x2A27, "Hardware Revision String", device_info.HardwareRevision.from_bytes),
            Codec(0x2A28, "Software Revision String", device_info.SoftwareRevision.from_bytes),
            Codec(0x2A29, "Manufacturer Name String", device_info.ManufacturerName.from_bytes),
        )
    }
)


def parse_uuid(text: str) -> int:
    """The 16-bit UUID in ``2a35``, ``0x2A35`` or ``00002a35-0000-1000-8000-00805f9b34fb`` form."""
    cleaned = text.strip().lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if len(cleaned) == 36 and cleaned.startswith(_BASE_UUID_PREFIX) and cleaned.endswith(_BASE_UUID_SUFFIX):
        cleaned = cleaned[4:8]
    if len(cleaned) == 4 and _HEX_DIGITS.issuperset(cleaned):
        return int(cleaned, 16)
    raise UnknownCharacteristicError(
        "uuid",
        f"cannot read {text!r} as a characteristic UUID",
        detail="give 4 hex digits like 2a35 or 0x2A35, or a Bluetooth-base 128-bit UUID "
        "such as 00002a35-0000-1000-8000-00805f9b34fb",
    )


def decode(uuid: int | str, data: FrameBytes) -> CharacteristicValue:
    """Decode ``data`` as the characteristic ``uuid``; raises BleDecodeError (or its subclasses)."""
    number = parse_uuid(uuid) if isinstance(uuid, str) else uuid
    codec = CODECS.get(number)
    if codec is None:
        known = ", ".join(f"{key:04x}" for key in sorted(CODECS))
        raise UnknownCharacteristicError("uuid", f"no codec for 0x{number:04X}", detail=f"known: {known}")
    return codec.decode(data)
