"""Reading the record shapes: export-record JSON, the emulator's objects and records, and keys."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from shared.legacy.transform import LegacyRecord, as_legacy_record, legacy_key
from shared.legacy.transform.records import RecordShapeError
from simulator.legacy.model import ExportRecord, LegacyObject, Op, Scope, object_key

from .examples import BP_RECORD_KPA, LEGACY_USER

SCOPES = [Scope("APP"), Scope.user("u1"), Scope.thing("th.t1"), Scope("APP_AND_GROUP", "g1")]


@pytest.mark.parametrize("scope", SCOPES, ids=lambda scope: scope.type)
def test_keys_match_the_emulator_in_every_scope(scope: Scope) -> None:
    obj = LegacyObject(scope, "bucket-1", "obj.1", {"_version": "1", "_modified": 5})
    record = ExportRecord.snapshot_of("app", obj)
    expected = object_key(scope, "bucket-1", "obj.1")
    assert legacy_key(obj) == legacy_key(record) == legacy_key(record.to_json()) == expected
    delete = ExportRecord(Op.DELETE, "app", scope, "bucket-1", "obj.1", 2, 6, None)
    assert legacy_key(delete) == legacy_key(delete.to_json()) == expected


def test_export_record_json_is_read_whole() -> None:
    assert as_legacy_record(BP_RECORD_KPA) == LegacyRecord(
        scope_type="APP_AND_USER",
        scope_id=LEGACY_USER,
        bucket="bp_records",
        object_id="6f1c2d3e-4b5a-4978-8695-a4b3c2d1e0f9",
        body=BP_RECORD_KPA["object"],
        version=1,
        modified_at=1_650_000_000_000,
    )


def test_emulator_object_takes_its_version_from_the_body() -> None:
    obj = LegacyObject(Scope.user("u1"), "b1", "o1", {"_version": "4", "_modified": 9})
    assert as_legacy_record(obj) == LegacyRecord("APP_AND_USER", "u1", "b1", "o1", obj.body, 4, None)
    unversioned = LegacyObject(Scope.user("u1"), "b1", "o1", {"_version": "x"})
    assert as_legacy_record(unversioned).version is None


BAD_RECORDS: dict[str, tuple[Any, str]] = {
    "no scope": ({"bucket": "b", "objectID": "o"}, "scope"),
    "scope without type": ({"scope": {}, "bucket": "b", "objectID": "o"}, "scope"),
    "unknown scope type": ({"scope": {"type": "APP_AND_DEVICE"}, "bucket": "b", "objectID": "o"}, "scope"),
    "user scope without id": ({"scope": {"type": "APP_AND_USER"}, "bucket": "b", "objectID": "o"}, "scope"),
    "no bucket": ({"scope": {"type": "APP"}, "objectID": "o"}, "bucket"),
    "empty object id": ({"scope": {"type": "APP"}, "bucket": "b", "objectID": ""}, "objectID"),
    "version text": ({"scope": {"type": "APP"}, "bucket": "b", "objectID": "o", "version": "1"}, "version"),
    "object a list": ({"scope": {"type": "APP"}, "bucket": "b", "objectID": "o", "object": []}, "object"),
    "a number": (7, "record"),
}


@pytest.mark.parametrize(("record", "field"), BAD_RECORDS.values(), ids=BAD_RECORDS.keys())
def test_bad_records_name_the_field(record: Any, field: str) -> None:
    with pytest.raises(RecordShapeError) as raised:
        as_legacy_record(record)
    assert raised.value.field == field


def test_the_package_imports_no_simulator_and_no_service() -> None:
    """DESIGN section 2: shared never imports simulator or services (checked in a fresh interpreter)."""
    code = (
        "import sys, shared.legacy.transform\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('simulator', 'services')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
