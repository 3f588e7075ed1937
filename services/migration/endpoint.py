"""The HTTP side of a master or worker process: ``/healthz``, ``/readyz`` and ``/metrics``.

It is shared/web's base app (the same probes and exposition every service has, and the pool they
check), run by an `AppRunner` inside the command's own event loop rather than by ``web.run_app``: the
master or worker is the process's work and its signals stop that; the endpoint only reports on it.
The pool the app opens is the one the master or worker uses, so ``/readyz`` checks the real thing.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiomysql
from aiohttp import web
from prometheus_client import CollectorRegistry

from services.migration.config import MigrationSettings
from services.migration.errors import MetricsPortError
from shared.db.pool import DB_POOL
from shared.web.app import METRICS, create_base_app

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What the running endpoint lends the process: its pool, its registry and the port it got."""

    pool: aiomysql.Pool
    registry: CollectorRegistry
    port: int


@asynccontextmanager
async def serve_endpoint(service: str, settings: MigrationSettings, port: int) -> AsyncIterator[Endpoint]:
    """Listen on the bind host and port (0: any free port, logged); the pool closes after the caller's work."""
    app = create_base_app(service, settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=settings.shutdown_timeout_s)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.bind_host, port, shutdown_timeout=settings.shutdown_timeout_s)
        try:
            await site.start()
        except OSError as error:
            raise _port_error(service, settings.bind_host, port, error) from None
        bound = int(runner.addresses[0][1])
        log.info("%s metrics on http://%s:%d/metrics", service, settings.bind_host, bound)
        yield Endpoint(app[DB_POOL], app[METRICS].registry, bound)
    finally:
        await runner.cleanup()


def _port_error(service: str, host: str, port: int, error: OSError) -> MetricsPortError:
    if error.errno == errno.EADDRINUSE:
        return MetricsPortError(
            f"port {port} on {host} is already in use (another {service}?): pass --metrics-port with a free "
            "port, or --metrics-port 0 to pick one"
        )
    return MetricsPortError(f"cannot listen on {host}:{port} ({error.strerror or error}): pass another --metrics-port")
