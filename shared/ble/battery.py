"""Battery Service (BAS v1.0): Battery Level 0x2A19."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """Battery Level 0x2A19: remaining charge in percent (BAS, "Battery Level": only 0-100 is defined)."""

    level_percent: int

    NAME: ClassVar[str] = "battery_level"
    UUID: ClassVar[int] = 0x2A19

    def __post_init__(self) -> None:
        if not 0 <= self.level_percent <= 100:
            raise InvalidValueError(
                f"{self.NAME}.level", f"invalid value {self.level_percent}", detail="valid: 0-100 percent"
            )

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> BatteryLevel:
        """Decode the one-byte value."""
        reader = FrameReader(data, cls.NAME)
        level = reader.u8("level")
        reader.finish()
        return reader.build(cls, (level,), {"level": 0})

    def __bytes__(self) -> bytes:
        return bytes((self.level_percent,))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"level_percent": self.level_percent}
