"""SIG code lists whose unlisted values are "Reserved for Future Use".

Policy shared by every codec here: a field whose specification gives a *range* (month 1-12, hours 0-23,
battery 0-100 %) rejects values outside it, while a field that is an *enumeration* (temperature type,
day of week, RACP response code) keeps an unlisted code as a plain ``int``. A newer device that sends a
code defined after this module was written then still decodes, and re-encodes to the same byte.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar

from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter

_E = TypeVar("_E", bound=enum.IntEnum)


def coded(enum_type: type[_E], value: int) -> _E | int:
    """The member for ``value``, or the bare int when the code is reserved for future use."""
    return enum_type._value2member_map_.get(value, value)  # type: ignore[return-value]


def code_json(value: enum.IntEnum | int) -> str:
    """JSON name of a code: the member name in lower case, or ``reserved(N)`` for an unlisted code."""
    if isinstance(value, enum.IntEnum):
        return value.name.lower()
    return f"reserved({value})"


def flag_names(value: enum.IntFlag) -> list[str]:
    """Lower-case names of the defined bits set in ``value`` (reserved bits are shown by the raw hex)."""
    return [member.name.lower() for member in type(value) if member.name and member in value]


@dataclass(frozen=True, slots=True)
class FeatureBits:
    """A read-once u16 feature bitfield (Blood Pressure Feature, Glucose Feature); reserved bits are kept.

    Subclasses name the characteristic and the :class:`enum.IntFlag` that gives the bits their names.
    """

    features: enum.IntFlag

    NAME: ClassVar[str]
    UUID: ClassVar[int]
    FLAGS: ClassVar[type[enum.IntFlag]]

    def __post_init__(self) -> None:
        if not 0 <= self.features <= 0xFFFF:
            raise InvalidValueError(f"{self.NAME}.features", f"invalid value {int(self.features)}")

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> Self:
        """Decode the u16 value."""
        reader = FrameReader(data, cls.NAME)
        features = cls.FLAGS(reader.u16("features"))
        reader.finish()
        return cls(features)

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        writer.u16(self.features)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: the names of the supported features and the raw value."""
        return {"supported": flag_names(self.features), "raw": f"0x{int(self.features):04X}"}
