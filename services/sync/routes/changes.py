"""Delta sync: everything that changed for the caller since a cursor (DESIGN section 5).

The feed is the user's change_log in id order; see shared/store/change_log for why no change can be
skipped under concurrent writers. Each change carries the entity's current state (or null for a
deletion), so a second phone converges by applying the changes in order.
"""

from __future__ import annotations

import json
from typing import Any

import aiomysql
from aiohttp import web

from services.sync import cursors
from services.sync.models import ChangesPage
from services.sync.routes.devices import device_json, iso
from services.sync.routes.readings import READING_COLUMNS, reading_json
from services.sync.transactions import read_only
from shared.auth.middleware import authenticate
from shared.db.pool import DB_POOL
from shared.store.devices import DEVICE_COLUMNS, DeviceRow
from shared.web.errors import ApiError

routes = web.RouteTableDef()
MAX_LIMIT = 1000


@routes.get("/v1/sync/changes")
async def changes(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    after = int(cursors.decode("changes", request.query["cursor"])) if "cursor" in request.query else 0
    try:
        limit = min(max(int(request.query.get("limit", "200")), 1), MAX_LIMIT)
    except ValueError:
        raise ApiError(400, "INVALID_QUERY", f"limit must be an integer 1-{MAX_LIMIT}") from None
    async with read_only(request.app[DB_POOL]) as cur:
        await cur.execute(
            "SELECT id, entity, entity_id, op, changed_at FROM change_log WHERE user_id = %s AND id > %s "
            "ORDER BY id LIMIT %s",
            (principal.user_id, after, limit + 1),
        )
        rows = await cur.fetchall()
        page = rows[:limit]
        current = await _current_state(cur, principal.user_id, page)
    items = [
        {
            "cursor": cursors.encode("changes", change_id),
            "entity": entity,
            "id": entity_id,
            "op": op,
            "changed_at": iso(changed_at),
            "data": None if op == "delete" else current.get((entity, entity_id)),
        }
        for change_id, entity, entity_id, op, changed_at in page
    ]
    last = page[-1][0] if page else after
    body = ChangesPage.model_validate(
        {"changes": items, "next_cursor": cursors.encode("changes", last), "has_more": len(rows) > limit}
    )
    return web.json_response(body.model_dump())


async def _current_state(
    cur: aiomysql.Cursor, user_id: str, page: list[tuple[Any, ...]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The present state of every entity in the page, loaded with one query per entity kind."""
    wanted: dict[str, set[str]] = {"device": set(), "reading": set(), "settings": set()}
    for _, entity, entity_id, op, _ in page:
        if op != "delete":
            wanted[entity].add(entity_id)
    state: dict[tuple[str, str], dict[str, Any]] = {}
    if wanted["device"]:
        ids = sorted(wanted["device"])
        await cur.execute(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = %s AND id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
            (user_id, *ids),
        )
        for row in await cur.fetchall():
            state[("device", row[0])] = device_json(DeviceRow(*row))
    if wanted["reading"]:
        ids = sorted(wanted["reading"])
        await cur.execute(
            f"SELECT {READING_COLUMNS} FROM readings WHERE user_id = %s AND id IN ({', '.join(['%s'] * len(ids))})",  # noqa: S608
            (user_id, *[int(i) for i in ids]),
        )
        for row in await cur.fetchall():
            state[("reading", str(row[0]))] = reading_json(row)
    if wanted["settings"]:
        ids = sorted(wanted["settings"])
        await cur.execute(
            "SELECT device_id, version, document FROM device_settings "  # noqa: S608 - placeholders only
            f"WHERE user_id = %s AND device_id IN ({', '.join(['%s'] * len(ids))})",
            (user_id, *ids),
        )
        for device_id, version, document in await cur.fetchall():
            state[("settings", device_id)] = {
                "device_id": device_id,
                "version": version,
                "settings": json.loads(document),
            }
    return state
