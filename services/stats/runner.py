"""Run one batch job and record it in ``job_runs`` (status, rows, duration, error).

The same function serves ``vitalsync stats run JOB`` (and so the Step Functions ECS task) and the
in-service scheduler. Concurrency rules:

- one run of a job at a time, across processes and hosts: the run holds ``GET_LOCK`` on a name derived
  from database and job; a run that cannot get it is recorded as ``skipped``;
- one run per scheduled slot: the scheduler inserts the run row with ``scheduled_for`` first, and the
  unique key (job, scheduled_for) lets only one replica claim a slot (``claim_slot`` returns None);
- a row left ``running`` by a process that died is marked ``abandoned`` by the next run that holds the lock
  (holding it proves nobody else is running that job).

The job's statement runs at READ COMMITTED: a long ``INSERT ... SELECT`` at REPEATABLE READ would take
shared locks on every reading it reads and stall the sync service's writes.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import aiomysql
import pymysql

from services.stats.config import StatsSettings
from services.stats.errors import UnknownJobError
from services.stats.jobs import JOBS, PRUNE_JOB, Job

log = logging.getLogger(__name__)

LOCK_PREFIX = "vitalsync_stats_job_"
PRUNE_BATCH_ROWS = 10_000
MAX_ERROR_CHARS = 2000
KILL_TIMEOUT_S = 5.0
RUN_COLUMNS = (
    "id, job, status, triggered_by, scheduled_for, runner, started_at, finished_at, result_rows, duration_ms, error"
)


@dataclass(frozen=True)
class JobRun:
    """One row of job_runs."""

    id: int
    job: str
    status: str
    triggered_by: str
    scheduled_for: datetime | None
    runner: str | None
    started_at: datetime
    finished_at: datetime | None
    rows: int | None
    duration_ms: int | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready dict (datetimes as ISO 8601 UTC with ``Z``)."""
        return {k: _iso(v) if isinstance(v, datetime) else v for k, v in asdict(self).items()}


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def runner_name() -> str:
    """host:pid of this process, stored with each run."""
    return f"{socket.gethostname()}:{os.getpid()}"[:128]


def utcnow() -> datetime:
    """Naive UTC now, as the database stores it."""
    return datetime.now(UTC).replace(tzinfo=None)


def lock_name(database: str, job: str) -> str:
    """GET_LOCK names are server-wide and at most 64 characters: hash database and job together."""
    return LOCK_PREFIX + hashlib.sha256(f"{database}/{job}".encode()).hexdigest()[:40]


def get_job(name: str) -> Job:
    """The registered job, or UnknownJobError listing the known ones."""
    job = JOBS.get(name)
    if job is None:
        raise UnknownJobError(name, sorted(JOBS))
    return job


async def claim_slot(conn: aiomysql.Connection, job: str, slot: datetime) -> int | None:
    """Insert the run row of a scheduled slot; None when another scheduler claimed it first."""
    try:
        return await _insert_run(conn, job, "schedule", slot)
    except pymysql.err.IntegrityError as exc:
        if exc.args[0] != 1062:
            raise
        await conn.rollback()
        return None


