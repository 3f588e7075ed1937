"""UUID parsing, the UUID -> decoder map, and the package's promise never to import a BLE stack."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.blood_pressure import BloodPressureMeasurement
from shared.ble.errors import BleDecodeError, UnknownCharacteristicError
from shared.ble.racp import RacpResponse
from shared.ble.registry import CODECS, decode, parse_uuid

from .strategies import ROUND_TRIP

# One valid value per registered characteristic (sources in the per-module tests).
SAMPLES = {
    0x2A08: "E20704110F3300",
    0x2A0A: "D5070C1B0C1F2802",
    0x2A0F: "0102",
    0x2A2B: "E80706060C042C048000",
    0x2A35: "1E8A00580078000000041114293B3C00012700",
    0x2A36: "156FF0000000003C001200",
    0x2A49: "2100",
    0x2A9D: "0E1605E50702140719380300000000",
    0x2A9E: "07000000",
    0x2A1C: "06B00E00FEDC070C050B321B04",
    0x2A1D: "03",
    0x2A1E: "01DA0300FF",
    0x2A18: "1B0100E307021B0B0A1EFBFF1E00120501",
    0x2A34: "FF0000B30364000412 3C00320 4D3F459F1",
    0x2A51: "F003",
    0x2A52: "06000101",
    0x2A19: "64",
    0x2A23: "0102030405AABBCC",
    0x2A24: "48454D2D3733323254",
    0x2A25: "534E31",
    0x2A26: "544676332E31",
    0x2A27: "7631",
    0x2A28: "312E302E30",
    0x2A29: "4F6D726F6E",
}


@pytest.mark.parametrize(
    "text",
    [
        "2a35",
        "2A35",
        "0x2a35",
        "0X2A35",
        " 2a35 ",
        "00002a35-0000-1000-8000-00805f9b34fb",
        "00002A35-0000-1000-8000-00805F9B34FB",
    ],
)
def test_parse_uuid_forms(text: str) -> None:
    assert parse_uuid(text) == 0x2A35


@pytest.mark.parametrize(
    "text", ["", "2a3", "2a355", "zz35", "0x", "00002a35-0000-1000-8000-00805f9b34fc", "12345678-1234-..."]
)
def test_parse_uuid_rejects_other_text(text: str) -> None:
    with pytest.raises(UnknownCharacteristicError) as caught:
        parse_uuid(text)
    assert caught.value.field == "uuid"
    assert "2a35" in str(caught.value)  # the message shows the accepted form


def test_every_codec_has_a_sample_that_round_trips() -> None:
    assert set(SAMPLES) == set(CODECS)
    for uuid, text in SAMPLES.items():
        frame = bytes.fromhex(text.replace(" ", ""))
        value = decode(uuid, frame)
        assert bytes(value) == frame, CODECS[uuid].name
        assert isinstance(value.to_json(), dict)


def test_decode_accepts_every_uuid_form() -> None:
    frame = bytes.fromhex(SAMPLES[0x2A35])
    expected = BloodPressureMeasurement.from_bytes(frame)
    assert decode(0x2A35, frame) == decode("2a35", frame) == decode("0x2A35", frame) == expected
    assert decode("00002a52-0000-1000-8000-00805f9b34fb", bytes([6, 0, 1, 1])) == RacpResponse(1, 1)


def test_decode_takes_the_bytearray_bleak_delivers() -> None:
    frame = bytes.fromhex(SAMPLES[0x2A1C])
    assert decode(0x2A1C, bytearray(frame)) == decode(0x2A1C, frame)


@ROUND_TRIP
@given(st.sampled_from(sorted(CODECS)), st.binary(max_size=24))
def test_any_bytes_decode_exactly_or_fail_with_a_named_field(uuid: int, frame: bytes) -> None:
    try:
        value = decode(uuid, frame)
    except BleDecodeError as err:  # never IndexError, struct.error, KeyError...
        assert err.offset is not None and 0 <= err.offset <= len(frame)
        assert "." in err.field
    else:
        assert bytes(value) == frame


def test_unknown_characteristic() -> None:
    with pytest.raises(UnknownCharacteristicError) as caught:
        decode(0x2A37, b"\x00\x48")  # Heart Rate Measurement: not a codec here
    assert "no codec for 0x2A37" in str(caught.value)


def test_decode_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match=r"blood_pressure\.flags"):
        decode(0x2A35, b"")
    assert issubclass(UnknownCharacteristicError, BleDecodeError)


def test_the_package_never_imports_a_ble_stack() -> None:
    code = (
        "import sys, shared.ble.registry, shared.ble.cli;"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('bleak', 'bumble', 'dbus_fast'));"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
