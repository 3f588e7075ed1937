"""What a DELETE record removes (`transform_delete`)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from shared.legacy.transform import (
    DeleteTarget,
    FailurePattern,
    Ignored,
    TransformFailure,
    default_mapping,
    parse_mapping,
    transform_delete,
)

from .examples import (
    BP_DEVICE_ID,
    BP_RECORD_KPA,
    DEVICE_OBJECT,
    GONE_USER,
    SETTINGS_OBJECT,
    USER_ID,
    owners,
)

DELETED_MS = 1_650_086_400_000
DELETED = datetime(2022, 4, 16, 5, 20, tzinfo=UTC)


def _delete(rec: dict[str, Any]) -> dict[str, Any]:
    return {
        **copy.deepcopy(rec),
        "op": "DELETE",
        "version": rec["version"] + 1,
        "modifiedAt": DELETED_MS,
        "object": None,
    }


def test_deleting_a_reading_removes_its_row() -> None:
    assert transform_delete(_delete(BP_RECORD_KPA), default_mapping(), owners()) == DeleteTarget(
        key="kiicloud://users/4f3c2b1a0d9e-8a7b-6c5d-4e3f-2a1b0c9d/buckets/bp_records/objects/"
        "6f1c2d3e-4b5a-4978-8695-a4b3c2d1e0f9",
        table="readings",
        row_key={"user_id": USER_ID, "client_id": "kii:bp_records/6f1c2d3e-4b5a-4978-8695-a4b3c2d1e0f9"},
        action="delete",
        deleted_at=DELETED,
    )


def test_deleting_a_device_unpairs_the_id_derived_from_its_key() -> None:
    target = transform_delete(_delete(DEVICE_OBJECT), default_mapping(), owners())
    assert isinstance(target, DeleteTarget)
    assert (target.table, target.row_key, target.action) == ("devices", {"id": BP_DEVICE_ID}, "unpair")


def test_last_body_makes_the_target_exact() -> None:
    """A device the resolver matched by serial keeps its id; an explicit client id is honoured."""
    moved = copy.deepcopy(DEVICE_OBJECT)
    moved["objectID"] = "another-object"  # the same device, written again under another object id
    by_key = transform_delete(_delete(moved), default_mapping(), owners())
    exact = transform_delete(_delete(moved), default_mapping(), owners(), last_body=moved["object"])
    assert isinstance(by_key, DeleteTarget) and isinstance(exact, DeleteTarget)
    assert by_key.row_key != {"id": BP_DEVICE_ID} == exact.row_key
    body = {**BP_RECORD_KPA["object"], "vitalsyncClientId": "phone-1:9"}
    target = transform_delete(_delete(BP_RECORD_KPA), default_mapping(), owners(), last_body=body)
    assert isinstance(target, DeleteTarget)
    assert target.row_key == {"user_id": USER_ID, "client_id": "phone-1:9"}


def test_deleting_settings_removes_the_devices_settings() -> None:
    target = transform_delete(_delete(SETTINGS_OBJECT), default_mapping(), owners())
    assert isinstance(target, DeleteTarget)
    assert (target.table, target.row_key, target.action) == ("device_settings", {"device_id": BP_DEVICE_ID}, "delete")


def test_delete_failures() -> None:
    gone = _delete({**BP_RECORD_KPA, "scope": {"type": "APP_AND_USER", "userID": GONE_USER}})
    unmapped = _delete({**BP_RECORD_KPA, "bucket": "diary"})
    thing = _delete({**SETTINGS_OBJECT, "scope": {"type": "APP_AND_THING", "thingID": "th.none"}})
    patterns = [transform_delete(rec, default_mapping(), owners()) for rec in (gone, unmapped, thing)]
    assert [p.pattern for p in patterns if isinstance(p, TransformFailure)] == [
        FailurePattern.ORPHAN_OWNER,
        FailurePattern.UNMAPPED_BUCKET,
        FailurePattern.UNKNOWN_DEVICE,
    ]


def test_deleting_in_an_ignored_bucket_removes_nothing() -> None:
    mapping = parse_mapping(
        "format: vitalsync.legacy-mapping.v1\nbuckets:\n  - {scope: APP, bucket: logs, target: ignore}"
    )
    rec = {"op": "DELETE", "scope": {"type": "APP"}, "bucket": "logs", "objectID": "l1", "version": 2, "modifiedAt": 1}
    assert transform_delete(rec, mapping, owners()) == Ignored("kiicloud://buckets/logs/objects/l1")
