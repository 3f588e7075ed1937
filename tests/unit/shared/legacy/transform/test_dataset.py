"""Every object of a generated legacy dataset (simulator/legacy) transforms, or fails exactly as its manifest says."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from shared.legacy.transform import (
    DeleteTarget,
    DeviceRow,
    FailurePattern,
    ReadingRow,
    SettingsRow,
    Transformed,
    TransformFailure,
    default_mapping,
    legacy_key,
    transform,
    transform_delete,
)
from simulator.legacy.changes import generate_changes
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.edge_cases import EdgeCase
from simulator.legacy.model import ExportRecord, Op, object_key

from .conftest import DATASET_SEED, DATASET_USERS, Migrated, migrate

# Edge-case categories that are invalid data, and the pattern each must fail with.
FAILING: dict[EdgeCase, FailurePattern] = {
    EdgeCase.TIMESTAMP_ZERO: FailurePattern.INVALID_TIMESTAMP,
    EdgeCase.TIMESTAMP_UNPARSEABLE: FailurePattern.INVALID_TIMESTAMP,
    EdgeCase.TIMESTAMP_NULL: FailurePattern.INVALID_TIMESTAMP,
    EdgeCase.UNKNOWN_UNIT: FailurePattern.UNKNOWN_UNIT,
    EdgeCase.VALUE_OUT_OF_RANGE: FailurePattern.VALUE_OUT_OF_RANGE,
    EdgeCase.SIZE_OVER_LIMIT: FailurePattern.OBJECT_TOO_LARGE,
    EdgeCase.ORPHAN_OWNER: FailurePattern.ORPHAN_OWNER,
}
# Odd but valid: these must become rows (unless the object is also in a failing category, e.g. an orphan).
CLEAN = (
    EdgeCase.UNICODE_NAME,
    EdgeCase.MISSING_OPTIONAL_FIELDS,
    EdgeCase.NON_CANONICAL_UNIT,
    EdgeCase.SIZE_NEAR_LIMIT,
    EdgeCase.DELETED_AND_RECREATED,
)
# The conversions written out independently of shared.protocol.units: (canonical field, factor/formula, digits).
CONVERSIONS = {
    "kPa": ("systolic", lambda v: v * 7.500615758, 1),
    "lb": ("weight", lambda v: v * 0.45359237, 3),
    "F": ("temperature", lambda v: (v - 32) * 5 / 9, 2),
    "mmol/L": ("glucose", lambda v: v * 18.0156, 1),
}


def _keys(migrated: Migrated, category: EdgeCase) -> list[str]:
    return migrated.dataset.edge_cases[category.value]


def test_failures_are_exactly_the_invalid_edge_cases(migrated: Migrated) -> None:
    expected: dict[str, FailurePattern] = {}
    for category, pattern in FAILING.items():
        assert _keys(migrated, category), f"seed {DATASET_SEED} has no {category} case to test"
        expected.update(dict.fromkeys(_keys(migrated, category), pattern))
    actual = {key: r.pattern for key, r in migrated.results.items() if isinstance(r, TransformFailure)}
    assert actual == expected


def test_everything_else_is_one_row_without_warnings(migrated: Migrated) -> None:
    transformed = [r for r in migrated.results.values() if isinstance(r, Transformed)]
    assert len(transformed) + sum(isinstance(r, TransformFailure) for r in migrated.results.values()) == len(
        migrated.dataset.objects
    )
    assert all(len(r.rows) == 1 and r.warnings == () for r in transformed)
    kinds = Counter(type(r.rows[0]).__name__ for r in transformed)
    assert set(kinds) == {"DeviceRow", "ReadingRow", "SettingsRow"}


def test_readings_find_their_devices(migrated: Migrated) -> None:
    for result in migrated.results.values():
        if isinstance(result, Transformed) and isinstance(result.rows[0], ReadingRow):
            assert result.rows[0].device_id is not None


@pytest.mark.parametrize("category", CLEAN, ids=str)
def test_valid_edge_cases_become_rows(migrated: Migrated, category: EdgeCase) -> None:
    invalid = {key for failing in FAILING for key in _keys(migrated, failing)}
    keys = set(_keys(migrated, category)) - invalid
    assert keys, f"seed {DATASET_SEED} has no {category} case to test"
    # user keys (unicode names, users without email) stand for all of that user's objects
    users = {key for key in keys if "/buckets/" not in key}
    owned = {key for key, obj in migrated.dataset.objects_by_key().items() if obj.body.get("_owner") in _ids(users)}
    objects = (keys - users) | (owned - invalid)
    assert objects
    for key in objects:
        assert isinstance(migrated.results[key], Transformed), migrated.results[key]


def _ids(user_keys: set[str]) -> set[str]:
    return {key.rsplit("/", 1)[1] for key in user_keys}


def test_non_canonical_units_are_converted(migrated: Migrated) -> None:
    objects = migrated.dataset.objects_by_key()
    orphans = set(_keys(migrated, EdgeCase.ORPHAN_OWNER))
    seen: Counter[str] = Counter()
    for key in set(_keys(migrated, EdgeCase.NON_CANONICAL_UNIT)) - orphans:
        body, result = objects[key].body, migrated.results[key]
        assert isinstance(result, Transformed)
        row = result.rows[0]
        assert isinstance(row, ReadingRow)
        field, convert, digits = CONVERSIONS[body["unit"]]
        assert row.reading_values[field] == round(convert(body[field]), digits)
        assert row.primary_value == row.reading_values[field]
        assert row.original_unit == body["unit"]
        assert row.reading_values["original"][field] == body[field]
        if body["unit"] == "kPa":
            assert row.reading_values["diastolic"] == round(body["diastolic"] * 7.500615758, 1)
        seen[body["unit"]] += 1
    assert set(seen) == set(CONVERSIONS), f"seed {DATASET_SEED} lacks some units: {seen}"


def test_canonical_readings_keep_their_numbers(migrated: Migrated) -> None:
    fields = {"bp_records": "systolic", "weight_records": "weight", "glucose_records": "glucose"}
    for obj in migrated.dataset.objects:
        result = migrated.results[obj.key]
        if obj.bucket in fields and isinstance(result, Transformed):
            if obj.body["unit"] in ("mmHg", "kg", "mg/dL"):
                assert result.rows[0].primary_value == obj.body[fields[obj.bucket]]  # type: ignore[union-attr]


def test_near_limit_objects_keep_their_notes(migrated: Migrated) -> None:
    objects = migrated.dataset.objects_by_key()
    for key in _keys(migrated, EdgeCase.SIZE_NEAR_LIMIT):
        result = migrated.results[key]
        assert isinstance(result, Transformed)
        assert result.rows[0].reading_values["legacy"]["notes"] == objects[key].body["notes"]  # type: ignore[union-attr]


def test_export_records_transform_like_the_objects(migrated: Migrated) -> None:
    """The snapshot file's JSON lines give the same results as the in-memory objects."""
    for record in migrated.dataset.snapshot_records():
        line = json.loads(json.dumps(record.to_json(), ensure_ascii=False))
        assert transform(line, default_mapping(), migrated.owners) == migrated.results[record.key]


