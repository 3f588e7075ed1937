"""Measurement values with a daily rhythm: when people measure, and what the devices then report.

Times follow home-monitoring habits: blood pressure within an hour of waking and before bed, as
home blood-pressure guidelines ask (with the morning surge in the values), weight after waking,
glucose fasting or two hours after a meal, body temperature mostly in the evening, when it peaks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from simulator.legacy.catalog import DeviceModel
from simulator.legacy.model import DeviceKind

DAY_MS = 86_400_000
MINUTE_MS = 60_000
_MMHG_PER_KPA = 7.50062
_LB_PER_KG = 2.20462
_MG_DL_PER_MMOL_L = 18.016

# (start, end) local minutes-of-day windows and their weights, per kind.
_WINDOWS: dict[DeviceKind, tuple[tuple[int, int, int], ...]] = {
    DeviceKind.BLOOD_PRESSURE: ((360, 510, 60), (1200, 1350, 40)),
    DeviceKind.WEIGHT: ((390, 480, 80), (1260, 1380, 20)),
    DeviceKind.BODY_TEMPERATURE: ((420, 540, 30), (1140, 1320, 70)),
    DeviceKind.BLOOD_GLUCOSE: ((390, 450, 45), (570, 600, 15), (810, 840, 15), (1230, 1260, 25)),
}
_FASTING_END_MIN = 480


@dataclass(frozen=True, slots=True)
class Physiology:
    """The body a user's readings come from: height, usual weight, usual systolic pressure."""

    height_cm: int
    base_weight_kg: float
    base_systolic: int

    @classmethod
    def draw(cls, rng: random.Random, height_cm: int | None = None) -> Physiology:
        """A plausible adult (BMI around 22.5, systolic around 128 mmHg)."""
        height = height_cm if height_cm is not None else rng.randrange(150, 192)
        weight = round(rng.gauss(22.5, 3.0) * (height / 100) ** 2, 1)
        return cls(height, max(weight, 38.0), int(rng.gauss(128, 14)))


def local_minute(rng: random.Random, kind: DeviceKind) -> int:
    """A minute of the local day at which this kind of measurement is typically taken."""
    windows = _WINDOWS[kind]
    start, end, _ = rng.choices(windows, weights=[weight for _, _, weight in windows])[0]
    return rng.randrange(start, end)


def measured_at_ms(day_index: int, minute: int, utc_offset_min: int, second: int = 0) -> int:
    """Epoch ms of a local minute (and second) on day `day_index` since the epoch (local calendar)."""
    return day_index * DAY_MS + (minute - utc_offset_min) * MINUTE_MS + second * 1000


def _status_flags(rng: random.Random) -> int:
    """BLE Blood Pressure Measurement Status bits: body movement, cuff fit, irregular pulse."""
    flags = 0
    for bit, chance in ((0x01, 0.05), (0x02, 0.03), (0x04, 0.04)):
        if rng.random() < chance:
            flags |= bit
    return flags


def reading_values(
    rng: random.Random,
    model: DeviceModel,
    body: Physiology,
    minute: int,
    unit: str,
) -> dict[str, Any]:
    """The value fields of one reading (values, unit, statusFlags, userSlot), in the given unit."""
    kind = model.kind
    morning = minute < 720
    slot = 1 if model.user_slots == 1 or rng.random() < 0.85 else rng.randrange(2, model.user_slots + 1)
    if kind is DeviceKind.BLOOD_PRESSURE:
        systolic = body.base_systolic + (6 if morning else 0) + rng.gauss(0, 8)
        diastolic = systolic * 0.63 + rng.gauss(0, 5)
        pulse = rng.gauss(70 if morning else 66, 8)
        if unit == "kPa":
            pressures: dict[str, Any] = {
                "systolic": round(systolic / _MMHG_PER_KPA, 1),
                "diastolic": round(diastolic / _MMHG_PER_KPA, 1),
            }
        else:
            pressures = {"systolic": round(systolic), "diastolic": round(diastolic)}
        return {
            **pressures,
            "pulse": round(pulse),
            "unit": unit,
            "statusFlags": _status_flags(rng),
            "userSlot": slot,
        }
    if kind is DeviceKind.WEIGHT:
        kg = body.base_weight_kg + rng.gauss(0, 0.5) + (0.0 if morning else 0.6)
        values: dict[str, Any] = {
            "weight": round(kg * _LB_PER_KG, 1) if unit == "lb" else round(kg, 1),
            "unit": unit,
            "bmi": round(kg / (body.height_cm / 100) ** 2, 1),
        }
        if model.body_composition:
            values["bodyFat"] = round(rng.gauss(26.0, 5.0), 1)
            values["skeletalMuscle"] = round(rng.gauss(31.0, 4.0), 1)
        return {**values, "statusFlags": 0, "userSlot": slot}
    if kind is DeviceKind.BODY_TEMPERATURE:
        celsius = 36.4 + (0.0 if morning else 0.3) + rng.gauss(0, 0.2)
        if rng.random() < 0.04:
            celsius = rng.uniform(37.8, 39.4)  # a fever episode
        temperature = round(celsius * 9 / 5 + 32, 1) if unit == "F" else round(celsius, 1)
        site = "forehead" if model.name == "MC-720" else rng.choice(("armpit", "oral"))
        return {"temperature": temperature, "unit": unit, "site": site, "statusFlags": 0, "userSlot": slot}
    fasting = minute < _FASTING_END_MIN
    mg_dl = rng.gauss(98, 9) if fasting else rng.gauss(142, 22)
    if body.base_systolic > 140:
        mg_dl += 35  # the hypertensive profile doubles as the diabetic one, as comorbidity suggests
    glucose = round(mg_dl / _MG_DL_PER_MMOL_L, 1) if unit == "mmol/L" else round(mg_dl)
    return {
        "glucose": glucose,
        "unit": unit,
        "mealTiming": "fasting" if fasting else "after_meal",
        "sampleType": "capillary_whole_blood",
        "statusFlags": 0,
        "userSlot": slot,
    }
