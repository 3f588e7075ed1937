"""The migration pipeline on the real stack (issue 8 item 6): Kafka export topic, moto SQS FIFO, MariaDB.

A legacy dataset is exported to a scratch topic (snapshot, then changes), the snapshot is loaded, the
master and workers run as subprocesses (`python -m vitalsync_cli migrate follow|work`), and the final
processed state must equal the legacy final state (simulator/legacy/replay.py) through the transform:
rows for valid objects, migration_failures rows for invalid ones, as equal sets.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.db.connection import connect
from shared.settings import CommonSettings
from simulator.legacy.changes import generate_changes
from simulator.legacy.dataset import load_dataset
from simulator.legacy.export_format import read_snapshot
from simulator.legacy.export_stream import CHANGES_FILE, export, read_changes
from tests.integration.migration.conftest import (
    Processes,
    Queues,
    eventually,
    migration_env,
    run_cli,
    run_cli_unchecked,
    seed_dataset,
)
from tests.integration.migration.expected import expected_state, legacy_user_ids, migrated_state

pytestmark = pytest.mark.integration

USERS = 120


async def reset_database(settings: CommonSettings, database: str) -> None:
    """Empty the module's scratch database between tests (users and migration state)."""
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET FOREIGN_KEY_CHECKS = 0")
            for table in (
                "raw_kii_objects",
                "migration_offsets",
                "migration_failures",
                "migration_things",
                "migration_snapshot_loads",
                "device_settings",
                "readings",
                "devices",
                "change_log",
                "outbox",
                "users",
            ):
                await cur.execute(f"DELETE FROM {table}")
            await cur.execute("SET FOREIGN_KEY_CHECKS = 1")
    finally:
        conn.close()


async def query_int(settings: CommonSettings, database: str, sql: str) -> int:
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            await cur.execute(sql)
            return int((await cur.fetchone())[0])
    finally:
        conn.close()


async def assert_final_state(settings: CommonSettings, database: str, directory: Path) -> None:
    _, snapshot = read_snapshot(directory / "snapshot.jsonl.gz")
    exported = (directory / CHANGES_FILE).is_file()
    changes = [record for _, _, _, record in read_changes(directory)] if exported else []
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            users = await legacy_user_ids(cur)
            got = await migrated_state(cur)
    finally:
        conn.close()
    want = expected_state([*snapshot, *changes], users)
    for name in ("devices", "readings", "settings", "failures"):
        missing, extra = getattr(want, name) - getattr(got, name), getattr(got, name) - getattr(want, name)
        assert not missing and not extra, (
            f"{name}: {len(missing)} missing e.g. {sorted(missing)[:2]}, {len(extra)} extra e.g. {sorted(extra)[:2]}"
        )


async def start_pipeline(
    settings: CommonSettings,
    database: str,
    topic: str,
    queues: Queues,
    directory: Path,
    changes: int,
    *,
    change_seed: int = 5,
    users_file: str = "users.jsonl",
) -> tuple[dict[str, str], int]:
    """Dataset exported (snapshot + changes), users imported, snapshot loaded; returns env and record count."""
    await reset_database(settings, database)
    env = migration_env(settings, database, topic, queues)
    run_cli(["users", "import", str(directory / users_file), "--json"], env)
    result = await export(
        directory,
        generate_changes(load_dataset(directory), changes, change_seed),
        bootstrap=settings.kafka_bootstrap,
        topic=topic,
    )
    run_cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz")], env)
    return env, result.snapshot_records + result.changes


async def caught_up(settings: CommonSettings, database: str, queues: Queues, total: int) -> bool:
    """The master committed every record and the workers applied every raw version."""
    done = await query_int(settings, database, "SELECT COALESCE(SUM(next_offset), 0) FROM migration_offsets")
    return done >= total and await drained(settings, database, queues)


async def drained(settings: CommonSettings, database: str, queues: Queues) -> bool:
    """Every raw version is applied and the queue is empty."""
    pending = await query_int(
        settings,
        database,
        "SELECT COUNT(*) FROM raw_kii_objects WHERE applied_version IS NULL OR applied_version < version",
    )
    return pending == 0 and queues.depth() == 0


