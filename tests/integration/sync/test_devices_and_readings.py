"""Devices and readings: ownership, idempotent pairing, per-item batch results, limits, pagination."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiohttp.test_utils import TestClient

from shared.db.connection import connect
from shared.settings import CommonSettings
from tests.integration.sync.conftest import NewUser, auth, bp, pair

pytestmark = pytest.mark.integration


async def test_pairing_is_idempotent_and_devices_are_private(client: TestClient, new_user: NewUser) -> None:
    alice, bob = await new_user(), await new_user()
    first = await client.post(
        "/v1/devices",
        headers=auth(alice),
        json={"kind": "weight", "model": "HBF-702T", "serial": "W-1", "firmware": "1.2"},
    )
    again = await client.post(
        "/v1/devices", headers=auth(alice), json={"kind": "weight", "model": "HBF-702T", "serial": "W-1"}
    )
    assert (first.status, again.status) == (201, 200)
    device = await first.json()
    assert (await again.json())["id"] == device["id"] and device["firmware"] == "1.2"
    listing = await (await client.get("/v1/devices", headers=auth(alice))).json()
    assert [d["id"] for d in listing["devices"]] == [device["id"]]
    for method, path in (
        ("GET", f"/v1/devices/{device['id']}"),
        ("PATCH", f"/v1/devices/{device['id']}"),
        ("DELETE", f"/v1/devices/{device['id']}"),
        ("GET", f"/v1/devices/{device['id']}/settings"),
    ):
        response = await client.request(method, path, headers=auth(bob), json={"name": "mine now"})
        assert response.status == 404, (method, path)
        assert (await response.json())["error"]["code"] == "DEVICE_NOT_FOUND"
    assert (await (await client.get("/v1/devices", headers=auth(bob))).json())["devices"] == []


async def test_unpair_keeps_the_row_and_repairing_restores_it(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    device = await pair(client, user, serial="R-1")
    assert (await client.delete(f"/v1/devices/{device['id']}", headers=auth(user))).status == 204
    assert (await client.delete(f"/v1/devices/{device['id']}", headers=auth(user))).status == 404
    assert (await (await client.get("/v1/devices", headers=auth(user))).json())["devices"] == []
    hidden = await (await client.get("/v1/devices?include_unpaired=true", headers=auth(user))).json()
    assert hidden["devices"][0]["unpaired_at"] is not None
    repaired = await pair(client, user, serial="R-1")
    assert repaired["id"] == device["id"] and repaired["unpaired_at"] is None


async def test_batch_reports_each_item(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    device = await pair(client, user)
    items = [
        bp("ok-1"),
        bp("ok-1"),  # duplicate inside the batch
        bp("ok-2", systolic=17.1, unit="kPa", diastolic=11),
        bp("out", systolic=900),
        bp("nan", systolic="NaN"),
        bp("nres", systolic="NRes"),
        bp("unit", unit="psi"),
        bp("no-offset", at="2026-11-20T08:00:00"),
        bp("future", at="2099-01-01T00:00:00Z"),
        bp("extra", colour="red"),
        {"client_id": "wrong-type", "type": "ecg", "measured_at": "2026-11-20T08:00:00Z", "values": {}},
        "not an object",
        {"client_id": "missing", "type": "weight", "measured_at": "2026-11-20T08:00:00Z", "values": {}},
    ]
    response = await client.post(
        "/v1/readings:batch", headers=auth(user), json={"device_id": device["id"], "readings": items}
    )
    assert response.status == 200
    results = (await response.json())["results"]
    summary = [(r["client_id"], r["status"], (r.get("error") or {}).get("code")) for r in results]
    assert summary == [
        ("ok-1", "accepted", None),
        ("ok-1", "duplicate", None),
        ("ok-2", "accepted", None),
        ("out", "rejected", "VALUE_OUT_OF_RANGE"),
        ("nan", "rejected", "SPECIAL_VALUE"),
        ("nres", "rejected", "SPECIAL_VALUE"),
        ("unit", "rejected", "INVALID_UNIT"),
        ("no-offset", "rejected", "INVALID_TIMESTAMP"),
        ("future", "rejected", "INVALID_TIMESTAMP"),
        ("extra", "rejected", "UNKNOWN_FIELD"),
        ("wrong-type", "rejected", "UNKNOWN_TYPE"),
        (None, "rejected", "INVALID_READING"),
        ("missing", "rejected", "MISSING_FIELD"),
    ]
    assert results[0]["id"] == results[1]["id"]
    retry = await client.post(
        "/v1/readings:batch", headers=auth(user), json={"device_id": device["id"], "readings": items[:3]}
    )
    assert [r["status"] for r in (await retry.json())["results"]] == ["duplicate", "duplicate", "duplicate"]
    stored = await (await client.get("/v1/readings", headers=auth(user))).json()
    assert sorted(r["client_id"] for r in stored["readings"]) == ["ok-1", "ok-2"]
    converted = next(r for r in stored["readings"] if r["client_id"] == "ok-2")
    assert converted["values"]["systolic"] == pytest.approx(128.3, abs=0.05)
    assert converted["original_unit"] == "kPa" and converted["values"]["original"]["systolic"] == 17.1
    assert next(r for r in stored["readings"] if r["client_id"] == "ok-1")["measured_at"] == "2026-11-19T23:00:00Z"


async def test_batch_limits_and_foreign_devices(client: TestClient, new_user: NewUser) -> None:
    alice, bob = await new_user(), await new_user()
    device = await pair(client, alice)
    too_many = await client.post(
        "/v1/readings:batch",
        headers=auth(alice),
        json={"device_id": device["id"], "readings": [bp(f"c{i}") for i in range(501)]},
    )
    assert too_many.status == 413 and (await too_many.json())["error"]["code"] == "TOO_MANY_ITEMS"
    huge = {"device_id": device["id"], "readings": [bp("x", note="y" * 2_000_000)]}
    too_big = await client.post(
        "/v1/readings:batch", headers={**auth(alice), "Content-Type": "application/json"}, data=json.dumps(huge)
    )
    assert too_big.status == 413
    foreign = await client.post(
        "/v1/readings:batch", headers=auth(bob), json={"device_id": device["id"], "readings": [bp("b1")]}
    )
    assert foreign.status == 404
    for bad in (b"{not json", b"[]", b'{"device_id": 5, "readings": "x"}', b'{"device_id": "d", "readings": []}'):
        response = await client.post(
            "/v1/readings:batch", data=bad, headers={**auth(alice), "Content-Type": "application/json"}
        )
        assert response.status == 400, bad
    assert (await (await client.get("/v1/readings", headers=auth(bob))).json())["readings"] == []


async def test_concurrent_identical_batches_store_each_reading_once(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    device = await pair(client, user)
    batch = {"device_id": device["id"], "readings": [bp(f"same-{i}") for i in range(50)]}
    responses = await asyncio.gather(
        *(client.post("/v1/readings:batch", headers=auth(user), json=batch) for _ in range(6))
    )
    statuses = [[r["status"] for r in (await response.json())["results"]] for response in responses]
    assert sum(s.count("accepted") for s in statuses) == 50
    conn = await connect(CommonSettings())
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT COUNT(*), COUNT(DISTINCT client_id) FROM readings WHERE user_id = %s", (user["user_id"],)
            )
            assert await cur.fetchone() == (50, 50)
            await cur.execute(
                "SELECT COUNT(*) FROM outbox WHERE msg_key = %s AND JSON_VALUE(payload, '$.type') = 'reading.created'",
                (user["user_id"],),
            )
            assert await cur.fetchone() == (50,)
    finally:
        conn.close()


async def test_readings_list_filters_and_keyset_pagination(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    bp_device, scale = await pair(client, user), await pair(client, user, kind="weight", model="HBF-702T")
    readings = [bp(f"bp-{i}", at=f"2026-11-{10 + i // 5:02d}T0{i % 5}:00:00Z") for i in range(25)]
    await client.post(
        "/v1/readings:batch", headers=auth(user), json={"device_id": bp_device["id"], "readings": readings}
    )
    await client.post(
        "/v1/readings:batch",
        headers=auth(user),
        json={
            "device_id": scale["id"],
            "readings": [
                {
                    "client_id": "w-1",
                    "type": "weight",
                    "measured_at": "2026-11-12T07:00:00Z",
                    "values": {"weight": 72.4},
                }
            ],
        },
    )
    seen, cursor = [], None
    while True:
        query = "/v1/readings?type=blood_pressure&limit=7" + (f"&cursor={cursor}" if cursor else "")
        page = await (await client.get(query, headers=auth(user))).json()
        seen += [r["client_id"] for r in page["readings"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"bp-{i}" for i in range(25)]
    window = await (
        await client.get("/v1/readings?from=2026-11-12T00:00:00Z&to=2026-11-13T00:00:00Z", headers=auth(user))
    ).json()
    assert sorted(r["client_id"] for r in window["readings"]) == sorted([f"bp-{i}" for i in range(10, 15)] + ["w-1"])
    by_device = await (await client.get(f"/v1/readings?device_id={scale['id']}", headers=auth(user))).json()
    assert [r["client_id"] for r in by_device["readings"]] == ["w-1"]
    for bad in ("?cursor=garbage", "?type=ecg", "?from=yesterday", "?limit=x", "?from=2026-11-12T00:00:00"):
        response = await client.get("/v1/readings" + bad, headers=auth(user))
        assert response.status == 400, bad


async def test_requests_without_a_valid_token_are_401(client: TestClient) -> None:
    assert (await client.get("/v1/devices")).status == 401
    response = await client.get("/v1/devices", headers={"Authorization": "Bearer x.y.z"})
    assert response.status == 401 and (await response.json())["error"]["code"] == "TOKEN_MALFORMED"


async def test_openapi_lists_the_sync_protocol(client: TestClient) -> None:
    spec = await (await client.get("/openapi.json")).json()
    assert {
        "/v1/devices",
        "/v1/devices/{device_id}",
        "/v1/readings:batch",
        "/v1/readings",
        "/v1/devices/{device_id}/settings",
        "/v1/sync/changes",
    } <= set(spec["paths"])
    assert spec["paths"]["/v1/readings:batch"]["post"]["security"] == [{"bearer": []}]
