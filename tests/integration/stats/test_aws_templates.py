"""infra/aws/stats in moto: the roles, the Step Functions state machine and the EventBridge Scheduler
schedules are created from the templates as a deployment would, an execution is started with a
schedule's input, and the command the state machine hands to ECS is run against a scratch database."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.local.component import REPO_ROOT
from shared.settings import CommonSettings
from tests.conftest import subprocess_env
from tests.integration.stats.conftest import Scratch

pytestmark = pytest.mark.integration

TEMPLATES = REPO_ROOT / "infra" / "aws" / "stats"
ACCOUNT = "123456789012"  # moto's default account


def _render(name: str, values: dict[str, str]) -> str:
    """The template with its ${Name} placeholders filled (what envsubst does at deploy time)."""
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], (TEMPLATES / name).read_text())


def _client(settings: CommonSettings, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def ecs_command(definition: dict[str, Any], execution_input: dict[str, Any]) -> list[str]:
    """Evaluate the RunJob state's ``Command.$`` (a States.Array of literals and $.paths) for an input."""
    override = definition["States"]["RunJob"]["Parameters"]["Overrides"]["ContainerOverrides"][0]
    expression = override["Command.$"]
    match = re.fullmatch(r"States\.Array\((.*)\)", expression)
    assert match, expression
    command = []
    for argument in (a.strip() for a in match.group(1).split(",")):
        if argument.startswith("'"):
            command.append(argument.strip("'"))
        else:
            assert argument.startswith("$."), argument
            command.append(str(execution_input[argument[2:]]))
    return command


@pytest.fixture
def deployed(settings: CommonSettings) -> Iterator[dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    iam, states, scheduler = (_client(settings, s) for s in ("iam", "stepfunctions", "scheduler"))
    values = {
        "Region": settings.aws_region,
        "AccountId": ACCOUNT,
        "ClusterArn": f"arn:aws:ecs:{settings.aws_region}:{ACCOUNT}:cluster/vitalsync",
        "TaskDefinitionArn": f"arn:aws:ecs:{settings.aws_region}:{ACCOUNT}:task-definition/vitalsync:1",
        "SubnetId": "subnet-0123456789abcdef0",
        "SecurityGroupId": "sg-0123456789abcdef0",
        "TaskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/vitalsync-task",
        "TaskExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/vitalsync-task-execution",
    }
    roles = {}
    for role, trust, policy in (
        (f"vitalsync-stats-states-{suffix}", "trust-states.json", "state-machine-role-policy.json"),
        (f"vitalsync-stats-scheduler-{suffix}", "trust-scheduler.json", "scheduler-role-policy.json"),
    ):
        created = iam.create_role(RoleName=role, AssumeRolePolicyDocument=(TEMPLATES / trust).read_text())
        iam.put_role_policy(RoleName=role, PolicyName="stats", PolicyDocument=_render(policy, values))
        roles[trust] = created["Role"]["Arn"]
    plan = json.loads((TEMPLATES / "schedules.json").read_text())
    machine = states.create_state_machine(
        name=f"{plan['state_machine']}-{suffix}",
        definition=_render("state-machine.asl.json", values),
        roleArn=roles["trust-states.json"],
    )
    group = f"{plan['group']}-{suffix}"
    scheduler.create_schedule_group(Name=group)
    for entry in plan["schedules"]:
        scheduler.create_schedule(
            Name=entry["name"],
            GroupName=group,
            ScheduleExpression=entry["expression"],
            ScheduleExpressionTimezone=plan["timezone"],
            FlexibleTimeWindow=plan["flexible_time_window"],
            Target={
                "Arn": machine["stateMachineArn"],
                "RoleArn": roles["trust-scheduler.json"],
                "Input": json.dumps({"job": entry["job"]}),
                "RetryPolicy": plan["retry_policy"],
            },
        )
    yield {
        "plan": plan,
        "group": group,
        "machine": machine["stateMachineArn"],
        "states": states,
        "scheduler": scheduler,
    }
    for entry in plan["schedules"]:
        scheduler.delete_schedule(Name=entry["name"], GroupName=group)
    scheduler.delete_schedule_group(Name=group)
    states.delete_state_machine(stateMachineArn=machine["stateMachineArn"])
    for role in roles.values():
        name = role.rsplit("/", 1)[1]
        iam.delete_role_policy(RoleName=name, PolicyName="stats")
        iam.delete_role(RoleName=name)


def test_schedule_starts_the_state_machine_whose_ecs_command_runs_the_job(
    deployed: dict[str, Any], scratch: Scratch
) -> None:
    states, scheduler = deployed["states"], deployed["scheduler"]
    names = {s["Name"] for s in scheduler.list_schedules(GroupName=deployed["group"])["Schedules"]}
    assert names == {entry["name"] for entry in deployed["plan"]["schedules"]}
    schedule = scheduler.get_schedule(Name="vitalsync-stats-active-devices-by-model", GroupName=deployed["group"])
    assert schedule["ScheduleExpression"] == "cron(15 2 * * ? *)"
    assert schedule["Target"]["Arn"] == deployed["machine"]

    # what EventBridge Scheduler does at 02:15 UTC: StartExecution with the schedule's input
    execution = states.start_execution(stateMachineArn=deployed["machine"], input=schedule["Target"]["Input"])
    described = states.describe_execution(executionArn=execution["executionArn"])
    assert described["status"] in ("RUNNING", "SUCCEEDED")
    definition = json.loads(states.describe_state_machine(stateMachineArn=deployed["machine"])["definition"])
    assert definition["States"]["RunJob"]["Resource"] == "arn:aws:states:::ecs:runTask.sync"

    # what the ECS task then runs: the service image's `vitalsync` with the overridden command
    command = ecs_command(definition, json.loads(described["input"]))
    assert command == ["vitalsync", "stats", "run", "active-devices-by-model", "--json"]
    task = subprocess.run(
        [str(Path(sys.executable).parent / command[0]), *command[1:]],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(VITALSYNC_DB_NAME=scratch.settings.db_name),
        check=False,
    )
    assert task.returncode == 0, task.stderr
    run = json.loads(task.stdout)
    assert run["job"] == "active-devices-by-model" and run["status"] == "succeeded"
