"""The stats service's app factory: aggregates, job runs and reports (DESIGN section 9)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.stats.config import StatsSettings
from services.stats.consumer import consumer_context
from services.stats.keys import STATS_SETTINGS
from services.stats.models import (
    ActiveDevicesReport,
    DailyActiveUsersReport,
    DeviceReport,
    JobListResponse,
    JobRunsResponse,
    MonthlyActiveUsersReport,
    PairingsReport,
    ReadingsPerDayReport,
)
from services.stats.routes import jobs, reports
from services.stats.scheduler import scheduler_context
from shared.auth.middleware import auth_context
from shared.settings import accepted_issuers
from shared.web.app import METRICS, create_base_app
from shared.web.openapi import OpenApiDocument, Operation

SERVICE = "stats"
_CSV_NOTE = " (JSON, or CSV with Accept: text/csv or ?format=csv; operator role)"


def _openapi() -> dict[str, object]:
    doc = OpenApiDocument("VitalSync stats")
    for op in (
        Operation(
            "GET",
            "/v1/stats/readings-per-day",
            "Readings, active devices and users per day x region x model x type; ?from&to&region&model&type"
            "&source=stream|job" + _CSV_NOTE,
            None,
            {200: ReadingsPerDayReport},
            auth=True,
        ),
        Operation(
            "GET",
            "/v1/stats/daily-active-users",
            "Exact daily active users per region; ?from&to&region" + _CSV_NOTE,
            None,
            {200: DailyActiveUsersReport},
            auth=True,
        ),
        Operation(
            "GET",
            "/v1/stats/active-devices-by-model",
            "Devices with a reading in the last 30 days; ?by=model,firmware,region&region&model" + _CSV_NOTE,
            None,
            {200: ActiveDevicesReport},
            auth=True,
        ),
        Operation(
            "GET",
            "/v1/stats/monthly-active-users",
            "Users with a reading per calendar month; ?region" + _CSV_NOTE,
            None,
            {200: MonthlyActiveUsersReport},
            auth=True,
        ),
        Operation(
            "GET",
            "/v1/stats/pairings-per-week",
            "Pairings per ISO week, region and model; ?region&model" + _CSV_NOTE,
            None,
            {200: PairingsReport},
            auth=True,
        ),
        Operation(
            "GET",
            "/v1/stats/devices/{device_id}",
            "One device's model, pairing and last seen" + _CSV_NOTE,
            None,
            {200: DeviceReport},
            auth=True,
        ),
        Operation("GET", "/v1/stats/jobs", "Jobs, schedules and last runs", None, {200: JobListResponse}, auth=True),
        Operation(
            "GET", "/v1/stats/jobs/{job}/runs", "Recent runs of a job; ?limit", None, {200: JobRunsResponse}, auth=True
        ),
    ):
        doc.add(op)
    return doc.render()


def _registry(app: web.Application) -> CollectorRegistry:
    return app[METRICS].registry


def create_app(settings: StatsSettings) -> web.Application:
    """Build the app without I/O; resources open in cleanup contexts when it starts.

    Cleanup contexts unwind in reverse: the scheduler and the consumer (registered last) stop before the
    token verifier and the database pool they use.
    """
    app = create_base_app(SERVICE, settings)
    app[STATS_SETTINGS] = settings
    app.cleanup_ctx.append(auth_context(accepted_issuers(settings)))
    if settings.stats_consumer_enabled:
        app.cleanup_ctx.append(consumer_context(settings, _registry))
    if settings.stats_scheduler_enabled:
        app.cleanup_ctx.append(scheduler_context(settings, _registry))
    for table in (reports.routes, jobs.routes):
        app.router.add_routes(table)
    spec = _openapi()

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/openapi.json", openapi)
    return app
