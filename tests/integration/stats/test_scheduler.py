"""The scheduler runs each cron slot once across replicas, and a job never runs twice at the same time."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import signal
import subprocess
import sys
import urllib.request
from datetime import datetime

import aiomysql
import pytest

from services.stats.runner import lock_name, run_job
from services.stats.scheduler import JobScheduler
from shared.db.pool import create_pool
from tests.conftest import free_port, subprocess_env
from tests.integration.stats.conftest import Scratch, eventually

pytestmark = pytest.mark.integration

JOB = "pairings-per-week"
EVERY_SECOND = "* * * * * *"  # croniter: a sixth field is seconds


async def _scheduled_runs(pool: aiomysql.Pool) -> list[tuple[datetime, str, str, datetime, datetime]]:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(
            "SELECT scheduled_for, status, runner, started_at, finished_at FROM job_runs "
            "WHERE job = %s AND triggered_by = 'schedule' ORDER BY scheduled_for",
            (JOB,),
        )
        rows = list(await cur.fetchall())
        await conn.commit()
    return rows


def _assert_once_per_slot_without_overlap(runs: list[tuple[datetime, str, str, datetime, datetime]]) -> None:
    slots = [run[0] for run in runs]
    assert len(slots) == len(set(slots))
    assert {run[1] for run in runs} == {"succeeded"}
    for earlier, later in itertools.pairwise(runs):
        assert earlier[4] <= later[3], "two runs of the job overlapped"


def _count(scheduler: JobScheduler, outcome: str) -> float:
    return sum(
        sample.value
        for metric in scheduler.slots.collect()
        for sample in metric.samples
        if sample.name.endswith("_total") and sample.labels == {"job": JOB, "outcome": outcome}
    )


async def test_two_schedulers_on_one_database_run_each_slot_once(scratch: Scratch, pool: aiomysql.Pool) -> None:
    other_pool = await create_pool(scratch.settings)
    schedulers = [JobScheduler(p, scratch.settings, schedule={JOB: EVERY_SECOND}) for p in (pool, other_pool)]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop)) for s in schedulers]
    try:
        await asyncio.sleep(4.5)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        other_pool.close()
        await other_pool.wait_closed()
    runs = await _scheduled_runs(pool)
    assert len(runs) >= 3
    _assert_once_per_slot_without_overlap(runs)
    # both fired on (nearly) every slot, and exactly one claimed each
    assert sum(_count(s, "claimed") for s in schedulers) == len(runs)
    for scheduler in schedulers:
        assert _count(scheduler, "claimed") + _count(scheduler, "taken") >= len(runs) - 1


async def test_a_run_while_the_job_lock_is_held_is_skipped_and_a_dead_run_is_marked_abandoned(
    scratch: Scratch, pool: aiomysql.Pool
) -> None:
    async with pool.acquire() as holder, pool.acquire() as conn:
        async with holder.cursor() as cur:
            await cur.execute("SELECT GET_LOCK(%s, 0)", (lock_name(scratch.settings.db_name, JOB),))
            assert (await cur.fetchone())[0] == 1
        cli = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "vitalsync_cli",
                "stats",
                "run",
                JOB,
                "--json",
                "--database",
                scratch.settings.db_name,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=subprocess_env(),
            check=False,
        )
        assert cli.returncode == 3, cli.stderr
        skipped = json.loads(cli.stdout)
        assert skipped["status"] == "skipped" and "in progress" in skipped["error"]
        async with holder.cursor() as cur:
            # a run whose process died: its row stays "running"
            await cur.execute(
                "INSERT INTO job_runs (job, status, triggered_by, started_at) VALUES (%s, 'running', 'cli', NOW(6))",
                (JOB,),
            )
            dead_id = cur.lastrowid
            await cur.execute("SELECT RELEASE_LOCK(%s)", (lock_name(scratch.settings.db_name, JOB),))
            await holder.commit()
        run = await run_job(conn, scratch.settings, JOB)
        assert run.status == "succeeded" and run.rows == 0
        async with conn.cursor() as cur:
            await cur.execute("SELECT status FROM job_runs WHERE id = %s", (dead_id,))
            assert (await cur.fetchone())[0] == "abandoned"
            await conn.commit()


def _metric(port: int, outcome: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    pattern = rf'^stats_scheduler_slots_total{{job="{JOB}",outcome="{outcome}"}} ([0-9.e+]+)$'
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return bool(json.load(response).get("ready"))
    except OSError:
        return False


async def test_two_stats_processes_run_each_slot_once(scratch: Scratch, pool: aiomysql.Pool) -> None:
    ports = [free_port(), free_port()]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.stats",
            env=subprocess_env(
                VITALSYNC_DB_NAME=scratch.settings.db_name,
                VITALSYNC_STATS_PORT=str(port),
                VITALSYNC_STATS_CONSUMER_ENABLED="false",
                VITALSYNC_STATS_SCHEDULE=json.dumps({JOB: EVERY_SECOND}),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    try:

        async def all_ready() -> bool:
            return all(await asyncio.gather(*(asyncio.to_thread(_ready, port) for port in ports)))

        await eventually(all_ready, 30, "both stats processes to be ready")
        await asyncio.sleep(4)
        counts = [
            await asyncio.to_thread(lambda p=port: (_metric(p, "claimed"), _metric(p, "taken"))) for port in ports
        ]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            assert await asyncio.wait_for(process.wait(), 40) == 0
    runs = await _scheduled_runs(pool)
    _assert_once_per_slot_without_overlap(runs)
    claimed = sum(c for c, _ in counts)
    assert claimed >= 3
    # runs finished after the metrics were read may add a slot or two; none is ever claimed twice
    assert len(runs) >= claimed
    for claimed_here, taken_here in counts:
        assert claimed_here + taken_here >= claimed - 2  # each process reached (nearly) every slot
    assert len({run[2] for run in runs}) <= 2
