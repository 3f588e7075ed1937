"""`vitalsync migrate requeue` after a late fix: objects whose owner was not imported yet fail with
ORPHAN_OWNER; once the users are imported, a requeue sends them through the workers again, and the
processed schema ends exactly as if the users had been there from the start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from shared.db.connection import connect
from shared.settings import CommonSettings
from simulator.legacy.export_format import read_snapshot
from simulator.legacy.export_stream import read_changes
from simulator.legacy.model import DEVICES_BUCKET, SETTINGS_BUCKET
from tests.integration.migration.conftest import (
    Processes,
    Queues,
    eventually,
    run_cli,
    seed_dataset,
)
from tests.integration.migration.expected import migrated_state
from tests.integration.migration.test_pipeline import (
    assert_final_state,
    caught_up,
    drained,
    query_int,
    start_pipeline,
)

pytestmark = pytest.mark.integration

LATE_USERS = 2


def _split_users(directory: Path) -> set[str]:
    """Write early-users.jsonl without LATE_USERS users that own devices and settings; returns their ids."""
    _, snapshot = read_snapshot(directory / "snapshot.jsonl.gz")
    setting_owners = {r.body.get("_owner") for r in snapshot if r.bucket == SETTINGS_BUCKET and r.body}
    device_owners = {r.scope.id for r in snapshot if r.bucket == DEVICES_BUCKET}
    lines = (directory / "users.jsonl").read_text(encoding="utf-8").splitlines()
    imported = {json.loads(line)["legacy_user_id"] for line in lines}
    late = set(sorted(setting_owners & device_owners & imported)[:LATE_USERS])
    assert len(late) == LATE_USERS
    early = [line for line in lines if json.loads(line)["legacy_user_id"] not in late]
    (directory / "early-users.jsonl").write_text("".join(f"{line}\n" for line in early), encoding="utf-8")
    return late


def _objects_of(directory: Path, users: set[str]) -> set[str]:
    """Keys of the objects (snapshot and changes) of users: their own, and their things' settings (by _owner)."""
    _, snapshot = read_snapshot(directory / "snapshot.jsonl.gz")
    records = [*snapshot, *(record for _, _, _, record in read_changes(directory))]
    return {
        r.key
        for r in records
        if r.scope.id in users or (r.bucket == SETTINGS_BUCKET and r.body and r.body.get("_owner") in users)
    }


async def _failures(settings: CommonSettings, database: str) -> dict[str, tuple[str, str]]:
    """object key -> (pattern, bucket) of every failure."""
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT object_key, pattern, bucket FROM migration_failures")
            return {key: (pattern, bucket) for key, pattern, bucket in await cur.fetchall()}
    finally:
        conn.close()