async def run_job(
    conn: aiomysql.Connection,
    settings: StatsSettings,
    job_name: str,
    *,
    triggered_by: str = "cli",
    run_id: int | None = None,
    now: datetime | None = None,
) -> JobRun:
    """Run ``job_name`` on ``conn`` (a dedicated connection) and return its finished job_runs row.

    ``run_id`` is the row claim_slot inserted; without one a new row is inserted. A failed job is
    recorded and returned (status ``failed``), not raised; a busy lock gives status ``skipped``.
    """
    job = get_job(job_name)
    database = settings.db_name
    if run_id is None:
        run_id = await _insert_run(conn, job.name, triggered_by, None)
    started = time.perf_counter()
    name = lock_name(database, job.name)
    if not await _try_lock(conn, name):
        await _finish(conn, run_id, "skipped", None, started, "another run of this job is in progress")
        return await fetch_run(conn, run_id)
    try:
        await _abandon_stale(conn, job.name, run_id)
        try:
            await _execute(conn, settings, job, run_id, now or utcnow(), started)
        except asyncio.CancelledError:
            await _kill_query_and_record(conn, settings, run_id, started)
            raise
        except pymysql.err.MySQLError as exc:
            await conn.rollback()
            log.warning("job %s run %d failed: %s", job.name, run_id, exc)
            await _finish(conn, run_id, "failed", None, started, f"{type(exc).__name__}: {exc}")
            return await fetch_run(conn, run_id)
        if job.result_table is not None:
            await _prune_results(conn, job, settings.stats_job_history_runs)
    finally:
        if not conn.closed:
            await _release(conn, name)
    run = await fetch_run(conn, run_id)
    log.info("job %s run %d %s: %s rows in %s ms", job.name, run_id, run.status, run.rows, run.duration_ms)
    return run


async def _insert_run(conn: aiomysql.Connection, job: str, triggered_by: str, slot: datetime | None) -> int:
    async with conn.cursor() as cur:
        await cur.execute(
            "INSERT INTO job_runs (job, status, triggered_by, scheduled_for, runner, started_at) "
            "VALUES (%s, 'running', %s, %s, %s, %s)",
            (job, triggered_by, slot, runner_name(), utcnow()),
        )
        run_id = int(cur.lastrowid)
    await conn.commit()
    return run_id


async def _try_lock(conn: aiomysql.Connection, name: str) -> bool:
    async with conn.cursor() as cur:
        await cur.execute("SELECT GET_LOCK(%s, 0)", (name,))
        (got,) = await cur.fetchone()
    await conn.commit()
    return got == 1


async def _release(conn: aiomysql.Connection, name: str) -> None:
    async with conn.cursor() as cur:
        await cur.execute("SELECT RELEASE_LOCK(%s)", (name,))
        await cur.fetchall()
    await conn.commit()


async def _abandon_stale(conn: aiomysql.Connection, job: str, run_id: int) -> None:
    async with conn.cursor() as cur:
        await cur.execute(
            "UPDATE job_runs SET status = 'abandoned', finished_at = %s, "
            "error = 'the process running it ended before it finished' "
            "WHERE job = %s AND status = 'running' AND id < %s",
            (utcnow(), job, run_id),
        )
    await conn.commit()


async def _execute(
    conn: aiomysql.Connection, settings: StatsSettings, job: Job, run_id: int, now: datetime, started: float
) -> int:
    """The job's statement and the run's success row, committed together; returns the row count."""
    params = {"run_id": run_id, **job.window(settings, now)}
    if job.name == PRUNE_JOB:
        rows = await _prune_event_ids(conn, params["before"])
    else:
        async with conn.cursor() as cur:
            await cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            await conn.begin()
            await cur.execute(job.sql, params)
            rows = max(cur.rowcount, 0)
    async with conn.cursor() as cur:
        await cur.execute(
            "UPDATE job_runs SET status = 'succeeded', finished_at = %s, result_rows = %s, duration_ms = %s "
            "WHERE id = %s",
            (utcnow(), rows, int((time.perf_counter() - started) * 1000), run_id),
        )
    await conn.commit()
    return rows


async def _prune_event_ids(conn: aiomysql.Connection, before: datetime) -> int:
    """Delete old event ids in short transactions (a single huge DELETE would hold locks for long)."""
    total = 0
    while True:
        async with conn.cursor() as cur:
            await cur.execute(
                "DELETE FROM stats_processed_events WHERE occurred_on < %s ORDER BY occurred_on LIMIT %s",
                (before.date(), PRUNE_BATCH_ROWS),
            )
            deleted = cur.rowcount
        await conn.commit()
        total += deleted
        if deleted < PRUNE_BATCH_ROWS:
            return total


