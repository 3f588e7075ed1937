"""The sync service's app factory: devices, readings, settings, delta sync, Kii facade (DESIGN 5-8)."""

from __future__ import annotations

from aiohttp import web

from services.sync.config import SyncSettings
from shared.web.app import create_base_app

SERVICE = "sync"


def create_app(settings: SyncSettings) -> web.Application:
    """Build the app without I/O; resources open in cleanup contexts when it starts."""
    return create_base_app(SERVICE, settings)
