"""The old app's Kii objects for one user: paired devices (and their things), readings and settings.

Layout (DESIGN section 10): user-scope bucket `devices`; user-scope buckets `bp_records`,
`weight_records`, `temperature_records`, `glucose_records`; thing-scope bucket `settings`. Every body
carries Kii's system fields `_id`, `_owner`, `_created`, `_modified` (epoch ms) and `_version` (a
string, kii-api.md section 2.2).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator.legacy.catalog import ALTERNATE_UNITS, CANONICAL_UNITS, KIND_WEIGHTS, MODELS, DeviceModel
from simulator.legacy.edge_cases import EdgeCase, EdgeCaseLog
from simulator.legacy.ids import ble_address, kii_object_id, kii_thing_id
from simulator.legacy.model import (
    DEVICES_BUCKET,
    READING_BUCKETS,
    SETTINGS_BUCKET,
    DeviceKind,
    LegacyObject,
    LegacyThing,
    Scope,
)
from simulator.legacy.readings import (
    DAY_MS,
    MINUTE_MS,
    Physiology,
    local_minute,
    measured_at_ms,
    reading_values,
)
from simulator.legacy.users import UserProfile, pick_weighted

SECOND_MS = 1000
HOUR_MS = 3_600_000
# Readings per device in the snapshot (inclusive ranges).
_READINGS_PER_DEVICE: Mapping[DeviceKind, tuple[int, int]] = {
    DeviceKind.BLOOD_PRESSURE: (4, 12),
    DeviceKind.WEIGHT: (3, 10),
    DeviceKind.BODY_TEMPERATURE: (3, 6),
    DeviceKind.BLOOD_GLUCOSE: (4, 12),
}
# Share of glucose-meter users per region who read mmol/L (the unit taught in China and much of Europe).
_MMOL_SHARE: Mapping[str, float] = {"CN": 0.7, "EU": 0.5, "SG": 0.4}
_KPA_SHARE = 0.02


@dataclass(frozen=True, slots=True)
class PairedDevice:
    """A device as the generator knows it: the thing, its model, unit and owner, and its `devices` object."""

    thing: LegacyThing
    model: DeviceModel
    unit: str
    owner_id: str
    body: Physiology
    utc_offset_min: int
    device_object: LegacyObject


class SerialCounter:
    """Hands out serial numbers unique within the dataset."""

    def __init__(self) -> None:
        self._next = 1

    def serial(self, paired_ms: int) -> str:
        """Two-digit production year (estimated from the pairing) and a running number: 200000123."""
        number = self._next
        self._next += 1
        year = 1970 + paired_ms // (365 * DAY_MS + DAY_MS // 4)
        return f"{year % 100:02d}{number:07d}"


def kii_object(
    scope: Scope,
    bucket: str,
    object_id: str,
    *,
    owner: str,
    created_ms: int,
    modified_ms: int,
    version: int,
    fields: Mapping[str, Any],
) -> LegacyObject:
    """A Kii object whose body is the system fields followed by the app's fields."""
    body = {
        "_id": object_id,
        "_owner": owner,
        "_created": created_ms,
        "_modified": modified_ms,
        "_version": str(version),
        **fields,
    }
    return LegacyObject(scope, bucket, object_id, body)


def device_unit(rng: random.Random, kind: DeviceKind, profile: UserProfile) -> str:
    """The unit a device of this kind reports for this user (their settings decide)."""
    if kind is DeviceKind.BLOOD_GLUCOSE:
        share = _MMOL_SHARE.get(profile.region, 0.0)
        return ALTERNATE_UNITS[kind] if rng.random() < share else CANONICAL_UNITS[kind]
    if kind is DeviceKind.BLOOD_PRESSURE:
        return ALTERNATE_UNITS[kind] if rng.random() < _KPA_SHARE else CANONICAL_UNITS[kind]
    return ALTERNATE_UNITS[kind] if profile.imperial_units else CANONICAL_UNITS[kind]


