"""Seeded readings with a daily rhythm, and the list of stored records a device holds.

Generators are pure: the same :class:`ReadingPlan` gives the same readings on every run and machine
(``random.Random`` seeded with a string is stable across Python versions and processes), so the
fleet's ground truth can be regenerated from the scenario. Values stay inside the physiological
bounds below; ``out_of_range_rate`` adds clinically abnormal but plausible readings (hypertensive
crisis, fever, hypo- and hyperglycaemia, someone else on the scale) and ``error_rate`` adds error
readings: NaN frames (interrupted cuff, failed probe, strip error) and unsuccessful weighings (0xFFFF).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from shared.ble.blood_pressure import BloodPressureMeasurement, MeasurementStatus, PressureUnit, PulseRateRange
from shared.ble.datetime_fields import DateTime
from shared.ble.glucose import GlucoseMeasurement, GlucoseType, SampleLocation, SensorStatus
from shared.ble.glucose_context import CarbohydrateId, GlucoseMeasurementContext, Health, Meal, Tester
from shared.ble.ieee11073 import Float32, SFloat, Special
from shared.ble.registry import CharacteristicValue
from shared.ble.temperature import TemperatureMeasurement, TemperatureUnit
from shared.ble.weight import MEASUREMENT_UNSUCCESSFUL, WeightMeasurement, WeightUnits

# Hard bounds no generated number leaves (mmHg, bpm, kg, m, degrees C, mg/dL).
SYSTOLIC_MMHG = (70, 230)
DIASTOLIC_MMHG = (40, 140)
PULSE_BPM = (35, 180)
WEIGHT_KG = (30.0, 200.0)
HEIGHT_M = (1.45, 2.05)
BODY_TEMPERATURE_C = (34.5, 42.0)
GLUCOSE_MG_DL = (35, 480)

DEFAULT_END = dt.datetime(2025, 1, 15, 9, 0)
UNKNOWN_USER = 255


@dataclass(frozen=True, slots=True)
class ReadingPlan:
    """What to generate: how many readings up to ``end``, from which seed, with which oddities."""

    count: int = 10
    seed: int = 0
    end: dt.datetime = DEFAULT_END
    error_rate: float = 0.0
    out_of_range_rate: float = 0.05
    user_ids: tuple[int, ...] = (1,)
    first_sequence_number: int = 1

    def __post_init__(self) -> None:
        if self.count < 0 or not self.user_ids:
            raise ValueError("count must be >= 0 and user_ids non-empty")
        if not (0.0 <= self.error_rate <= 1.0 and 0.0 <= self.out_of_range_rate <= 1.0):
            raise ValueError("error_rate and out_of_range_rate are shares between 0 and 1")

    def rng(self, kind: str) -> random.Random:
        """The generator's random source; a string seed keeps it stable across processes."""
        return random.Random(f"{kind}:{self.seed}")  # noqa: S311 - reproducible test data, not security


class Reading(NamedTuple):
    """One generated measurement, plus its Glucose Measurement Context when it has one."""

    measurement: CharacteristicValue
    context: GlucoseMeasurementContext | None = None


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def measurement_times(
    rng: random.Random, count: int, end: dt.datetime, slots: Sequence[tuple[int, int]], jitter_min: int = 40
) -> list[dt.datetime]:
    """``count`` times before ``end``, oldest first, at the daily ``slots`` (hour, minute) with jitter.

    About one day in eight is skipped (nobody measures every day).
    """
    times: list[dt.datetime] = []
    day = end.date()
    while len(times) < count:
        if rng.random() >= 0.125:
            for hour, minute in sorted(slots, reverse=True):
                jitter = dt.timedelta(minutes=rng.randint(-jitter_min, jitter_min), seconds=rng.randint(0, 59))
                moment = dt.datetime.combine(day, dt.time(hour, minute)) + jitter
                if moment < end and len(times) < count:
                    times.append(moment)
        day -= dt.timedelta(days=1)
    return sorted(times)


