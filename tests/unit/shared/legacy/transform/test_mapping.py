"""The bucket mapping is configuration: the default file, another app's layout, and mappings that must not load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.legacy.transform import (
    DeviceBucket,
    FailurePattern,
    IgnoredBucket,
    InMemoryOwners,
    MappingError,
    ReadingBucket,
    ReadingRow,
    SettingsBucket,
    Transformed,
    TransformFailure,
    default_mapping,
    load_mapping,
    parse_mapping,
    transform,
)
from shared.legacy.transform.mapping import VALUES_MODELS
from simulator.legacy.catalog import MODELS
from simulator.legacy.model import DEVICES_BUCKET, READING_BUCKETS, SETTINGS_BUCKET

from .examples import BP_DEVICE_ID, BP_THING, CREATED_MS, MEASURED, MEASURED_MS, USER_ID, owners


def test_default_mapping_covers_the_emulators_layout() -> None:
    mapping = default_mapping()
    assert isinstance(mapping.entry("APP_AND_USER", DEVICES_BUCKET), DeviceBucket)
    assert isinstance(mapping.entry("APP_AND_THING", SETTINGS_BUCKET), SettingsBucket)
    for kind, bucket in READING_BUCKETS.items():
        entry = mapping.entry("APP_AND_USER", bucket)
        assert isinstance(entry, ReadingBucket) and entry.reading_type == kind.value
        assert mapping.reading_bucket(kind.value) is entry
    assert mapping.entry("APP_AND_THING", "bp_records") is None
    assert {kind.value for kind in MODELS} == set(VALUES_MODELS)


def test_default_mapping_names_every_protocol_value_field() -> None:
    """So that a new app's reading loses nothing when an old app reads it (the reverse mapping)."""
    for entry in default_mapping().buckets:
        if isinstance(entry, ReadingBucket):
            assert set(entry.fields) == set(VALUES_MODELS[entry.reading_type].model_fields)


def test_default_mapping_file_loads_from_a_path() -> None:
    path = Path(__file__).parents[5] / "shared" / "legacy" / "transform" / "default_mapping.yaml"
    assert load_mapping(path) == default_mapping()


# Another app: blood pressure kept per thing, short field names, seconds-free "mm Hg" unit text,
# and an app-scope bucket of announcements that has nothing to migrate.
OTHER_APP = """
format: vitalsync.legacy-mapping.v1
client_id_field: appClientId
buckets:
  - scope: APP_AND_THING
    bucket: measurements
    target: reading
    reading_type: blood_pressure
    measured_at: ts
    fields:
      systolic: sys
      diastolic: dia
      pulse: hr
      unit: {legacy: u, values: {"mm Hg": mmHg}}
  - scope: APP
    bucket: announcements
    target: ignore
"""
OTHER_APP_READING = {
    "scope": {"type": "APP_AND_THING", "thingID": BP_THING},
    "bucket": "measurements",
    "objectID": "m-1",
    "version": 1,
    "modifiedAt": CREATED_MS,
    "object": {"_created": CREATED_MS, "_version": "1", "ts": MEASURED_MS, "sys": 121, "dia": 79, "u": "mm Hg"},
}


def test_another_apps_layout_is_a_new_mapping_not_new_code() -> None:
    mapping = parse_mapping(OTHER_APP)
    result = transform(OTHER_APP_READING, mapping, owners())
    assert isinstance(result, Transformed)
    (row,) = result.rows
    assert isinstance(row, ReadingRow)
    assert (row.user_id, row.device_id, row.client_id, row.measured_at) == (
        USER_ID,
        BP_DEVICE_ID,
        "kii:measurements/m-1",
        MEASURED,
    )
    assert (row.primary_value, row.original_unit, row.reading_values["original"]["unit"]) == (121.0, "mmHg", "mmHg")


def test_ignored_and_unmapped_buckets_of_another_app() -> None:
    mapping = parse_mapping(OTHER_APP)
    announcement = {**OTHER_APP_READING, "scope": {"type": "APP"}, "bucket": "announcements"}
    assert transform(announcement, mapping, owners()) == Transformed("kiicloud://buckets/announcements/objects/m-1", ())
    devices = {**OTHER_APP_READING, "scope": {"type": "APP_AND_USER", "userID": "x"}, "bucket": "devices"}
    result = transform(devices, mapping, InMemoryOwners())
    assert isinstance(result, TransformFailure) and result.pattern is FailurePattern.UNMAPPED_BUCKET
    assert isinstance(mapping.entry("APP", "announcements"), IgnoredBucket)


