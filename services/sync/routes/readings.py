"""Readings: the batch upload (per-item results, idempotent by client_id) and the keyset-paged list."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from services.sync import cursors
from services.sync.ingest import validate_item
from services.sync.keys import SYNC_SETTINGS
from services.sync.models import MAX_BATCH_ITEMS, ReadingResponse, ReadingsBatchRequest, ReadingsPage
from services.sync.routes.devices import iso, not_found
from services.sync.transactions import read_only, user_transaction
from shared.auth.middleware import authenticate
from shared.db.pool import DB_POOL
from shared.protocol.readings import READING_TYPES
from shared.store.devices import get_device
from shared.store.readings import NewReading, existing_ids, insert_readings, touch_device
from shared.web.bodies import parse_body
from shared.web.errors import ApiError

routes = web.RouteTableDef()
MAX_BATCH_BYTES = 1024 * 1024
READING_COLUMNS = "id, client_id, device_id, type, measured_at, reading_values, original_unit, source"


@routes.post("/v1/readings:batch")
async def batch(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    if request.content_length is not None and request.content_length > MAX_BATCH_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"a batch is at most {MAX_BATCH_BYTES} bytes")
    body = await parse_body(request, ReadingsBatchRequest)
    if len(body.readings) > MAX_BATCH_ITEMS:
        raise ApiError(413, "TOO_MANY_ITEMS", f"a batch holds at most {MAX_BATCH_ITEMS} readings; split it")
    settings = request.app[SYNC_SETTINGS]
    checked = [validate_item(item, body.device_id) for item in body.readings]
    results: list[dict[str, Any]] = []
    async with user_transaction(request.app[DB_POOL], principal.user_id) as cur:
        device = await get_device(cur, principal.user_id, body.device_id)
        if device is None or device.unpaired_at is not None:
            raise not_found()
        valid = [c for c in checked if isinstance(c, NewReading)]
        stored = await existing_ids(cur, principal.user_id, [r.client_id for r in valid])
        fresh: dict[str, NewReading] = {}
        for candidate in valid:
            if candidate.client_id not in stored and candidate.client_id not in fresh:
                fresh[candidate.client_id] = candidate
        inserted = await insert_readings(
            cur, principal.user_id, list(fresh.values()), "api", settings.region, settings.events_topic
        )
        if fresh:
            await touch_device(cur, device.id, max(r.measured_at for r in fresh.values()))
    claimed: set[str] = set()
    for raw, item in zip(body.readings, checked, strict=True):
        if isinstance(item, dict):
            client_id = (
                raw.get("client_id") if isinstance(raw, dict) and isinstance(raw.get("client_id"), str) else None
            )
            results.append({"client_id": client_id, "status": "rejected", "error": item})
        elif item.client_id in inserted and item.client_id not in claimed:
            claimed.add(item.client_id)
            results.append({"client_id": item.client_id, "status": "accepted", "id": inserted[item.client_id]})
        else:
            reading_id = stored.get(item.client_id, inserted.get(item.client_id))
            results.append({"client_id": item.client_id, "status": "duplicate", "id": reading_id})
    return web.json_response({"results": results})


def reading_json(row: tuple[Any, ...]) -> dict[str, Any]:
    reading_id, client_id, device_id, kind, measured_at, values, original_unit, source = row
    return ReadingResponse(
        id=reading_id,
        client_id=client_id,
        device_id=device_id,
        type=kind,
        measured_at=iso(measured_at) or "",
        values=json.loads(values),
        original_unit=original_unit,
        source=source,
    ).model_dump()


def _parse_time(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "INVALID_QUERY", f"{name} must be an ISO 8601 timestamp with offset") from None
    if parsed.tzinfo is None:
        raise ApiError(400, "INVALID_QUERY", f"{name} must carry a UTC offset")
    return parsed.astimezone(UTC).replace(tzinfo=None)


@routes.get("/v1/readings")
async def list_readings(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    query = request.query
    try:
        limit = min(max(int(query.get("limit", "100")), 1), 1000)
    except ValueError:
        raise ApiError(400, "INVALID_QUERY", "limit must be an integer 1-1000") from None
    conditions, params = ["user_id = %s"], [principal.user_id]
    if "device_id" in query:
        conditions.append("device_id = %s")
        params.append(query["device_id"])
    if "type" in query:
        if query["type"] not in READING_TYPES:
            raise ApiError(400, "INVALID_QUERY", f"type must be one of {', '.join(READING_TYPES)}")
        conditions.append("type = %s")
        params.append(query["type"])
    for name, op in (("from", ">="), ("to", "<")):
        moment = _parse_time(name, query.get(name))
        if moment is not None:
            conditions.append(f"measured_at {op} %s")
            params.append(moment)  # type: ignore[arg-type]
    if "cursor" in query:
        after = cursors.decode("readings", query["cursor"])
        conditions.append("(measured_at, id) > (%s, %s)")
        params += [datetime.fromisoformat(after[0]), int(after[1])]  # type: ignore[list-item]
    async with read_only(request.app[DB_POOL]) as cur:
        await cur.execute(
            f"SELECT {READING_COLUMNS} FROM readings WHERE {' AND '.join(conditions)} "  # noqa: S608 - fixed fragments
            "ORDER BY measured_at, id LIMIT %s",
            (*params, limit + 1),
        )
        rows = await cur.fetchall()
    page = rows[:limit]
    next_cursor = cursors.encode("readings", [page[-1][4].isoformat(), page[-1][0]]) if len(rows) > limit else None
    return web.json_response(
        ReadingsPage.model_validate(
            {"readings": [reading_json(r) for r in page], "next_cursor": next_cursor}
        ).model_dump()
    )
