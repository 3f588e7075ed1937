"""Run a service app until SIGTERM/SIGINT, then shut down gracefully.

aiohttp's runner does the ordered part: stop accepting, wait up to ``shutdown_timeout_s`` for
in-flight handlers to finish, then unwind cleanup contexts (workers first, pools last).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from shared.logging import configure_logging
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


def serve(
    service: str, settings: CommonSettings, create_app: Callable[[CommonSettings], web.Application], port: int
) -> None:
    """Configure JSON logging and serve ``create_app(settings)`` on the bind host and ``port``."""
    configure_logging(service, settings.log_level)
    log.info("starting %s on %s:%d", service, settings.bind_host, port)
    web.run_app(
        create_app(settings),
        host=settings.bind_host,
        port=port,
        shutdown_timeout=settings.shutdown_timeout_s,
        print=None,
        access_log=None,  # the request-context middleware writes access lines with request ids
    )
    log.info("%s stopped", service)
