"""Glucose Measurement Context 0x2A34."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.errors import BleDecodeError, InvalidValueError
from shared.ble.glucose_context import (
    CarbohydrateId,
    GlucoseMeasurementContext,
    Health,
    Meal,
    MedicationId,
    MedicationUnit,
)
from shared.ble.glucose_context import Tester as ContextTester  # "Test..." names would be collected
from shared.ble.ieee11073 import SFloat

from .strategies import ROUND_TRIP, flagged_frame, raw_bytes, sfloats

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/
#     glucose/GlucoseMeasurementContextDataCallbackTest.java
# (onGlucoseMeasurementContextReceived_full). The test builds the frame with setValue calls; the SFLOAT
# bytes are what Nordic's encoder (ble MutableData.sfloatToInt) gives: 100.0 -> 64 00, 123.45 -> 1235e-1
# (D3 F4, its DataTest asserts 123.5), 34.5 -> 345e-1 (59 F1).
NORDIC_CONTEXT_FULL = bytes(
    [0xFF, 0x00, 0x00, 0xB3, 0x03, 0x64, 0x00, 0x04, 0x12, 0x3C, 0x00, 0x32, 0x04, 0xD3, 0xF4, 0x59, 0xF1]
)
# onInvalidDataReceived: flags announce every field, but the frame stops after the carbohydrate ID.
NORDIC_CONTEXT_CUT = bytes([0xFF, 0x00, 0x00, 0xB3, 0x03])
# onGlucoseMeasurementContextReceived_empty uses a 17-byte buffer with flags 0: Nordic ignores the 14
# zero bytes after the sequence number, which this codec reports as trailing bytes.
NORDIC_CONTEXT_EMPTY_PADDED = bytes([0x00, 0x01, 0x00]) + bytes(14)


def test_nordic_full_context() -> None:
    value = GlucoseMeasurementContext.from_bytes(NORDIC_CONTEXT_FULL)
    assert value == GlucoseMeasurementContext(
        sequence_number=0,
        extended_flags=0xB3,
        carbohydrate_id=CarbohydrateId.DINNER,
        carbohydrate_kg=SFloat(100, 0),
        meal=Meal.CASUAL,
        tester=ContextTester.HEALTH_CARE_PROFESSIONAL,
        health=Health.MINOR_HEALTH_ISSUES,
        exercise_duration_s=60,
        exercise_intensity_percent=50,
        medication_id=MedicationId.LONG_ACTING_INSULIN,
        medication=SFloat(1235, -1),
        medication_unit=MedicationUnit.LITRES,
        hba1c_percent=SFloat(345, -1),
    )
    assert bytes(value) == NORDIC_CONTEXT_FULL


def test_nordic_full_context_json() -> None:
    assert GlucoseMeasurementContext.from_bytes(NORDIC_CONTEXT_FULL).to_json() == {
        "sequence_number": 0,
        "extended_flags": 0xB3,
        "carbohydrate_id": "dinner",
        "carbohydrate_kg": 100,
        "carbohydrate_g": 100000.0,
        "meal": "casual",
        "tester": "health_care_professional",
        "health": "minor_health_issues",
        "exercise_duration_s": 60,
        "exercise_duration_overrun": False,
        "exercise_intensity_percent": 50,
        "medication_id": "long_acting_insulin",
        "medication": 123.5,
        "medication_unit": "L",
        "medication_mg": None,
        "medication_ml": 123500.0,
        "hba1c_percent": 34.5,
    }


def test_nordic_cut_frame_names_the_carbohydrate() -> None:
    with pytest.raises(BleDecodeError) as caught:
        GlucoseMeasurementContext.from_bytes(NORDIC_CONTEXT_CUT)
    assert (caught.value.field, caught.value.offset) == ("glucose_context.carbohydrate", 5)


def test_zero_padding_is_trailing_garbage() -> None:
    with pytest.raises(BleDecodeError) as caught:
        GlucoseMeasurementContext.from_bytes(NORDIC_CONTEXT_EMPTY_PADDED)
    assert (caught.value.field, caught.value.offset) == ("glucose_context.trailing_bytes", 3)
    assert GlucoseMeasurementContext.from_bytes(NORDIC_CONTEXT_EMPTY_PADDED[:3]) == GlucoseMeasurementContext(1)


def test_pairs_travel_together() -> None:
    with pytest.raises(InvalidValueError) as caught:
        GlucoseMeasurementContext(1, tester=ContextTester.SELF)
    assert caught.value.field == "glucose_context.health"


@st.composite
def contexts(draw: st.DrawFn) -> GlucoseMeasurementContext:
    def pair(first: st.SearchStrategy[object], second: st.SearchStrategy[object]) -> tuple[object, object]:
        return (draw(first), draw(second)) if draw(st.booleans()) else (None, None)

    carbohydrate = pair(st.integers(0, 255), sfloats())
    tester_health = pair(st.integers(0, 15), st.integers(0, 15))
    exercise = pair(st.integers(0, 0xFFFF), st.integers(0, 255))
    medication = pair(st.integers(0, 255), sfloats())
    return GlucoseMeasurementContext(
        draw(st.integers(0, 0xFFFF)),
        draw(st.one_of(st.none(), st.integers(0, 255))),
        *carbohydrate,  # type: ignore[arg-type]
        draw(st.one_of(st.none(), st.integers(0, 255))),
        *tester_health,  # type: ignore[arg-type]
        *exercise,  # type: ignore[arg-type]
        *medication,  # type: ignore[arg-type]
        draw(st.sampled_from(MedicationUnit)),
        draw(st.one_of(st.none(), sfloats())),  # type: ignore[arg-type]
    )


@ROUND_TRIP
@given(contexts())
def test_values_round_trip(value: GlucoseMeasurementContext) -> None:
    assert GlucoseMeasurementContext.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(
    flagged_frame(
        0xFF,
        raw_bytes(2),
        [
            (0x80, raw_bytes(1)),
            (0x01, raw_bytes(3)),
            (0x02, raw_bytes(1)),
            (0x04, raw_bytes(1)),
            (0x08, raw_bytes(3)),
            (0x10, raw_bytes(3)),
            (0x40, raw_bytes(2)),
        ],
    )
)
def test_valid_frames_decode_encode_decode(frame: bytes) -> None:
    value = GlucoseMeasurementContext.from_bytes(frame)
    assert bytes(value) == frame
    assert GlucoseMeasurementContext.from_bytes(bytes(value)) == value
