"""Device Information Service (DIS v1.1): the identity strings and the System ID.

The "... String" characteristics are UTF-8 with no terminator (DIS v1.1); they differ only in UUID, so
one base class decodes them all and each subclass names its characteristic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self

from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter, Layout


@dataclass(frozen=True, slots=True)
class DeviceInfoString:
    """A DIS string characteristic; the subclass sets NAME and UUID."""

    value: str

    NAME: ClassVar[str]
    UUID: ClassVar[int]

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> Self:
        """Decode the UTF-8 text; invalid UTF-8 is an error at the first bad byte."""
        reader = FrameReader(data, cls.NAME)
        try:
            return cls(reader.rest().decode("utf-8"))
        except UnicodeDecodeError as err:
            raise reader.error("value", err.start, "invalid UTF-8", err.reason) from None

    def __bytes__(self) -> bytes:
        return self.value.encode("utf-8")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"value": self.value}


@dataclass(frozen=True, slots=True)
class ManufacturerName(DeviceInfoString):
    """Manufacturer Name String 0x2A29."""

    NAME: ClassVar[str] = "manufacturer_name"
    UUID: ClassVar[int] = 0x2A29


@dataclass(frozen=True, slots=True)
class ModelNumber(DeviceInfoString):
    """Model Number String 0x2A24."""

    NAME: ClassVar[str] = "model_number"
    UUID: ClassVar[int] = 0x2A24


@dataclass(frozen=True, slots=True)
class SerialNumber(DeviceInfoString):
    """Serial Number String 0x2A25."""

    NAME: ClassVar[str] = "serial_number"
    UUID: ClassVar[int] = 0x2A25


@dataclass(frozen=True, slots=True)
class FirmwareRevision(DeviceInfoString):
    """Firmware Revision String 0x2A26."""

    NAME: ClassVar[str] = "firmware_revision"
    UUID: ClassVar[int] = 0x2A26


@dataclass(frozen=True, slots=True)
class HardwareRevision(DeviceInfoString):
    """Hardware Revision String 0x2A27."""

    NAME: ClassVar[str] = "hardware_revision"
    UUID: ClassVar[int] = 0x2A27


@dataclass(frozen=True, slots=True)
class SoftwareRevision(DeviceInfoString):
    """Software Revision String 0x2A28."""

    NAME: ClassVar[str] = "software_revision"
    UUID: ClassVar[int] = 0x2A28


# DIS "System ID": 40-bit manufacturer-defined identifier, then the 24-bit OUI, both little-endian.
_SYSTEM_ID = Layout(("value", "Q"))
_MANUFACTURER_BITS = 40


@dataclass(frozen=True, slots=True)
class SystemId:
    """System ID 0x2A23 (8 bytes): manufacturer-defined identifier (40 bits) and IEEE OUI (24 bits)."""

    manufacturer_identifier: int
    organizationally_unique_identifier: int

    NAME: ClassVar[str] = "system_id"
    UUID: ClassVar[int] = 0x2A23

    def __post_init__(self) -> None:
        if not 0 <= self.manufacturer_identifier < 1 << _MANUFACTURER_BITS:
            raise InvalidValueError(f"{self.NAME}.manufacturer_identifier", "must fit in 40 bits")
        if not 0 <= self.organizationally_unique_identifier < 1 << 24:
            raise InvalidValueError(f"{self.NAME}.organizationally_unique_identifier", "must fit in 24 bits")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> SystemId:
        """Decode the 8-byte value."""
        reader = FrameReader(data, cls.NAME)
        (raw,) = reader.fields(_SYSTEM_ID)
        reader.finish()
        return cls(raw & ((1 << _MANUFACTURER_BITS) - 1), raw >> _MANUFACTURER_BITS)

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        raw = self.manufacturer_identifier | self.organizationally_unique_identifier << _MANUFACTURER_BITS
        writer.fields(_SYSTEM_ID, raw)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (hex strings, as the identifiers are printed on labels)."""
        return {
            "manufacturer_identifier": f"0x{self.manufacturer_identifier:010X}",
            "organizationally_unique_identifier": f"0x{self.organizationally_unique_identifier:06X}",
        }
