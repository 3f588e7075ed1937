"""The master's and a worker's /metrics, /healthz and /readyz on the real stack, and the port rules.

The change stream is built so every count is known in advance: new readings (applied), the same
records again at the same version (stale) and readings of a user nobody imported (ORPHAN_OWNER).
"""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from shared.settings import CommonSettings
from simulator.legacy.changes import generate_changes
from simulator.legacy.dataset import load_dataset
from simulator.legacy.export_format import read_snapshot
from simulator.legacy.export_stream import export
from simulator.legacy.model import ExportRecord, Op, Scope
from tests.integration.migration.conftest import (
    PARTITIONS,
    Processes,
    Queues,
    Scrape,
    eventually,
    migration_env,
    run_cli,
    run_cli_unchecked,
    scrape,
    seed_dataset,
)
from tests.integration.migration.test_pipeline import query_int, reset_database

pytestmark = pytest.mark.integration

NEW_READINGS = 40
DUPLICATES = 5
ORPHANS = 3


def _changes(directory: Path) -> list[ExportRecord]:
    """New readings, the first few of them a second time, and readings of a user that was never imported."""
    _, snapshot = read_snapshot(directory / "snapshot.jsonl.gz")
    known = {record.key for record in snapshot}
    fresh = [
        record
        for record in generate_changes(load_dataset(directory), 400, 11)
        if record.op is Op.CREATE and record.key not in known and record.bucket != "devices"
    ][:NEW_READINGS]
    assert len(fresh) == NEW_READINGS
    ghost = "ghost-user-never-imported"
    orphans = [
        dataclasses.replace(record, scope=Scope.user(ghost), body={**(record.body or {}), "_owner": ghost})
        for record in fresh[:ORPHANS]
    ]
    return [*fresh, *fresh[:DUPLICATES], *orphans]


async def test_master_and_worker_metrics_count_what_they_did(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
) -> None:
    await reset_database(settings, scratch_db)
    directory = seed_dataset(tmp_path / "legacy", 10, seed=86)
    env = {**migration_env(settings, scratch_db, topic, queues), "VITALSYNC_LOG_LEVEL": "INFO"}
    run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env)
    changes = _changes(directory)
    await export(directory, changes, bootstrap=settings.kafka_bootstrap, topic=topic)
    run_cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz")], env)
    readings_before = await query_int(settings, scratch_db, "SELECT COUNT(*) FROM readings")
    orphans_before = await query_int(
        settings, scratch_db, "SELECT COUNT(*) FROM migration_failures WHERE pattern = 'ORPHAN_OWNER'"
    )
    started = time.time()

    group = processes(env)
    group.start("master", "follow")  # port 0 from the environment: a free port, logged
    group.start("worker", "work", "--metrics-port", "0")
    master_url, worker_url = await group.endpoint("master"), await group.endpoint("worker")
    master: Scrape | None = None
    worker: Scrape | None = None

    async def all_counted() -> bool:
        nonlocal master, worker
        master, worker = await scrape(master_url), await scrape(worker_url)
        records = (
            worker.total("migration_records_applied_total")
            + worker.value("migration_records_stale_total")
            + worker.total("migration_records_failed_total")
        )
        lag = master.labels("migration_kafka_lag", "partition")
        return (
            master.total("migration_records_consumed_total") == len(changes)
            and records == len(changes)
            and len(lag) == PARTITIONS
            and not any(lag.values())
        )

    try:
        await eventually(all_counted, 60, "every record to be counted by the master and the worker")
    except AssertionError:
        raise AssertionError(f"master {master}\nworker {worker}\n{group.logs()}") from None
    assert master is not None and worker is not None

    sent = master.value("migration_sqs_messages_sent_total")
    assert sent > 0
    assert master.value("migration_records_per_message_count") == sent
    assert master.value("migration_records_per_message_sum") == len(changes)
    assert started <= master.value("migration_last_commit_timestamp_seconds") <= time.time()

    assert worker.labels("migration_records_applied_total", "outcome") == {"rows": NEW_READINGS}
    assert worker.value("migration_records_stale_total") == DUPLICATES
    assert worker.labels("migration_records_failed_total", "pattern") == {"ORPHAN_OWNER": ORPHANS}
    assert worker.value("migration_messages_received_total") == sent
    assert worker.value("migration_message_processing_seconds_count") == sent
    assert worker.value("migration_messages_dead_lettered_total") == 0
    # every change record processed now has a Kafka timestamp; the stale ones were processed before
    assert worker.value("migration_end_to_end_lag_seconds_count") == NEW_READINGS + ORPHANS

    # what the counters say is what the database holds
    assert await query_int(settings, scratch_db, "SELECT COUNT(*) FROM readings") == readings_before + NEW_READINGS
    orphans = await query_int(
        settings, scratch_db, "SELECT COUNT(*) FROM migration_failures WHERE pattern = 'ORPHAN_OWNER'"
    )
    assert orphans == orphans_before + ORPHANS

    async with aiohttp.ClientSession() as http:
        for url in (master_url, worker_url):
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
            async with http.get(f"{url}/readyz") as response:
                assert response.status == 200
                assert json.loads(await response.text()) == {
                    "ready": True,
                    "checks": {"database": "ok", "kafka": "ok"},
                }
    assert group.terminate_all() == {"master": 0, "worker": 0}, group.logs()


@pytest.mark.parametrize("command", ["follow", "work"])
def test_a_taken_metrics_port_is_a_one_line_error(
    settings: CommonSettings, scratch_db: str, queues: Queues, command: str
) -> None:
    env = migration_env(settings, scratch_db, "mig-test-unused", queues)
    with socket.socket() as taken:
        taken.bind((settings.bind_host, 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run_cli_unchecked(["migrate", command, "--metrics-port", str(port)], env, timeout_s=60)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30  # it gives up at once, nothing left running
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: port {port} on {settings.bind_host} is already in use")
    assert "--metrics-port" in lines[0]
