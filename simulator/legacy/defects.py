"""Deliberately odd objects, as real exports have them, each recorded in the edge-case manifest.

Odd readings are extra readings on existing devices, one category each (so the clean data stays as
generated, categories do not overlap, and any dataset size can carry every category); odd devices are
existing device objects with fields dropped. Orphans are made in `dataset` (they need whole users).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from shared.legacy.transform.records import KII_OBJECT_MAX_CHARS, serialized_size
from simulator.legacy.catalog import ALTERNATE_UNITS, CANONICAL_UNITS, UNKNOWN_UNITS
from simulator.legacy.edge_cases import EdgeCase, EdgeCaseLog
from simulator.legacy.model import (
    DEVICES_BUCKET,
    DeviceKind,
    LegacyObject,
)
from simulator.legacy.objects import HOUR_MS, PairedDevice, new_reading
from simulator.legacy.readings import DAY_MS, local_minute, measured_at_ms

# Size targets (characters of compact JSON) for the two size categories.
NEAR_LIMIT_MIN_CHARS = 64_000
OVER_LIMIT_MAX_CHARS = 66_500
_NOTE_SENTENCES = (
    "Felt dizzy after climbing the stairs at the station.",
    "Measured twice because the cuff slipped.",
    "Doctor asked me to keep a diary until the next visit.",
    "Slept badly, coffee at six.",
    "Took the new medicine with breakfast.",
)
_UNPARSEABLE_TIMES = ("2021-13-45", "2021-02-30T25:61:00", "yesterday", "NaN", "")
# Physically impossible values per kind (the examples from real exports: systolic 900, weight -3).
_OUT_OF_RANGE: dict[DeviceKind, Sequence[dict[str, Any]]] = {
    DeviceKind.BLOOD_PRESSURE: ({"systolic": 900}, {"diastolic": -12}, {"pulse": 0, "systolic": 20}),
    DeviceKind.WEIGHT: ({"weight": -3}, {"weight": 1500.0}, {"bmi": 310.2}),
    DeviceKind.BODY_TEMPERATURE: ({"temperature": 65.3}, {"temperature": -4.0}),
    DeviceKind.BLOOD_GLUCOSE: ({"glucose": 2400}, {"glucose": -1}),
}
_OPTIONAL_READING_FIELDS: dict[DeviceKind, Sequence[str]] = {
    DeviceKind.BLOOD_PRESSURE: ("pulse", "statusFlags", "userSlot"),
    DeviceKind.WEIGHT: ("bmi", "statusFlags", "userSlot"),
    DeviceKind.BODY_TEMPERATURE: ("site", "statusFlags", "userSlot"),
    DeviceKind.BLOOD_GLUCOSE: ("mealTiming", "statusFlags", "userSlot"),
}
_OPTIONAL_DEVICE_FIELDS = ("firmware", "bleAddress")


def _extra_reading(
    rng: random.Random, device: PairedDevice, snapshot_at_ms: int, *, alternate_unit: bool = False
) -> LegacyObject:
    """One more clean reading of device (canonical unit unless alternate_unit), between pairing and snapshot."""
    day = rng.randrange(device.thing.created_ms // DAY_MS + 1, snapshot_at_ms // DAY_MS - 2)
    minute = local_minute(rng, device.model.kind)
    measured = measured_at_ms(day, minute, device.utc_offset_min, rng.randrange(60))
    created = min(measured + rng.randrange(5, 600) * 1000, snapshot_at_ms - HOUR_MS)
    units = ALTERNATE_UNITS if alternate_unit else CANONICAL_UNITS
    return new_reading(rng, device, measured, created, minute=minute, unit=units[device.model.kind])


def _edited(obj: LegacyObject, updates: Mapping[str, Any] | None = None, drop: Sequence[str] = ()) -> LegacyObject:
    """obj with fields set to updates and the fields in drop removed (system fields untouched)."""
    body = {name: value for name, value in obj.body.items() if name not in drop}
    body.update(updates or {})
    return LegacyObject(obj.scope, obj.bucket, obj.object_id, body)


def _pad_notes(rng: random.Random, obj: LegacyObject, target_chars: int) -> LegacyObject:
    """obj with a `notes` diary whose length makes the compact JSON exactly target_chars long."""
    base = _edited(obj, {"notes": ""})
    missing = target_chars - serialized_size(base.body)
    text = ""
    while len(text) < missing:
        text += rng.choice(_NOTE_SENTENCES) + " "
    # The sentences need no JSON escaping, so each character adds exactly one to the size.
    return _edited(base, {"notes": text[:missing]})


def _flaw(rng: random.Random, category: EdgeCase, reading: LegacyObject, kind: DeviceKind) -> LegacyObject:
    """The reading with the flaw of category."""
    if category in (EdgeCase.NON_CANONICAL_UNIT, EdgeCase.DELETED_AND_RECREATED):
        return reading  # a clean reading (in the alternate unit for the former); changes delete the latter
    if category is EdgeCase.TIMESTAMP_ZERO:
        return _edited(reading, {"measuredAt": 0})
    if category is EdgeCase.TIMESTAMP_UNPARSEABLE:
        return _edited(reading, {"measuredAt": rng.choice(_UNPARSEABLE_TIMES)})
    if category is EdgeCase.TIMESTAMP_NULL:
        return _edited(reading, {"measuredAt": None})
    if category is EdgeCase.UNKNOWN_UNIT:
        return _edited(reading, {"unit": rng.choice(UNKNOWN_UNITS[kind])})
    if category is EdgeCase.VALUE_OUT_OF_RANGE:
        return _edited(reading, rng.choice(_OUT_OF_RANGE[kind]))
    if category is EdgeCase.MISSING_OPTIONAL_FIELDS:
        return _edited(reading, drop=rng.sample(_OPTIONAL_READING_FIELDS[kind], rng.randint(1, 2)))
    if category is EdgeCase.SIZE_NEAR_LIMIT:
        return _pad_notes(rng, reading, rng.randrange(NEAR_LIMIT_MIN_CHARS, KII_OBJECT_MAX_CHARS + 1))
    if category is EdgeCase.SIZE_OVER_LIMIT:
        return _pad_notes(rng, reading, rng.randrange(KII_OBJECT_MAX_CHARS + 1, OVER_LIMIT_MAX_CHARS))
    raise ValueError(f"{category} is not a reading flaw")


READING_EDGE_CASES: Sequence[EdgeCase] = (
    EdgeCase.NON_CANONICAL_UNIT,
    EdgeCase.DELETED_AND_RECREATED,
    EdgeCase.MISSING_OPTIONAL_FIELDS,
    EdgeCase.TIMESTAMP_ZERO,
    EdgeCase.TIMESTAMP_UNPARSEABLE,
    EdgeCase.TIMESTAMP_NULL,
    EdgeCase.UNKNOWN_UNIT,
    EdgeCase.VALUE_OUT_OF_RANGE,
    EdgeCase.SIZE_NEAR_LIMIT,
    EdgeCase.SIZE_OVER_LIMIT,
)


def edge_case_readings(
    rng: random.Random,
    devices: Sequence[PairedDevice],
    counts: dict[EdgeCase, int],
    snapshot_at_ms: int,
    edge_cases: EdgeCaseLog,
) -> list[LegacyObject]:
    """counts[category] extra readings per reading edge case, on randomly chosen devices."""
    objects = []
    for category in READING_EDGE_CASES:
        for _ in range(counts.get(category, 0)):
            device = rng.choice(devices)
            alternate = category is EdgeCase.NON_CANONICAL_UNIT
            reading = _extra_reading(rng, device, snapshot_at_ms, alternate_unit=alternate)
            reading = _flaw(rng, category, reading, device.model.kind)
            edge_cases.add(category, reading.key)
            objects.append(reading)
    return objects


def strip_device_fields(rng: random.Random, objects: list[LegacyObject], count: int, edge_cases: EdgeCaseLog) -> None:
    """Drop firmware and/or bleAddress from count device objects, in place (first app versions)."""
    indexes = [index for index, obj in enumerate(objects) if obj.bucket == DEVICES_BUCKET]
    for index in sorted(rng.sample(indexes, min(count, len(indexes)))):
        drop = rng.sample(_OPTIONAL_DEVICE_FIELDS, rng.randint(1, 2))
        objects[index] = _edited(objects[index], drop=drop)
        edge_cases.add(EdgeCase.MISSING_OPTIONAL_FIELDS, objects[index].key)
