"""Cron slots, their EventBridge form, job windows and the settings that name them."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from pydantic import ValidationError

from services.stats.config import DEFAULT_SCHEDULE, StatsSettings
from services.stats.jobs import JOBS, REPORT_JOBS
from services.stats.schedule import aws_expression, next_slot


@pytest.mark.parametrize(
    ("cron", "aws"),
    [
        ("15 2 * * *", "cron(15 2 * * ? *)"),
        ("0 3 * * 1", "cron(0 3 ? * 2 *)"),
        ("0 3 * * 0,6", "cron(0 3 ? * 1,7 *)"),
        ("*/10 * 1 * *", "cron(*/10 * 1 * ? *)"),
    ],
)
def test_cron_lines_map_to_eventbridge_syntax(cron: str, aws: str) -> None:
    assert aws_expression(cron) == aws


def test_next_slot_is_strictly_after_and_supports_seconds() -> None:
    assert next_slot("15 2 * * *", datetime(2026, 3, 1, 2, 15)) == datetime(2026, 3, 2, 2, 15)
    assert next_slot("* * * * * */2", datetime(2026, 3, 1, 0, 0, 0)) == datetime(2026, 3, 1, 0, 0, 2)


def test_default_schedule_covers_every_job() -> None:
    assert set(DEFAULT_SCHEDULE) == set(JOBS)
    assert StatsSettings().stats_schedule == DEFAULT_SCHEDULE


def test_schedule_is_read_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VITALSYNC_STATS_SCHEDULE", json.dumps({"readings-per-day": "0 * * * *"}))
    assert StatsSettings().stats_schedule == {"readings-per-day": "0 * * * *"}


@pytest.mark.parametrize("schedule", [{"no-such-job": "0 * * * *"}, {"readings-per-day": "every day at noon"}])
def test_unknown_jobs_and_bad_cron_lines_are_refused(schedule: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        StatsSettings(stats_schedule=schedule)


def test_job_windows() -> None:
    settings = StatsSettings()
    now = datetime(2026, 1, 15, 10, 30)
    assert JOBS["active-devices-by-model"].window(settings, now) == {"since": datetime(2025, 12, 16, 10, 30)}
    assert JOBS["readings-per-day"].window(settings, now) == {
        "since": datetime(2025, 10, 18),
        "until": datetime(2026, 1, 16),
    }
    assert JOBS["monthly-active-users"].window(settings, now) == {
        "since": datetime(2025, 2, 1),
        "until": datetime(2026, 2, 1),
    }
    december = JOBS["monthly-active-users"].window(settings, datetime(2025, 12, 31))
    assert december == {"since": datetime(2025, 1, 1), "until": datetime(2026, 1, 1)}
    weeks = JOBS["pairings-per-week"].window(settings, now)  # 2026-01-15 is a Thursday
    assert weeks["until"] == datetime(2026, 1, 19) and weeks["since"].weekday() == 0
    assert JOBS["prune-processed-events"].window(settings, now) == {"before": datetime(2026, 1, 1, 10, 30)}


def test_every_report_job_has_its_sql_with_only_known_parameters() -> None:
    for name in REPORT_JOBS:
        job = JOBS[name]
        params = {"run_id": 1, **job.window(StatsSettings(), datetime(2026, 1, 1))}
        assert job.sql.count(job.result_table or "?") == 1
        job.sql % params  # raises on an unknown %(name)s or a stray %
