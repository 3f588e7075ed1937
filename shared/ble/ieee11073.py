"""IEEE 11073-20601 medical floats: SFLOAT (16-bit) and FLOAT (32-bit), byte-exact.

Layout (IEEE 11073-20601 Annex F, FLOAT-Type and SFLOAT-Type; GATT Specification
Supplement data types ``medfloat16``/``medfloat32``):
SFLOAT is a 4-bit signed exponent over a 12-bit signed mantissa, FLOAT an 8-bit signed exponent over a
24-bit signed mantissa; value = mantissa x 10**exponent. With exponent 0 five mantissas are not numbers
but the specials NaN, NRes (not at this resolution), +INFINITY, -INFINITY and one reserved value.

A finite value keeps its mantissa and exponent as sent, so ``SFloat(120, 0)`` and ``SFloat(1200, -1)``
are different values with different bytes: decoding then encoding gives back the exact frame.
Specials are the :class:`Special` enum, never numbers such as 2047.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import ClassVar, TypeAlias, TypeVar

from shared.ble.errors import InvalidValueError


class Special(enum.Enum):
    """Reserved SFLOAT/FLOAT codes (IEEE 11073-20601 Annex F); the value is the JSON rendering."""

    NAN = "NaN"
    NRES = "NRes"
    POSITIVE_INFINITY = "+INFINITY"
    NEGATIVE_INFINITY = "-INFINITY"
    RESERVED = "reserved"


class _Format:
    """Bit widths of one medfloat width, and the mantissas that mean a special when the exponent is 0."""

    __slots__ = (
        "exponent_bits",
        "exponent_max",
        "exponent_min",
        "mantissa_bits",
        "mantissa_max",
        "mantissa_min",
        "name",
        "raw_by_special",
        "special_by_mantissa",
    )

    def __init__(self, name: str, mantissa_bits: int, exponent_bits: int) -> None:
        self.name = name
        self.mantissa_bits = mantissa_bits
        self.exponent_bits = exponent_bits
        top = (1 << (mantissa_bits - 1)) - 1  # 0x7FF for SFLOAT, 0x7FFFFF for FLOAT
        self.mantissa_max = top
        self.mantissa_min = -top - 1
        self.exponent_max = (1 << (exponent_bits - 1)) - 1
        self.exponent_min = -self.exponent_max - 1
        # Annex F special values: NaN = +(2^(n-1) - 1), NRes = -2^(n-1), +INF = +(2^(n-1) - 2),
        # -INF = -(2^(n-1) - 2), reserved = -(2^(n-1) - 1); all with exponent 0.
        self.special_by_mantissa = {
            top: Special.NAN,
            -top - 1: Special.NRES,
            top - 1: Special.POSITIVE_INFINITY,
            -(top - 1): Special.NEGATIVE_INFINITY,
            -top: Special.RESERVED,
        }
        mask = (1 << mantissa_bits) - 1
        self.raw_by_special = {s: m & mask for m, s in self.special_by_mantissa.items()}

    def fits(self, mantissa: int, exponent: int) -> bool:
        """Whether the pair is a finite number of this width (exponent 0 excludes the specials)."""
        return self.exponent_min <= exponent <= self.exponent_max and self.mantissa_fits(mantissa, exponent)

    def mantissa_fits(self, mantissa: int, exponent: int) -> bool:
        """Whether the mantissa fits its bits and, with exponent 0, is not one of the specials."""
        if exponent == 0:
            return -self.mantissa_max + 2 <= mantissa <= self.mantissa_max - 2
        return self.mantissa_min <= mantissa <= self.mantissa_max

    def pack(self, mantissa: int, exponent: int) -> int:
        """Raw unsigned integer of a finite value (two's complement fields)."""
        bits = self.mantissa_bits
        return ((exponent & ((1 << self.exponent_bits) - 1)) << bits) | (mantissa & ((1 << bits) - 1))

    def unpack(self, raw: int) -> tuple[int, int]:
        """Signed (mantissa, exponent) of a raw unsigned integer."""
        bits = self.mantissa_bits
        mantissa = raw & ((1 << bits) - 1)
        if mantissa > self.mantissa_max:
            mantissa -= 1 << bits
        exponent = raw >> bits
        if exponent > self.exponent_max:
            exponent -= 1 << self.exponent_bits
        return mantissa, exponent


_SFLOAT = _Format("SFLOAT", mantissa_bits=12, exponent_bits=4)
_FLOAT = _Format("FLOAT", mantissa_bits=24, exponent_bits=8)

_M = TypeVar("_M", bound="_MedFloat")


@dataclass(frozen=True, slots=True)
class _MedFloat:
    """A finite medfloat kept as (mantissa, exponent) so it re-encodes to the same bytes."""

    mantissa: int
    exponent: int
    FORMAT: ClassVar[_Format]

    def __post_init__(self) -> None:
        if not self.FORMAT.fits(self.mantissa, self.exponent):
            fmt = self.FORMAT
            raise InvalidValueError(
                fmt.name,
                f"mantissa {self.mantissa} with exponent {self.exponent} is not a finite {fmt.name}",
                detail=f"exponent {fmt.exponent_min}..{fmt.exponent_max}, mantissa {fmt.mantissa_min}.."
                f"{fmt.mantissa_max}; with exponent 0 the specials' mantissas are not numbers, use Special",
            )

    @property
    def value(self) -> float:
        """The number as the float nearest to mantissa x 10**exponent."""
        exponent = self.exponent
        if exponent >= 0:
            return float(self.mantissa * 10**exponent)
        return self.mantissa / 10**-exponent

    def __float__(self) -> float:
        return self.value

    @property
    def raw(self) -> int:
        """The unsigned integer sent on the wire (little-endian)."""
        return self.FORMAT.pack(self.mantissa, self.exponent)

    @classmethod
    def from_float(cls: type[_M], number: float, *, exponent: int | None = None) -> _M | Special:
        """Encode a Python number deterministically: NaN/inf map to specials, finite values round half up.

        Without ``exponent`` the result is the exponent closest to zero that holds the value rounded to the
        precision the mantissa allows (120.0 -> 120e0, 37.6 -> 376e-1, 0.0012 -> 12e-4); the decimal is the
        float's shortest repr, so ``from_float(x.value).value == x.value`` for every finite ``x``. With
        ``exponent`` the mantissa is rounded to that exponent (devices that always send e.g. 10**-5).
        Values the width cannot hold raise :class:`InvalidValueError`; send ``Special.NRES`` explicitly.
        """
        if math.isnan(number):
            return Special.NAN
        if math.isinf(number):
            return Special.POSITIVE_INFINITY if number > 0 else Special.NEGATIVE_INFINITY
        fmt = cls.FORMAT
        exact = Decimal(repr(float(number)))
        if exponent is not None:
            mantissa = _round_at(exact, exponent)
            if not fmt.fits(mantissa, exponent):
                raise _unrepresentable(fmt, number, f"with exponent {exponent}")
            return cls(mantissa, exponent)
        if exact == 0:
            return cls(0, 0)
        natural = exact.normalize().as_tuple().exponent
        assert isinstance(natural, int)  # finite decimals have an int exponent
        exp = max(natural, fmt.exponent_min)
        mantissa = _round_at(exact, exp)
        while not fmt.mantissa_fits(mantissa, exp) and mantissa != 0:
            exp += 1
            mantissa = _round_at(exact, exp)
        if mantissa == 0:
            raise _unrepresentable(fmt, number, "too small")
        while mantissa % 10 == 0:  # rounding can leave trailing zeros: 1.9996 -> 2000e-3 -> 2e0
            mantissa //= 10
            exp += 1
        while exp > 0 and fmt.mantissa_fits(mantissa * 10, exp - 1):  # 12e1 -> 120e0
            mantissa *= 10
            exp -= 1
        if not fmt.fits(mantissa, exp):
            raise _unrepresentable(fmt, number, "too large")
        return cls(mantissa, exp)


def _round_at(exact: Decimal, exponent: int) -> int:
    """Mantissa of ``exact`` at ``exponent``, rounding half away from zero like the Nordic encoders."""
    return int(exact.scaleb(-exponent).to_integral_value(rounding=ROUND_HALF_UP))


def _unrepresentable(fmt: _Format, number: float, why: str) -> InvalidValueError:
    return InvalidValueError(
        fmt.name, f"{number!r} cannot be represented ({why})", detail="send Special.NRES for such a value"
    )


@dataclass(frozen=True, slots=True)
class SFloat(_MedFloat):
    """A finite IEEE 11073 16-bit SFLOAT: exponent -8..7, mantissa -2048..2047."""

    FORMAT: ClassVar[_Format] = _SFLOAT


@dataclass(frozen=True, slots=True)
class Float32(_MedFloat):
    """A finite IEEE 11073 32-bit FLOAT: exponent -128..127, mantissa -2**23..2**23-1."""

    FORMAT: ClassVar[_Format] = _FLOAT


SFloatValue: TypeAlias = SFloat | Special
FloatValue: TypeAlias = Float32 | Special

# Decoding is memoised: the SFLOAT space has only 65,536 codes and the values are immutable, so a hot
# decoder (blood pressure frames carry four) pays one dict look-up instead of an object construction.
_SFLOAT_CACHE: dict[int, SFloatValue] = {}


def decode_sfloat(raw: int) -> SFloatValue:
    """Value of a raw 16-bit SFLOAT code (0..0xFFFF)."""
    value = _SFLOAT_CACHE.get(raw)
    if value is None:
        value = _SFLOAT_CACHE[raw] = _decode(SFloat, raw)
    return value


def decode_float32(raw: int) -> FloatValue:
    """Value of a raw 32-bit FLOAT code (0..0xFFFFFFFF)."""
    return _decode(Float32, raw)


def _decode(cls: type[_M], raw: int) -> _M | Special:
    fmt = cls.FORMAT
    if not 0 <= raw < 1 << (fmt.mantissa_bits + fmt.exponent_bits):
        raise InvalidValueError(fmt.name, f"raw code {raw:#x} does not fit {fmt.name}")
    mantissa, exponent = fmt.unpack(raw)
    if exponent == 0:
        special = fmt.special_by_mantissa.get(mantissa)
        if special is not None:
            return special
    return cls(mantissa, exponent)


def encode_sfloat(value: SFloatValue) -> int:
    """Raw 16-bit code of an SFLOAT value or special."""
    return _encode(SFloat, value)


def encode_float32(value: FloatValue) -> int:
    """Raw 32-bit code of a FLOAT value or special."""
    return _encode(Float32, value)


def _encode(cls: type[_MedFloat], value: _MedFloat | Special) -> int:
    if isinstance(value, Special):
        return cls.FORMAT.raw_by_special[value]
    if type(value) is not cls:
        raise InvalidValueError(cls.FORMAT.name, f"expected {cls.__name__} or Special, got {value!r}")
    return value.raw


def json_number(value: _MedFloat | Special) -> int | float | str:
    """JSON rendering of a wire value: an int when the exponent is not negative, a special's name."""
    if isinstance(value, Special):
        return value.value
    if value.exponent >= 0:
        return value.mantissa * 10**value.exponent
    return value.value


def json_converted(value: _MedFloat | Special, convert: Callable[[float], float] | None) -> float | str:
    """A canonical-unit JSON value (``convert`` None: the wire unit is canonical already).

    Specials stay specials; numbers are rounded to 6 decimals, far below any medfloat resolution, so
    that 0.0012 kg/L shows as 120.0 mg/dL and not 120.00000000000001.
    """
    if isinstance(value, Special):
        return value.value
    number = value.value
    return round(convert(number) if convert else number, 6)