def _users(plan: ReadingPlan) -> Iterator[int]:
    while True:
        yield from plan.user_ids


def blood_pressure_readings(plan: ReadingPlan) -> list[Reading]:
    """Cuff readings at ~07:00 and ~21:00 with a morning surge; NaN frames for interrupted inflations."""
    rng = plan.rng("blood_pressure")
    base_systolic, base_diastolic = rng.uniform(112, 138), rng.uniform(70, 88)
    base_pulse = rng.uniform(58, 78)
    readings = []
    users = _users(plan)
    for moment in measurement_times(rng, plan.count, plan.end, [(7, 0), (21, 0)]):
        user = next(users)
        stamp = DateTime.from_datetime(moment)
        if rng.random() < plan.error_rate:
            # An interrupted inflation: every value NaN (0x07FF), body movement flagged (LibreArm #6).
            nan = Special.NAN
            status = MeasurementStatus(body_movement=True)
            readings.append(
                Reading(BloodPressureMeasurement(PressureUnit.MMHG, nan, nan, nan, stamp, nan, user, status))
            )
            continue
        surge = 7.0 if moment.hour < 11 else 0.0  # morning blood pressure surge
        systolic = base_systolic + surge + rng.gauss(0, 7)
        diastolic = base_diastolic + surge / 2 + rng.gauss(0, 5)
        pulse = base_pulse + (4 if moment.hour < 11 else 0) + rng.gauss(0, 6)
        if rng.random() < plan.out_of_range_rate:
            if rng.random() < 0.75:
                systolic, diastolic, pulse = rng.uniform(175, 215), rng.uniform(105, 125), rng.uniform(85, 125)
            else:
                systolic, diastolic, pulse = rng.uniform(78, 90), rng.uniform(45, 55), rng.uniform(40, 52)
        sys_value = round(_clamp(systolic, SYSTOLIC_MMHG))
        dia_value = round(_clamp(min(diastolic, sys_value - 15), DIASTOLIC_MMHG))
        pulse_value = round(_clamp(pulse, PULSE_BPM))
        mean_arterial = round(dia_value + (sys_value - dia_value) / 3)
        pulse_range = (
            PulseRateRange.EXCEEDS_UPPER_LIMIT
            if pulse_value > 100
            else PulseRateRange.BELOW_LOWER_LIMIT
            if pulse_value < 50
            else PulseRateRange.WITHIN_RANGE
        )
        status = MeasurementStatus(
            body_movement=rng.random() < 0.04,
            cuff_too_loose=rng.random() < 0.03,
            irregular_pulse=rng.random() < 0.05,
            pulse_rate_range=pulse_range,
        )
        measurement = BloodPressureMeasurement(
            PressureUnit.MMHG,
            SFloat(sys_value, 0),
            SFloat(dia_value, 0),
            SFloat(mean_arterial, 0),
            stamp,
            SFloat(pulse_value, 0),
            user,
            status,
        )
        readings.append(Reading(measurement))
    return readings


# Scales show 0.05 kg steps (Weight Scale Feature resolution 4); the wire step is 0.005 kg.
WEIGHT_STEP_KG = 0.05
_WEIGHT_RAW_PER_KG = 200


