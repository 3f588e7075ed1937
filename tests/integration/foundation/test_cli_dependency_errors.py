"""A command whose database, Kafka or SQS is down or refuses it, or whose port is taken: exit 2 and one
line naming the cause and the fix, never a traceback (the real servers of the local stack, or a port
nobody serves)."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from shared.settings import CommonSettings
from tests.conftest import free_port, subprocess_env

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny legacy dataset: users to import, a snapshot to load or export."""
    out = tmp_path_factory.mktemp("legacy")
    seeded = _vitalsync("legacy", "seed", "--users", "3", "--seed", "1", "--out", str(out))
    assert seeded.returncode == 0, seeded.stderr
    return out


def _vitalsync(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=subprocess_env(COLUMNS="400", **env),
    )


def _one_clear_error(result: subprocess.CompletedProcess[str], starts: str) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(starts), errors[0]
    return errors[0]


COMMANDS = {
    "migrate status": ("migrate", "status"),
    "cutover check": ("cutover", "check"),
    "migrate snapshot": ("migrate", "snapshot", "{dir}/snapshot.jsonl.gz"),
    "users import": ("users", "import", "{dir}/users.jsonl", "--report", "{dir}/rejected.jsonl"),
    "migrate follow": ("migrate", "follow", "--metrics-port", "0"),
}


def _command(name: str, dataset: Path) -> list[str]:
    return [part.format(dir=dataset) for part in COMMANDS[name]]


@pytest.mark.parametrize("name", COMMANDS)
def test_database_down(stack: object, dataset: Path, name: str) -> None:
    port = free_port()
    result = _vitalsync(*_command(name, dataset), VITALSYNC_DB_PORT=str(port))
    line = _one_clear_error(result, f"error: cannot connect to MySQL at 127.0.0.1:{port} as ")
    assert "vitalsync stack up" in line


@pytest.mark.parametrize("refusal", ["database", "password"])
@pytest.mark.parametrize("name", ["migrate status", "users import"])
def test_database_refuses(settings: CommonSettings, dataset: Path, name: str, refusal: str) -> None:
    """A database the user may not use, a wrong password: named as such (not "start the stack"), the
    password never echoed."""
    where = f"error: MySQL at {settings.db_host}:{settings.db_port}"
    wrong = f"nope_{uuid.uuid4().hex[:8]}"
    if refusal == "database":
        result = _vitalsync(*_command(name, dataset), VITALSYNC_DB_NAME=wrong)
        line = _one_clear_error(result, f"{where} does not let user {settings.db_user} use database '{wrong}', ")
        assert "VITALSYNC_DB_NAME" in line
    else:
        result = _vitalsync(*_command(name, dataset), VITALSYNC_DB_PASSWORD=wrong)
        line = _one_clear_error(result, f"{where} refused user {settings.db_user} (wrong user or password)")
        assert "VITALSYNC_DB_PASSWORD" in line
        assert wrong not in result.stderr + result.stdout


@pytest.mark.parametrize("name", ["migrate status", "cutover check", "legacy export"])
def test_kafka_down(stack: object, dataset: Path, name: str) -> None:
    port = free_port()
    args = ("legacy", "export", "--dir", str(dataset)) if name == "legacy export" else COMMANDS[name]
    result = _vitalsync(*args, VITALSYNC_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}")
    _one_clear_error(result, f"error: cannot reach Kafka at 127.0.0.1:{port} (")


@pytest.mark.parametrize("name", ["migrate status", "migrate work"])
def test_sqs_down(stack: object, name: str) -> None:
    port = free_port()
    args = ("migrate", "work", "--metrics-port", "0") if name == "migrate work" else COMMANDS[name]
    result = _vitalsync(*args, VITALSYNC_AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}")
    line = _one_clear_error(result, "error: cannot reach SQS to look up queue ")
    assert f"127.0.0.1:{port}" in line


def test_export_topic_missing(settings: CommonSettings) -> None:
    topic = f"nope-{uuid.uuid4().hex[:8]}"
    result = _vitalsync("migrate", "status", VITALSYNC_MIGRATION_TOPIC=topic)
    line = _one_clear_error(result, f"error: topic {topic} does not exist on {settings.kafka_bootstrap}: ")
    assert "VITALSYNC_MIGRATION_TOPIC" in line


def test_legacy_serve_on_a_taken_port(dataset: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _vitalsync("legacy", "serve", "--dir", str(dataset), "--port", str(port))
    _one_clear_error(result, f"error: port {port} on 127.0.0.1 is already in use (another `legacy serve`?): ")
