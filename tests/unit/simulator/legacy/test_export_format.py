"""The written files: the auth import format round-trips every user's password; the snapshot and things files."""

from __future__ import annotations

import base64
import gzip
import json
import stat
from collections import Counter
from pathlib import Path

import pytest

from shared.legacy.hash_schemes import SCHEMES, LegacyHash, verify_legacy_password
from simulator.legacy.export_format import (
    HASH_KEY_FILE,
    PASSWORDS_FILE,
    SNAPSHOT_FILE,
    SNAPSHOT_TOPIC,
    THINGS_FILE,
    USERS_FILE,
    WrittenDataset,
    iso8601_ms,
    read_jsonl,
    read_snapshot,
)
from simulator.legacy.model import ExportRecord, ExportRecordError, LegacyDataset, Op, Scope
from simulator.legacy.partitioning import partition_for, record_key

IMPORT_FIELDS = [
    "legacy_user_id",
    "login_name",
    "email",
    "display_name",
    "country",
    "locale",
    "attributes",
    "hash_scheme",
    "hash",
    "salt",
    "params",
]
RECORD_FIELDS = ["op", "appID", "scope", "bucket", "objectID", "version", "modifiedAt", "object"]


def test_users_jsonl_has_the_import_fields_in_order(dataset_dir: Path, dataset: LegacyDataset) -> None:
    records = list(read_jsonl(dataset_dir / USERS_FILE))
    assert len(records) == dataset.user_count
    for record in records:
        assert list(record) == IMPORT_FIELDS
        if record["hash_scheme"] in ("bcrypt", "argon2"):
            assert record["salt"] is None and record["params"] == {}
            assert record["hash"].startswith("$2b$04$" if record["hash_scheme"] == "bcrypt" else "$argon2id$")
        else:
            base64.b64decode(record["hash"], validate=True)
            base64.b64decode(record["salt"], validate=True)
    assert (dataset_dir / USERS_FILE).read_bytes().decode("utf-8").count("\n") == dataset.user_count


def test_every_scheme_is_present_and_every_password_verifies_from_the_file(
    dataset_dir: Path, dataset: LegacyDataset
) -> None:
    generated = {user.legacy_user_id: user.legacy_hash for user in dataset.users}
    records = list(read_jsonl(dataset_dir / USERS_FILE))
    passwords = json.loads((dataset_dir / PASSWORDS_FILE).read_text(encoding="utf-8"))
    key = (dataset_dir / HASH_KEY_FILE).read_bytes()
    assert len(key) == 32
    assert set(Counter(record["hash_scheme"] for record in records)) == set(SCHEMES)
    for record in records:
        legacy = LegacyHash.from_record(record["hash_scheme"], record["hash"], record["salt"], record["params"])
        assert legacy == generated[record["legacy_user_id"]]
        password = passwords[record["legacy_user_id"]]
        assert verify_legacy_password(password, legacy, key), record["hash_scheme"]
        assert not verify_legacy_password(password + "x", legacy, key)


def test_hash_costs_are_the_cheap_ones(dataset_dir: Path) -> None:
    params = {record["hash_scheme"]: record["params"] for record in read_jsonl(dataset_dir / USERS_FILE)}
    assert params["pbkdf2-sha256"] == {"iterations": 1000}
    assert params["scrypt"] == {"n": 1024, "r": 8, "p": 1, "dklen": 32}
    assert {k: params["firebase-scrypt"][k] for k in ("rounds", "mem_cost")} == {"rounds": 8, "mem_cost": 10}
    hashes = {record["hash_scheme"]: record["hash"] for record in read_jsonl(dataset_dir / USERS_FILE)}
    assert "$m=1024,t=1,p=1$" in hashes["argon2"]


def test_secrets_are_not_world_readable(dataset_dir: Path) -> None:
    for name in (PASSWORDS_FILE, HASH_KEY_FILE):
        assert stat.S_IMODE((dataset_dir / name).stat().st_mode) == 0o600


