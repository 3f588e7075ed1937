"""Glucose Measurement Context 0x2A34 (GLS v1.0.1): meal, exercise and medication around a reading.

Layout: ``flags u8 | sequence u16 | [extended flags u8] | [carbohydrate id u8, carbohydrate SFLOAT kg]
| [meal u8] | [tester (low nibble) + health (high nibble) u8] | [exercise duration u16 s, intensity u8 %]
| [medication id u8, medication SFLOAT kg or L] | [HbA1c SFLOAT %]``; the sequence number ties it to the
Glucose Measurement whose flags bit 4 announced it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.codes import code_json, coded
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter, Layout
from shared.ble.ieee11073 import SFloatValue, decode_sfloat, json_converted, json_number
from shared.ble.units import kg_to_g, kg_to_mg, litre_to_ml

# Flags (GLS "Glucose Measurement Context", Flags field): bit 0 carbohydrate, 1 meal, 2 tester-health,
# 3 exercise, 4 medication, 5 medication unit litres (else kilograms), 6 HbA1c, 7 extended flags.
# All eight bits are defined, so no flag is reserved.
_CARBOHYDRATE = 0x01
_MEAL = 0x02
_TESTER_HEALTH = 0x04
_EXERCISE = 0x08
_MEDICATION = 0x10
_MEDICATION_LITRES = 0x20
_HBA1C = 0x40
_EXTENDED_FLAGS = 0x80

_HEAD = Layout(("flags", "B"), ("sequence_number", "H"))
_CARBOHYDRATE_FIELDS = Layout(("carbohydrate_id", "B"), ("carbohydrate", "H"))
_EXERCISE_FIELDS = Layout(("exercise_duration", "H"), ("exercise_intensity", "B"))
_MEDICATION_FIELDS = Layout(("medication_id", "B"), ("medication", "H"))
EXERCISE_DURATION_OVERRUN = 0xFFFF  # GLS "Exercise Duration": the duration exceeded what the field can hold


class CarbohydrateId(enum.IntEnum):
    """Carbohydrate ID (GLS "Carbohydrate ID" field); 0 and 8-255 are reserved."""

    BREAKFAST = 1
    LUNCH = 2
    DINNER = 3
    SNACK = 4
    DRINK = 5
    SUPPER = 6
    BRUNCH = 7


class Meal(enum.IntEnum):
    """Meal (GLS "Meal" field); 0 and 6-255 are reserved."""

    PREPRANDIAL = 1
    POSTPRANDIAL = 2
    FASTING = 3
    CASUAL = 4
    BEDTIME = 5


class Tester(enum.IntEnum):
    """Tester, low nibble of the tester-health byte (GLS "Tester" field)."""

    SELF = 1
    HEALTH_CARE_PROFESSIONAL = 2
    LAB_TEST = 3
    NOT_AVAILABLE = 15


class Health(enum.IntEnum):
    """Health, high nibble of the tester-health byte (GLS "Health" field)."""

    MINOR_HEALTH_ISSUES = 1
    MAJOR_HEALTH_ISSUES = 2
    DURING_MENSES = 3
    UNDER_STRESS = 4
    NO_HEALTH_ISSUES = 5
    NOT_AVAILABLE = 15


class MedicationId(enum.IntEnum):
    """Medication ID (GLS "Medication ID" field); 0 and 6-255 are reserved."""

    RAPID_ACTING_INSULIN = 1
    SHORT_ACTING_INSULIN = 2
    INTERMEDIATE_ACTING_INSULIN = 3
    LONG_ACTING_INSULIN = 4
    PRE_MIXED_INSULIN = 5


class MedicationUnit(enum.Enum):
    """Flags bit 5: the SI unit of the medication field."""

    KILOGRAMS = "kg"
    LITRES = "L"


@dataclass(frozen=True, slots=True)
class GlucoseMeasurementContext:
    """Glucose Measurement Context 0x2A34; fields sent in pairs are both set or both None.

    ``medication_unit`` mirrors flags bit 5 even without a medication field, so the byte round-trips.
    """

    sequence_number: int
    extended_flags: int | None = None
    carbohydrate_id: CarbohydrateId | int | None = None
    carbohydrate_kg: SFloatValue | None = None
    meal: Meal | int | None = None
    tester: Tester | int | None = None
    health: Health | int | None = None
    exercise_duration_s: int | None = None
    exercise_intensity_percent: int | None = None
    medication_id: MedicationId | int | None = None
    medication: SFloatValue | None = None
    medication_unit: MedicationUnit = MedicationUnit.KILOGRAMS
    hba1c_percent: SFloatValue | None = None

    NAME: ClassVar[str] = "glucose_context"
    UUID: ClassVar[int] = 0x2A34

    def __post_init__(self) -> None:
        _check_range("sequence_number", self.sequence_number, 0xFFFF)
        for first, second in (
            ("carbohydrate_id", "carbohydrate_kg"),
            ("tester", "health"),
            ("exercise_duration_s", "exercise_intensity_percent"),
            ("medication_id", "medication"),
        ):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                raise InvalidValueError(f"{self.NAME}.{second}", f"{first} and {second} are sent together")
        for name, limit in (
            ("extended_flags", 0xFF),
            ("carbohydrate_id", 0xFF),
            ("meal", 0xFF),
            ("tester", 0x0F),
            ("health", 0x0F),
            ("exercise_duration_s", 0xFFFF),
            ("exercise_intensity_percent", 0xFF),
            ("medication_id", 0xFF),
        ):
            value = getattr(self, name)
            if value is not None:
                _check_range(name, value, limit)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> GlucoseMeasurementContext:
        """Decode a 0x2A34 value; raises BleDecodeError naming the field and byte."""
        reader = FrameReader(data, cls.NAME)
        flags, sequence = reader.fields(_HEAD)
        extended = reader.u8("extended_flags") if flags & _EXTENDED_FLAGS else None
        carbohydrate_id = carbohydrate = meal = tester = health = None
        duration = intensity = medication_id = medication = hba1c = None
        if flags & _CARBOHYDRATE:
            raw_id, raw = reader.fields(_CARBOHYDRATE_FIELDS)
            carbohydrate_id, carbohydrate = coded(CarbohydrateId, raw_id), decode_sfloat(raw)
        if flags & _MEAL:
            meal = coded(Meal, reader.u8("meal"))
        if flags & _TESTER_HEALTH:
            tester_health = reader.u8("tester_health")
            tester, health = coded(Tester, tester_health & 0x0F), coded(Health, tester_health >> 4)
        if flags & _EXERCISE:
            duration, intensity = reader.fields(_EXERCISE_FIELDS)
        if flags & _MEDICATION:
            raw_id, raw = reader.fields(_MEDICATION_FIELDS)
            medication_id, medication = coded(MedicationId, raw_id), decode_sfloat(raw)
        if flags & _HBA1C:
            hba1c = reader.sfloat("hba1c")
        reader.finish()
        unit = MedicationUnit.LITRES if flags & _MEDICATION_LITRES else MedicationUnit.KILOGRAMS
        return cls(
            sequence,
            extended,
            carbohydrate_id,
            carbohydrate,
            meal,
            tester,
            health,
            duration,
            intensity,
            medication_id,
            medication,
            unit,
            hba1c,
        )

    def __bytes__(self) -> bytes:
        flags = (
            (_CARBOHYDRATE if self.carbohydrate_kg is not None else 0)
            | (_MEAL if self.meal is not None else 0)
            | (_TESTER_HEALTH if self.tester is not None else 0)
            | (_EXERCISE if self.exercise_duration_s is not None else 0)
            | (_MEDICATION if self.medication is not None else 0)
            | (_MEDICATION_LITRES if self.medication_unit is MedicationUnit.LITRES else 0)
            | (_HBA1C if self.hba1c_percent is not None else 0)
            | (_EXTENDED_FLAGS if self.extended_flags is not None else 0)
        )
        writer = FrameWriter()
        writer.fields(_HEAD, flags, self.sequence_number)
        # __post_init__ guarantees that the second field of each pair is present with the first.
        if self.extended_flags is not None:
            writer.u8(self.extended_flags)
        if self.carbohydrate_kg is not None:
            writer.u8(int(self.carbohydrate_id or 0))
            writer.sfloat(self.carbohydrate_kg)
        if self.meal is not None:
            writer.u8(self.meal)
        if self.tester is not None:
            writer.u8(int(self.tester) | int(self.health or 0) << 4)
        if self.exercise_duration_s is not None:
            writer.fields(_EXERCISE_FIELDS, self.exercise_duration_s, self.exercise_intensity_percent)
        if self.medication is not None:
            writer.u8(int(self.medication_id or 0))
            writer.sfloat(self.medication)
        if self.hba1c_percent is not None:
            writer.sfloat(self.hba1c_percent)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict; carbohydrate also in grams, medication also in mg or mL."""
        carbohydrate, medication, hba1c = self.carbohydrate_kg, self.medication, self.hba1c_percent
        in_kg = self.medication_unit is MedicationUnit.KILOGRAMS
        return {
            "sequence_number": self.sequence_number,
            "extended_flags": self.extended_flags,
            "carbohydrate_id": _code(self.carbohydrate_id),
            "carbohydrate_kg": json_number(carbohydrate) if carbohydrate is not None else None,
            "carbohydrate_g": json_converted(carbohydrate, kg_to_g) if carbohydrate is not None else None,
            "meal": _code(self.meal),
            "tester": _code(self.tester),
            "health": _code(self.health),
            "exercise_duration_s": self.exercise_duration_s,
            "exercise_duration_overrun": self.exercise_duration_s == EXERCISE_DURATION_OVERRUN,
            "exercise_intensity_percent": self.exercise_intensity_percent,
            "medication_id": _code(self.medication_id),
            "medication": json_number(medication) if medication is not None else None,
            "medication_unit": self.medication_unit.value,
            "medication_mg": (json_converted(medication, kg_to_mg) if medication is not None and in_kg else None),
            "medication_ml": (
                json_converted(medication, litre_to_ml) if medication is not None and not in_kg else None
            ),
            "hba1c_percent": json_number(hba1c) if hba1c is not None else None,
        }


def _code(value: enum.IntEnum | int | None) -> str | None:
    return None if value is None else code_json(value)


def _check_range(name: str, value: int, limit: int) -> None:
    if not 0 <= value <= limit:
        raise InvalidValueError(
            f"{GlucoseMeasurementContext.NAME}.{name}", f"invalid value {value}", detail=f"valid: 0-{limit}"
        )
