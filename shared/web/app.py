"""The base every service's ``create_app`` starts from: middlewares, health, readiness, metrics.

No I/O happens here; the pool opens in a cleanup context when the app starts (CONVENTIONS: aiohttp).
"""

from __future__ import annotations

from aiohttp import web

from shared.db.pool import DB_POOL, pool_context
from shared.settings import CommonSettings
from shared.web.metrics import HttpMetrics
from shared.web.middleware import build_middlewares
from shared.web.readiness import DatabaseCheck, KafkaCheck, ReadinessCheck, run_checks

MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024  # the 1 MiB protocol limit plus JSON framing slack
SETTINGS = web.AppKey("settings", CommonSettings)
METRICS = web.AppKey("metrics", HttpMetrics)


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def _readyz(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    checks: list[ReadinessCheck] = [
        DatabaseCheck(request.app[DB_POOL]),
        KafkaCheck(settings.kafka_bootstrap, settings.ready_timeout_s),
    ]
    results = await run_checks(checks, settings.ready_timeout_s)
    ready = all(v == "ok" for v in results.values())
    return web.json_response({"ready": ready, "checks": results}, status=200 if ready else 503)


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": content_type})


def create_base_app(service: str, settings: CommonSettings) -> web.Application:
    """An app with the cross-cutting pieces; the caller adds its routes and cleanup contexts."""
    metrics = HttpMetrics(service)
    app = web.Application(middlewares=build_middlewares(service, metrics), client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app.cleanup_ctx.append(pool_context(settings))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app
