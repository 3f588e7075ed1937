"""Response schemas of the reports API (they also generate /openapi.json)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class JobRunModel(BaseModel):
    id: int
    job: str
    status: Literal["running", "succeeded", "failed", "skipped", "abandoned"]
    triggered_by: str
    scheduled_for: str | None
    runner: str | None
    started_at: str
    finished_at: str | None
    rows: int | None
    duration_ms: int | None
    error: str | None


class _Report(BaseModel):
    report: str
    source: Literal["stream", "job"] = Field(description="stream: the consumer's aggregates; job: a job's latest run")
    run: JobRunModel | None = Field(default=None, description="the job run the rows come from (source=job)")
    columns: list[str]


class DailyRow(BaseModel):
    day: str
    region: str
    model: str
    reading_type: str
    readings: int
    active_devices: int
    active_users: int


class DailyReport(_Report):
    from_: str = Field(alias="from")
    to: str
    rows: list[DailyRow]


class ReadingsPerDayJobRow(BaseModel):
    day: str
    region: str
    reading_type: str
    readings: int
    active_devices: int
    active_users: int


class ReadingsPerDayReport(_Report):
    from_: str = Field(alias="from")
    to: str
    rows: list[DailyRow] | list[ReadingsPerDayJobRow]


class DailyActiveUsersRow(BaseModel):
    day: str
    region: str
    readings: int
    active_users: int


class DailyActiveUsersReport(_Report):
    from_: str = Field(alias="from")
    to: str
    rows: list[DailyActiveUsersRow]


class ActiveDevicesRow(BaseModel):
    model: str | None = None
    firmware: str | None = None
    region: str | None = None
    active_devices: int


class ActiveDevicesReport(_Report):
    rows: list[ActiveDevicesRow]


class MonthlyActiveUsersRow(BaseModel):
    month: str
    region: str
    active_users: int


class MonthlyActiveUsersReport(_Report):
    rows: list[MonthlyActiveUsersRow]


class PairingsRow(BaseModel):
    week: str
    region: str
    model: str
    pairings: int


class PairingsReport(_Report):
    rows: list[PairingsRow]


class DeviceStatsRow(BaseModel):
    device_id: str
    user_id: str
    region: str
    kind: str | None
    model: str
    firmware: str | None
    paired_at: str | None
    unpaired_at: str | None
    last_seen_at: str | None


class DeviceReport(_Report):
    rows: list[DeviceStatsRow]


class JobSummary(BaseModel):
    name: str
    description: str
    schedule: str | None = Field(description="cron expression (UTC) of the in-service scheduler, if scheduled")
    last_run: JobRunModel | None
    last_success: JobRunModel | None


class JobListResponse(BaseModel):
    jobs: list[JobSummary]


class JobRunsResponse(BaseModel):
    job: str
    runs: list[JobRunModel]
