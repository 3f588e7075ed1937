"""infra/aws/stats stays in step with the code: same jobs, same slots, the same command."""

from __future__ import annotations

import json
from pathlib import Path

from services.stats.config import DEFAULT_SCHEDULE
from services.stats.jobs import JOBS
from services.stats.schedule import aws_expression

TEMPLATES = Path(__file__).resolve().parents[4] / "infra" / "aws" / "stats"


def test_every_job_has_an_eventbridge_schedule_at_the_local_slot() -> None:
    plan = json.loads((TEMPLATES / "schedules.json").read_text())
    by_job = {entry["job"]: entry for entry in plan["schedules"]}
    assert set(by_job) == set(JOBS)
    for job, entry in by_job.items():
        assert entry["expression"] == aws_expression(DEFAULT_SCHEDULE[job]), job
        assert entry["name"] == f"vitalsync-stats-{job}"
    assert plan["timezone"] == "UTC"


def test_state_machine_runs_the_cli_command_for_the_input_job() -> None:
    definition = json.loads((TEMPLATES / "state-machine.asl.json").read_text())
    task = definition["States"][definition["StartAt"]]
    assert task["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    override = task["Parameters"]["Overrides"]["ContainerOverrides"][0]
    assert override["Command.$"] == "States.Array('vitalsync', 'stats', 'run', $.job, '--json')"
    assert task["Catch"][0]["Next"] in definition["States"]
