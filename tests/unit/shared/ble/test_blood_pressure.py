"""Blood Pressure Measurement 0x2A35, Intermediate Cuff Pressure 0x2A36 and Blood Pressure Feature 0x2A49."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.blood_pressure import (
    BloodPressureFeature,
    BloodPressureFeatures,
    BloodPressureMeasurement,
    IntermediateCuffPressure,
    MeasurementStatus,
    PressureUnit,
    PulseRateRange,
)
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import BleDecodeError
from shared.ble.ieee11073 import SFloat, Special

from .strategies import (
    ROUND_TRIP,
    bp_statuses,
    date_time_bytes,
    date_times,
    flagged_frame,
    optional,
    raw_bytes,
    sfloats,
)

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/
#     bps/BloodPressureMeasurementDataCallbackTest.java
NORDIC_BPM_FULL = bytes.fromhex("1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00")
NORDIC_BPM_SOME = bytes([0x15, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0, 0x3C, 0x00, 0x12, 0x00])
NORDIC_BPM_MINIMAL = bytes([0x00, 0xBD, 0xF0, 0x0B, 0x00, 0x9F, 0xF0])
NORDIC_BPM_TOO_SHORT = bytes([1, 2, 3, 4, 5, 6])
NORDIC_BPM_NO_TIMESTAMP = bytes([3, 2, 3, 4, 5, 6, 7])

# Same repository, .../callback/bps/IntermediateCuffPressureDataCallbackTest.java: diastolic and MAP are
# sent as 0x0000 (BLS asks for NaN there), which the decoder keeps so the frame re-encodes unchanged.
NORDIC_ICP_FULL = bytes.fromhex("1E 04 00 00 00 00 00 00 00 04 11 14 29 3B 3C 00 01 27 00")
NORDIC_ICP_SOME = bytes([0x15, 0x6F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x3C, 0x00, 0x12, 0x00])
NORDIC_ICP_MINIMAL = bytes([0x00, 0xD7, 0xF0, 0x00, 0x00, 0x00, 0x00])

# RonanB96/bluetooth-sig-python tests/gatt/characteristics/test_blood_pressure_measurement.py calls this
# "120/80/90 mmHg", but 0x8078 is exponent -8 (top nibble 8) under IEEE 11073, i.e. 120e-8. Kept to pin
# down that we follow the standard, not that test.
SIG_PYTHON_BPM_120_80 = bytes([0x00, 0x78, 0x80, 0x50, 0x80, 0x5A, 0x80])

# shared/reference/ble-gatt.md §1.2/§5: an interrupted cuff reports NaN (FF 07) in every pressure field.
INTERRUPTED_CUFF_NAN = bytes([0x00, 0xFF, 0x07, 0xFF, 0x07, 0xFF, 0x07])

NORDIC_STATUS_ALL_BUT_RANGE = MeasurementStatus(
    body_movement=True,
    cuff_too_loose=True,
    irregular_pulse=True,
    pulse_rate_range=PulseRateRange.WITHIN_RANGE,
    improper_measurement_position=True,
)
NORDIC_STATUS_LOOSE_AND_SLOW = MeasurementStatus(cuff_too_loose=True, pulse_rate_range=PulseRateRange.BELOW_LOWER_LIMIT)


def test_nordic_full_measurement() -> None:
    assert BloodPressureMeasurement.from_bytes(NORDIC_BPM_FULL) == BloodPressureMeasurement(
        unit=PressureUnit.MMHG,
        systolic=SFloat(138, 0),
        diastolic=SFloat(88, 0),
        mean_arterial_pressure=SFloat(120, 0),
        time_stamp=DateTime(0, 4, 17, 20, 41, 59),
        pulse_rate=SFloat(60, 0),
        user_id=1,
        measurement_status=NORDIC_STATUS_ALL_BUT_RANGE,
    )


def test_nordic_kpa_measurement() -> None:
    assert BloodPressureMeasurement.from_bytes(NORDIC_BPM_SOME) == BloodPressureMeasurement(
        unit=PressureUnit.KPA,
        systolic=SFloat(189, -1),
        diastolic=SFloat(11, 0),
        mean_arterial_pressure=SFloat(159, -1),
        pulse_rate=SFloat(60, 0),
        measurement_status=NORDIC_STATUS_LOOSE_AND_SLOW,
    )


def test_nordic_minimal_measurement() -> None:
    assert BloodPressureMeasurement.from_bytes(NORDIC_BPM_MINIMAL) == BloodPressureMeasurement(
        PressureUnit.MMHG, SFloat(189, -1), SFloat(11, 0), SFloat(159, -1)
    )


@pytest.mark.parametrize("frame", [NORDIC_BPM_FULL, NORDIC_BPM_SOME, NORDIC_BPM_MINIMAL, INTERRUPTED_CUFF_NAN])
def test_measurements_re_encode_byte_exact(frame: bytes) -> None:
    assert bytes(BloodPressureMeasurement.from_bytes(frame)) == frame


def test_kpa_json_has_wire_values_and_mmhg() -> None:
    assert BloodPressureMeasurement.from_bytes(NORDIC_BPM_SOME).to_json() == {
        "unit": "kPa",
        "systolic": 18.9,
        "diastolic": 11,
        "mean_arterial_pressure": 15.9,
        "systolic_mmhg": 141.761638,
        "diastolic_mmhg": 82.506773,
        "mean_arterial_pressure_mmhg": 119.259791,
        "time_stamp": None,
        "pulse_rate_bpm": 60,
        "user_id": None,
        "measurement_status": {
            "body_movement": False,
            "cuff_too_loose": True,
            "irregular_pulse": False,
            "pulse_rate_range": "below_lower_limit",
            "improper_measurement_position": False,
            "raw": "0x0012",
        },
    }


def test_nan_pressures_stay_specials() -> None:
    value = BloodPressureMeasurement.from_bytes(INTERRUPTED_CUFF_NAN)
    assert value.systolic is Special.NAN
    as_json = value.to_json()
    assert (as_json["systolic"], as_json["systolic_mmhg"]) == ("NaN", "NaN")


def test_sig_python_vector_is_read_per_ieee_11073() -> None:
    value = BloodPressureMeasurement.from_bytes(SIG_PYTHON_BPM_120_80)
    assert (value.systolic, value.diastolic, value.mean_arterial_pressure) == (
        SFloat(120, -8),
        SFloat(80, -8),
        SFloat(90, -8),
    )


def test_nordic_intermediate_cuff_pressures() -> None:
    zero = SFloat(0, 0)
    assert IntermediateCuffPressure.from_bytes(NORDIC_ICP_FULL) == IntermediateCuffPressure(
        unit=PressureUnit.MMHG,
        cuff_pressure=SFloat(4, 0),
        time_stamp=DateTime(0, 4, 17, 20, 41, 59),
        pulse_rate=SFloat(60, 0),
        user_id=1,
        measurement_status=NORDIC_STATUS_ALL_BUT_RANGE,
        unused_diastolic=zero,
        unused_mean_arterial_pressure=zero,
    )
    assert IntermediateCuffPressure.from_bytes(NORDIC_ICP_SOME) == IntermediateCuffPressure(
        unit=PressureUnit.KPA,
        cuff_pressure=SFloat(111, -1),
        pulse_rate=SFloat(60, 0),
        measurement_status=NORDIC_STATUS_LOOSE_AND_SLOW,
        unused_diastolic=zero,
        unused_mean_arterial_pressure=zero,
    )
    assert IntermediateCuffPressure.from_bytes(NORDIC_ICP_MINIMAL) == IntermediateCuffPressure(
        PressureUnit.MMHG, SFloat(215, -1), unused_diastolic=zero, unused_mean_arterial_pressure=zero
    )
    for frame in (NORDIC_ICP_FULL, NORDIC_ICP_SOME, NORDIC_ICP_MINIMAL):
        assert bytes(IntermediateCuffPressure.from_bytes(frame)) == frame


def test_intermediate_cuff_pressure_sends_nan_in_unused_fields_by_default() -> None:
    value = IntermediateCuffPressure(PressureUnit.MMHG, SFloat(150, 0))
    assert bytes(value) == bytes([0x00, 0x96, 0x00, 0xFF, 0x07, 0xFF, 0x07])
    assert value.to_json()["cuff_pressure_mmhg"] == 150.0


@pytest.mark.parametrize(
    ("frame", "field", "offset", "message"),
    [
        (b"", "blood_pressure.flags", 0, "frame too short at byte 0 (need 1 byte, have 0)"),
        (
            NORDIC_BPM_TOO_SHORT,
            "blood_pressure.mean_arterial_pressure",
            5,
            "frame too short at byte 5 (need 2 bytes, have 1)",
        ),
        (
            NORDIC_BPM_NO_TIMESTAMP,
            "blood_pressure.time_stamp",
            7,
            "frame too short at byte 7 (need 7 bytes, have 0)",
        ),
        (
            bytes([0x04, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00, 0x48]),
            "blood_pressure.pulse_rate",
            7,
            "frame too short at byte 7 (need 2 bytes, have 1)",
        ),
        (
            NORDIC_BPM_SOME[:-1],
            "blood_pressure.measurement_status",
            9,
            "frame too short at byte 9 (need 2 bytes, have 1)",
        ),
        (
            NORDIC_BPM_MINIMAL + b"\x00\x00",
            "blood_pressure.trailing_bytes",
            7,
            "2 bytes after the end of the value at byte 7 (the layout ends at byte 7, the frame has 9)",
        ),
        (
            bytes([0x20]) + NORDIC_BPM_MINIMAL[1:],
            "blood_pressure.flags",
            0,
            "reserved flag bits 0x20 set at byte 0 (RFU bits would change the layout; this codec knows bits 0x1F)",
        ),
        (
            NORDIC_BPM_FULL[:9] + bytes([13]) + NORDIC_BPM_FULL[10:],
            "blood_pressure.time_stamp.month",
            9,
            "invalid value 13 at byte 9 (valid: 0 = unknown or 1-12)",
        ),
    ],
)
def test_malformed_frames_name_field_and_byte(frame: bytes, field: str, offset: int, message: str) -> None:
    with pytest.raises(BleDecodeError) as caught:
        BloodPressureMeasurement.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)
    assert str(caught.value) == f"{field}: {message}"


def test_intermediate_cuff_pressure_errors_use_its_own_name() -> None:
    with pytest.raises(BleDecodeError) as caught:
        IntermediateCuffPressure.from_bytes(NORDIC_BPM_NO_TIMESTAMP)
    assert (caught.value.field, caught.value.offset) == ("intermediate_cuff_pressure.time_stamp", 7)


def test_blood_pressure_feature() -> None:
    # shared/reference/ble-gatt.md §1.2 bit list; 0x0021 = body movement detection + multiple bonds.
    value = BloodPressureFeature.from_bytes(bytes([0x21, 0x00]))
    assert value == BloodPressureFeature(
        BloodPressureFeatures.BODY_MOVEMENT_DETECTION | BloodPressureFeatures.MULTIPLE_BONDS
    )
    assert value.to_json() == {"supported": ["body_movement_detection", "multiple_bonds"], "raw": "0x0021"}
    reserved = BloodPressureFeature.from_bytes(bytes([0x00, 0x80]))  # bit 15: RFU, kept
    assert bytes(reserved) == bytes([0x00, 0x80])


blood_pressure_measurements = st.builds(
    BloodPressureMeasurement,
    unit=st.sampled_from(PressureUnit),
    systolic=sfloats(),
    diastolic=sfloats(),
    mean_arterial_pressure=sfloats(),
    time_stamp=optional(date_times()),
    pulse_rate=optional(sfloats()),
    user_id=optional(st.integers(0, 255)),
    measurement_status=optional(bp_statuses()),
)

blood_pressure_frames = flagged_frame(
    0x1F,
    raw_bytes(6),
    [(0x02, date_time_bytes()), (0x04, raw_bytes(2)), (0x08, raw_bytes(1)), (0x10, raw_bytes(2))],
)


@ROUND_TRIP
@given(blood_pressure_measurements)
def test_values_round_trip(value: BloodPressureMeasurement) -> None:
    assert BloodPressureMeasurement.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(blood_pressure_frames)
def test_valid_frames_decode_encode_decode(frame: bytes) -> None:
    value = BloodPressureMeasurement.from_bytes(frame)
    assert bytes(value) == frame
    assert BloodPressureMeasurement.from_bytes(bytes(value)) == value
    icp = IntermediateCuffPressure.from_bytes(frame)
    assert bytes(icp) == frame


@ROUND_TRIP
@given(st.binary(max_size=24))
def test_any_bytes_decode_exactly_or_fail_with_a_named_field(frame: bytes) -> None:
    try:
        value = BloodPressureMeasurement.from_bytes(frame)
    except BleDecodeError as err:
        assert err.field.startswith("blood_pressure.")
        assert err.offset is not None and 0 <= err.offset <= len(frame)
    else:
        assert bytes(value) == frame
