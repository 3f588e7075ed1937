"""The bucket mapping (DESIGN 6): objects an old app writes to mapped user buckets are readings and
devices a new app sees (GET /v1/readings, /v1/devices, delta sync), kept in step on update and
delete, and data the shared transform refuses is refused with its failure pattern, storing nothing."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import aiomysql
import pytest

from tests.integration.kii_facade.conftest import KiiUser, rows

pytestmark = pytest.mark.integration

DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def bp(systolic: Any = 128, **extra: Any) -> dict[str, Any]:
    return {
        "systolic": systolic,
        "diastolic": 82,
        "pulse": 64,
        "unit": "mmHg",
        "measuredAt": now_ms() - 60_000,
        **extra,
    }


async def readings(user: KiiUser) -> list[dict[str, Any]]:
    reply = await user.call("GET", "/v1/readings?limit=1000")
    assert reply.status == 200, reply.text
    return list(reply.json["readings"])


async def changes(user: KiiUser) -> list[dict[str, Any]]:
    reply = await user.call("GET", "/v1/sync/changes?limit=1000")
    assert reply.status == 200, reply.text
    return list(reply.json["changes"])


async def test_a_reading_written_by_an_old_app_reaches_the_new_api(alice: KiiUser, db: aiomysql.Connection) -> None:
    bucket = alice.bucket("bp_records")
    measured = now_ms() - 3_600_000
    object_id = await alice.create(bucket, bp(measuredAt=measured, statusFlags=4, note="after coffee"))

    [reading] = await readings(alice)
    assert reading["client_id"] == f"kii:bp_records/{object_id}"
    assert reading["type"] == "blood_pressure" and reading["source"] == "kii"
    assert reading["values"]["systolic"] == 128 and reading["values"]["status"] == ["irregular_pulse"]
    assert reading["values"]["legacy"] == {"note": "after coffee"}
    assert reading["measured_at"].startswith(time.strftime("%Y-%m-%dT%H:%M", time.gmtime(measured / 1000)))
    [change] = await changes(alice)
    assert (change["entity"], change["op"], change["id"]) == ("reading", "upsert", str(reading["id"]))
    events = await rows(db, "SELECT payload FROM outbox WHERE msg_key = %s", alice.user_id)
    created = [json.loads(p)["data"] for (p,) in events if json.loads(p)["type"] == "reading.created"]
    assert [e["reading_id"] for e in created] == [reading["id"]]

    # the old app reads its object back unchanged
    stored = await alice.call("GET", f"{bucket}/objects/{object_id}")
    assert stored.json["note"] == "after coffee" and stored.json["statusFlags"] == 4


async def test_updates_and_deletes_follow_the_object(alice: KiiUser) -> None:
    bucket = alice.bucket("bp_records")
    object_id = await alice.create(bucket, bp())
    path = f"{bucket}/objects/{object_id}"
    [before] = await readings(alice)

    patched = await alice.call("POST", path, {"systolic": 141}, headers={"X-HTTP-Method-Override": "PATCH"})
    assert patched.status == 200, patched.text
    [after] = await readings(alice)
    assert after["id"] == before["id"] and after["values"]["systolic"] == 141

    replaced = await alice.call(
        "PUT", path, bp(systolic=150, pulse=None), headers={"If-Match": patched.headers["ETag"]}
    )
    assert replaced.status == 200, replaced.text
    [again] = await readings(alice)
    assert again["id"] == before["id"] and again["values"]["systolic"] == 150 and again["values"]["pulse"] is None

    assert (await alice.call("DELETE", path)).status == 204
    assert await readings(alice) == []
    ops = [(c["entity"], c["op"], c["id"]) for c in await changes(alice)]
    assert ops == [("reading", "upsert", str(before["id"]))] * 3 + [("reading", "delete", str(before["id"]))]


@pytest.mark.parametrize(
    ("case", "body", "pattern", "field"),
    [
        ("out of range", bp(systolic=999), "VALUE_OUT_OF_RANGE", "systolic"),
        ("far future", bp(measuredAt=now_ms() + 400 * DAY_MS), "INVALID_TIMESTAMP", "measuredAt"),
        ("far past", bp(measuredAt=631_152_000_000), "INVALID_TIMESTAMP", "measuredAt"),  # 1990
        ("zero time", bp(measuredAt=0), "INVALID_TIMESTAMP", "measuredAt"),
        ("time of the wrong type", bp(measuredAt="yesterday"), "INVALID_TIMESTAMP", "measuredAt"),
        ("missing time", {k: v for k, v in bp().items() if k != "measuredAt"}, "MISSING_FIELD", "measuredAt"),
        ("missing value", {k: v for k, v in bp().items() if k != "systolic"}, "MISSING_FIELD", "systolic"),
        ("value of the wrong type", bp(systolic="high"), "MALFORMED_OBJECT", "systolic"),
        ("unknown unit", bp(unit="psi"), "UNKNOWN_UNIT", "unit"),
        ("unknown status bit", bp(statusFlags=1024), "MALFORMED_OBJECT", "statusFlags"),
    ],
)
async def test_data_the_transform_refuses_is_refused(
    alice: KiiUser, case: str, body: dict[str, Any], pattern: str, field: str
) -> None:
    bucket = alice.bucket("bp_records")
    reply = await alice.call("POST", f"{bucket}/objects", body)
    assert reply.status == 400, reply.text
    assert reply.json["errorCode"] == "INVALID_INPUT_DATA"
    assert (reply.json["failurePattern"], reply.json["field"]) == (pattern, field)
    assert reply.json["message"].startswith(pattern)
    put = await alice.call("PUT", f"{bucket}/objects/put-{uuid.uuid4().hex[:8]}", body)
    assert put.status == 400 and put.json["failurePattern"] == pattern
    assert await alice.count(bucket) == 0
    assert await readings(alice) == []
    assert await changes(alice) == []


async def test_a_refused_update_keeps_object_and_reading(alice: KiiUser) -> None:
    bucket = alice.bucket("weight_records")
    body = {"weight": 72.5, "unit": "kg", "measuredAt": now_ms() - 1000}
    object_id = await alice.create(bucket, body)
    path = f"{bucket}/objects/{object_id}"
    refused = await alice.call("POST", path, {"weight": -3}, headers={"X-HTTP-Method-Override": "PATCH"})
    assert refused.status == 400 and refused.json["failurePattern"] == "VALUE_OUT_OF_RANGE"
    stored = await alice.call("GET", path)
    assert stored.json["weight"] == 72.5 and stored.json["_version"] == "1"
    [reading] = await readings(alice)
    assert reading["type"] == "weight" and reading["values"]["weight"] == 72.5


async def test_devices_pair_and_readings_link_to_them(alice: KiiUser) -> None:
    serial = f"BP{uuid.uuid4().hex[:8]}"
    device_object = await alice.create(
        alice.bucket("devices"),
        {"model": "VS-BPM-2", "serial": serial, "kind": "blood_pressure", "firmware": "1.0", "pairedAt": now_ms()},
    )
    listed = await alice.call("GET", "/v1/devices")
    [device] = [d for d in listed.json["devices"] if d["serial"] == serial]
    assert device["model"] == "VS-BPM-2" and device["firmware"] == "1.0" and device["unpaired_at"] is None

    await alice.create(alice.bucket("bp_records"), bp(deviceSerial=serial))
    [reading] = await readings(alice)
    assert reading["device_id"] == device["id"]
    assert "legacy" not in reading["values"]  # a matched serial is the device's, not a leftover field

    updated = await alice.call(
        "POST",
        f"{alice.bucket('devices')}/objects/{device_object}",
        {"firmware": "1.1"},
        headers={"X-HTTP-Method-Override": "PATCH"},
    )
    assert updated.status == 200, updated.text
    assert (await alice.call("GET", f"/v1/devices/{device['id']}")).json["firmware"] == "1.1"

    assert (await alice.call("DELETE", f"{alice.bucket('devices')}/objects/{device_object}")).status == 204
    assert (await alice.call("GET", f"/v1/devices/{device['id']}")).json["unpaired_at"] is not None
    assert (await readings(alice))[0]["device_id"] == device["id"]  # readings stay the user's


async def test_dropping_a_mapped_bucket_removes_its_readings(alice: KiiUser) -> None:
    bucket = alice.bucket("temperature_records")
    for celsius in (36.6, 37.1):
        await alice.create(bucket, {"temperature": celsius, "unit": "C", "measuredAt": now_ms() - 5000, "site": "oral"})
    assert len(await readings(alice)) == 2
    assert (await alice.call("DELETE", bucket)).status == 204
    assert await readings(alice) == []


async def test_only_the_user_scope_is_mapped(alice: KiiUser, bucket_name: str) -> None:
    app_bucket = alice.bucket("bp_records", "app")
    object_id = await alice.create(app_bucket, {"systolic": 999, "anything": True})
    assert await readings(alice) == []
    assert (await alice.call("DELETE", f"{app_bucket}/objects/{object_id}")).status == 204
    unmapped = alice.bucket(bucket_name)
    await alice.create(unmapped, bp(systolic=999))
    assert await readings(alice) == []
