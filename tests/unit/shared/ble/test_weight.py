"""Weight Measurement 0x2A9D and Weight Scale Feature 0x2A9E."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.datetime_fields import DateTime
from shared.ble.errors import BleDecodeError, InvalidValueError
from shared.ble.weight import (
    MEASUREMENT_UNSUCCESSFUL,
    HeightResolution,
    WeightMeasurement,
    WeightResolution,
    WeightScaleFeature,
    WeightScaleFeatures,
    WeightUnits,
)

from .strategies import ROUND_TRIP, date_time_bytes, date_times, flagged_frame, optional, raw_bytes

# RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_weight_measurement.py, tests 1-3.
SIG_PYTHON_70_KG = bytes([0x00, 0xB0, 0x36])
SIG_PYTHON_157_LB = bytes([0x01, 0x54, 0x3D])
SIG_PYTHON_70_KG_AT_CHRISTMAS = bytes([0x02, 0xB0, 0x36, 0xE7, 0x07, 0x0C, 0x19, 0x0E, 0x1E, 0x2D])
# Same file, test 5: it uses flags bit 4 for "height only", a layout WSS does not define (bit 4 is RFU).
SIG_PYTHON_HEIGHT_ONLY = bytes([0x10, 0xB0, 0x36, 0xD6, 0x06])

# daisukes/Accessible-Scale-iOS-app AccessibleScale/Helpers/GATTWeightMeasurement.swift: captures from a
# Renpho ES-WBE28. The source reads 1302 with a 0.05 kg step (65.1 kg); WSS defines 0.005 kg, so per the
# standard this is 6.51 kg. The second capture sets flags bit 5, which WSS reserves.
RENPHO_CAPTURE = bytes([0x0E, 0x16, 0x05, 0xE5, 0x07, 0x02, 0x14, 0x07, 0x19, 0x38, 0x03, 0, 0, 0, 0])
RENPHO_CAPTURE_RFU_BIT_5 = bytes(
    [0x2E, 0x16, 0x05, 0xE5, 0x07, 0x02, 0x14, 0x07, 0x16, 0x1B, 0x03, 0xF8, 0x00, 0xA2, 0x00]
)

# shared/reference/ble-gatt.md §1.3: weight 0xFFFF is "Measurement Unsuccessful".
UNSUCCESSFUL = bytes([0x00, 0xFF, 0xFF])
UNSUCCESSFUL_WITH_BMI = bytes([0x08, 0xFF, 0xFF, 0xF5, 0x00, 0xA8, 0x02])
SI_WITH_BMI_AND_HEIGHT = bytes([0x08, 0xB0, 0x36, 0xF5, 0x00, 0xD6, 0x06])
IMPERIAL_WITH_BMI_AND_HEIGHT = bytes([0x09, 0x54, 0x3D, 0xF5, 0x00, 0xA8, 0x02])

# StanfordSpezi/SpeziBluetooth Tests/SpeziBluetoothServicesTests/WeightScaleTests.swift: the feature set
# [bmiSupported, multipleUsersSupported, timeStampSupported] has rawValue 0x07.
SPEZI_FEATURES_0X07 = bytes([0x07, 0x00, 0x00, 0x00])


def test_sig_python_vectors() -> None:
    assert WeightMeasurement.from_bytes(SIG_PYTHON_70_KG) == WeightMeasurement(WeightUnits.SI, 14000)
    assert WeightMeasurement.from_bytes(SIG_PYTHON_157_LB) == WeightMeasurement(WeightUnits.IMPERIAL, 15700)
    assert WeightMeasurement.from_bytes(SIG_PYTHON_70_KG_AT_CHRISTMAS) == WeightMeasurement(
        WeightUnits.SI, 14000, time_stamp=DateTime(2023, 12, 25, 14, 30, 45)
    )
    assert WeightMeasurement(WeightUnits.SI, 14000).weight_kg == 70.0
    assert WeightMeasurement(WeightUnits.IMPERIAL, 15700).weight == 157.0


def test_renpho_capture() -> None:
    value = WeightMeasurement.from_bytes(RENPHO_CAPTURE)
    assert value == WeightMeasurement(
        units=WeightUnits.SI,
        weight_raw=1302,
        time_stamp=DateTime(2021, 2, 20, 7, 25, 56),
        user_id=3,
        bmi_raw=0,
        height_raw=0,
    )
    assert value.weight_kg == 6.51
    assert bytes(value) == RENPHO_CAPTURE


@pytest.mark.parametrize(("frame", "reserved"), [(SIG_PYTHON_HEIGHT_ONLY, "0x10"), (RENPHO_CAPTURE_RFU_BIT_5, "0x20")])
def test_reserved_flag_bits_are_rejected(frame: bytes, reserved: str) -> None:
    with pytest.raises(BleDecodeError) as caught:
        WeightMeasurement.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == ("weight.flags", 0)
    assert f"reserved flag bits {reserved} set" in str(caught.value)


def test_unsuccessful_measurement_is_a_state_not_a_number() -> None:
    value = WeightMeasurement.from_bytes(UNSUCCESSFUL)
    assert value == WeightMeasurement(WeightUnits.SI, MEASUREMENT_UNSUCCESSFUL)
    assert (value.weight, value.weight_kg) == (None, None)
    assert value.to_json()["weight"] == value.to_json()["weight_kg"] == "measurement unsuccessful"
    assert bytes(value) == UNSUCCESSFUL


def test_unsuccessful_measurement_with_bmi_is_rejected_at_the_bmi() -> None:
    with pytest.raises(BleDecodeError) as caught:
        WeightMeasurement.from_bytes(UNSUCCESSFUL_WITH_BMI)
    assert (caught.value.field, caught.value.offset) == ("weight.bmi", 3)


def test_raw_weight_0xffff_must_be_spelled_as_the_sentinel() -> None:
    with pytest.raises(InvalidValueError):
        WeightMeasurement(WeightUnits.SI, 0xFFFF)


def test_si_json() -> None:
    assert WeightMeasurement.from_bytes(SI_WITH_BMI_AND_HEIGHT).to_json() == {
        "units": "SI",
        "weight": 70.0,
        "weight_unit": "kg",
        "weight_kg": 70.0,
        "time_stamp": None,
        "user_id": None,
        "bmi": 24.5,
        "height": 1.75,
        "height_unit": "m",
        "height_m": 1.75,
    }


def test_imperial_json_has_kg_and_m() -> None:
    as_json = WeightMeasurement.from_bytes(IMPERIAL_WITH_BMI_AND_HEIGHT).to_json()
    assert (as_json["weight"], as_json["weight_unit"], as_json["weight_kg"]) == (157.0, "lb", 71.214002)
    assert (as_json["height"], as_json["height_unit"], as_json["height_m"]) == (68.0, "in", 1.7272)


@pytest.mark.parametrize(
    ("frame", "field", "offset"),
    [
        (bytes([0x00, 0xB0]), "weight.weight", 1),
        (bytes([0x04, 0xB0, 0x36]), "weight.user_id", 3),
        (bytes([0x08, 0xB0, 0x36, 0xF5, 0x00, 0xD6]), "weight.height", 5),
        (SIG_PYTHON_70_KG + b"\x01", "weight.trailing_bytes", 3),
        (bytes([0x02, 0xB0, 0x36, 0xE7, 0x07, 0x0C, 0x20, 0x0E, 0x1E, 0x2D]), "weight.time_stamp.day", 6),
    ],
)
def test_malformed_frames_name_field_and_byte(frame: bytes, field: str, offset: int) -> None:
    with pytest.raises(BleDecodeError) as caught:
        WeightMeasurement.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_spezi_feature_vector() -> None:
    value = WeightScaleFeature.from_bytes(SPEZI_FEATURES_0X07)
    assert value == WeightScaleFeature(
        WeightScaleFeatures.TIME_STAMP_SUPPORTED
        | WeightScaleFeatures.MULTIPLE_USERS_SUPPORTED
        | WeightScaleFeatures.BMI_SUPPORTED
    )
    assert bytes(value) == SPEZI_FEATURES_0X07


def test_feature_resolutions() -> None:
    # shared/reference/ble-gatt.md §1.3: weight resolution in bits 3-6, height resolution in bits 7-9.
    value = WeightScaleFeature(
        WeightScaleFeatures(0x07), WeightResolution.KG_0_05_OR_LB_0_1, HeightResolution.M_0_001_OR_IN_0_1
    )
    assert bytes(value) == bytes([0xA7, 0x01, 0x00, 0x00])
    assert value.to_json() == {
        "time_stamp_supported": True,
        "multiple_users_supported": True,
        "bmi_supported": True,
        "weight_resolution": "kg_0_05_or_lb_0_1",
        "height_resolution": "m_0_001_or_in_0_1",
        "raw": "0x000001A7",
    }
    reserved = WeightScaleFeature.from_bytes(bytes([0x00, 0x00, 0x00, 0x80]))
    assert (reserved.reserved_bits, bytes(reserved)) == (0x80000000, bytes([0x00, 0x00, 0x00, 0x80]))


weights = st.one_of(st.just(MEASUREMENT_UNSUCCESSFUL), st.integers(0, 0xFFFE))


@st.composite
def weight_measurements(draw: st.DrawFn) -> WeightMeasurement:
    weight = draw(weights)
    with_bmi = weight is not MEASUREMENT_UNSUCCESSFUL and draw(st.booleans())
    return WeightMeasurement(
        draw(st.sampled_from(WeightUnits)),
        weight,
        draw(optional(date_times())),  # type: ignore[arg-type]
        draw(optional(st.integers(0, 255))),  # type: ignore[arg-type]
        draw(st.integers(0, 0xFFFF)) if with_bmi else None,
        draw(st.integers(0, 0xFFFF)) if with_bmi else None,
    )


@ROUND_TRIP
@given(weight_measurements())
def test_values_round_trip(value: WeightMeasurement) -> None:
    assert WeightMeasurement.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(
    flagged_frame(
        0x0F,
        st.integers(0, 0xFFFE).map(lambda raw: raw.to_bytes(2, "little")),
        [(0x02, date_time_bytes()), (0x04, raw_bytes(1)), (0x08, raw_bytes(4))],
    )
)
def test_valid_frames_decode_encode_decode(frame: bytes) -> None:
    value = WeightMeasurement.from_bytes(frame)
    assert bytes(value) == frame
    assert WeightMeasurement.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(st.integers(0, 0xFFFFFFFF))
def test_every_feature_word_round_trips(raw: int) -> None:
    frame = raw.to_bytes(4, "little")
    assert bytes(WeightScaleFeature.from_bytes(frame)) == frame
