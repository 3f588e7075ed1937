"""Reading and writing characteristic frames field by field, so every error names its field and byte.

All GATT characteristic values here are little-endian (the GATT Specification Supplement's data types are
all little-endian). The codecs share this reader and writer instead of slicing bytes by
hand; the reader tracks the offset, the writer mirrors it, and fixed runs of fields go through one
precompiled :class:`struct.Struct` (a :class:`Layout`) to keep decoding fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from struct import Struct, calcsize
from typing import Any, TypeAlias, TypeVar

from shared.ble.errors import BleDecodeError, InvalidValueError
from shared.ble.ieee11073 import (
    FloatValue,
    SFloatValue,
    decode_float32,
    decode_sfloat,
    encode_float32,
    encode_sfloat,
)

_U8 = Struct("<B")
_U16 = Struct("<H")
_S16 = Struct("<h")
_U32 = Struct("<I")

_T = TypeVar("_T")

# What callers hand in: bytes, or the bytearray bleak delivers to notification callbacks.
FrameBytes: TypeAlias = bytes | bytearray | memoryview


class Layout:
    """A fixed run of named fields (struct codes, little-endian) read or written in one call."""

    __slots__ = ("_spans", "size", "struct")

    def __init__(self, *fields: tuple[str, str]) -> None:
        self.struct = Struct("<" + "".join(code for _, code in fields))
        spans = []
        offset = 0
        for name, code in fields:
            size = calcsize("<" + code)
            spans.append((name, offset, size))
            offset += size
        self.size = offset
        self._spans = tuple(spans)

    def first_short_field(self, available: int) -> tuple[str, int, int]:
        """(name, relative offset, size) of the first field that does not fit in ``available`` bytes."""
        for name, offset, size in self._spans:
            if offset + size > available:
                return name, offset, size
        raise AssertionError("called only when the layout does not fit")

    def offsets(self) -> dict[str, int]:
        """Relative offset of each field, for pointing a value error at its byte."""
        return {name: offset for name, offset, _ in self._spans}


def _plural(count: int) -> str:
    return f"{count} byte" if count == 1 else f"{count} bytes"


class FrameReader:
    """Consumes one characteristic value; each read names its field for the error it may raise."""

    __slots__ = ("_end", "data", "name", "offset")

    def __init__(self, data: FrameBytes, name: str) -> None:
        self.data = data
        self.name = name
        self.offset = 0
        self._end = len(data)

    def error(self, field: str, offset: int, reason: str, detail: str = "") -> BleDecodeError:
        """An error for ``field`` of this characteristic at absolute byte ``offset``."""
        return BleDecodeError(f"{self.name}.{field}", reason, offset, detail)

    def too_short(self, field: str, offset: int, size: int) -> BleDecodeError:
        """The frame ends before ``field`` (``size`` bytes at ``offset``) is complete."""
        have = max(self._end - offset, 0)
        return self.error(field, offset, "frame too short", f"need {_plural(size)}, have {have}")

    def _take(self, size: int, field: str) -> int:
        start = self.offset
        end = start + size
        if end > self._end:
            raise self.too_short(field, start, size)
        self.offset = end
        return start

    def u8(self, field: str) -> int:
        """An unsigned byte."""
        return self.data[self._take(1, field)]

    def u16(self, field: str) -> int:
        """An unsigned 16-bit integer."""
        return _U16.unpack_from(self.data, self._take(2, field))[0]

    def s16(self, field: str) -> int:
        """A signed 16-bit integer."""
        return _S16.unpack_from(self.data, self._take(2, field))[0]

    def u32(self, field: str) -> int:
        """An unsigned 32-bit integer."""
        return _U32.unpack_from(self.data, self._take(4, field))[0]

    def sfloat(self, field: str) -> SFloatValue:
        """An IEEE 11073 16-bit SFLOAT."""
        return decode_sfloat(_U16.unpack_from(self.data, self._take(2, field))[0])

    def float32(self, field: str) -> FloatValue:
        """An IEEE 11073 32-bit FLOAT."""
        return decode_float32(_U32.unpack_from(self.data, self._take(4, field))[0])

    def fields(self, layout: Layout) -> tuple[Any, ...]:
        """All fields of ``layout`` at once; a short frame names the first field that is cut off."""
        start = self.offset
        if start + layout.size > self._end:
            name, relative, size = layout.first_short_field(self._end - start)
            raise self.too_short(name, start + relative, size)
        self.offset = start + layout.size
        return layout.struct.unpack_from(self.data, start)

    def group(self, layout: Layout, field: str) -> tuple[Any, ...]:
        """A composite field (e.g. a 7-byte Date Time) read with one struct; short frames name ``field``."""
        start = self.offset
        if start + layout.size > self._end:
            raise self.too_short(field, start, layout.size)
        self.offset = start + layout.size
        return layout.struct.unpack_from(self.data, start)

    def rest(self) -> bytes:
        """Everything left in the frame (variable-length strings)."""
        start = self.offset
        self.offset = self._end
        return bytes(self.data[start:])

    def check_flags(self, flags: int, defined_mask: int) -> None:
        """Reject reserved bits of the flags byte (byte 0): a future flag adds fields we would misread."""
        reserved = flags & ~defined_mask & 0xFF
        if reserved:
            raise self.error(
                "flags",
                0,
                f"reserved flag bits 0x{reserved:02X} set",
                f"RFU bits would change the layout; this codec knows bits 0x{defined_mask:02X}",
            )

    def build(
        self,
        factory: Callable[..., _T],
        args: tuple[Any, ...],
        offsets: Mapping[str, int],
        base: int = 0,
        prefix: str = "",
    ) -> _T:
        """Construct a value from decoded fields; a range error points at the offending field's byte.

        ``offsets`` maps a field name to its offset relative to ``base``; ``prefix`` names the enclosing
        composite field (``time_stamp.``) so the error reads ``blood_pressure.time_stamp.month``.
        """
        try:
            return factory(*args)
        except InvalidValueError as err:
            relative = offsets.get(err.leaf)
            if relative is None:
                raise
            raise self.error(prefix + err.leaf, base + relative, err.reason, err.detail) from None

    def finish(self) -> None:
        """Reject bytes after the end of the layout the flags selected."""
        extra = self._end - self.offset
        if extra:
            raise self.error(
                "trailing_bytes",
                self.offset,
                f"{_plural(extra)} after the end of the value",
                f"the layout ends at byte {self.offset}, the frame has {self._end}",
            )


class FrameWriter:
    """Builds a characteristic value with the same field vocabulary as :class:`FrameReader`."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def u8(self, value: int) -> None:
        """An unsigned byte."""
        self._buffer += _U8.pack(value)

    def u16(self, value: int) -> None:
        """An unsigned 16-bit integer."""
        self._buffer += _U16.pack(value)

    def s16(self, value: int) -> None:
        """A signed 16-bit integer."""
        self._buffer += _S16.pack(value)

    def u32(self, value: int) -> None:
        """An unsigned 32-bit integer."""
        self._buffer += _U32.pack(value)

    def sfloat(self, value: SFloatValue) -> None:
        """An IEEE 11073 16-bit SFLOAT."""
        self._buffer += _U16.pack(encode_sfloat(value))

    def float32(self, value: FloatValue) -> None:
        """An IEEE 11073 32-bit FLOAT."""
        self._buffer += _U32.pack(encode_float32(value))

    def fields(self, layout: Layout, *values: Any) -> None:
        """All fields of ``layout`` at once."""
        self._buffer += layout.struct.pack(*values)

    def raw(self, data: bytes) -> None:
        """Bytes copied as they are (strings, nested values already encoded)."""
        self._buffer += data

    def getvalue(self) -> bytes:
        """The frame built so far."""
        return bytes(self._buffer)
