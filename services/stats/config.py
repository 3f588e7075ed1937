"""Settings of the stats service (environment prefix ``VITALSYNC_``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.stats.jobs import JOBS
from services.stats.schedule import validate_cron
from shared.settings import CommonSettings

# Local cron slots (UTC). infra/aws/stats/schedules.json holds the same slots for EventBridge Scheduler;
# tests/unit/services/stats/test_aws_templates.py keeps the two in step.
DEFAULT_SCHEDULE = {
    "active-devices-by-model": "15 2 * * *",
    "readings-per-day": "30 2 * * *",
    "monthly-active-users": "45 2 * * *",
    "pairings-per-week": "0 3 * * 1",
    "prune-processed-events": "5 * * * *",
}


class StatsSettings(CommonSettings):
    """Everything the stats service reads from the environment."""

    model_config = SettingsConfigDict(env_prefix="VITALSYNC_", extra="ignore")

    # the Kafka consumer (DESIGN section 8)
    stats_consumer_enabled: bool = True
    stats_consumer_group: str = "vitalsync-stats"
    stats_dlq_topic: str = "vitalsync.events.dlq.v1"
    stats_batch_max_records: int = Field(default=2000, ge=1, le=20_000)
    stats_poll_timeout_ms: int = Field(default=500, ge=10)
    stats_retry_backoff_max_s: float = Field(default=5.0, gt=0)
    # event ids are kept this long; it must exceed the topic's retention, or a replay from the start of a
    # partition could apply events whose ids were already pruned
    stats_event_id_retention_days: int = Field(default=14, ge=1)
    # committed membership rows and device models the consumer remembers to skip lookups (per kind)
    stats_known_rows: int = Field(default=100_000, ge=0)

    # the in-service scheduler: job name -> cron expression (5 fields, or 6 with seconds last), UTC
    stats_scheduler_enabled: bool = True
    stats_schedule: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SCHEDULE))

    # job parameters
    stats_active_window_days: int = Field(default=30, ge=1)
    stats_readings_per_day_days: int = Field(default=90, ge=1)
    stats_mau_months: int = Field(default=12, ge=1)
    stats_pairings_weeks: int = Field(default=52, ge=1)
    stats_job_history_runs: int = Field(default=30, ge=1)  # result sets kept per job

    @field_validator("stats_schedule")
    @classmethod
    def _known_jobs_valid_cron(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(JOBS))
        if unknown:
            raise ValueError(f"stats_schedule names unknown jobs {unknown}; known: {sorted(JOBS)}")
        for job, expression in value.items():
            validate_cron(job, expression)
        return value
