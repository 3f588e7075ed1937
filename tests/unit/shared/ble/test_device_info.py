"""Device Information strings and System ID."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.device_info import (
    FirmwareRevision,
    HardwareRevision,
    ManufacturerName,
    ModelNumber,
    SerialNumber,
    SoftwareRevision,
    SystemId,
)
from shared.ble.errors import BleDecodeError

from .strategies import ROUND_TRIP

# DI-GROUP/TimeFlip.Docs Hardware/BLE_device_commutication_protocol_v3.0_en.md: Firmware Revision String
# 0x2A26 reads 0x544676332E31 = "TFv3.1".
TIMEFLIP_FIRMWARE = bytes.fromhex("544676332E31")
# shared/reference/ble-gatt.md §2: Omron's GAP name after bonding, as a Model Number String.
OMRON_MODEL = b"HEM-7322T"
# DIS "System ID" layout: manufacturer identifier 0x0504030201 (40 bits LE), then OUI 0xCCBBAA (24 bits LE).
SYSTEM_ID = bytes([0x01, 0x02, 0x03, 0x04, 0x05, 0xAA, 0xBB, 0xCC])

STRING_TYPES = [
    ManufacturerName,
    ModelNumber,
    SerialNumber,
    FirmwareRevision,
    HardwareRevision,
    SoftwareRevision,
]


def test_strings() -> None:
    assert FirmwareRevision.from_bytes(TIMEFLIP_FIRMWARE) == FirmwareRevision("TFv3.1")
    assert ModelNumber.from_bytes(OMRON_MODEL).to_json() == {"value": "HEM-7322T"}
    assert ManufacturerName("Omron Healthcare") != ModelNumber("Omron Healthcare")  # different characteristics


def test_invalid_utf8_names_the_byte() -> None:
    with pytest.raises(BleDecodeError) as caught:
        SerialNumber.from_bytes(b"SN-\xff01")
    assert (caught.value.field, caught.value.offset) == ("serial_number.value", 3)


def test_system_id() -> None:
    value = SystemId.from_bytes(SYSTEM_ID)
    assert value == SystemId(0x0504030201, 0xCCBBAA)
    assert value.to_json() == {
        "manufacturer_identifier": "0x0504030201",
        "organizationally_unique_identifier": "0xCCBBAA",
    }
    assert bytes(value) == SYSTEM_ID
    with pytest.raises(BleDecodeError) as caught:
        SystemId.from_bytes(SYSTEM_ID[:7])
    assert (caught.value.field, caught.value.offset) == ("system_id.value", 0)


@ROUND_TRIP
@given(st.sampled_from(STRING_TYPES), st.text())
def test_strings_round_trip(kind: type[ManufacturerName], text: str) -> None:
    assert kind.from_bytes(bytes(kind(text))) == kind(text)


@ROUND_TRIP
@given(st.binary(min_size=8, max_size=8))
def test_every_system_id_round_trips(frame: bytes) -> None:
    assert bytes(SystemId.from_bytes(frame)) == frame
