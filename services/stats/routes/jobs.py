"""``GET /v1/stats/jobs`` and ``/v1/stats/jobs/{job}/runs``: what runs, when it last ran, how it went."""

from __future__ import annotations

from aiohttp import web

from services.stats.jobs import JOBS
from services.stats.keys import STATS_SETTINGS
from services.stats.routes.render import require_operator
from services.stats.routes.reports import read_only
from services.stats.runner import RUN_COLUMNS, JobRun, last_runs
from shared.web.errors import ApiError

routes = web.RouteTableDef()

DEFAULT_RUNS = 20
MAX_RUNS = 200


@routes.get("/v1/stats/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    """Every job with its schedule, its latest run and its latest successful run."""
    await require_operator(request)
    schedule = request.app[STATS_SETTINGS].stats_schedule
    async with read_only(request) as cur:
        runs = await last_runs(cur)
    jobs = [
        {
            "name": name,
            "description": job.description,
            "schedule": schedule.get(name),
            "last_run": latest.as_json() if latest else None,
            "last_success": success.as_json() if success else None,
        }
        for name, job in JOBS.items()
        for latest, success in [runs[name]]
    ]
    return web.json_response({"jobs": jobs})


@routes.get("/v1/stats/jobs/{job}/runs")
async def job_runs(request: web.Request) -> web.Response:
    """The newest runs of one job (``limit``, default 20, at most 200)."""
    await require_operator(request)
    name = request.match_info["job"]
    if name not in JOBS:
        raise ApiError(404, "JOB_NOT_FOUND", f"no job named {name[:64]!r}", {"known": sorted(JOBS)})
    raw = request.query.get("limit", str(DEFAULT_RUNS))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_RUNS:
        raise ApiError(400, "INVALID_QUERY", f"limit must be 1-{MAX_RUNS}", {"field": "limit"})
    async with read_only(request) as cur:
        await cur.execute(
            f"SELECT {RUN_COLUMNS} FROM job_runs WHERE job = %s ORDER BY id DESC LIMIT %s",  # noqa: S608
            (name, int(raw)),
        )
        runs = [JobRun(*row).as_json() for row in await cur.fetchall()]
    return web.json_response({"job": name, "runs": runs})
