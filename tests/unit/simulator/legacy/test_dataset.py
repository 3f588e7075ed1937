"""generate_dataset: determinism, Kii shapes, the old app's bucket layout and the edge-case manifest."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from shared.legacy.transform.records import KII_OBJECT_MAX_CHARS, serialized_size
from simulator.legacy.dataset import SNAPSHOT_AT_MS, DatasetMismatchError, generate_dataset, load_dataset
from simulator.legacy.edge_cases import EdgeCase
from simulator.legacy.export_format import (
    MANIFEST_FILE,
    SNAPSHOT_FILE,
    USERS_FILE,
    WrittenDataset,
    write_dataset,
)
from simulator.legacy.model import (
    READING_BUCKETS,
    SCOPE_THING,
    SCOPE_USER,
    LegacyDataset,
    LegacyObject,
    thing_key,
    user_key,
)

USER_ID = re.compile(r"[0-9a-z]{12}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{8}")
THING_ID = re.compile(r"th\.[0-9a-z]{12}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{8}")
LOGIN_NAME = re.compile(r"[a-zA-Z0-9\-_.]{3,64}")
OBJECT_ID = re.compile(r"[a-zA-Z0-9_\-.]{2,100}")
SYSTEM_FIELDS = ("_id", "_owner", "_created", "_modified", "_version")
READING_FIELDS = {
    "bp_records": {"deviceSerial", "measuredAt", "systolic", "diastolic", "pulse", "unit", "statusFlags", "userSlot"},
    "weight_records": {"deviceSerial", "measuredAt", "weight", "unit", "bmi", "statusFlags", "userSlot"},
    "temperature_records": {"deviceSerial", "measuredAt", "temperature", "unit", "statusFlags", "userSlot"},
    "glucose_records": {"deviceSerial", "measuredAt", "glucose", "unit", "statusFlags", "userSlot"},
}
DEVICE_FIELDS = {"model", "serial", "kind", "firmware", "pairedAt", "bleAddress"}
# Plausible ranges of the readings' values, in each bucket's canonical unit.
PLAUSIBLE = {
    "systolic": (70, 220),
    "diastolic": (30, 150),
    "pulse": (30, 200),
    "weight": (30, 200),
    "bmi": (10, 70),
    "temperature": (35.0, 40.0),
    "glucose": (40, 400),
}
CANONICAL = {"bp_records": "mmHg", "weight_records": "kg", "temperature_records": "C", "glucose_records": "mg/dL"}
KNOWN_UNITS = {"mmHg", "kPa", "kg", "lb", "C", "F", "mg/dL", "mmol/L"}


def plausible(obj: LegacyObject) -> bool:
    """Whether every value field the reading has lies within its plausible range."""
    return all(low <= obj.body[name] <= high for name, (low, high) in PLAUSIBLE.items() if name in obj.body)


def flagged(dataset: LegacyDataset) -> set[str]:
    return {key for keys in dataset.edge_cases.values() for key in keys}


def test_same_seed_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    first = write_dataset(generate_dataset(12, seed=5), tmp_path / "a")
    again = write_dataset(generate_dataset(12, seed=5), tmp_path / "b")
    other = write_dataset(generate_dataset(12, seed=6), tmp_path / "c")
    assert first.files.keys() == again.files.keys()
    for name, path in first.files.items():
        assert path.read_bytes() == again.files[name].read_bytes(), name
    for name in (USERS_FILE, SNAPSHOT_FILE, MANIFEST_FILE):
        assert first.files[name].read_bytes() != other.files[name].read_bytes(), name


def test_users_have_kii_shapes_and_unique_names(dataset: LegacyDataset) -> None:
    assert dataset.user_count == 60
    ids = [user.legacy_user_id for user in dataset.users]
    logins = [user.login_name for user in dataset.users]
    emails = [user.email for user in dataset.users if user.email]
    assert len(set(ids)) == len(ids) and len(set(logins)) == len(logins) and len(set(emails)) == len(emails)
    for user in dataset.users:
        assert USER_ID.fullmatch(user.legacy_user_id)
        assert LOGIN_NAME.fullmatch(user.login_name)
        assert user.country is not None and re.fullmatch(r"[A-Z]{2}", user.country)
        assert 1 <= len(user.display_name) <= 50
    regions = {user.attributes.get("region") for user in dataset.users}
    assert {"EU", "JP", "SG", "CN", "IN"} <= regions


def test_unicode_names_cover_japanese_chinese_emoji_and_combining_marks(dataset: LegacyDataset) -> None:
    keys = set(dataset.edge_cases[EdgeCase.UNICODE_NAME])
    names = [user.display_name for user in dataset.users if user.key in keys]
    assert keys == {user.key for user in dataset.users if not user.display_name.isascii()}
    assert any(re.search(r"[\u3040-\u30ff]", name) for name in names)  # kana
    assert any(re.search(r"[\u4e00-\u9fff]", name) and not re.search(r"[\u3040-\u30ff]", name) for name in names)
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", name) for name in names)  # emoji
    assert any(name != unicodedata.normalize("NFC", name) for name in names)  # decomposed (NFD)


def test_things_have_ids_models_and_live_owners(dataset: LegacyDataset) -> None:
    users = {user.legacy_user_id for user in dataset.users}
    serials = [thing.serial for thing in dataset.things]
    assert len(set(serials)) == len(serials)
    for thing in dataset.things:
        assert THING_ID.fullmatch(thing.thing_id)
        assert re.fullmatch(r"[a-zA-Z0-9\-_.]{1,200}", thing.vendor_thing_id)
        assert thing.owner_user_id in users
    models = {thing.model for thing in dataset.things}
    assert {"BP-7000", "HBF-702T"} & models
    assert {thing.kind.value for thing in dataset.things} == {
        "blood_pressure",
        "weight",
        "body_temperature",
        "blood_glucose",
    }


def test_every_object_follows_the_legacy_layout(dataset: LegacyDataset) -> None:
    keys = [obj.key for obj in dataset.objects]
    assert len(set(keys)) == len(keys)
    missing_fields = set(dataset.edge_cases[EdgeCase.MISSING_OPTIONAL_FIELDS])
    things = {thing.thing_id for thing in dataset.things}
    for obj in dataset.objects:
        assert tuple(obj.body)[:5] == SYSTEM_FIELDS
        assert obj.body["_id"] == obj.object_id and OBJECT_ID.fullmatch(obj.object_id)
        assert isinstance(obj.body["_version"], str) and obj.version >= 1
        assert obj.body["_created"] <= obj.body["_modified"] < SNAPSHOT_AT_MS
        if obj.bucket == "settings":
            assert obj.scope.type == SCOPE_THING and obj.scope.id in things
            continue
        assert obj.scope.type == SCOPE_USER and obj.body["_owner"] == obj.scope.id
        expected = DEVICE_FIELDS if obj.bucket == "devices" else READING_FIELDS[obj.bucket]
        if obj.key not in missing_fields:
            assert expected <= set(obj.body), obj.key
    assert Counter(obj.bucket for obj in dataset.objects).keys() == {
        "devices",
        "settings",
        *READING_BUCKETS.values(),
    }


def test_clean_readings_are_plausible_and_follow_a_daily_rhythm(dataset: LegacyDataset) -> None:
    odd = flagged(dataset)
    clean = [obj for obj in dataset.objects if obj.bucket in CANONICAL and obj.key not in odd]
    assert len(clean) > 5 * dataset.user_count
    for obj in clean:
        assert obj.body["unit"] == CANONICAL[obj.bucket]
        assert plausible(obj), obj.body
        assert isinstance(obj.body["measuredAt"], int) and obj.body["measuredAt"] <= obj.body["_created"]
    # Blood pressure is taken on waking and before bed (local time), not in the afternoon.
    users = {user.legacy_user_id: user for user in dataset.users}
    offsets = {"JP": 540, "CN": 480, "SG": 480, "IN": 330}
    hours = Counter(
        ((obj.body["measuredAt"] // 60_000 + offsets.get(users[obj.body["_owner"]].country or "", 60)) // 60) % 24
        for obj in clean
        if obj.bucket == "bp_records"
    )
    assert sum(hours[h] for h in range(6, 9)) + sum(hours[h] for h in range(20, 23)) == sum(hours.values())


def test_every_edge_case_category_occurs_and_points_at_real_records(dataset: LegacyDataset) -> None:
    objects = dataset.objects_by_key()
    users = {user.key: user for user in dataset.users}
    assert set(dataset.edge_cases) == {category.value for category in EdgeCase}
    for category, keys in dataset.edge_cases.items():
        assert keys, f"no example of {category}"
        assert len(set(keys)) == len(keys)
        for key in keys:
            assert key in objects or key in users, (category, key)


def _objects(dataset: LegacyDataset, category: EdgeCase) -> list[LegacyObject]:
    by_key = dataset.objects_by_key()
    return [by_key[key] for key in dataset.edge_cases[category]]


def test_timestamp_unit_and_range_flaws_are_what_their_category_says(dataset: LegacyDataset) -> None:
    assert all(obj.body["measuredAt"] == 0 for obj in _objects(dataset, EdgeCase.TIMESTAMP_ZERO))
    assert all(obj.body["measuredAt"] is None for obj in _objects(dataset, EdgeCase.TIMESTAMP_NULL))
    for obj in _objects(dataset, EdgeCase.TIMESTAMP_UNPARSEABLE):
        assert isinstance(obj.body["measuredAt"], str)
        with pytest.raises(ValueError):
            datetime.fromisoformat(obj.body["measuredAt"])
    assert all(obj.body["unit"] not in KNOWN_UNITS for obj in _objects(dataset, EdgeCase.UNKNOWN_UNIT))
    alternate = KNOWN_UNITS - set(CANONICAL.values())
    assert all(obj.body["unit"] in alternate for obj in _objects(dataset, EdgeCase.NON_CANONICAL_UNIT))
    assert all(not plausible(obj) for obj in _objects(dataset, EdgeCase.VALUE_OUT_OF_RANGE))


def test_size_flaws_sit_around_the_64_kb_limit(dataset: LegacyDataset) -> None:
    near = [serialized_size(obj.body) for obj in _objects(dataset, EdgeCase.SIZE_NEAR_LIMIT)]
    over = [serialized_size(obj.body) for obj in _objects(dataset, EdgeCase.SIZE_OVER_LIMIT)]
    assert all(64_000 <= size <= KII_OBJECT_MAX_CHARS for size in near)
    assert all(KII_OBJECT_MAX_CHARS < size <= 66_500 for size in over)
    others = [obj for obj in dataset.objects if obj.key not in set(dataset.edge_cases[EdgeCase.SIZE_OVER_LIMIT])]
    assert all(serialized_size(obj.body) <= KII_OBJECT_MAX_CHARS for obj in others)


def test_orphans_belong_to_users_missing_from_the_export(dataset: LegacyDataset) -> None:
    users = {user.legacy_user_id for user in dataset.users}
    orphans = _objects(dataset, EdgeCase.ORPHAN_OWNER)
    assert {obj.bucket for obj in orphans} >= {"devices"}
    for obj in orphans:
        assert obj.scope.type == SCOPE_USER and obj.scope.id not in users and obj.body["_owner"] == obj.scope.id
    assert {obj.scope.id for obj in orphans} == set(dataset.orphan_user_ids)
    # Only orphans have owners outside the user export.
    owned = [obj for obj in dataset.objects if obj.scope.type == SCOPE_USER and obj.scope.id not in users]
    assert {obj.key for obj in owned} == set(dataset.edge_cases[EdgeCase.ORPHAN_OWNER])


def test_missing_optional_fields_cover_users_readings_and_devices(dataset: LegacyDataset) -> None:
    keys = dataset.edge_cases[EdgeCase.MISSING_OPTIONAL_FIELDS]
    by_key = dataset.objects_by_key()
    users_without = {user.key for user in dataset.users if user.email is None}
    assert users_without and users_without == {user.key for user in dataset.users if user.key in keys}
    assert all(user.locale is None and user.attributes == {} for user in dataset.users if user.key in keys)
    buckets = {by_key[key].bucket for key in keys if key in by_key}
    assert "devices" in buckets and buckets & set(READING_BUCKETS.values())
    for key in keys:
        if key in by_key and by_key[key].bucket == "devices":
            assert not {"firmware", "bleAddress"} <= set(by_key[key].body)


def test_manifest_file_matches_the_dataset(dataset: LegacyDataset, written: WrittenDataset) -> None:
    manifest = written.manifest
    assert manifest["seed"] == dataset.seed and manifest["users"] == dataset.user_count
    assert manifest["edge_cases"] == dataset.edge_cases
    assert sum(manifest["counts"]["buckets"].values()) == len(dataset.objects)
    assert set(manifest["edge_case_descriptions"]) == set(manifest["edge_cases"])
    assert user_key("x") == "kiicloud://users/x" and thing_key("th.x") == "kiicloud://things/th.x"


def test_users_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate_dataset(0, seed=1)


@pytest.mark.parametrize("seed", range(6))
def test_a_single_user_dataset_still_has_every_category(seed: int) -> None:
    tiny = generate_dataset(1, seed=seed)
    assert tiny.user_count == 1
    assert [category for category, keys in tiny.edge_cases.items() if not keys] == []


def test_load_dataset_regenerates_what_a_directory_holds(dataset: LegacyDataset, dataset_dir: Path) -> None:
    assert load_dataset(dataset_dir) == dataset


def test_load_dataset_refuses_a_directory_from_another_generator(dataset_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((dataset_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["counts"]["objects"] += 1
    (tmp_path / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(DatasetMismatchError, match="another version"):
        load_dataset(tmp_path)


def test_a_thousand_users_seed_in_seconds_thanks_to_cheap_hash_costs() -> None:
    started = time.perf_counter()
    big = generate_dataset(1000, seed=1)
    elapsed_s = time.perf_counter() - started
    assert big.user_count == 1000 and len(big.objects) > 10_000
    assert elapsed_s < 15, f"seeding 1,000 users took {elapsed_s:.1f} s"
