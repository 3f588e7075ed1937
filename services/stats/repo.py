"""Report queries (one function per query, parameterised); every one reads a primary-key prefix.

Streaming reports read the aggregates the consumer keeps (milliseconds at any scale: rows per day x
region x model x type, not per reading). Job reports read the rows of a job's latest successful run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import aiomysql

from services.stats.jobs import JOBS
from services.stats.runner import RUN_COLUMNS, JobRun

DAILY_COLUMNS = ("day", "region", "model", "reading_type", "readings", "active_devices", "active_users")
REGION_COLUMNS = ("day", "region", "readings", "active_users")
ACTIVE_DIMENSIONS = ("model", "firmware", "region")
DEVICE_COLUMNS = (
    "device_id",
    "user_id",
    "region",
    "kind",
    "model",
    "firmware",
    "paired_at",
    "unpaired_at",
    "last_seen_at",
)


@dataclass(frozen=True)
class Table:
    """Rows of a report with their column names."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def _filters(conditions: dict[str, Any]) -> tuple[str, list[Any]]:
    """`` AND col = %s`` for each given filter (column names are fixed by the callers)."""
    sql = "".join(f" AND {column} = %s" for column, value in conditions.items() if value is not None)
    return sql, [value for value in conditions.values() if value is not None]


async def _fetch(cur: aiomysql.Cursor, sql: str, params: Any) -> list[tuple[Any, ...]]:
    await cur.execute(sql, params)
    return list(await cur.fetchall())


async def daily(
    cur: aiomysql.Cursor, since: date, until: date, region: str | None, model: str | None, reading_type: str | None
) -> Table:
    """stats_daily rows for days in [since, until], optionally filtered."""
    extra, params = _filters({"region": region, "model": model, "reading_type": reading_type})
    rows = await _fetch(
        cur,
        f"SELECT {', '.join(DAILY_COLUMNS)} FROM stats_daily WHERE day >= %s AND day <= %s{extra} "  # noqa: S608
        "ORDER BY day, region, model, reading_type",
        (since, until, *params),
    )
    return Table(DAILY_COLUMNS, rows)


async def daily_regions(cur: aiomysql.Cursor, since: date, until: date, region: str | None) -> Table:
    """stats_daily_regions rows (exact daily active users per region) for days in [since, until]."""
    extra, params = _filters({"region": region})
    rows = await _fetch(
        cur,
        f"SELECT {', '.join(REGION_COLUMNS)} FROM stats_daily_regions WHERE day >= %s AND day <= %s{extra} "  # noqa: S608
        "ORDER BY day, region",
        (since, until, *params),
    )
    return Table(REGION_COLUMNS, rows)


async def latest_success(cur: aiomysql.Cursor, job: str) -> JobRun | None:
    """The newest successful run of ``job`` (index job, status, id)."""
    rows = await _fetch(
        cur,
        f"SELECT {RUN_COLUMNS} FROM job_runs WHERE job = %s AND status = 'succeeded' ORDER BY id DESC LIMIT 1",  # noqa: S608
        (job,),
    )
    return JobRun(*rows[0]) if rows else None


async def job_result(cur: aiomysql.Cursor, job_name: str, run_id: int, filters: dict[str, Any]) -> Table:
    """The result rows of one run of a report job, in the job's order, optionally filtered."""
    job = JOBS[job_name]
    extra, params = _filters(filters)
    rows = await _fetch(
        cur,
        f"SELECT {', '.join(job.columns)} FROM {job.result_table} WHERE run_id = %s{extra} "  # noqa: S608
        f"ORDER BY {', '.join(job.sort)}",
        (run_id, *params),
    )
    return Table(job.columns, rows)


async def active_devices(
    cur: aiomysql.Cursor, run_id: int, by: tuple[str, ...], region: str | None, model: str | None
) -> Table:
    """Active devices of one run, summed over the dimensions not in ``by`` (a subset of model, firmware, region)."""
    dims = [d for d in ACTIVE_DIMENSIONS if d in by]
    extra, params = _filters({"region": region, "model": model})
    select = ", ".join(dims)
    rows = await _fetch(
        cur,
        f"SELECT {select}, CAST(SUM(active_devices) AS UNSIGNED) FROM stats_active_devices_by_model "  # noqa: S608
        f"WHERE run_id = %s{extra} GROUP BY {select} ORDER BY {select}",
        (run_id, *params),
    )
    return Table((*dims, "active_devices"), rows)


async def device(cur: aiomysql.Cursor, device_id: str) -> Table:
    """One device's stream state (last seen), by primary key."""
    rows = await _fetch(
        cur,
        f"SELECT {', '.join(DEVICE_COLUMNS)} FROM stats_devices WHERE device_id = %s",  # noqa: S608
        (device_id,),
    )
    return Table(DEVICE_COLUMNS, rows)