def settings_fields(rng: random.Random, kind: DeviceKind, unit: str, profile: UserProfile) -> dict[str, Any]:
    """The device settings document the app kept per thing."""
    language = (profile.user.locale or "en").split("-")[0]
    common = {"kind": kind.value, "language": language, "clockSync": True, "autoTransfer": rng.random() < 0.8}
    if kind is DeviceKind.BLOOD_PRESSURE:
        return {
            **common,
            "unit": unit,
            "timeFormat": rng.choice(("24h", "12h")),
            "activeUserSlot": 1,
            "irregularHeartbeatAlert": rng.random() < 0.7,
            "reminders": [
                {"time": "07:00", "enabled": True},
                {"time": "21:30", "enabled": rng.random() < 0.5},
            ],
        }
    if kind is DeviceKind.WEIGHT:
        attributes = profile.user.attributes
        return {
            **common,
            "unit": unit,
            "userProfiles": [
                {
                    "slot": 1,
                    "heightCm": profile.body.height_cm,
                    "birthYear": attributes.get("birthYear", 1970),
                    "gender": attributes.get("gender", "other"),
                    "athleteMode": rng.random() < 0.05,
                }
            ],
        }
    if kind is DeviceKind.BODY_TEMPERATURE:
        return {**common, "unit": unit, "beep": rng.random() < 0.9, "feverThreshold": 37.5, "mode": "body"}
    return {
        **common,
        "unit": unit,
        "targetRange": {"low": 70, "high": rng.choice((140, 160, 180))},
        "mealMarkers": rng.random() < 0.6,
        "hypoAlert": 70,
    }


def new_reading(
    rng: random.Random,
    device: PairedDevice,
    measured_ms: int,
    created_ms: int,
    *,
    minute: int,
    unit: str | None = None,
    object_id: str | None = None,
) -> LegacyObject:
    """A version-1 reading object of device taken at measured_ms and uploaded at created_ms."""
    values = reading_values(rng, device.model, device.body, minute, unit or device.unit)
    fields = {"deviceSerial": device.thing.serial, "measuredAt": measured_ms, **values}
    return kii_object(
        Scope.user(device.owner_id),
        READING_BUCKETS[device.model.kind],
        object_id or kii_object_id(rng),
        owner=device.owner_id,
        created_ms=created_ms,
        modified_ms=created_ms,
        version=1,
        fields=fields,
    )


def _upload_delay_ms(rng: random.Random) -> int:
    """Time from measuring to the app's upload: usually seconds, sometimes hours or days (offline)."""
    roll = rng.random()
    if roll < 0.85:
        return rng.randrange(5, 600) * SECOND_MS
    if roll < 0.98:
        return rng.randrange(HOUR_MS, 12 * HOUR_MS)
    return rng.randrange(DAY_MS, 6 * DAY_MS)


def _pair_device(
    rng: random.Random,
    profile: UserProfile,
    kind: DeviceKind,
    snapshot_at_ms: int,
    serials: SerialCounter,
) -> PairedDevice:
    models = MODELS[kind]
    model = rng.choices(models, weights=[m.weight for m in models])[0]
    paired_ms = rng.randrange(profile.created_ms, snapshot_at_ms - 14 * DAY_MS)
    serial = serials.serial(paired_ms)
    firmware_index = rng.randrange(len(model.firmwares))
    thing = LegacyThing(
        thing_id=kii_thing_id(rng),
        vendor_thing_id=f"{model.code}-{serial}",
        kind=kind,
        vendor=model.vendor,
        model=model.name,
        serial=serial,
        firmware=model.firmwares[firmware_index],
        owner_user_id=profile.user.legacy_user_id,
        created_ms=paired_ms,
    )
    created_ms = paired_ms + rng.randrange(2, 30) * SECOND_MS
    # Each firmware update the app noticed rewrote the device object once.
    modified_ms = created_ms + firmware_index * rng.randrange(30, 200) * DAY_MS
    device_object = kii_object(
        Scope.user(profile.user.legacy_user_id),
        DEVICES_BUCKET,
        kii_object_id(rng),
        owner=profile.user.legacy_user_id,
        created_ms=created_ms,
        modified_ms=min(modified_ms, snapshot_at_ms - DAY_MS),
        version=1 + firmware_index,
        fields={
            "model": model.name,
            "serial": serial,
            "kind": kind.value,
            "firmware": thing.firmware,
            "pairedAt": paired_ms,
            "bleAddress": ble_address(rng),
            "thingID": thing.thing_id,
        },
    )
    return PairedDevice(
        thing=thing,
        model=model,
        unit=device_unit(rng, kind, profile),
        owner_id=profile.user.legacy_user_id,
        body=profile.body,
        utc_offset_min=profile.utc_offset_min,
        device_object=device_object,
    )


