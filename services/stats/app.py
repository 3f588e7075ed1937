"""The stats service's app factory: aggregates, job runs and reports (DESIGN section 9)."""

from __future__ import annotations

from aiohttp import web

from services.stats.config import StatsSettings
from shared.web.app import create_base_app

SERVICE = "stats"


def create_app(settings: StatsSettings) -> web.Application:
    """Build the app without I/O; resources open in cleanup contexts when it starts."""
    return create_base_app(SERVICE, settings)
