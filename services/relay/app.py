"""The relay's app: the outbox relay loop plus healthz, readyz and metrics, nothing else.

The relay used to run inside the sync process. Under load its catch-up after an ingest burst took the
sync event loop from the requests it serves (a Kii query of 4.5 ms in-process answered in 260 ms at
p99), so it runs alone: it scales and restarts on its own, and replicas take turns safely (see
``shared.events.relay``).
"""

from __future__ import annotations

from aiohttp import web

from shared.events.relay import outbox_relay_context
from shared.settings import CommonSettings
from shared.web.app import METRICS, create_base_app

SERVICE = "relay"


def create_app(settings: CommonSettings) -> web.Application:
    """Build the app without I/O; the relay starts on the pool once the app starts."""
    app = create_base_app(SERVICE, settings)
    app.cleanup_ctx.append(outbox_relay_context(settings, registry=app[METRICS].registry))
    return app