async def _prune_results(conn: aiomysql.Connection, job: Job, keep: int) -> None:
    """Keep the result rows of the newest ``keep`` successful runs of ``job``."""
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT id FROM job_runs WHERE job = %s AND status = 'succeeded' ORDER BY id DESC LIMIT 1 OFFSET %s",
            (job.name, keep),
        )
        cutoff = await cur.fetchone()
        if cutoff is not None:
            await cur.execute(f"DELETE FROM {job.result_table} WHERE run_id <= %s", (cutoff[0],))  # noqa: S608
    await conn.commit()


async def _finish(
    conn: aiomysql.Connection, run_id: int, status: str, rows: int | None, started: float, error: str | None
) -> None:
    async with conn.cursor() as cur:
        await cur.execute(
            "UPDATE job_runs SET status = %s, finished_at = %s, result_rows = %s, duration_ms = %s, error = %s "
            "WHERE id = %s",
            (
                status,
                utcnow(),
                rows,
                int((time.perf_counter() - started) * 1000),
                error[:MAX_ERROR_CHARS] if error else None,
                run_id,
            ),
        )
    await conn.commit()


async def _kill_query_and_record(
    conn: aiomysql.Connection, settings: StatsSettings, run_id: int, started: float
) -> None:
    """On cancellation (service shutdown): stop the server-side statement and record the run as failed."""
    from shared.db.connection import connect

    thread_id = conn.thread_id()
    conn.close()  # mid-query: the connection cannot be used again (its lock goes with the session)
    try:
        async with asyncio.timeout(KILL_TIMEOUT_S):
            other = await connect(settings)
            try:
                async with other.cursor() as cur:
                    await cur.execute("KILL QUERY %s", (thread_id,))
                await _finish(other, run_id, "failed", None, started, "cancelled: the service was shutting down")
            finally:
                other.close()
    except (pymysql.err.MySQLError, OSError, TimeoutError) as exc:
        log.warning("could not record the cancelled run %d: %s", run_id, exc)


async def fetch_run(conn: aiomysql.Connection, run_id: int) -> JobRun:
    """One job_runs row by id."""
    async with conn.cursor() as cur:
        await cur.execute(f"SELECT {RUN_COLUMNS} FROM job_runs WHERE id = %s", (run_id,))  # noqa: S608
        row = await cur.fetchone()
    await conn.commit()
    return JobRun(*row)


async def recent_runs(conn: aiomysql.Connection, job: str, limit: int) -> list[JobRun]:
    """The newest ``limit`` runs of ``job``, newest first."""
    async with conn.cursor() as cur:
        await cur.execute(
            f"SELECT {RUN_COLUMNS} FROM job_runs WHERE job = %s ORDER BY id DESC LIMIT %s",  # noqa: S608
            (job, limit),
        )
        rows = await cur.fetchall()
    await conn.commit()
    return [JobRun(*row) for row in rows]


async def last_runs(cur: aiomysql.Cursor) -> dict[str, tuple[JobRun | None, JobRun | None]]:
    """Per registered job: (latest run, latest successful run), in three indexed reads."""
    await cur.execute("SELECT MAX(id) FROM job_runs GROUP BY job")  # loose scan of (job, id)
    latest = [row[0] for row in await cur.fetchall()]
    await cur.execute("SELECT MAX(id) FROM job_runs WHERE status = 'succeeded' GROUP BY job")  # (job, status, id)
    succeeded = [row[0] for row in await cur.fetchall()]
    runs: dict[int, JobRun] = {}
    if latest or succeeded:
        await cur.execute(f"SELECT {RUN_COLUMNS} FROM job_runs WHERE id IN %s", (latest + succeeded,))  # noqa: S608
        runs = {row[0]: JobRun(*row) for row in await cur.fetchall()}
    newest: dict[str, JobRun] = {}
    success: dict[str, JobRun] = {}
    for run_id in latest:
        newest[runs[run_id].job] = runs[run_id]
    for run_id in succeeded:
        success[runs[run_id].job] = runs[run_id]
    return {name: (newest.get(name), success.get(name)) for name in JOBS}
