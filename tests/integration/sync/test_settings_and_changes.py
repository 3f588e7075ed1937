"""Settings concurrency (ETag / If-Match) and the delta-sync feed under concurrent writers."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient

from shared.db.connection import connect
from shared.settings import CommonSettings
from tests.integration.sync.conftest import NewUser, auth, bp, pair

pytestmark = pytest.mark.integration


async def test_settings_versioning(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    device = await pair(client, user)
    path = f"/v1/devices/{device['id']}/settings"
    empty = await client.get(path, headers=auth(user))
    assert empty.headers["ETag"] == '"0"' and (await empty.json())["settings"] == {}
    missing = await client.put(path, headers=auth(user), json={"settings": {"units": "kPa"}})
    assert missing.status == 428 and (await missing.json())["error"]["code"] == "PRECONDITION_REQUIRED"
    first = await client.put(path, headers={**auth(user), "If-Match": '"0"'}, json={"settings": {"units": "kPa"}})
    assert first.status == 200 and first.headers["ETag"] == '"1"'
    second = await client.put(
        path, headers={**auth(user), "If-Match": "1"}, json={"settings": {"units": "mmHg", "beep": False}}
    )
    assert second.status == 200 and (await second.json())["version"] == 2
    stale = await client.put(path, headers={**auth(user), "If-Match": '"1"'}, json={"settings": {"units": "kPa"}})
    body = await stale.json()
    assert stale.status == 412 and body["error"]["code"] == "SETTINGS_STALE"
    assert body["error"]["details"] == {"version": 2, "settings": {"units": "mmHg", "beep": False}}
    assert stale.headers["ETag"] == '"2"'
    bad = await client.put(path, headers={**auth(user), "If-Match": "yesterday"}, json={"settings": {}})
    assert bad.status == 400
    not_object = await client.put(path, headers={**auth(user), "If-Match": '"2"'}, json={"settings": [1, 2]})
    assert not_object.status == 400
    assert (await (await client.get(path, headers=auth(user))).json())["version"] == 2


async def test_concurrent_settings_writers_one_wins_per_version(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    device = await pair(client, user)
    path = f"/v1/devices/{device['id']}/settings"
    responses = await asyncio.gather(
        *(
            client.put(path, headers={**auth(user), "If-Match": '"0"'}, json={"settings": {"writer": i}})
            for i in range(8)
        )
    )
    assert sorted(r.status for r in responses) == [200] + [412] * 7


async def test_changes_include_deletions_and_current_state(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    device = await pair(client, user)
    await client.post(
        "/v1/readings:batch", headers=auth(user), json={"device_id": device["id"], "readings": [bp("c-1")]}
    )
    await client.put(
        f"/v1/devices/{device['id']}/settings", headers={**auth(user), "If-Match": '"0"'}, json={"settings": {"a": 1}}
    )
    await client.delete(f"/v1/devices/{device['id']}", headers=auth(user))
    feed = await (await client.get("/v1/sync/changes", headers=auth(user))).json()
    assert [(c["entity"], c["op"]) for c in feed["changes"]] == [
        ("device", "upsert"),
        ("reading", "upsert"),
        ("settings", "upsert"),
        ("device", "delete"),
    ]
    assert feed["changes"][1]["data"]["client_id"] == "c-1" and feed["changes"][3]["data"] is None
    assert feed["changes"][2]["data"] == {"device_id": device["id"], "version": 1, "settings": {"a": 1}}
    caught_up = await (await client.get(f"/v1/sync/changes?cursor={feed['next_cursor']}", headers=auth(user))).json()
    assert caught_up["changes"] == [] and caught_up["next_cursor"] == feed["next_cursor"]
    other = await new_user()
    assert (await (await client.get("/v1/sync/changes", headers=auth(other))).json())["changes"] == []
    assert (await client.get("/v1/sync/changes?cursor=bogus", headers=auth(user))).status == 400


async def test_no_change_is_skipped_under_concurrent_writers(client: TestClient, new_user: NewUser) -> None:
    user = await new_user()
    devices = [await pair(client, user) for _ in range(3)]
    writers_done = asyncio.Event()
    seen: list[tuple[str, str]] = []
    cursors: list[str] = []

    async def writer(device: dict, prefix: str) -> None:
        for batch in range(12):
            readings = [bp(f"{prefix}-{batch}-{i}", at=f"2026-11-20T0{i % 9}:{batch:02d}:00Z") for i in range(15)]
            response = await client.post(
                "/v1/readings:batch", headers=auth(user), json={"device_id": device["id"], "readings": readings}
            )
            assert response.status == 200

    async def reader() -> None:
        cursor = None
        while True:
            finished = writers_done.is_set()
            query = "/v1/sync/changes?limit=37" + (f"&cursor={cursor}" if cursor else "")
            page = await (await client.get(query, headers=auth(user))).json()
            seen.extend((c["entity"], c["id"]) for c in page["changes"])
            cursors.extend(c["cursor"] for c in page["changes"])
            cursor = page["next_cursor"]
            if finished and not page["has_more"] and not page["changes"]:
                return

    reading_task = asyncio.create_task(reader())
    await asyncio.gather(*(writer(d, f"w{n}") for n, d in enumerate(devices)))
    writers_done.set()
    await asyncio.wait_for(reading_task, 60)
    conn = await connect(CommonSettings())
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT id FROM readings WHERE user_id = %s", (user["user_id"],))
            stored = {str(row[0]) for row in await cur.fetchall()}
    finally:
        conn.close()
    readings_seen = [entity_id for entity, entity_id in seen if entity == "reading"]
    assert len(stored) == 3 * 12 * 15
    assert set(readings_seen) == stored  # nothing skipped
    assert len(readings_seen) == len(set(readings_seen))  # nothing twice
    assert len(cursors) == len(set(cursors))
