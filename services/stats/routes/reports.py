"""``GET /v1/stats/...`` reports: streaming aggregates and the latest runs of the batch jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiomysql
from aiohttp import web

from services.stats import repo
from services.stats.routes.render import require_operator, respond, rows_as_dicts
from services.stats.runner import JobRun
from shared.db.pool import DB_POOL
from shared.web.errors import ApiError

routes = web.RouteTableDef()

DEFAULT_DAYS = 30
MAX_DAYS = 366
MAX_FILTER_CHARS = 64


@asynccontextmanager
async def read_only(request: web.Request) -> AsyncIterator[aiomysql.Cursor]:
    """A cursor whose transaction ends right after (no snapshot is held open in the pool)."""
    async with request.app[DB_POOL].acquire() as conn, conn.cursor() as cur:
        try:
            yield cur
        finally:
            await conn.commit()


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(400, "INVALID_QUERY", message, {"field": field})


def _day(request: web.Request, name: str, default: date) -> date:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, f"{name} must be a date (YYYY-MM-DD)") from None


def day_range(request: web.Request) -> tuple[date, date]:
    """``from``/``to`` (inclusive, UTC days); defaults to the last 30 days; at most 366 days."""
    today = datetime.now(UTC).date()
    until = _day(request, "to", today)
    since = _day(request, "from", until - timedelta(days=DEFAULT_DAYS - 1))
    if since > until:
        raise _invalid("from", "from must not be after to")
    if (until - since).days >= MAX_DAYS:
        raise _invalid("from", f"a report spans at most {MAX_DAYS} days")
    return since, until


def _filter(request: web.Request, name: str) -> str | None:
    value = request.query.get(name)
    if value is not None and not 0 < len(value) <= MAX_FILTER_CHARS:
        raise _invalid(name, f"{name} must be 1-{MAX_FILTER_CHARS} characters")
    return value.lower() if value is not None and name == "region" else value


def run_meta(run: JobRun) -> dict[str, Any]:
    return {"source": "job", "run": run.as_json()}


async def _latest(cur: aiomysql.Cursor, job: str) -> JobRun:
    run = await repo.latest_success(cur, job)
    if run is None:
        raise ApiError(
            404,
            "REPORT_NOT_AVAILABLE",
            f"job {job} has no successful run yet; run `vitalsync stats run {job}` or wait for its schedule",
        )
    return run


@routes.get("/v1/stats/readings-per-day")
async def readings_per_day(request: web.Request) -> web.Response:
    """Readings, active devices and users per day x region x model x type (stream), or the job's snapshot."""
    await require_operator(request)
    since, until = day_range(request)
    region, model, reading_type = _filter(request, "region"), _filter(request, "model"), _filter(request, "type")
    source = request.query.get("source", "stream")
    span = {"from": since.isoformat(), "to": until.isoformat()}
    async with read_only(request) as cur:
        if source == "stream":
            table = await repo.daily(cur, since, until, region, model, reading_type)
            return respond(request, "readings-per-day", table, {"source": "stream", "run": None, **span})
        if source != "job":
            raise _invalid("source", "source must be stream or job")
        if model is not None:
            raise _invalid("model", "the readings-per-day job does not break down by model; use source=stream")
        run = await _latest(cur, "readings-per-day")
        table = await repo.job_result(cur, "readings-per-day", run.id, {"region": region, "reading_type": reading_type})
    rows = [row for row in table.rows if since <= row[0] <= until]
    return respond(request, "readings-per-day", repo.Table(table.columns, rows), {**run_meta(run), **span})


@routes.get("/v1/stats/daily-active-users")
async def daily_active_users(request: web.Request) -> web.Response:
    """Exact daily active users (at least one reading that day) and readings per region."""
    await require_operator(request)
    since, until = day_range(request)
    async with read_only(request) as cur:
        table = await repo.daily_regions(cur, since, until, _filter(request, "region"))
    meta = {"source": "stream", "run": None, "from": since.isoformat(), "to": until.isoformat()}
    return respond(request, "daily-active-users", table, meta)


@routes.get("/v1/stats/active-devices-by-model")
async def active_devices_by_model(request: web.Request) -> web.Response:
    """Devices with a reading in the last 30 days, by model / firmware / region (``by=model,region``...)."""
    await require_operator(request)
    by = tuple(part for part in request.query.get("by", ",".join(repo.ACTIVE_DIMENSIONS)).split(",") if part)
    if not by or any(part not in repo.ACTIVE_DIMENSIONS for part in by):
        raise _invalid("by", f"by is a comma-separated subset of {', '.join(repo.ACTIVE_DIMENSIONS)}")
    async with read_only(request) as cur:
        run = await _latest(cur, "active-devices-by-model")
        table = await repo.active_devices(cur, run.id, by, _filter(request, "region"), _filter(request, "model"))
    return respond(request, "active-devices-by-model", table, run_meta(run))


@routes.get("/v1/stats/monthly-active-users")
async def monthly_active_users(request: web.Request) -> web.Response:
    """Users with a reading per calendar month and region (latest job run)."""
    await require_operator(request)
    async with read_only(request) as cur:
        run = await _latest(cur, "monthly-active-users")
        table = await repo.job_result(cur, "monthly-active-users", run.id, {"region": _filter(request, "region")})
    return respond(request, "monthly-active-users", table, run_meta(run))


@routes.get("/v1/stats/pairings-per-week")
async def pairings_per_week(request: web.Request) -> web.Response:
    """Pairings per ISO week, region and model (latest job run)."""
    await require_operator(request)
    filters = {"region": _filter(request, "region"), "model": _filter(request, "model")}
    async with read_only(request) as cur:
        run = await _latest(cur, "pairings-per-week")
        table = await repo.job_result(cur, "pairings-per-week", run.id, filters)
    return respond(request, "pairings-per-week", table, run_meta(run))


@routes.get("/v1/stats/devices/{device_id}")
async def device_stats(request: web.Request) -> web.Response:
    """One device as the stream knows it: model, pairing, last seen."""
    await require_operator(request)
    device_id = request.match_info["device_id"]
    if len(device_id) > 36:
        raise ApiError(404, "DEVICE_NOT_FOUND", "no stats for this device")
    async with read_only(request) as cur:
        table = await repo.device(cur, device_id)
    if not table.rows:
        raise ApiError(404, "DEVICE_NOT_FOUND", "no stats for this device")
    return respond(request, "device", table, {"source": "stream", "run": None})


__all__ = ["routes", "rows_as_dicts"]