def test_legacy_key_matches_the_emulators(migrated: Migrated) -> None:
    for obj in migrated.dataset.objects:
        assert legacy_key(obj) == obj.key == object_key(obj.scope, obj.bucket, obj.object_id)
        assert legacy_key(ExportRecord.snapshot_of("app", obj).to_json()) == obj.key


def test_same_input_gives_the_same_ids() -> None:
    first = migrate(generate_dataset(DATASET_USERS, DATASET_SEED))
    second = migrate(generate_dataset(DATASET_USERS, DATASET_SEED))
    assert first.results == second.results
    # and transforming again, once the devices are known, changes nothing
    again = {obj.key: transform(obj, default_mapping(), first.owners) for obj in first.dataset.objects}
    assert again == first.results


def test_device_ids_are_distinct_and_settings_point_at_them(migrated: Migrated) -> None:
    rows = [r.rows[0] for r in migrated.results.values() if isinstance(r, Transformed)]
    devices = [row for row in rows if isinstance(row, DeviceRow)]
    assert len({device.id for device in devices}) == len(devices)
    ids = {device.id for device in devices}
    assert all(row.device_id in ids for row in rows if isinstance(row, SettingsRow))


def test_change_stream_creates_updates_and_deletes(migrated: Migrated) -> None:
    """Snapshot rows then 400 changes: deleted-and-recreated readings come back under the same client id."""
    mapping, owners = default_mapping(), migrated.owners
    rows = {key: r.rows[0] for key, r in migrated.results.items() if isinstance(r, Transformed)}
    recreated = set(_keys(migrated, EdgeCase.DELETED_AND_RECREATED))
    deleted: set[str] = set()
    for record in generate_changes(migrated.dataset, 400, seed=3):
        if record.op is Op.DELETE:
            target = transform_delete(record.to_json(), mapping, owners)
            assert isinstance(target, DeleteTarget)
            row = rows.pop(record.key)
            assert isinstance(row, ReadingRow)  # the stream deletes readings only
            assert (target.table, target.row_key) == ("readings", {"user_id": row.user_id, "client_id": row.client_id})
            assert target.deleted_at is not None
            deleted.add(record.key)
            continue
        result = transform(record.to_json(), mapping, owners)
        assert isinstance(result, Transformed), result
        row = result.rows[0]
        if record.key in deleted:
            assert isinstance(row, ReadingRow) and row.client_id.endswith(record.object_id)
        if isinstance(row, DeviceRow):
            assert row.id == rows[record.key].id  # type: ignore[union-attr]  # a firmware update
        rows[record.key] = row
    assert recreated <= deleted, "the stream should delete (and re-create) every deleted_and_recreated object"
    assert recreated <= set(rows)