_HEAD = "format: vitalsync.legacy-mapping.v1\nbuckets:\n"
_BP = "  - {scope: APP_AND_USER, bucket: bp, target: reading, reading_type: blood_pressure, measured_at: t, "
BAD_MAPPINGS: dict[str, tuple[str, str]] = {  # name: (YAML, what the error must say)
    "not yaml": ("buckets: [", "not valid YAML"),
    "not a mapping": ("- 1\n- 2", "valid dictionary"),
    "wrong format": ("format: v0\nbuckets: []", "vitalsync.legacy-mapping.v1"),
    "misspelled option": (_HEAD + _BP + "fields: {systolic: s}, device_serail: d}", "device_serail"),
    "unknown value field": (_HEAD + _BP + "fields: {sistolic: s}}", "no value field sistolic"),
    "unknown reading type": (_HEAD + _BP.replace("blood_pressure", "spo2") + "fields: {}}", "reading_type"),
    "reading in app scope": (_HEAD + _BP.replace("APP_AND_USER", "APP") + "fields: {}}", "readings belong"),
    "field mapped twice": (_HEAD + _BP + "fields: {systolic: s, diastolic: s}}", "mapped twice"),
    "time field mapped twice": (_HEAD + _BP + "fields: {systolic: t}}", "mapped twice"),
    "system field as source": (_HEAD + _BP + "fields: {systolic: _owner}}", "systolic.legacy"),
    "flags not single bits": (
        _HEAD + _BP + "fields: {status: {legacy: f, flags: {3: body_movement}}}}",
        "single bits",
    ),
    "values and flags": (
        _HEAD + _BP + "fields: {status: {legacy: f, values: {a: b}, flags: {1: body_movement}}}}",
        "either values or flags",
    ),
    "bad bucket name": (_HEAD + _BP.replace("bucket: bp", "bucket: b/p") + "fields: {}}", "bucket"),
    "bucket twice": (_HEAD + _BP + "fields: {}}\n" + _BP + "fields: {}}", "bp in scope APP_AND_USER is mapped twice"),
    "unknown target": (_HEAD + "  - {scope: APP, bucket: logs, target: archive}", "archive"),
    "device in thing scope": (
        _HEAD + "  - {scope: APP_AND_THING, bucket: dv, target: device, "
        "fields: {model: m, serial: s, kind: k, paired_at: p}}",
        "devices belong to a user",
    ),
    "device without serial": (
        _HEAD + "  - {scope: APP_AND_USER, bucket: dv, target: device, fields: {model: m, kind: k, paired_at: p}}",
        "fields.serial",
    ),
    "user settings without serial": (
        _HEAD + "  - {scope: APP_AND_USER, bucket: st, target: settings}",
        "need device_serial",
    ),
}


@pytest.mark.parametrize(("text", "says"), BAD_MAPPINGS.values(), ids=BAD_MAPPINGS.keys())
def test_bad_mappings_fail_at_load(text: str, says: str) -> None:
    with pytest.raises(MappingError) as raised:
        parse_mapping(text)
    assert says in str(raised.value)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping(tmp_path / "absent.yaml")


def test_user_scope_settings_find_their_device_by_serial() -> None:
    mapping = parse_mapping(_HEAD + "  - {scope: APP_AND_USER, bucket: prefs, target: settings, device_serial: serial}")
    prefs: dict[str, Any] = {
        "scope": {"type": "APP_AND_USER", "userID": "4f3c2b1a0d9e-8a7b-6c5d-4e3f-2a1b0c9d"},
        "bucket": "prefs",
        "objectID": "p-1",
        "object": {"_created": CREATED_MS, "_version": "2", "serial": "210000042", "beep": False},
    }
    result = transform(prefs, mapping, owners())
    assert isinstance(result, Transformed)
    row = result.rows[0]
    assert (row.device_id, row.version, row.document) == (BP_DEVICE_ID, 2, {"beep": False})  # type: ignore[union-attr]
    unknown = transform({**prefs, "object": {**prefs["object"], "serial": "0"}}, mapping, owners())
    assert isinstance(unknown, TransformFailure) and unknown.pattern is FailurePattern.UNKNOWN_DEVICE
