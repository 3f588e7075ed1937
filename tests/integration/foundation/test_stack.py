"""The launcher against the real local stack: idempotent up, status, edge routing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from infra.local.stack import Stack

pytestmark = pytest.mark.integration


def _get(url: str, data: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_stack_up_twice_is_harmless(stack: Stack) -> None:
    before = {row.name: row.pid for row in stack.status()}
    assert stack.up() == []  # nothing started a second time
    after = stack.status()
    assert {row.name: row.pid for row in after} == before
    assert all(row.ready and row.state == "running" for row in after), after


def test_status_json_lists_every_component(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "stack", "status", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    rows = json.loads(result.stdout)
    assert result.returncode == 0, result.stderr
    assert [r["name"] for r in rows] == ["mariadb", "kafka", "moto", "auth", "sync", "stats", "relay", "nginx"]
    assert {r["name"]: r["port"] for r in rows}["nginx"] == stack.settings.edge_port
    assert all(isinstance(r["pid"], int) and r["ready"] is True for r in rows)


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/v1/auth/token", "auth"),
        ("/v1/users/me", "auth"),
        ("/.well-known/jwks.json", "auth"),
        ("/api/oauth2/token", "auth"),
        ("/api/apps/vitalsync/oauth2/token", "auth"),
        ("/api/apps/vitalsync/users", "auth"),
        ("/api/apps/vitalsync/users/me", "auth"),
        ("/api/apps/vitalsync/users/u-1/buckets/bp_records/objects", "sync"),
        ("/api/apps/vitalsync/groups/g-1/buckets/b/query", "sync"),
        ("/api/apps/vitalsync/things/t-1/buckets/settings/objects/o-1", "sync"),
        ("/api/apps/vitalsync/buckets/config/objects", "sync"),
        ("/v1/devices", "sync"),
        ("/v1/readings:batch", "sync"),
        ("/v1/sync/changes", "sync"),
        ("/v1/stats/active-devices-by-model", "stats"),
    ],
)
def test_edge_routes_paths_to_services(stack: Stack, path: str, service: str) -> None:
    status, headers, body = _get(f"http://127.0.0.1:{stack.settings.edge_port}{path}")
    assert headers.get("X-VitalSync-Service") == service, (path, status, body)
    assert headers.get("X-Request-Id")


def test_edge_unknown_path_is_json_404(stack: Stack) -> None:
    status, headers, body = _get(f"http://127.0.0.1:{stack.settings.edge_port}/nope")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "NOT_FOUND"
    assert "X-VitalSync-Service" not in headers


def test_edge_refuses_bodies_over_its_limit_in_the_protocol_shape(stack: Stack) -> None:
    status, _, body = _get(f"http://127.0.0.1:{stack.settings.edge_port}/v1/devices", data=b"x" * 3_000_000)
    assert status == 413
    assert json.loads(body)["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_services_expose_metrics_and_health(stack: Stack) -> None:
    for name in ("auth", "sync", "stats", "relay"):
        port = stack.component(name).port
        status, _, body = _get(f"http://127.0.0.1:{port}/healthz")
        assert (status, json.loads(body)) == (200, {"status": "alive"})
        status, _, body = _get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200 and json.loads(body) == {
            "ready": True,
            "checks": {"database": "ok", "kafka": "ok"},
        }
        status, _, body = _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert f'http_requests_total{{method="GET",route="/healthz",service="{name}",status="200"}}' in body.decode()


async def test_declared_topics_exist_with_their_partitions(stack: Stack) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(["vitalsync.events.v1", "legacy.export.v1"])
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    expected = int(os.environ.get("VITALSYNC_KAFKA_PARTITIONS", 6))
    assert partitions == {"vitalsync.events.v1": expected, "legacy.export.v1": expected}


def test_declared_aws_resources_exist_in_moto(stack: Stack) -> None:
    resources = json.loads((stack.paths.root / "aws.json").read_text())
    sqs = boto3.client(
        "sqs",
        endpoint_url=resources["endpoint"],
        region_name=resources["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    main = sqs.get_queue_attributes(QueueUrl=resources["sqs"]["migration-records.fifo"], AttributeNames=["All"])
    dlq = sqs.get_queue_attributes(QueueUrl=resources["sqs"]["migration-records-dlq.fifo"], AttributeNames=["QueueArn"])
    redrive = json.loads(main["Attributes"]["RedrivePolicy"])
    assert main["Attributes"]["FifoQueue"] == "true"
    assert redrive["deadLetterTargetArn"] == dlq["Attributes"]["QueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5
    idp = boto3.client(
        "cognito-idp",
        endpoint_url=resources["endpoint"],
        region_name=resources["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    pool = idp.describe_user_pool(UserPoolId=resources["cognito"]["user_pool_id"])["UserPool"]
    assert pool["Name"] == "vitalsync-users"
    ses = boto3.client(
        "ses",
        endpoint_url=resources["endpoint"],
        region_name=resources["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert "no-reply@vitalsync.local" in ses.list_identities()["Identities"]


def test_logs_prints_a_components_log_and_names_unknown_ones(stack: Stack) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vitalsync_cli", "stack", "logs", *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "COLUMNS": "300"},
        )

    # a request of our own with a request id nobody else uses: its access line must be among the last lines
    # (the start-up line may be thousands of lines back on a stack that has served benchmarks)
    request_id = f"logs-test-{uuid.uuid4().hex}"
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.component('sync').port}/v1/no-such-route", headers={"X-Request-Id": request_id}
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=10)
    deadline = time.monotonic() + 10
    while request_id not in (sync_log := run("sync", "-n", "50")).stdout and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sync_log.returncode == 0
    assert f'"request_id": "{request_id}"' in sync_log.stdout
    unknown = run("postgres")
    assert unknown.returncode == 1
    assert (
        "unknown component 'postgres'; choose one of mariadb, kafka, moto, auth, sync, stats, relay, nginx"
        in unknown.stderr
    )
