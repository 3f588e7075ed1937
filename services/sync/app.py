"""The sync service's app factory: devices, readings, settings, delta sync, Kii facade (DESIGN 5-8)."""

from __future__ import annotations

from aiohttp import web

from services.sync.config import SyncSettings
from services.sync.keys import SYNC_SETTINGS
from services.sync.kii import routes as kii_routes
from services.sync.models import (
    ChangesPage,
    DeviceListResponse,
    DeviceResponse,
    PairDeviceRequest,
    PutSettingsRequest,
    ReadingsBatchRequest,
    ReadingsBatchResponse,
    ReadingsPage,
    SettingsDocument,
    UpdateDeviceRequest,
)
from services.sync.routes import changes, devices, readings
from services.sync.routes import settings as device_settings
from shared.auth.middleware import auth_context
from shared.settings import accepted_issuers
from shared.web.app import create_base_app
from shared.web.openapi import OpenApiDocument, Operation, serve_openapi

SERVICE = "sync"


def _openapi() -> OpenApiDocument:
    doc = OpenApiDocument("VitalSync sync")
    for op in (
        Operation(
            "POST",
            "/v1/devices",
            "Pair a device (idempotent on model + serial)",
            PairDeviceRequest,
            {201: DeviceResponse, 200: DeviceResponse},
            auth=True,
        ),
        Operation("GET", "/v1/devices", "The caller's devices", None, {200: DeviceListResponse}, auth=True),
        Operation("GET", "/v1/devices/{device_id}", "One device", None, {200: DeviceResponse}, auth=True),
        Operation(
            "PATCH",
            "/v1/devices/{device_id}",
            "Rename, firmware, address",
            UpdateDeviceRequest,
            {200: DeviceResponse},
            auth=True,
        ),
        Operation("DELETE", "/v1/devices/{device_id}", "Unpair", None, {204: None}, auth=True),
        Operation(
            "POST",
            "/v1/readings:batch",
            "Upload up to 500 readings; a result per item",
            ReadingsBatchRequest,
            {200: ReadingsBatchResponse},
            auth=True,
        ),
        Operation("GET", "/v1/readings", "Readings, keyset-paginated", None, {200: ReadingsPage}, auth=True),
        Operation(
            "GET", "/v1/devices/{device_id}/settings", "Settings with ETag", None, {200: SettingsDocument}, auth=True
        ),
        Operation(
            "PUT",
            "/v1/devices/{device_id}/settings",
            "Replace settings (If-Match required)",
            PutSettingsRequest,
            {200: SettingsDocument},
            auth=True,
        ),
        Operation("GET", "/v1/sync/changes", "Changes since a cursor", None, {200: ChangesPage}, auth=True),
    ):
        doc.add(op)
    return doc


def create_app(settings: SyncSettings) -> web.Application:
    """Build the app without I/O; resources open in cleanup contexts when it starts."""
    app = create_base_app(SERVICE, settings)
    app[SYNC_SETTINGS] = settings
    app.cleanup_ctx.append(auth_context(accepted_issuers(settings)))
    for table in (devices.routes, readings.routes, device_settings.routes, changes.routes):
        app.router.add_routes(table)
    kii_routes.install(app)  # Kii-compatible buckets and objects (DESIGN section 6)
    serve_openapi(app, _openapi())
    return app
