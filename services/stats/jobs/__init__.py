"""The batch jobs (DESIGN section 9): plain SQL over the base tables, one ``INSERT ... SELECT`` each.

A job writes its result rows under the run's id into its own table; reports read the latest successful
run. The SQL lives beside this module (``<name>.sql``, pymysql ``%(name)s`` parameters); this module
only knows each job's table, columns and time window. ``prune-processed-events`` is housekeeping, not a
report: it deletes event ids older than the dedupe window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.stats.config import StatsSettings

SQL_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Job:
    """One named job: what it computes, where its rows go, and the parameters of one run."""

    name: str
    description: str
    result_table: str | None  # None for housekeeping jobs
    columns: tuple[str, ...]  # result columns after run_id, in table order
    sort: tuple[str, ...]  # report order
    window: Callable[[StatsSettings, datetime], dict[str, Any]]

    @property
    def sql(self) -> str:
        """The job's SQL text (``None``-table jobs have none)."""
        return _sql_text(self.name)


@cache
def _sql_text(name: str) -> str:
    return (SQL_DIR / f"{name.replace('-', '_')}.sql").read_text(encoding="utf-8")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _active_window(settings: StatsSettings, now: datetime) -> dict[str, Any]:
    return {"since": now - timedelta(days=settings.stats_active_window_days)}


def _days_window(settings: StatsSettings, now: datetime) -> dict[str, Any]:
    today = _midnight(now.date())
    return {
        "since": today - timedelta(days=settings.stats_readings_per_day_days - 1),
        "until": today + timedelta(days=1),
    }


def _months_window(settings: StatsSettings, now: datetime) -> dict[str, Any]:
    index = now.year * 12 + now.month - 1 - (settings.stats_mau_months - 1)
    first = datetime(index // 12, index % 12 + 1, 1)
    until_index = now.year * 12 + now.month  # the first day of next month
    return {"since": first, "until": datetime(until_index // 12, until_index % 12 + 1, 1)}


def _weeks_window(settings: StatsSettings, now: datetime) -> dict[str, Any]:
    monday = _midnight(now.date()) - timedelta(days=now.weekday())
    return {"since": monday - timedelta(weeks=settings.stats_pairings_weeks - 1), "until": monday + timedelta(weeks=1)}


def _retention_window(settings: StatsSettings, now: datetime) -> dict[str, Any]:
    return {"before": now - timedelta(days=settings.stats_event_id_retention_days)}


PRUNE_JOB = "prune-processed-events"

JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "active-devices-by-model",
            "Devices with at least one reading in the active window, by model, firmware and region",
            "stats_active_devices_by_model",
            ("model", "firmware", "region", "active_devices"),
            ("model", "firmware", "region"),
            _active_window,
        ),
        Job(
            "readings-per-day",
            "Readings per day, region and reading type, with distinct devices and users",
            "stats_readings_per_day",
            ("day", "region", "reading_type", "readings", "active_devices", "active_users"),
            ("day", "region", "reading_type"),
            _days_window,
        ),
        Job(
            "monthly-active-users",
            "Users with at least one reading per calendar month and region",
            "stats_monthly_active_users",
            ("month", "region", "active_users"),
            ("month", "region"),
            _months_window,
        ),
        Job(
            "pairings-per-week",
            "Device pairings per ISO week, region and model",
            "stats_pairings_per_week",
            ("week", "region", "model", "pairings"),
            ("week", "region", "model"),
            _weeks_window,
        ),
        Job(
            PRUNE_JOB,
            "Delete consumed event ids older than the dedupe window (VITALSYNC_STATS_EVENT_ID_RETENTION_DAYS)",
            None,
            (),
            (),
            _retention_window,
        ),
    )
}
REPORT_JOBS = tuple(name for name, job in JOBS.items() if job.result_table is not None)