def weight_readings(plan: ReadingPlan, height_m: float | None = None) -> list[Reading]:
    """Morning weigh-ins following a slow trend; 0xFFFF for unsuccessful ones, a stranger now and then."""
    rng = plan.rng("weight")
    height = round(_clamp(height_m or rng.uniform(1.55, 1.95), HEIGHT_M), 3)
    base = _clamp(rng.gauss(22.5, 3.0) * height * height, (45.0, 130.0))
    trend_per_day = rng.uniform(-0.04, 0.04)
    readings = []
    users = _users(plan)
    times = measurement_times(rng, plan.count, plan.end, [(7, 15)], jitter_min=30)
    for moment in times:
        user = next(users)
        stamp = DateTime.from_datetime(moment)
        if rng.random() < plan.error_rate:
            # Stepped off too early: weight 0xFFFF, no BMI/height (WSS "Weight" field).
            readings.append(Reading(WeightMeasurement(WeightUnits.SI, MEASUREMENT_UNSUCCESSFUL, stamp, user)))
            continue
        kg = base + trend_per_day * (moment - times[0]).days + rng.gauss(0, 0.35)
        if rng.random() < plan.out_of_range_rate:
            kg, user = kg * rng.uniform(1.3, 1.6), UNKNOWN_USER  # someone else on the scale
        kg = round(_clamp(kg, WEIGHT_KG) / WEIGHT_STEP_KG) * WEIGHT_STEP_KG
        raw = round(kg * _WEIGHT_RAW_PER_KG)
        bmi_raw = round(raw / _WEIGHT_RAW_PER_KG / (height * height) * 10)
        measurement = WeightMeasurement(WeightUnits.SI, raw, stamp, user, bmi_raw, round(height * 1000))
        readings.append(Reading(measurement))
    return readings


def temperature_readings(plan: ReadingPlan) -> list[Reading]:
    """Body temperatures with the circadian swing (low ~04:00, high ~16:00); fevers; NaN probe errors."""
    rng = plan.rng("temperature")
    base = rng.uniform(36.4, 36.9)
    readings = []
    for moment in measurement_times(rng, plan.count, plan.end, [(8, 0), (14, 0), (20, 0)], jitter_min=50):
        stamp = DateTime.from_datetime(moment)
        if rng.random() < plan.error_rate:
            readings.append(Reading(TemperatureMeasurement(TemperatureUnit.CELSIUS, Special.NAN, stamp)))
            continue
        hour = moment.hour + moment.minute / 60
        celsius = base + 0.3 * math.sin((hour - 10) / 24 * 2 * math.pi) + rng.gauss(0, 0.12)
        if rng.random() < plan.out_of_range_rate:
            celsius = rng.uniform(38.2, 40.6) if rng.random() < 0.85 else rng.uniform(34.8, 35.4)
        tenths = round(_clamp(celsius, BODY_TEMPERATURE_C) * 10)
        readings.append(Reading(TemperatureMeasurement(TemperatureUnit.CELSIUS, Float32(tenths, -1), stamp)))
    return readings


@dataclass(frozen=True, slots=True)
class _GlucoseSlot:
    hour: int
    minute: int
    meal: Meal
    carbohydrate: CarbohydrateId | None
    rise_mg_dl: tuple[float, float] = field(default=(0.0, 0.0))


_GLUCOSE_SLOTS = (
    _GlucoseSlot(7, 0, Meal.FASTING, None),
    _GlucoseSlot(13, 30, Meal.POSTPRANDIAL, CarbohydrateId.LUNCH, (35.0, 70.0)),
    _GlucoseSlot(19, 0, Meal.PREPRANDIAL, CarbohydrateId.DINNER, (5.0, 20.0)),
    _GlucoseSlot(22, 30, Meal.BEDTIME, None, (10.0, 30.0)),
)


