"""Temperature Measurement 0x2A1C (and 0x2A1E) and Temperature Type 0x2A1D."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.datetime_fields import DateTime
from shared.ble.errors import BleDecodeError
from shared.ble.ieee11073 import Float32, Special
from shared.ble.temperature import (
    TemperatureMeasurement,
    TemperatureType,
    TemperatureTypeValue,
    TemperatureUnit,
)

from .strategies import ROUND_TRIP, date_time_bytes, date_times, flagged_frame, float32s, optional, raw_bytes

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/
#     ht/TemperatureMeasurementDataCallbackTest.java
NORDIC_TEMPERATURE = bytes([0x06, 0xB0, 0x0E, 0x00, 0xFE, 0xDC, 0x07, 0x0C, 0x05, 0x0B, 0x32, 0x1B, 0x04])
NORDIC_TEMPERATURE_TYPE_MISSING = NORDIC_TEMPERATURE[:-1]

# 98.6 degF (mantissa 986, exponent -1) with no optional field, laid out per HTS "Temperature Measurement".
FAHRENHEIT_98_6 = bytes([0x01, 0xDA, 0x03, 0x00, 0xFF])
# A thermometer that could not measure: FLOAT NaN (0x007FFFFF).
NOT_MEASURED = bytes([0x00, 0xFF, 0xFF, 0x7F, 0x00])


def test_nordic_temperature() -> None:
    assert TemperatureMeasurement.from_bytes(NORDIC_TEMPERATURE) == TemperatureMeasurement(
        unit=TemperatureUnit.CELSIUS,
        temperature=Float32(3760, -2),
        time_stamp=DateTime(2012, 12, 5, 11, 50, 27),
        temperature_type=TemperatureType.FINGER,
    )
    assert bytes(TemperatureMeasurement.from_bytes(NORDIC_TEMPERATURE)) == NORDIC_TEMPERATURE


def test_nordic_temperature_json() -> None:
    assert TemperatureMeasurement.from_bytes(NORDIC_TEMPERATURE).to_json() == {
        "unit": "celsius",
        "temperature": 37.6,
        "temperature_celsius": 37.6,
        "time_stamp": DateTime(2012, 12, 5, 11, 50, 27).to_json(),
        "temperature_type": "finger",
    }


def test_fahrenheit_is_converted_to_celsius() -> None:
    value = TemperatureMeasurement.from_bytes(FAHRENHEIT_98_6)
    assert value == TemperatureMeasurement(TemperatureUnit.FAHRENHEIT, Float32(986, -1))
    assert value.to_json()["temperature_celsius"] == 37.0


def test_nan_stays_nan() -> None:
    value = TemperatureMeasurement.from_bytes(NOT_MEASURED)
    assert value.temperature is Special.NAN
    assert value.to_json()["temperature_celsius"] == "NaN"


@pytest.mark.parametrize(
    ("frame", "field", "offset"),
    [
        (NORDIC_TEMPERATURE_TYPE_MISSING, "temperature.temperature_type", 12),
        (bytes([0x00, 0xB0, 0x0E, 0x00]), "temperature.temperature", 1),
        (bytes([0x08, 0xB0, 0x0E, 0x00, 0xFE]), "temperature.flags", 0),
        (FAHRENHEIT_98_6 + b"\x04", "temperature.trailing_bytes", 5),
        (
            bytes([0x02, 0xB0, 0x0E, 0x00, 0xFE, 0xDC, 0x07, 0x0C, 0x05, 0x18, 0x32, 0x1B]),
            "temperature.time_stamp.hours",
            9,
        ),
    ],
)
def test_malformed_frames_name_field_and_byte(frame: bytes, field: str, offset: int) -> None:
    with pytest.raises(BleDecodeError) as caught:
        TemperatureMeasurement.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_temperature_type_characteristic() -> None:
    assert TemperatureTypeValue.from_bytes(b"\x03") == TemperatureTypeValue(TemperatureType.EAR)
    reserved = TemperatureTypeValue.from_bytes(b"\x0a")  # 10: reserved for future use, kept
    assert reserved.to_json() == {"temperature_type": "reserved(10)"}
    assert bytes(reserved) == b"\x0a"
    with pytest.raises(BleDecodeError) as caught:
        TemperatureTypeValue.from_bytes(b"")
    assert (caught.value.field, caught.value.offset) == ("temperature_type.temperature_type", 0)


temperature_measurements = st.builds(
    TemperatureMeasurement,
    unit=st.sampled_from(TemperatureUnit),
    temperature=float32s(),
    time_stamp=optional(date_times()),
    temperature_type=optional(st.integers(0, 255)),
)


@ROUND_TRIP
@given(temperature_measurements)
def test_values_round_trip(value: TemperatureMeasurement) -> None:
    assert TemperatureMeasurement.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(flagged_frame(0x07, raw_bytes(4), [(0x02, date_time_bytes()), (0x04, raw_bytes(1))]))
def test_valid_frames_decode_encode_decode(frame: bytes) -> None:
    value = TemperatureMeasurement.from_bytes(frame)
    assert bytes(value) == frame
    assert TemperatureMeasurement.from_bytes(bytes(value)) == value
