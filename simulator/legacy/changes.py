"""The change stream after the snapshot: CREATE / UPDATE / DELETE records with per-object versions.

The mix follows what the old app did all day: mostly new readings, some settings changes, a few
firmware updates and edited readings, deletions, and re-creations of deleted objects (same objectID,
higher version). Every object the manifest lists as `deleted_and_recreated` is deleted and then
created again within the stream (when `count` leaves room), at random positions. Changes only touch
live users' clean objects, in canonical units, so the manifest's other edge cases stay as the
snapshot has them. Versions grow by one per change of an object, a DELETE included.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

from simulator.legacy.catalog import CANONICAL_UNITS, MODELS, DeviceModel
from simulator.legacy.edge_cases import EdgeCase
from simulator.legacy.ids import seeded_random
from simulator.legacy.model import (
    DEVICES_BUCKET,
    READING_BUCKETS,
    SCOPE_USER,
    SETTINGS_BUCKET,
    DeviceKind,
    ExportRecord,
    LegacyDataset,
    LegacyObject,
    LegacyThing,
    LegacyUser,
    Op,
)
from simulator.legacy.objects import PairedDevice, new_reading
from simulator.legacy.readings import DAY_MS, MINUTE_MS, Physiology
from simulator.legacy.replay import LegacyState
from simulator.legacy.users import utc_offset_min

# Cumulative thresholds of the random mix (the scripted re-creations come on top).
_NEW_READING = 0.70
_SETTINGS_UPDATE = 0.82
_OTHER_UPDATE = 0.87
_DELETE = 0.95
# Mean gap between two changes, milliseconds (a busy app: several changes a second).
_MEAN_GAP_MS = 400
_NOTES = ("after coffee", "arm was cold", "measured twice", "forgot to sit down first", "felt fine")
_MODELS_BY_NAME: Mapping[str, DeviceModel] = {model.name: model for models in MODELS.values() for model in models}


class _KeyPool:
    """Keys to draw from at random, with O(1) add and remove, in a deterministic order."""

    def __init__(self) -> None:
        self._keys: list[str] = []
        self._index: dict[str, int] = {}

    def add(self, key: str) -> None:
        if key not in self._index:
            self._index[key] = len(self._keys)
            self._keys.append(key)

    def remove(self, key: str) -> None:
        index = self._index.pop(key)
        last = self._keys.pop()
        if index < len(self._keys):
            self._keys[index] = last
            self._index[last] = index

    def draw(self, rng: random.Random) -> str | None:
        return rng.choice(self._keys) if self._keys else None


class _ChangeStream:
    """The evolving legacy state and the pools of objects changes may touch."""

    def __init__(self, dataset: LegacyDataset, rng: random.Random) -> None:
        self.dataset = dataset
        self.rng = rng
        self.clock_ms = dataset.snapshot_at_ms
        self.state = LegacyState().apply_all(dataset.snapshot_records())
        # The body each deleted object had, for its re-creation.
        self.last_live: dict[str, ExportRecord] = {}
        self.readings, self.settings, self.deleted = _KeyPool(), _KeyPool(), _KeyPool()
        self.devices: list[PairedDevice] = []
        # Indexes into devices of the device objects that may be updated (not in the manifest).
        self.updatable: list[int] = []
        flagged = {key for keys in dataset.edge_cases.values() for key in keys}
        users = {user.legacy_user_id: user for user in dataset.users}
        things = {thing.serial: thing for thing in dataset.things}
        reading_buckets = set(READING_BUCKETS.values())
        for obj in dataset.objects:
            if obj.bucket == SETTINGS_BUCKET:
                if obj.key not in flagged:
                    self.settings.add(obj.key)
            elif obj.scope.type != SCOPE_USER or obj.scope.id not in users:
                continue
            elif obj.bucket in reading_buckets:
                if obj.key not in flagged:
                    self.readings.add(obj.key)
            elif obj.bucket == DEVICES_BUCKET and obj.body.get("serial") in things:
                if obj.key not in flagged:
                    self.updatable.append(len(self.devices))
                self.devices.append(self._paired(obj, users[obj.scope.id], things[obj.body["serial"]]))

    def _paired(self, obj: LegacyObject, user: LegacyUser, thing: LegacyThing) -> PairedDevice:
        """A live device as new readings need it; the body is drawn per user, so it is stable."""
        height = user.attributes.get("heightCm")
        body_rng = seeded_random(f"vitalsync-legacy:{self.dataset.seed}:body:{user.legacy_user_id}")
        return PairedDevice(
            thing=thing,
            model=_MODELS_BY_NAME[obj.body["model"]],
            unit=CANONICAL_UNITS[DeviceKind(obj.body["kind"])],
            owner_id=user.legacy_user_id,
            body=Physiology.draw(body_rng, height if isinstance(height, int) else None),
            utc_offset_min=utc_offset_min(user.country),
            device_object=obj,
        )

    def tick(self) -> None:
        """Advance the clock by a random gap."""
        self.clock_ms += 1 + int(self.rng.expovariate(1 / _MEAN_GAP_MS))

    def _record(self, op: Op, current: ExportRecord, body: dict[str, Any] | None) -> ExportRecord:
        """The next change of current's object (version + 1), applied to the state."""
        record = ExportRecord(
            op=op,
            app_id=self.dataset.app_id,
            scope=current.scope,
            bucket=current.bucket,
            object_id=current.object_id,
            version=current.version + 1,
            modified_at=self.clock_ms,
            body=body,
        )
        self.state.apply(record)
        return record

    def _revised(self, current: ExportRecord, changes: Mapping[str, Any]) -> ExportRecord:
        """An UPDATE of current with changes, `_modified` and `_version` advanced."""
        assert current.body is not None
        body = {**current.body, **changes, "_modified": self.clock_ms, "_version": str(current.version + 1)}
        return self._record(Op.UPDATE, current, body)

    def delete(self, key: str) -> ExportRecord:
        """DELETE of a live object (its version + 1)."""
        current = self.state.latest(key)
        assert current is not None and current.op is not Op.DELETE
        self.last_live[key] = current
        return self._record(Op.DELETE, current, None)

    def recreate(self, key: str) -> ExportRecord:
        """CREATE of a deleted object again: same objectID and fields, new system times, higher version."""
        tombstone = self.state.latest(key)
        previous = self.last_live.pop(key)
        assert tombstone is not None and tombstone.op is Op.DELETE and previous.body is not None
        body = {
            **previous.body,
            "_created": self.clock_ms,
            "_modified": self.clock_ms,
            "_version": str(tombstone.version + 1),
        }
        return self._record(Op.CREATE, tombstone, body)

    def new_reading(self) -> ExportRecord | None:
        """CREATE of a fresh reading from a random device, measured a little before the upload."""
        if not self.devices:
            return None
        device = self.rng.choice(self.devices)
        measured = self.clock_ms - self.rng.randrange(5, 900) * 1000
        minute = ((measured + device.utc_offset_min * MINUTE_MS) % DAY_MS) // MINUTE_MS
        obj = new_reading(self.rng, device, measured, self.clock_ms, minute=minute)
        record = ExportRecord(
            op=Op.CREATE,
            app_id=self.dataset.app_id,
            scope=obj.scope,
            bucket=obj.bucket,
            object_id=obj.object_id,
            version=obj.version,
            modified_at=obj.modified_ms,
            body=obj.body,
        )
        self.state.apply(record)
        self.readings.add(record.key)
        return record

    def update_settings(self) -> ExportRecord | None:
        """UPDATE of a device's settings document (a toggle or the language)."""
        key = self.settings.draw(self.rng)
        current = self.state.latest(key) if key else None
        if current is None or current.body is None:
            return None
        if self.rng.random() < 0.5:
            changes: dict[str, Any] = {"autoTransfer": not current.body.get("autoTransfer", True)}
        else:
            changes = {"language": self.rng.choice(("ja", "en", "zh", "de", "fr"))}
        return self._revised(current, changes)

    def update_other(self) -> ExportRecord | None:
        """UPDATE of a device (next firmware, when there is one) or of a reading (a note added later)."""
        if self.updatable and self.rng.random() < 0.5:
            device = self.devices[self.rng.choice(self.updatable)]
            current = self.state.latest(device.device_object.key)
            firmwares = device.model.firmwares
            if current is not None and current.body is not None:
                firmware = current.body.get("firmware")
                if firmware in firmwares and firmware != firmwares[-1]:
                    return self._revised(current, {"firmware": firmwares[firmwares.index(firmware) + 1]})
        key = self.readings.draw(self.rng)
        current = self.state.latest(key) if key else None
        if current is None or current.body is None:
            return None
        return self._revised(current, {"notes": self.rng.choice(_NOTES)})

    def delete_reading(self) -> ExportRecord | None:
        """DELETE of a random live reading, which a later change may re-create."""
        key = self.readings.draw(self.rng)
        if key is None:
            return None
        self.readings.remove(key)
        self.deleted.add(key)
        return self.delete(key)

    def recreate_reading(self) -> ExportRecord | None:
        """CREATE again of a reading deleted earlier in the stream."""
        key = self.deleted.draw(self.rng)
        if key is None:
            return None
        self.deleted.remove(key)
        self.readings.add(key)
        return self.recreate(key)

    def random_change(self) -> ExportRecord:
        """One change of the everyday mix; a new reading when the pick has nothing to act on."""
        roll = self.rng.random()
        record: ExportRecord | None = None
        if roll < _NEW_READING:
            pass
        elif roll < _SETTINGS_UPDATE:
            record = self.update_settings()
        elif roll < _OTHER_UPDATE:
            record = self.update_other()
        elif roll < _DELETE:
            record = self.delete_reading()
        else:
            record = self.recreate_reading()
        if record is None:
            record = self.new_reading()
        if record is None:
            raise ValueError("the dataset has no live device to make changes for")
        return record


def generate_changes(dataset: LegacyDataset, count: int, seed: int) -> Iterator[ExportRecord]:
    """`count` change records after dataset's snapshot, deterministic for (dataset, seed)."""
    if count < 0:
        raise ValueError("count must not be negative")
    rng = seeded_random(f"vitalsync-legacy:{dataset.seed}:changes:{seed}")
    stream = _ChangeStream(dataset, rng)
    recreated = dataset.edge_cases.get(EdgeCase.DELETED_AND_RECREATED.value, [])
    # Each such object: a DELETE, later its re-CREATE, at random positions (sorted, so in that order).
    events = [(op, key) for key in recreated for op in (Op.DELETE, Op.CREATE)][:count]
    scripted = dict(zip(sorted(rng.sample(range(count), len(events))), events, strict=True))
    for position in range(count):
        stream.tick()
        if position in scripted:
            op, key = scripted[position]
            yield stream.delete(key) if op is Op.DELETE else stream.recreate(key)
        else:
            yield stream.random_change()