@pytest.mark.parametrize(("lanes", "window_ms"), [(0, 0), (8, 150)], ids=["group-per-owner", "8-lanes-150ms-window"])
async def test_snapshot_and_10000_changes_end_to_end(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
    lanes: int,
    window_ms: int,
) -> None:
    await reset_database(settings, scratch_db)
    directory = seed_dataset(tmp_path / "legacy", USERS, seed=81)
    env = {
        **migration_env(settings, scratch_db, topic, queues),
        "VITALSYNC_MIGRATION_GROUP_LANES": str(lanes),
        "VITALSYNC_MIGRATION_BATCH_WINDOW_MS": str(window_ms),
    }
    run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env)
    dataset = load_dataset(directory)
    exported = await export(
        directory, generate_changes(dataset, 10_000, 3), bootstrap=settings.kafka_bootstrap, topic=topic
    )
    assert exported.changes == 10_000
    run_cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz"), "--json"], env)
    # every change waits in Kafka past the snapshot's offsets: status and the cut-over gate see all of it
    waiting = json.loads(run_cli(["migrate", "status", "--json"], env).stdout)
    assert waiting["total_lag"] == exported.changes
    total = exported.snapshot_records + exported.changes
    assert sum(entry["end"] for entry in waiting["lag"].values()) == total
    gate = run_cli_unchecked(["cutover", "check", "--json"], env)
    lags = [int(blocker.split()[1]) for blocker in json.loads(gate.stdout)["blockers"] if blocker.startswith("lag ")]
    assert gate.returncode == 1 and sum(lags) == exported.changes

    group = processes(env)
    group.start("master", "follow")
    group.start("worker-1", "work")
    group.start("worker-2", "work")
    try:
        await eventually(lambda: caught_up(settings, scratch_db, queues, total), 150, "the pipeline to drain")
    except AssertionError:
        raise AssertionError(group.logs()) from None
    assert group.terminate_all() == {"master": 0, "worker-1": 0, "worker-2": 0}, group.logs()
    await assert_final_state(settings, scratch_db, directory)
    status = run_cli(["migrate", "status", "--json"], env)
    assert '"total_lag": 0' in status.stdout
    # the validator compared exactly the offsets change capture applied, so the gate opens
    run_cli(["validate", "--legacy", str(directory), "--out", str(tmp_path / "validation")], env)
    gate = run_cli_unchecked(["cutover", "check", "--report", str(tmp_path / "validation" / "report.json")], env)
    assert (gate.returncode, gate.stdout.strip()) == (0, "region eu: ready to cut over"), gate.stdout


@pytest.mark.parametrize(("lanes", "window_ms"), [(0, 0), (8, 150)], ids=["group-per-owner", "8-lanes-150ms-window"])
async def test_kill_9_master_and_worker_at_random_moments(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
    lanes: int,
    window_ms: int,
) -> None:
    await reset_database(settings, scratch_db)
    rng = random.Random(9)
    directory = seed_dataset(tmp_path / "legacy", 60, seed=82)
    env = {
        **migration_env(settings, scratch_db, topic, queues),
        "VITALSYNC_MIGRATION_GROUP_LANES": str(lanes),
        "VITALSYNC_MIGRATION_BATCH_WINDOW_MS": str(window_ms),
    }
    run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env)
    dataset = load_dataset(directory)
    # the snapshot goes to the topic first; the changes are produced while the pipeline runs and dies
    await export(directory, [], bootstrap=settings.kafka_bootstrap, topic=topic)
    run_cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz"), "--chunk", "200"], env)
    group = processes(env)
    group.start("master", "follow")
    group.start("worker-1", "work")
    group.start("worker-2", "work")
    producing = asyncio.create_task(
        export(
            directory,
            generate_changes(dataset, 3_000, 4),
            bootstrap=settings.kafka_bootstrap,
            topic=topic,
            rate=250,
            produce_snapshot=False,
        )
    )
    for round_number in range(4):
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # a random moment: the point of the test, not a wait
        victim = rng.choice(["master", "worker-1"]) if round_number % 2 else "master"
        group.kill(victim)
        group.kill("worker-2") if round_number == 3 else None
        group.start(victim, "follow" if victim == "master" else "work")
        if round_number == 3:
            group.start("worker-2", "work")
    exported = await producing
    _, snapshot = read_snapshot(directory / "snapshot.jsonl.gz")
    total = len(snapshot) + exported.changes
    try:
        await eventually(lambda: caught_up(settings, scratch_db, queues, total), 120, "the pipeline to drain")
    except AssertionError:
        raise AssertionError(group.logs()) from None
    group.terminate_all()
    await assert_final_state(settings, scratch_db, directory)
    assert queues.depth(queues.dlq_url) == 0
