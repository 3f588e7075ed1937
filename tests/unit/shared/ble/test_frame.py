"""The shared frame reader and writer: offsets, field names in errors, and the writer mirroring them."""

from __future__ import annotations

import pytest

from shared.ble.errors import BleDecodeError, InvalidValueError
from shared.ble.frame import FrameReader, FrameWriter, Layout
from shared.ble.ieee11073 import Float32, SFloat, Special

HEAD = Layout(("flags", "B"), ("first", "H"), ("second", "H"))


def test_reader_walks_fields_and_writer_mirrors_it() -> None:
    writer = FrameWriter()
    writer.fields(HEAD, 0x01, 0x0203, 0x0405)
    writer.u8(0xFF)
    writer.u16(0xBEEF)
    writer.s16(-2)
    writer.u32(0xDEADBEEF)
    writer.sfloat(SFloat(120, 0))
    writer.float32(Special.NRES)
    writer.raw(b"tail")
    frame = writer.getvalue()

    reader = FrameReader(frame, "example")
    assert reader.fields(HEAD) == (0x01, 0x0203, 0x0405)
    assert (reader.u8("a"), reader.u16("b"), reader.s16("c"), reader.u32("d")) == (
        0xFF,
        0xBEEF,
        -2,
        0xDEADBEEF,
    )
    assert reader.sfloat("e") == SFloat(120, 0)
    assert reader.float32("f") is Special.NRES
    assert reader.rest() == b"tail"
    reader.finish()


def test_short_layout_names_the_first_field_cut_off() -> None:
    reader = FrameReader(bytes([0x01, 0x02, 0x03, 0x04]), "example")
    with pytest.raises(BleDecodeError) as caught:
        reader.fields(HEAD)
    assert str(caught.value) == "example.second: frame too short at byte 3 (need 2 bytes, have 1)"


def test_group_names_the_whole_composite_field() -> None:
    reader = FrameReader(bytes(3), "example")
    with pytest.raises(BleDecodeError) as caught:
        reader.group(HEAD, "header")
    assert (caught.value.field, caught.value.offset) == ("example.header", 0)


def test_reserved_flags_and_trailing_bytes() -> None:
    reader = FrameReader(bytes([0x81, 0x00]), "example")
    with pytest.raises(BleDecodeError) as caught:
        reader.check_flags(reader.u8("flags"), 0x0F)
    assert "reserved flag bits 0x80 set at byte 0" in str(caught.value)
    with pytest.raises(BleDecodeError) as trailing:
        reader.finish()
    assert str(trailing.value) == (
        "example.trailing_bytes: 1 byte after the end of the value at byte 1 "
        "(the layout ends at byte 1, the frame has 2)"
    )


def test_build_maps_a_value_error_to_its_byte() -> None:
    def refuse(value: int) -> int:
        raise InvalidValueError("thing.level", f"invalid value {value}")

    reader = FrameReader(b"\x07", "example")
    with pytest.raises(BleDecodeError) as caught:
        reader.build(refuse, (reader.u8("level"),), {"level": 0}, base=4, prefix="nested.")
    assert (caught.value.field, caught.value.offset) == ("example.nested.level", 4)


def test_writer_refuses_a_value_of_the_wrong_width() -> None:
    with pytest.raises(InvalidValueError):
        FrameWriter().sfloat(Float32(1, 0))  # type: ignore[arg-type]
