"""Battery Level 0x2A19."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.battery import BatteryLevel
from shared.ble.errors import BleDecodeError, InvalidValueError

from .strategies import ROUND_TRIP

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/battery/BatteryLevelDataCallbackTest.java
NORDIC_FULL_BATTERY = bytes([0x64])
NORDIC_LOW_BATTERY = bytes([0x0F])
NORDIC_TOO_LONG = bytes([0x64, 0x00])
NORDIC_OUT_OF_RANGE = bytes([0x65])


def test_nordic_levels() -> None:
    assert BatteryLevel.from_bytes(NORDIC_FULL_BATTERY) == BatteryLevel(100)
    assert BatteryLevel.from_bytes(NORDIC_LOW_BATTERY) == BatteryLevel(15)
    assert BatteryLevel(15).to_json() == {"level_percent": 15}


@pytest.mark.parametrize(
    ("frame", "field", "offset"),
    [
        (NORDIC_TOO_LONG, "battery_level.trailing_bytes", 1),
        (NORDIC_OUT_OF_RANGE, "battery_level.level", 0),
        (b"", "battery_level.level", 0),
    ],
)
def test_malformed_levels(frame: bytes, field: str, offset: int) -> None:
    with pytest.raises(BleDecodeError) as caught:
        BatteryLevel.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_constructor_checks_the_range() -> None:
    with pytest.raises(InvalidValueError):
        BatteryLevel(101)


@ROUND_TRIP
@given(st.integers(0, 100))
def test_levels_round_trip(level: int) -> None:
    assert BatteryLevel.from_bytes(bytes(BatteryLevel(level))) == BatteryLevel(level)
