"""Device settings with optimistic concurrency: ETag = version, If-Match required, 412 when stale."""

from __future__ import annotations

from aiohttp import web

from services.sync.keys import SYNC_SETTINGS
from services.sync.models import PutSettingsRequest, SettingsDocument
from services.sync.routes.devices import not_found
from services.sync.transactions import read_only, user_transaction
from shared.auth.middleware import authenticate
from shared.db.pool import DB_POOL
from shared.store.devices import get_device
from shared.store.settings import get_settings, put_settings
from shared.web.bodies import parse_body
from shared.web.errors import ApiError

routes = web.RouteTableDef()
MAX_SETTINGS_BYTES = 64 * 1024


def _etag(version: int) -> str:
    return f'"{version}"'


def _document(device_id: str, version: int, settings: dict[str, object]) -> web.Response:
    body = SettingsDocument(device_id=device_id, version=version, settings=settings).model_dump()
    return web.json_response(body, headers={"ETag": _etag(version)})


def _if_match_version(header: str) -> int | None:
    """The version an If-Match names: ``"3"``, ``W/"3"`` or ``3``; None for ``*`` or garbage."""
    value = header.strip().removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else None


@routes.get("/v1/devices/{device_id}/settings")
async def get(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    device_id = request.match_info["device_id"]
    async with read_only(request.app[DB_POOL]) as cur:
        if await get_device(cur, principal.user_id, device_id) is None:
            raise not_found()
        current = await get_settings(cur, device_id)
    version, document = current or (0, {})
    return _document(device_id, version, document)


@routes.put("/v1/devices/{device_id}/settings")
async def put(request: web.Request) -> web.Response:
    principal = await authenticate(request)
    device_id = request.match_info["device_id"]
    if_match = request.headers.get("If-Match")
    if if_match is None:
        raise ApiError(428, "PRECONDITION_REQUIRED", 'send If-Match with the ETag you read ("0" when none exist)')
    expected = _if_match_version(if_match)
    if expected is None:
        raise ApiError(400, "INVALID_IF_MATCH", "If-Match must be the ETag of the settings you read")
    if request.content_length is not None and request.content_length > MAX_SETTINGS_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", f"settings documents are at most {MAX_SETTINGS_BYTES} bytes")
    body = await parse_body(request, PutSettingsRequest)
    settings = request.app[SYNC_SETTINGS]
    async with user_transaction(request.app[DB_POOL], principal.user_id) as cur:
        device = await get_device(cur, principal.user_id, device_id)
        if device is None or device.unpaired_at is not None:
            raise not_found()
        current_version, current = await get_settings(cur, device_id, for_update=True) or (0, {})
        if expected != current_version:
            raise ApiError(
                412,
                "SETTINGS_STALE",
                "the settings changed since you read them; merge and retry",
                {"version": current_version, "settings": current},
                {"ETag": _etag(current_version)},
            )
        await put_settings(
            cur,
            principal.user_id,
            device_id,
            body.settings,
            current_version + 1,
            settings.region,
            settings.events_topic,
        )
    return _document(device_id, current_version + 1, body.settings)
