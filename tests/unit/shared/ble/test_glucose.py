"""Glucose Measurement 0x2A18 and Glucose Feature 0x2A51."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.datetime_fields import DateTime
from shared.ble.errors import BleDecodeError, InvalidValueError
from shared.ble.glucose import (
    ConcentrationUnit,
    GlucoseFeature,
    GlucoseFeatures,
    GlucoseMeasurement,
    GlucoseType,
    SampleLocation,
    SensorStatus,
)
from shared.ble.ieee11073 import SFloat

from .strategies import ROUND_TRIP, date_time_bytes, date_times, flagged_frame, optional, raw_bytes, sfloats

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/
#     glucose/GlucoseMeasurementDataCallbackTest.java
# (status 0x0105 = battery low, sample size insufficient, temperature too low: the test's comment says
# "device fault", but bit 8 is "sensor temperature too low" in the SIG definition and in the test's asserts).
NORDIC_GLUCOSE = bytes(
    [0x1B, 0x01, 0x00, 0xE3, 0x07, 0x02, 0x1B, 0x0B, 0x0A, 0x1E, 0xFB, 0xFF, 0x1E, 0x00, 0x12, 0x05, 0x01]
)
NORDIC_GLUCOSE_TIME_OFFSET_MISSING = bytes(
    [0x1B, 0x00, 0x00, 0xE2, 0x07, 0x04, 0x1A, 0x0B, 0x09, 0x1E, 0x1E, 0x00, 0x12, 0x05, 0x01]
)
# Same repository, .../glucose/GlucoseFeatureDataCallbackTest.java
NORDIC_GLUCOSE_FEATURE = bytes([0b11110000, 0b00000011])

# shared/reference/ble-gatt.md §1.5: 120 mg/dL = 0.0012 kg/L = mantissa 120, exponent -5 (78 B0);
# 5.5 mmol/L = 0.0055 mol/L (37 C0). Frames: concentration flag, sequence 7, base time
# 2024-03-01 08:00:00, capillary plasma, finger.
GLUCOSE_120_MG_DL = bytes([0x02, 0x07, 0x00, 0xE8, 0x07, 3, 1, 8, 0, 0, 0x78, 0xB0, 0x12])
GLUCOSE_5_5_MMOL_L = bytes([0x06, 0x07, 0x00, 0xE8, 0x07, 3, 1, 8, 0, 0, 0x37, 0xC0, 0x12])


def test_nordic_glucose_measurement() -> None:
    assert GlucoseMeasurement.from_bytes(NORDIC_GLUCOSE) == GlucoseMeasurement(
        sequence_number=1,
        base_time=DateTime(2019, 2, 27, 11, 10, 30),
        time_offset_minutes=-5,
        concentration=SFloat(30, 0),
        concentration_unit=ConcentrationUnit.KG_PER_L,
        sample_type=GlucoseType.CAPILLARY_PLASMA,
        sample_location=SampleLocation.FINGER,
        sensor_status=SensorStatus.DEVICE_BATTERY_LOW
        | SensorStatus.SAMPLE_SIZE_INSUFFICIENT
        | SensorStatus.TEMPERATURE_TOO_LOW,
        context_follows=True,
    )
    assert bytes(GlucoseMeasurement.from_bytes(NORDIC_GLUCOSE)) == NORDIC_GLUCOSE


def test_nordic_frame_without_its_time_offset_is_short_at_the_status() -> None:
    with pytest.raises(BleDecodeError) as caught:
        GlucoseMeasurement.from_bytes(NORDIC_GLUCOSE_TIME_OFFSET_MISSING)
    assert (caught.value.field, caught.value.offset) == ("glucose.sensor_status", 15)


def test_kg_per_l_json_has_mg_per_dl() -> None:
    assert GlucoseMeasurement.from_bytes(GLUCOSE_120_MG_DL).to_json() == {
        "sequence_number": 7,
        "base_time": DateTime(2024, 3, 1, 8, 0, 0).to_json(),
        "time_offset_minutes": None,
        "measurement_time": "2024-03-01T08:00:00",
        "concentration": 0.0012,
        "concentration_unit": "kg/L",
        "concentration_mg_dl": 120.0,
        "sample_type": "capillary_plasma",
        "sample_location": "finger",
        "sensor_status": None,
        "sensor_status_raw": None,
        "context_follows": False,
    }


def test_mol_per_l_uses_the_glucose_molar_mass() -> None:
    value = GlucoseMeasurement.from_bytes(GLUCOSE_5_5_MMOL_L)
    assert (value.concentration, value.concentration_unit) == (SFloat(55, -4), ConcentrationUnit.MOL_PER_L)
    assert value.to_json()["concentration_mg_dl"] == 99.0858  # 0.0055 mol/L x 180.156 g/mol


def test_measurement_time_applies_the_offset() -> None:
    value = GlucoseMeasurement.from_bytes(NORDIC_GLUCOSE)
    assert value.to_json()["measurement_time"] == "2019-02-27T11:05:30"
    assert value.to_json()["sensor_status"] == [
        "device_battery_low",
        "sample_size_insufficient",
        "temperature_too_low",
    ]


def test_sensor_status_bit_5_is_result_too_high() -> None:
    # SIG XML and Mindtree/NXP appl_gls.c; Nordic's GlucoseMeasurementCallback has bits 5 and 6 swapped.
    assert SensorStatus(0x0020) is SensorStatus.RESULT_TOO_HIGH
    assert SensorStatus(0x0040) is SensorStatus.RESULT_TOO_LOW


def test_concentration_type_and_location_travel_together() -> None:
    with pytest.raises(InvalidValueError):
        GlucoseMeasurement(1, DateTime(2024, 1, 1, 0, 0, 0), concentration=SFloat(120, -5))


@pytest.mark.parametrize(
    ("frame", "field", "offset"),
    [
        (bytes([0x00, 0x01]), "glucose.sequence_number", 1),
        (bytes([0x00, 0x01, 0x00, 0xE3, 0x07, 0x02]), "glucose.base_time", 3),
        (bytes([0x20, 0x01, 0x00]), "glucose.flags", 0),
        (GLUCOSE_120_MG_DL[:-1], "glucose.type_and_sample_location", 12),
        (GLUCOSE_120_MG_DL + b"\x00", "glucose.trailing_bytes", 13),
        (bytes([0x00, 0x01, 0x00, 0xE3, 0x07, 0x0D, 0x1B, 0x0B, 0x0A, 0x1E]), "glucose.base_time.month", 5),
    ],
)
def test_malformed_frames_name_field_and_byte(frame: bytes, field: str, offset: int) -> None:
    with pytest.raises(BleDecodeError) as caught:
        GlucoseMeasurement.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_nordic_glucose_feature() -> None:
    value = GlucoseFeature.from_bytes(NORDIC_GLUCOSE_FEATURE)
    assert value == GlucoseFeature(
        GlucoseFeatures.STRIP_TYPE_ERROR_DETECTION
        | GlucoseFeatures.RESULT_HIGH_LOW_DETECTION
        | GlucoseFeatures.TEMPERATURE_HIGH_LOW_DETECTION
        | GlucoseFeatures.READ_INTERRUPT_DETECTION
        | GlucoseFeatures.GENERAL_DEVICE_FAULT
        | GlucoseFeatures.TIME_FAULT
    )
    assert GlucoseFeatures.MULTIPLE_BOND not in value.features
    assert bytes(value) == NORDIC_GLUCOSE_FEATURE
    with pytest.raises(BleDecodeError) as caught:
        GlucoseFeature.from_bytes(b"")
    assert (caught.value.field, caught.value.offset) == ("glucose_feature.features", 0)


@st.composite
def glucose_measurements(draw: st.DrawFn) -> GlucoseMeasurement:
    with_concentration = draw(st.booleans())
    return GlucoseMeasurement(
        draw(st.integers(0, 0xFFFF)),
        draw(date_times()),
        draw(optional(st.integers(-0x8000, 0x7FFF))),  # type: ignore[arg-type]
        draw(sfloats()) if with_concentration else None,  # type: ignore[arg-type]
        draw(st.sampled_from(ConcentrationUnit)),
        draw(st.integers(0, 15)) if with_concentration else None,
        draw(st.integers(0, 15)) if with_concentration else None,
        draw(optional(st.integers(0, 0xFFFF).map(SensorStatus))),  # type: ignore[arg-type]
        draw(st.booleans()),
    )


@ROUND_TRIP
@given(glucose_measurements())
def test_values_round_trip(value: GlucoseMeasurement) -> None:
    assert GlucoseMeasurement.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(
    flagged_frame(
        0x1F,
        st.tuples(raw_bytes(2), date_time_bytes()).map(b"".join),
        [(0x01, raw_bytes(2)), (0x02, raw_bytes(3)), (0x08, raw_bytes(2))],
    )
)
def test_valid_frames_decode_encode_decode(frame: bytes) -> None:
    value = GlucoseMeasurement.from_bytes(frame)
    assert bytes(value) == frame
    assert GlucoseMeasurement.from_bytes(bytes(value)) == value
