"""Seeded reading generators: determinism, physiological ranges, daily rhythm, error readings."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from typing import TypeVar, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.ble.blood_pressure import BloodPressureMeasurement
from shared.ble.glucose import GlucoseMeasurement, SensorStatus
from shared.ble.ieee11073 import Float32, SFloat, Special
from shared.ble.registry import decode
from shared.ble.temperature import TemperatureMeasurement
from shared.ble.weight import MEASUREMENT_UNSUCCESSFUL, WeightMeasurement
from simulator.devices import records
from simulator.devices.records import Reading, ReadingPlan, RecordStore

GENERATORS = {
    "blood_pressure": (records.blood_pressure_readings, 0x2A35),
    "weight": (records.weight_readings, 0x2A9D),
    "temperature": (records.temperature_readings, 0x2A1C),
    "glucose": (records.glucose_readings, 0x2A18),
}
_V = TypeVar("_V")
PLANS = st.builds(
    ReadingPlan,
    count=st.integers(0, 60),
    seed=st.integers(0, 2**32),
    error_rate=st.sampled_from([0.0, 0.1, 0.5]),
    out_of_range_rate=st.sampled_from([0.0, 0.2, 1.0]),
    user_ids=st.sampled_from([(1,), (1, 2), (3, 4, 5)]),
)


def _between(value: float, bounds: tuple[float, float]) -> bool:
    return bounds[0] <= value <= bounds[1]


def _values(readings: list[Reading], kind: type[_V]) -> list[_V]:
    """The measurements, checked to be of ``kind``."""
    values = [reading.measurement for reading in readings]
    assert all(isinstance(value, kind) for value in values)
    return cast(list[_V], values)


def _number(value: SFloat | Float32 | Special | None) -> float:
    """A finite medfloat as a float (fails on specials)."""
    assert isinstance(value, SFloat | Float32), value
    return value.value


@pytest.mark.parametrize("kind", list(GENERATORS))
def test_same_seed_same_readings_other_seed_other_readings(kind: str) -> None:
    generate, _ = GENERATORS[kind]
    plan = ReadingPlan(count=25, seed=99, error_rate=0.1)
    first, again = generate(plan), generate(plan)
    assert [bytes(r.measurement) for r in first] == [bytes(r.measurement) for r in again]
    other = generate(ReadingPlan(count=25, seed=100, error_rate=0.1))
    assert [bytes(r.measurement) for r in first] != [bytes(r.measurement) for r in other]


@pytest.mark.parametrize("kind", list(GENERATORS))
@settings(max_examples=25, deadline=None)
@given(plan=PLANS)
def test_readings_round_trip_through_the_shared_codecs(kind: str, plan: ReadingPlan) -> None:
    generate, uuid = GENERATORS[kind]
    readings = generate(plan)
    assert len(readings) == plan.count
    for reading in readings:
        assert decode(uuid, bytes(reading.measurement)) == reading.measurement
        if reading.context is not None:
            assert decode(0x2A34, bytes(reading.context)) == reading.context


@settings(max_examples=25, deadline=None)
@given(plan=PLANS)
def test_times_are_ordered_and_before_the_end(plan: ReadingPlan) -> None:
    for generate, _ in GENERATORS.values():
        stamps = [_time_of(reading) for reading in generate(plan)]
        assert stamps == sorted(stamps)
        assert all(stamp < plan.end for stamp in stamps)


def _time_of(reading: Reading) -> dt.datetime:
    value = reading.measurement
    stamp = value.base_time if isinstance(value, GlucoseMeasurement) else getattr(value, "time_stamp", None)
    assert stamp is not None
    moment = stamp.to_datetime()
    assert moment is not None
    return moment


@settings(max_examples=25, deadline=None)
@given(plan=PLANS)
def test_blood_pressure_in_physiological_range(plan: ReadingPlan) -> None:
    for value in _values(records.blood_pressure_readings(plan), BloodPressureMeasurement):
        assert value.user_id in plan.user_ids
        if value.systolic is Special.NAN:
            assert value.diastolic is Special.NAN and value.mean_arterial_pressure is Special.NAN
            continue
        systolic, diastolic = _number(value.systolic), _number(value.diastolic)
        assert _between(systolic, records.SYSTOLIC_MMHG) and _between(diastolic, records.DIASTOLIC_MMHG)
        assert systolic > diastolic < _number(value.mean_arterial_pressure) < systolic
        assert _between(_number(value.pulse_rate), records.PULSE_BPM)


@settings(max_examples=25, deadline=None)
@given(plan=PLANS)
def test_weight_in_physiological_range(plan: ReadingPlan) -> None:
    for reading in records.weight_readings(plan):
        value = reading.measurement
        assert isinstance(value, WeightMeasurement)
        if value.weight_raw is MEASUREMENT_UNSUCCESSFUL:
            assert value.bmi_raw is None
            continue
        assert value.weight_kg is not None and _between(value.weight_kg, records.WEIGHT_KG)
        assert value.height_m is not None and _between(value.height_m, records.HEIGHT_M)
        assert value.bmi is not None and 10 < value.bmi < 80
        assert value.weight_raw % 10 == 0  # the 0.05 kg resolution the feature announces


@settings(max_examples=25, deadline=None)
@given(plan=PLANS)
def test_temperature_and_glucose_in_physiological_range(plan: ReadingPlan) -> None:
    for temperature in _values(records.temperature_readings(plan), TemperatureMeasurement):
        if temperature.temperature is not Special.NAN:
            assert _between(_number(temperature.temperature), records.BODY_TEMPERATURE_C)
    for reading in records.glucose_readings(plan):
        glucose = reading.measurement
        assert isinstance(glucose, GlucoseMeasurement)
        if glucose.concentration is Special.NAN:
            assert glucose.sensor_status  # an error reading says why
            continue
        assert _between(glucose.to_json()["concentration_mg_dl"], records.GLUCOSE_MG_DL)
        assert glucose.context_follows == (reading.context is not None)


def test_error_rate_one_gives_only_error_readings() -> None:
    plan = ReadingPlan(count=10, error_rate=1.0)
    bp = _values(records.blood_pressure_readings(plan), BloodPressureMeasurement)
    assert all(value.systolic is Special.NAN for value in bp)
    weights = _values(records.weight_readings(plan), WeightMeasurement)
    assert all(value.weight_raw is MEASUREMENT_UNSUCCESSFUL for value in weights)
    statuses = {SensorStatus.STRIP_INSERTION_ERROR, SensorStatus.SAMPLE_SIZE_INSUFFICIENT}
    glucose = _values(records.glucose_readings(plan), GlucoseMeasurement)
    assert all(value.sensor_status in statuses and value.concentration is Special.NAN for value in glucose)


def test_daily_rhythm_morning_blood_pressure_and_afternoon_temperature() -> None:
    plan = ReadingPlan(count=400, seed=5, out_of_range_rate=0.0)
    morning: list[float] = []
    evening: list[float] = []
    for value in _values(records.blood_pressure_readings(plan), BloodPressureMeasurement):
        assert value.time_stamp is not None
        (morning if value.time_stamp.hours < 11 else evening).append(_number(value.systolic))
    assert statistics.mean(morning) > statistics.mean(evening) + 3  # morning surge
    by_quarter: dict[int, list[float]] = {}
    for temperature in _values(records.temperature_readings(plan), TemperatureMeasurement):
        assert temperature.time_stamp is not None
        by_quarter.setdefault(temperature.time_stamp.hours // 6, []).append(_number(temperature.temperature))
    assert statistics.mean(by_quarter[2]) > statistics.mean(by_quarter[1])  # afternoon warmer than morning


def test_out_of_range_rate_adds_abnormal_readings() -> None:
    normal = records.glucose_readings(ReadingPlan(count=200, seed=1, out_of_range_rate=0.0))
    abnormal = records.glucose_readings(ReadingPlan(count=200, seed=1, out_of_range_rate=0.5))

    def extremes(readings: list[Reading]) -> int:
        values = [r.measurement.to_json()["concentration_mg_dl"] for r in readings]
        return sum(1 for mg_dl in values if mg_dl < 70 or mg_dl > 240)

    assert extremes(normal) < 5 < 50 < extremes(abnormal)


def test_glucose_sequence_numbers_follow_the_plan() -> None:
    readings = records.glucose_readings(ReadingPlan(count=5, first_sequence_number=65534))
    numbers = [value.sequence_number for value in _values(readings, GlucoseMeasurement)]
    assert numbers == [65534, 65535, 0, 1, 2]  # u16 wraps


def test_measurement_times_follow_the_daily_slots() -> None:
    rng = random.Random(1)
    end = dt.datetime(2025, 1, 15, 9, 0)
    times = records.measurement_times(rng, 30, end, [(7, 0), (21, 0)], jitter_min=30)
    assert len(times) == 30
    assert all(6 <= t.hour <= 7 or 20 <= t.hour <= 21 for t in times)


def test_record_store_numbers_selects_and_deletes() -> None:
    store = RecordStore()
    readings = records.temperature_readings(ReadingPlan(count=4))
    stored = [store.add(r.measurement, bytes(r.measurement)) for r in readings]
    assert [r.sequence_number for r in stored] == [1, 2, 3, 4]
    assert [r.sequence_number for r in store.select(minimum=2, maximum=3)] == [2, 3]
    assert store.delete(stored[:2]) == 2
    assert [r.sequence_number for r in store.records] == [3, 4]
    assert store.add(readings[0].measurement, b"\x00").sequence_number == 5
    assert store.to_json()[0]["characteristic"] == "2a1c"