def _readings(rng: random.Random, device: PairedDevice, snapshot_at_ms: int) -> list[LegacyObject]:
    """Several readings on distinct days between pairing and the snapshot, oldest first."""
    low, high = _READINGS_PER_DEVICE[device.model.kind]
    first_day = device.thing.created_ms // DAY_MS + 1
    last_day = snapshot_at_ms // DAY_MS - 2
    days = sorted(rng.sample(range(first_day, last_day), min(rng.randint(low, high), last_day - first_day)))
    readings = []
    for day in days:
        minute = local_minute(rng, device.model.kind)
        measured = measured_at_ms(day, minute, device.utc_offset_min, rng.randrange(60))
        created = min(measured + _upload_delay_ms(rng), snapshot_at_ms - HOUR_MS)
        reading = new_reading(rng, device, measured, created, minute=minute)
        if rng.random() < 0.03:
            # The user edited the reading later (the app allowed a note), so version 2.
            edited = min(created + rng.randrange(HOUR_MS, 48 * HOUR_MS), snapshot_at_ms - MINUTE_MS)
            body = {**reading.body, "_modified": edited, "_version": "2", "notes": "after coffee"}
            reading = LegacyObject(reading.scope, reading.bucket, reading.object_id, body)
        readings.append(reading)
    return readings


def _settings(rng: random.Random, device: PairedDevice, profile: UserProfile, snapshot_at_ms: int) -> LegacyObject:
    version = rng.choice((1, 1, 1, 2, 2, 3, 4, 6))
    created_ms = device.device_object.body["_created"] + rng.randrange(1, 20) * SECOND_MS
    modified_ms = created_ms if version == 1 else rng.randrange(created_ms, snapshot_at_ms - HOUR_MS)
    return kii_object(
        Scope.thing(device.thing.thing_id),
        SETTINGS_BUCKET,
        kii_object_id(rng),
        owner=profile.user.legacy_user_id,
        created_ms=created_ms,
        modified_ms=modified_ms,
        version=version,
        fields=settings_fields(rng, device.model.kind, device.unit, profile),
    )


def generate_user_objects(
    rng: random.Random,
    profile: UserProfile,
    snapshot_at_ms: int,
    serials: SerialCounter,
    edge_cases: EdgeCaseLog,
    *,
    with_things: bool = True,
) -> tuple[list[PairedDevice], list[LegacyObject]]:
    """One user's devices (1-3, distinct kinds) with their readings and, with_things, their settings."""
    device_count = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    kinds: list[DeviceKind] = []
    while len(kinds) < device_count:
        kind = DeviceKind(pick_weighted(rng, {k.value: w for k, w in KIND_WEIGHTS.items()}))
        if kind not in kinds:
            kinds.append(kind)
    devices: list[PairedDevice] = []
    objects: list[LegacyObject] = []
    for kind in kinds:
        device = _pair_device(rng, profile, kind, snapshot_at_ms, serials)
        devices.append(device)
        readings = _readings(rng, device, snapshot_at_ms)
        objects.append(device.device_object)
        objects.extend(readings)
        if device.unit != CANONICAL_UNITS[kind]:
            for reading in readings:
                edge_cases.add(EdgeCase.NON_CANONICAL_UNIT, reading.key)
        if with_things:
            objects.append(_settings(rng, device, profile, snapshot_at_ms))
    return devices, objects