def glucose_readings(plan: ReadingPlan, context_share: float = 0.6) -> list[Reading]:
    """Finger-stick readings around meals, numbered from ``first_sequence_number``; NaN strip errors.

    Concentrations travel as kg/L with exponent -5, so the mantissa is the mg/dL value (120 mg/dL is
    ``78 B0``, ble-gatt.md §1.5). About ``context_share`` of the readings carry a context record.
    """
    rng = plan.rng("glucose")
    fasting = rng.uniform(82, 112)
    slots = {(slot.hour, slot.minute): slot for slot in _GLUCOSE_SLOTS}
    readings = []
    times = measurement_times(rng, plan.count, plan.end, list(slots), jitter_min=35)
    for index, moment in enumerate(times):
        sequence = (plan.first_sequence_number + index) & 0xFFFF
        slot = min(_GLUCOSE_SLOTS, key=lambda s: abs(moment.hour * 60 + moment.minute - s.hour * 60 - s.minute))
        with_context = rng.random() < context_share
        status: SensorStatus | None = None
        if rng.random() < plan.error_rate:
            concentration: SFloat | Special = Special.NAN
            status = rng.choice([SensorStatus.STRIP_INSERTION_ERROR, SensorStatus.SAMPLE_SIZE_INSUFFICIENT])
        else:
            mg_dl = fasting + rng.uniform(*slot.rise_mg_dl) + rng.gauss(0, 9)
            if rng.random() < plan.out_of_range_rate:
                mg_dl = rng.uniform(42, 65) if rng.random() < 0.5 else rng.uniform(250, 420)
            concentration = SFloat(round(_clamp(mg_dl, GLUCOSE_MG_DL)), -5)
        measurement = GlucoseMeasurement(
            sequence_number=sequence,
            base_time=DateTime.from_datetime(moment),
            time_offset_minutes=0,
            concentration=concentration,
            sample_type=GlucoseType.CAPILLARY_WHOLE_BLOOD,
            sample_location=SampleLocation.FINGER,
            sensor_status=status,
            context_follows=with_context,
        )
        context = None
        if with_context:
            grams = rng.randint(30, 90) if slot.carbohydrate is not None else None
            context = GlucoseMeasurementContext(
                sequence_number=sequence,
                carbohydrate_id=slot.carbohydrate if grams is not None else None,
                carbohydrate_kg=SFloat(grams, -3) if grams is not None else None,
                meal=slot.meal,
                tester=Tester.SELF,
                health=Health.NO_HEALTH_ISSUES,
            )
        readings.append(Reading(measurement, context))
    return readings


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record in a device's memory: the reading, the exact bytes it is sent as, its number."""

    sequence_number: int
    measurement: CharacteristicValue
    frame: bytes
    context: GlucoseMeasurementContext | None = None
    context_frame: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """Ground-truth form: decoded values (shared.ble JSON) and the frames in hex."""
        return {
            "sequence_number": self.sequence_number,
            "characteristic": f"{getattr(type(self.measurement), 'UUID', 0):04x}",
            "value": self.measurement.to_json(),
            "frame_hex": self.frame.hex(),
            "context": self.context.to_json() if self.context else None,
            "context_frame_hex": self.context_frame.hex() if self.context_frame else None,
        }


class RecordStore:
    """A device's stored records, oldest first, with the sequence numbers they were stored under."""

    def __init__(self) -> None:
        self._records: list[StoredRecord] = []
        self._next_sequence_number = 1

    def add(
        self,
        measurement: CharacteristicValue,
        frame: bytes,
        context: GlucoseMeasurementContext | None = None,
        context_frame: bytes | None = None,
        sequence_number: int | None = None,
    ) -> StoredRecord:
        """Store one record; without ``sequence_number`` it gets the next free one."""
        number = self._next_sequence_number if sequence_number is None else sequence_number
        record = StoredRecord(number, measurement, frame, context, context_frame)
        self._records.append(record)
        self._next_sequence_number = max(self._next_sequence_number, number + 1)
        return record

    @property
    def next_sequence_number(self) -> int:
        """The number the next record gets."""
        return self._next_sequence_number

    @property
    def records(self) -> tuple[StoredRecord, ...]:
        """All records, oldest first."""
        return tuple(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def select(self, minimum: int | None = None, maximum: int | None = None) -> list[StoredRecord]:
        """Records whose sequence number lies in ``[minimum, maximum]`` (either end open)."""
        return [
            record
            for record in self._records
            if (minimum is None or record.sequence_number >= minimum)
            and (maximum is None or record.sequence_number <= maximum)
        ]

    def delete(self, records: Sequence[StoredRecord]) -> int:
        """Remove ``records``; returns how many were removed."""
        doomed = {id(record) for record in records}
        before = len(self._records)
        self._records = [record for record in self._records if id(record) not in doomed]
        return before - len(self._records)

    def to_json(self) -> list[dict[str, Any]]:
        """Every record in ground-truth form."""
        return [record.to_json() for record in self._records]