def test_snapshot_header_offsets_count_the_records_per_partition(written: WrittenDataset) -> None:
    header, records = read_snapshot(written.files[SNAPSHOT_FILE])
    assert header.topic == SNAPSHOT_TOPIC == "legacy.export.v1"
    assert header.taken_at == "2022-07-01T00:00:00Z"
    per_partition = Counter(partition_for(record_key(record), 6) for record in records)
    assert header.partitions == {p: per_partition.get(p, 0) for p in range(6)}
    assert sum(header.partitions.values()) == len(records)
    assert all(header.partitions.values())  # the keys spread over every partition


def test_snapshot_lines_are_the_dataset_records(written: WrittenDataset, dataset: LegacyDataset) -> None:
    with gzip.open(written.files[SNAPSHOT_FILE], "rt", encoding="utf-8") as lines:
        first = json.loads(next(lines))
        second = json.loads(next(lines))
    assert list(first) == ["snapshot"] and list(first["snapshot"]) == ["topic", "partitions", "taken_at"]
    assert list(second) == RECORD_FIELDS and second["op"] == "SNAPSHOT" and second["appID"] == dataset.app_id
    _, records = read_snapshot(written.files[SNAPSHOT_FILE])
    assert records == dataset.snapshot_records()
    assert {record.scope.type for record in records} == {"APP_AND_USER", "APP_AND_THING"}
    for record in records:
        assert record.body is not None and record.version == int(record.body["_version"])
        assert record.modified_at == record.body["_modified"]


def test_things_jsonl_uses_kii_thing_fields(written: WrittenDataset, dataset: LegacyDataset) -> None:
    things = list(read_jsonl(written.files[THINGS_FILE]))
    assert [thing["_thingID"] for thing in things] == [thing.thing_id for thing in dataset.things]
    sample = things[0]
    assert set(sample) == {
        "_thingID",
        "_vendorThingID",
        "_thingType",
        "_vendor",
        "_productName",
        "_firmwareVersion",
        "_created",
        "_disabled",
        "serialNumber",
        "owners",
    }
    assert sample["owners"]["groups"] == [] and len(sample["owners"]["users"]) == 1


@pytest.mark.parametrize(
    ("scope", "json_scope", "key"),
    [
        (Scope.user("u1"), {"type": "APP_AND_USER", "userID": "u1"}, "kiicloud://users/u1/buckets/b/objects/o"),
        (
            Scope.thing("th.t"),
            {"type": "APP_AND_THING", "thingID": "th.t"},
            "kiicloud://things/th.t/buckets/b/objects/o",
        ),
        (
            Scope("APP_AND_GROUP", "g"),
            {"type": "APP_AND_GROUP", "groupID": "g"},
            "kiicloud://groups/g/buckets/b/objects/o",
        ),
        (Scope("APP"), {"type": "APP"}, "kiicloud://buckets/b/objects/o"),
    ],
)
def test_scopes_and_keys_for_every_scope_type(scope: Scope, json_scope: dict[str, str], key: str) -> None:
    record = ExportRecord(Op.DELETE, "app", scope, "b", "o", 2, 1, None)
    assert record.to_json()["scope"] == json_scope
    assert record.key == key and record_key(record) == key.encode()
    assert ExportRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": "UPSERT"}, "op"),
        ({"version": "2"}, "version"),
        ({"scope": {"type": "APP_AND_USER"}}, "userID"),
        ({"scope": {"type": "USER", "userID": "u"}}, "scope type"),
        ({"object": {"a": 1}}, "null for DELETE"),
        ({"bucket": None}, "bucket"),
    ],
)
def test_malformed_records_are_refused_with_the_field(change: dict[str, object], message: str) -> None:
    line = ExportRecord(Op.DELETE, "app", Scope.user("u"), "b", "o", 2, 1, None).to_json() | change
    with pytest.raises(ExportRecordError, match=message):
        ExportRecord.from_json(line)


def test_iso8601_keeps_milliseconds_only_when_present() -> None:
    assert iso8601_ms(1_656_633_600_000) == "2022-07-01T00:00:00Z"
    assert iso8601_ms(1_656_633_600_123) == "2022-07-01T00:00:00.123Z"
