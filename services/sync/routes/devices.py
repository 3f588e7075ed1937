"""Devices: pair (idempotent), list, get, patch, unpair. Another user's device id is a 404."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from services.sync.keys import SYNC_SETTINGS
from services.sync.models import DeviceListResponse, DeviceResponse, PairDeviceRequest, UpdateDeviceRequest
from services.sync.transactions import read_only, user_transaction
from shared.auth.middleware import authenticate
from shared.db.pool import DB_POOL
from shared.store.devices import DEVICE_COLUMNS, DeviceRow, get_device, pair_device, unpair_device, update_device
from shared.web.bodies import parse_body
from shared.web.errors import ApiError

routes = web.RouteTableDef()


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


def device_json(device: DeviceRow) -> dict[str, object]:
    return DeviceResponse(
        id=device.id,
        kind=device.kind,
        model=device.model,
        serial=device.serial,
        firmware=device.firmware,
        name=device.name,
        ble_address=device.ble_address,
        paired_at=iso(device.paired_at) or "",
        unpaired_at=iso(device.unpaired_at),
        last_seen_at=iso(device.last_seen_at),
    ).model_dump()


def not_found() -> ApiError:
    return ApiError(404, "DEVICE_NOT_FOUND", "no such device for this user")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@routes.post("/v1/devices")
async def pair(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await parse_body(request, PairDeviceRequest)
    settings = request.app[SYNC_SETTINGS]
    async with user_transaction(request.app[DB_POOL], principal.user_id) as cur:
        device, created = await pair_device(
            cur, principal.user_id, body.model_dump(), _now(), settings.region, settings.events_topic
        )
    return web.json_response(device_json(device), status=201 if created else 200)


@routes.get("/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    include_unpaired = request.query.get("include_unpaired") in ("1", "true")
    condition = "" if include_unpaired else " AND unpaired_at IS NULL"
    async with read_only(request.app[DB_POOL]) as cur:
        await cur.execute(
            f"SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = %s{condition} ORDER BY paired_at, id",  # noqa: S608
            (principal.user_id,),
        )
        devices = [DeviceRow(*row) for row in await cur.fetchall()]
    return web.json_response(
        DeviceListResponse.model_validate({"devices": [device_json(d) for d in devices]}).model_dump()
    )


@routes.get("/v1/devices/{device_id}")
async def get_one(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    async with read_only(request.app[DB_POOL]) as cur:
        device = await get_device(cur, principal.user_id, request.match_info["device_id"])
    if device is None:
        raise not_found()
    return web.json_response(device_json(device))


@routes.patch("/v1/devices/{device_id}")
async def patch(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    body = await parse_body(request, UpdateDeviceRequest)
    device_id = request.match_info["device_id"]
    async with user_transaction(request.app[DB_POOL], principal.user_id) as cur:
        device = await get_device(cur, principal.user_id, device_id)
        if device is None or device.unpaired_at is not None:
            raise not_found()
        await update_device(cur, principal.user_id, device_id, body.model_dump(exclude_unset=True))
        device = await get_device(cur, principal.user_id, device_id)
    assert device is not None
    return web.json_response(device_json(device))


@routes.delete("/v1/devices/{device_id}")
async def unpair(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    settings = request.app[SYNC_SETTINGS]
    async with user_transaction(request.app[DB_POOL], principal.user_id) as cur:
        if not await unpair_device(
            cur, principal.user_id, request.match_info["device_id"], _now(), settings.region, settings.events_topic
        ):
            raise not_found()
    return web.Response(status=204)
