"""Fixtures of the migration tests: a scratch database (per module), scratch export topics and scratch
SQS FIFO queues (per test), a seeded legacy dataset, and the master/worker as subprocesses.

Nothing here touches the stack's own database, ``legacy.export.v1`` or ``migration-records.fifo``.
Masters and workers listen for /metrics on a free port each (port 0), so several run side by side.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.settings import CommonSettings
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import write_dataset
from tests.conftest import subprocess_env

REPO_ROOT = Path(__file__).resolve().parents[3]
PARTITIONS = 6
MAX_RECEIVES = 5
VISIBILITY_TIMEOUT_S = 4


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, poll_s: float = 0.25) -> None:
    """Wait until check() is true, failing after timeout_s (never a bare sleep)."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"timed out after {timeout_s:g}s waiting for {what}"
        await asyncio.sleep(poll_s)


@pytest.fixture(scope="module")
async def scratch_db(settings: CommonSettings) -> AsyncIterator[str]:
    """A freshly migrated database for the module, dropped afterwards."""
    async with migrated_database(settings, f"vitalsync_mig_{uuid.uuid4().hex[:10]}") as name:
        yield name


@asynccontextmanager
async def migrated_database(settings: CommonSettings, name: str) -> AsyncIterator[str]:
    """Database name, created and migrated, dropped on the way out."""
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}`")
        conn = await connect(settings, name, multi_statements=True)
        try:
            await migrate(conn)
        finally:
            conn.close()
        yield name
    finally:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


@dataclass(frozen=True)
class Queues:
    """A scratch FIFO queue with its DLQ."""

    url: str
    dlq_url: str
    client: Any

    def depth(self, url: str | None = None) -> int:
        """Visible + in-flight messages."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=url or self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def sqs_client(settings: CommonSettings) -> Any:
    return boto3.client(
        "sqs",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def queues(settings: CommonSettings) -> Iterator[Queues]:
    """A scratch ``*.fifo`` queue redriving to a scratch DLQ after MAX_RECEIVES receives; deleted afterwards."""
    client = sqs_client(settings)
    suffix = uuid.uuid4().hex[:10]
    dlq = client.create_queue(QueueName=f"mig-test-dlq-{suffix}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = client.create_queue(
        QueueName=f"mig-test-{suffix}.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
        },
    )["QueueUrl"]
    yield Queues(url, dlq, client)
    for queue_url in (url, dlq):
        client.delete_queue(QueueUrl=queue_url)


@pytest.fixture
async def topic(settings: CommonSettings) -> AsyncIterator[str]:
    """A scratch export topic with the snapshot's partition count, deleted afterwards."""
    name = f"mig-test-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, PARTITIONS, replication_factor=1)])
    finally:
        await admin.close()
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await admin.delete_topics([name])
    finally:
        await admin.close()


def seed_dataset(directory: Path, users: int, seed: int) -> Path:
    """A legacy dataset (as `vitalsync legacy seed` writes it) in directory."""
    write_dataset(generate_dataset(users, seed), directory, partitions=PARTITIONS)
    return directory


def migration_env(settings: CommonSettings, database: str, topic: str, queues: Queues, **extra: str) -> dict[str, str]:
    """Environment of a migration subprocess pointed at the scratch database, topic and queues."""
    return subprocess_env(
        VITALSYNC_DB_NAME=database,
        VITALSYNC_MIGRATION_TOPIC=topic,
        VITALSYNC_MIGRATION_QUEUE_URL=queues.url,
        VITALSYNC_MIGRATION_DLQ_URL=queues.dlq_url,
        VITALSYNC_MIGRATION_CONSUMER_GROUP=f"mig-test-{uuid.uuid4().hex[:8]}",
        VITALSYNC_MIGRATION_MAX_QUEUE_DEPTH="40",
        VITALSYNC_MIGRATION_POLL_MAX_RECORDS="2000",
        VITALSYNC_MIGRATION_RETRY_BACKOFF_S="1",
        VITALSYNC_MIGRATION_MASTER_PORT="0",
        VITALSYNC_MIGRATION_WORKER_PORT="0",
        VITALSYNC_LOG_LEVEL="WARNING",
        **extra,
    )


def run_cli(args: list[str], env: dict[str, str], timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    """`vitalsync ARGS` as a subprocess; fails the test with its output when it exits non-zero."""
    result = subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        env=env,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 0, f"vitalsync {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
    return result


_METRICS_LOG_LINE = re.compile(r"metrics on (http://[0-9.]+:[0-9]+)/metrics")


class Processes:
    """Master and worker subprocesses of one test; all are killed at the end."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self.log_files: dict[str, Path] = {}
        self._count = 0

    def start(self, name: str, command: str, *args: str) -> subprocess.Popen[bytes]:
        """Start `vitalsync migrate COMMAND ARGS` under name."""
        self._count += 1
        self.log_files[name] = self.log_dir / f"{name}-{self._count}.log"
        log = self.log_files[name].open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "vitalsync_cli", "migrate", command, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=REPO_ROOT,
        )
        self.running[name] = process
        return process

    def stop(self, name: str, timeout_s: float = 30) -> int:
        """SIGTERM one process and wait; returns its exit code."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout_s)

    async def endpoint(self, name: str, timeout_s: float = 30) -> str:
        """The base URL whose port the process logged (needs VITALSYNC_LOG_LEVEL=INFO)."""
        found: list[str] = []

        async def logged() -> bool:
            found.extend(_METRICS_LOG_LINE.findall(self.log_files[name].read_text(errors="replace")))
            return bool(found)

        await eventually(logged, timeout_s, f"{name} to log its metrics port")
        return found[0]

    def kill(self, name: str) -> None:
        """kill -9 one process."""
        process = self.running.pop(name)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def terminate_all(self, timeout_s: float = 30) -> dict[str, int]:
        """SIGTERM every process and wait; returns the exit codes."""
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        codes = {name: process.wait(timeout=timeout_s) for name, process in self.running.items()}
        self.running.clear()
        return codes

    def logs(self) -> str:
        """The tail of every log, for failure messages."""
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.log_dir.glob("*.log")))


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Processes]]:
    """A factory of Processes; whatever is still running at the end is killed."""
    made: list[Processes] = []

    def factory(env: dict[str, str]) -> Processes:
        log_dir = tmp_path / f"logs-{len(made)}"
        log_dir.mkdir()
        made.append(Processes(env, log_dir))
        return made[-1]

    yield factory
    for group in made:
        for process in group.running.values():
            process.kill()
            process.wait(timeout=30)


@dataclass(frozen=True)
class Scrape:
    """One read of a /metrics page: (name, labels) -> value."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, name: str, **labels: str) -> float:
        """The sample of name with exactly these labels (0 when absent: a labelled counter not yet used)."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str) -> float:
        """The sum of name over all its label sets."""
        return sum(value for (sample, _), value in self.samples.items() if sample == name)

    def labels(self, name: str, label: str) -> dict[str, float]:
        """label value -> sample of name."""
        return {dict(labels)[label]: value for (sample, labels), value in self.samples.items() if sample == name}


async def scrape(base_url: str) -> Scrape:
    """GET base_url/metrics and parse the exposition."""
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/metrics") as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    return Scrape(
        {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
    )


def spawn(args: list[str], env: dict[str, str], stderr: Path | None = None) -> subprocess.Popen[bytes]:
    """`vitalsync ARGS` started in the background (output discarded, or stderr kept in the given file)."""
    with open(stderr or os.devnull, "wb") as errors:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "vitalsync_cli", *args],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )


def run_cli_unchecked(args: list[str], env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """`vitalsync ARGS`, whatever its exit code."""
    return subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        env=env,
        cwd=REPO_ROOT,
    )