def _requeue(env: dict[str, str], *args: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(run_cli(["migrate", "requeue", *args, "--json"], env).stdout)
    return result


async def test_requeue_after_a_late_user_import_migrates_what_failed(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
) -> None:
    directory = seed_dataset(tmp_path / "legacy", 12, seed=87)
    late = _split_users(directory)
    env, total = await start_pipeline(
        settings, scratch_db, topic, queues, directory, 300, change_seed=6, users_file="early-users.jsonl"
    )
    group = processes(env)
    group.start("master", "follow")
    group.start("worker", "work")
    await eventually(lambda: caught_up(settings, scratch_db, queues, total), 60, "the first pass")
    await assert_final_state(settings, scratch_db, directory)  # expected without the late users

    failures = await _failures(settings, scratch_db)
    orphaned = {key: bucket for key, (pattern, bucket) in failures.items() if pattern == "ORPHAN_OWNER"}
    of_late = set(orphaned) & _objects_of(directory, late)
    assert {orphaned[key] for key in of_late} >= {DEVICES_BUCKET, SETTINGS_BUCKET}  # settings: by _owner
    assert group.stop("worker") == 0  # nothing consumes the queue until the requeue is checked

    # the fix, then a dry run: counts, nothing sent
    imported = json.loads(run_cli(["users", "import", str(directory / "users.jsonl"), "--json"], env).stdout)
    assert imported["created"] == LATE_USERS
    dry = _requeue(env, "--pattern", "ORPHAN_OWNER", "--dry-run")
    assert dry["dry_run"] is True and dry["requeued"] == {"ORPHAN_OWNER": len(orphaned)}
    assert dry["records"] == len(orphaned) and dry["messages"] > 0 and dry["without_raw_row"] == {}
    only_devices = _requeue(env, "--pattern", "orphan_owner", "--bucket", DEVICES_BUCKET, "--dry-run")
    assert only_devices["requeued"] == {"ORPHAN_OWNER": sum(b == DEVICES_BUCKET for b in orphaned.values())}
    assert queues.depth() == 0
    assert await _failures(settings, scratch_db) == failures

    # the requeue; the same again within SQS's 5-minute window sends nothing more
    sent = _requeue(env, "--pattern", "ORPHAN_OWNER")
    assert sent == {**dry, "dry_run": False}
    assert queues.depth() == sent["messages"]
    assert _requeue(env, "--pattern", "ORPHAN_OWNER") == sent
    assert queues.depth() == sent["messages"]

    group.start("worker", "work")
    await eventually(lambda: drained(settings, scratch_db, queues), 60, "the requeued objects to be processed")
    # the final state with every user: the late users' objects migrated and their failure rows gone, but for
    # the faults of their own data, which now show under their real pattern
    await assert_final_state(settings, scratch_db, directory)
    after = await _failures(settings, scratch_db)
    assert {key for key, (pattern, _) in after.items() if pattern == "ORPHAN_OWNER"} == set(orphaned) - of_late
    assert len(of_late - set(after)) > len(of_late) / 2

    status = json.loads(run_cli(["migrate", "status", "--json"], env).stdout)
    assert status["failures"].get("ORPHAN_OWNER", 0) == len(orphaned) - len(of_late)
    assert status["pending"] == 0 and status["queue"]["total"] == 0 and status["total_lag"] == 0
    assert group.terminate_all() == {"master": 0, "worker": 0}, group.logs()


async def test_a_requeued_failure_never_overwrites_a_newer_version(
    settings: CommonSettings,
    scratch_db: str,
    topic: str,
    queues: Queues,
    processes: Callable[[dict[str, str]], Processes],
    tmp_path: Path,
) -> None:
    directory = seed_dataset(tmp_path / "legacy", 6, seed=88)
    env, total = await start_pipeline(settings, scratch_db, topic, queues, directory, 150, change_seed=7)
    group = processes(env)
    group.start("master", "follow")
    group.start("worker", "work")
    await eventually(lambda: caught_up(settings, scratch_db, queues, total), 60, "the pipeline to drain")

    # a failure row of an older version whose object has migrated since at a newer one (as a worker that
    # failed on the old version and recorded it late would leave it)
    conn = await connect(settings, scratch_db)
    try:
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT object_key, bucket, version FROM raw_kii_objects WHERE outcome = 'rows' AND version > 1 "
                "AND bucket = %s ORDER BY object_key LIMIT 1",
                (SETTINGS_BUCKET,),
            )
            key, bucket, version = await cur.fetchone()
            await cur.execute(
                "INSERT INTO migration_failures (object_key, bucket, pattern, field, message, version) "
                "VALUES (%s, %s, 'ORPHAN_OWNER', '_owner', 'user was not known', %s)",
                (key, bucket, version - 1),
            )
            await conn.commit()
            await cur.execute(
                "SELECT COUNT(*) FROM migration_failures WHERE pattern = 'ORPHAN_OWNER' AND bucket = %s",
                (SETTINGS_BUCKET,),
            )
            (orphaned,) = await cur.fetchone()  # the stale row, and settings of users the dataset never had
            before = await migrated_state(cur)
            await conn.rollback()
    finally:
        conn.close()
    writes = "SELECT (SELECT COUNT(*) FROM change_log) + (SELECT COUNT(*) FROM outbox)"
    writes_before = await query_int(settings, scratch_db, writes)

    sent = _requeue(env, "--pattern", "ORPHAN_OWNER", "--bucket", SETTINGS_BUCKET)
    assert sent["requeued"] == {"ORPHAN_OWNER": orphaned}

    async def cleared() -> bool:
        return queues.depth() == 0 and key not in await _failures(settings, scratch_db)

    await eventually(cleared, 30, "the requeued message to be processed")
    conn = await connect(settings, scratch_db)
    try:
        async with conn.cursor() as cur:
            after = await migrated_state(cur)
            await cur.execute("SELECT version, applied_version FROM raw_kii_objects WHERE object_key = %s", (key,))
            assert await cur.fetchone() == (version, version)
    finally:
        conn.close()
    before.failures.discard((key, "ORPHAN_OWNER"))
    assert after == before  # the newer version's rows stay as they were
    assert await query_int(settings, scratch_db, writes) == writes_before  # and nothing was written for it
    await assert_final_state(settings, scratch_db, directory)
    assert group.terminate_all() == {"master": 0, "worker": 0}, group.logs()
