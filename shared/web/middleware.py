"""Middlewares every service installs: request ids, metrics, and the single error mapping."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from shared.logging import request_id_var
from shared.web.errors import ApiError, code_for_status, error_response
from shared.web.metrics import HttpMetrics

log = logging.getLogger(__name__)
access_log = logging.getLogger("vitalsync.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID_HEADER = "X-Request-Id"
_MAX_INCOMING_ID_LEN = 128


def _incoming_request_id(request: web.Request) -> str:
    """Reuse the edge's id when it looks sane so one request is traceable across hops."""
    given = request.headers.get(REQUEST_ID_HEADER, "")
    if 0 < len(given) <= _MAX_INCOMING_ID_LEN and given.isascii() and given.isprintable():
        return given
    return uuid.uuid4().hex


def build_middlewares(service: str, metrics: HttpMetrics) -> list[Callable[..., Awaitable[web.StreamResponse]]]:
    """Request id + metrics outermost, then error mapping, so errors are counted with their status."""

    @web.middleware
    async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = _incoming_request_id(request)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            response.headers[REQUEST_ID_HEADER] = request_id
            response.headers["X-VitalSync-Service"] = service
            return response
        finally:
            route = request.match_info.route.resource
            template = route.canonical if route is not None else "unmatched"
            elapsed = time.perf_counter() - started
            metrics.observe(request.method, template, status, elapsed)
            # logged here, not by aiohttp's access logger, so the line carries the request id
            access_log.info(
                "%s %s %d %.1fms",
                request.method,
                template,
                status,
                elapsed * 1000,
                extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
            )
            request_id_var.reset(token)

    @web.middleware
    async def error_mapping(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
            return error_response(exc.status, code_for_status(exc.status), exc.reason, headers=headers)
        except Exception:
            # The traceback goes to the log with the request id; the client learns nothing internal.
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(500, "INTERNAL", "internal error; quote the X-Request-Id header when reporting")

    return [request_context, error_mapping]
