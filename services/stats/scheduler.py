"""The in-service scheduler: cron slots from the settings run jobs, once per slot across replicas.

Every replica computes the same UTC slots from the same cron lines and tries to claim each one by
inserting its job_runs row (unique on job + slot): exactly one replica wins and runs the job, the others
count the slot as taken. The run itself holds the job's GET_LOCK, so a slot that fires while the previous
run is still going is recorded as skipped rather than run alongside it (services/stats/runner.py).
Slots missed while no replica was running are not caught up; the next slot runs (as cron does).
On AWS, EventBridge Scheduler + Step Functions replace this loop (infra/aws/stats); turn it off there
with VITALSYNC_STATS_SCHEDULER_ENABLED=false.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

import aiomysql
import pymysql
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter

from services.stats.config import StatsSettings
from services.stats.runner import claim_slot, run_job, utcnow
from services.stats.schedule import next_slot
from shared.db.pool import DB_POOL

log = logging.getLogger(__name__)

MAX_SLEEP_S = 30.0  # re-read the clock at least this often (suspend, clock steps)
STOP_GRACE_S = 10.0


class JobScheduler:
    """Fires cron slots; ``run(stop)`` loops until ``stop`` is set, then waits for running jobs."""

    def __init__(
        self,
        pool: aiomysql.Pool,
        settings: StatsSettings,
        *,
        schedule: dict[str, str] | None = None,
        clock: Callable[[], datetime] = utcnow,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self.schedule = dict(settings.stats_schedule if schedule is None else schedule)
        self._clock = clock
        self._running: set[asyncio.Task[None]] = set()
        self.slots = Counter(
            "stats_scheduler_slots_total",
            "Cron slots reached, by job and outcome (claimed = run here, taken = another replica claimed it)",
            ["job", "outcome"],
            registry=registry or CollectorRegistry(),
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Fire due slots until ``stop``; jobs run as tasks so a long one never delays another's slot."""
        if not self.schedule:
            return
        now = self._clock()
        due = {job: next_slot(expression, now) for job, expression in self.schedule.items()}
        log.info(
            "stats scheduler: %s", ", ".join(f"{job} next at {at.isoformat()}Z" for job, at in sorted(due.items()))
        )
        try:
            while not stop.is_set():
                wait_s = (min(due.values()) - self._clock()).total_seconds()
                if wait_s > 0:
                    try:
                        await asyncio.wait_for(stop.wait(), min(wait_s, MAX_SLEEP_S))
                    except TimeoutError:
                        pass
                    continue
                now = self._clock()
                for job in sorted(due):
                    slot = due[job]
                    if slot <= now:
                        task = asyncio.create_task(self._run_slot(job, slot), name=f"stats-job-{job}")
                        self._running.add(task)
                        task.add_done_callback(self._running.discard)
                        # from now, not from the slot: slots missed while we were busy are not replayed
                        due[job] = next_slot(self.schedule[job], max(slot, now))
        finally:
            await self._drain()

    async def _run_slot(self, job: str, slot: datetime) -> None:
        try:
            async with self._pool.acquire() as conn:
                run_id = await claim_slot(conn, job, slot)
                if run_id is None:
                    self.slots.labels(job, "taken").inc()
                    log.debug("slot %s of %s was claimed by another replica", slot.isoformat(), job)
                    return
                self.slots.labels(job, "claimed").inc()
                await run_job(conn, self._settings, job, triggered_by="schedule", run_id=run_id)
        except (pymysql.err.MySQLError, OSError, TimeoutError) as exc:
            self.slots.labels(job, "failed").inc()
            log.warning("scheduled slot %s of %s could not run: %s: %s", slot.isoformat(), job, type(exc).__name__, exc)

    async def _drain(self) -> None:
        """Give running jobs a grace period, then cancel them (the runner records them as failed)."""
        if not self._running:
            return
        _, pending = await asyncio.wait(
            set(self._running), timeout=min(self._settings.shutdown_timeout_s, STOP_GRACE_S)
        )
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)


STATS_SCHEDULER = web.AppKey("stats_scheduler", JobScheduler)


def scheduler_context(
    settings: StatsSettings, registry_of: Callable[[web.Application], CollectorRegistry] | None = None
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup-ctx factory: run the scheduler on the app's DB_POOL; stop it before the pool closes."""

    async def _ctx(app: web.Application) -> AsyncIterator[None]:
        scheduler = JobScheduler(app[DB_POOL], settings, registry=registry_of(app) if registry_of else None)
        app[STATS_SCHEDULER] = scheduler
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop), name="stats-scheduler")
        task.add_done_callback(_report_crash)
        yield
        stop.set()
        await asyncio.wait([task])

    return _ctx


def _report_crash(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("stats scheduler stopped on an unexpected error; scheduled jobs will not run", exc_info=exc)
