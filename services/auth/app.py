"""The auth service's app factory: accounts, tokens and password flows (DESIGN sections 4-5)."""

from __future__ import annotations

from aiohttp import web

from services.auth.config import AuthSettings
from shared.web.app import create_base_app

SERVICE = "auth"


def create_app(settings: AuthSettings) -> web.Application:
    """Build the app without I/O; resources open in cleanup contexts when it starts."""
    return create_base_app(SERVICE, settings)
