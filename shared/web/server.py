"""Run a service app until SIGTERM/SIGINT, then shut down gracefully.

aiohttp's runner does the ordered part: stop accepting, wait up to ``shutdown_timeout_s`` for
in-flight handlers to finish, then unwind cleanup contexts (workers first, pools last).
"""

from __future__ import annotations

import errno
import gc
import logging
import os
from collections.abc import Callable

from aiohttp import web

from shared.logging import configure_logging
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
_CANNOT_LISTEN = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})


def serve(
    service: str, settings: CommonSettings, create_app: Callable[[CommonSettings], web.Application], port: int
) -> None:
    """Configure JSON logging and serve ``create_app(settings)`` on the bind host and ``port``."""
    configure_logging(service, settings.log_level)
    log.info("starting %s on %s:%d", service, settings.bind_host, port)
    app = create_app(settings)
    app.on_startup.append(_freeze_startup_heap)  # after the cleanup contexts: pools and clients exist by then
    try:
        web.run_app(
            app,
            host=settings.bind_host,
            port=port,
            shutdown_timeout=settings.shutdown_timeout_s,
            print=None,
            access_log=None,  # the request-context middleware writes access lines with request ids
        )
    except OSError as error:
        if error.errno not in _CANNOT_LISTEN:
            raise
        # one log line the launcher quotes (and the operator reads), not a traceback
        log.error(
            "%s cannot listen on %s:%d (%s): stop what holds the port or give the service another one "
            "(its VITALSYNC_*_PORT, or VITALSYNC_BIND_HOST)",
            service,
            settings.bind_host,
            port,
            os.strerror(error.errno) if error.errno else error,
        )
        raise SystemExit(2) from None
    log.info("%s stopped", service)


async def _freeze_startup_heap(_app: web.Application) -> None:
    """Move everything alive after start-up (modules, pydantic schemas, pools) out of the collector's sight.

    CPython 3.11's full collections walk every tracked object; with pydantic and the drivers loaded that
    is ~100 ms with the event loop stopped, every few seconds under load — the whole p99 of an ingest
    run (measured: gen-2 passes of 42-129 ms collecting nothing). Frozen objects are never scanned;
    request garbage is still collected as before.
    """
    gc.collect()
    gc.freeze()
