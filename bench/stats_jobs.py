"""Benchmark: the stats batch jobs on a seeded dataset, against the legacy "read every record" approach.

Measured in one run, on a database seeded by ``vitalsync bench seed`` (``--seed-users N`` seeds it first,
into a fresh database, and records seed time and size):
- every report job through ``run_job`` (what ``vitalsync stats run JOB`` and the scheduler do), twice:
  the first run starts with a cold buffer pool for that query, the second shows the warm time;
- the baseline, the legacy platform's approach to "active devices by model": read every record into the
  application and count there. It reads all devices (with their owner's region) and a sample of the
  readings with a streaming cursor, counting active devices in Python; the readings part is extrapolated
  linearly to the full table (``--baseline-readings`` sets the sample);
- ratio = baseline seconds / SQL job seconds.

    .venv/bin/python -m bench.stats_jobs --database vitalsync_bench [--seed-users 2000000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomysql

from bench.stats_seed import connect_for_load, default_plan, seed, table_sizes
from services.stats.config import StatsSettings
from services.stats.jobs import REPORT_JOBS
from services.stats.runner import run_job
from shared.db.connection import connect
from shared.db.migrations import migrate

BASELINE_READINGS = 2_000_000


async def _scalar(conn: aiomysql.Connection, sql: str) -> Any:
    async with conn.cursor() as cur:
        await cur.execute(sql)
        (value,) = await cur.fetchone()
    await conn.commit()
    return value


async def prepare(settings: StatsSettings, users: int, seed_value: int) -> dict[str, Any]:
    """Create, migrate and seed a fresh database; returns seed time and sizes."""
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{settings.db_name}`")
            await cur.execute(f"CREATE DATABASE `{settings.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        admin.close()
    conn = await connect(settings, multi_statements=True)
    try:
        await migrate(conn)
    finally:
        conn.close()
    result = await seed(settings, settings.db_name, default_plan(users, seed_value))
    conn = await connect_for_load(settings, settings.db_name)
    try:
        sizes = await table_sizes(conn, settings.db_name)
    finally:
        conn.close()
    return {**result.as_json(), "database_bytes": sum(t["data_bytes"] + t["index_bytes"] for t in sizes.values())}


async def time_jobs(settings: StatsSettings, repeats: int) -> dict[str, list[dict[str, Any]]]:
    """Each report job ``repeats`` times: status, rows, seconds."""
    results: dict[str, list[dict[str, Any]]] = {}
    conn = await connect(settings)
    try:
        for job in REPORT_JOBS:
            for _ in range(repeats):
                started = time.perf_counter()
                run = await run_job(conn, settings, job, triggered_by="bench")
                results.setdefault(job, []).append(
                    {"status": run.status, "rows": run.rows, "seconds": round(time.perf_counter() - started, 3)}
                )
                assert run.status == "succeeded", run.error
    finally:
        conn.close()
    return results


async def legacy_baseline(settings: StatsSettings, sample: int) -> dict[str, Any]:
    """Read every device (+ owner region) and ``sample`` readings into Python, count active devices there."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=settings.stats_active_window_days)
    conn = await connect(settings)
    try:
        total_readings = int(await _scalar(conn, "SELECT COUNT(*) FROM readings"))
        started = time.perf_counter()
        region_of: dict[str, str] = {}
        async with conn.cursor(aiomysql.SSCursor) as cur:
            await cur.execute("SELECT id, region FROM users")
            while rows := await cur.fetchmany(10_000):
                for user_id, region in rows:
                    region_of[user_id] = region.lower()
        devices: dict[str, tuple[str, str, str]] = {}
        async with conn.cursor(aiomysql.SSCursor) as cur:
            await cur.execute("SELECT id, user_id, model, firmware FROM devices")
            while rows := await cur.fetchmany(10_000):
                for device_id, user_id, model, firmware in rows:
                    devices[device_id] = (model, firmware or "", region_of[user_id])
        fixed_s = time.perf_counter() - started
        started = time.perf_counter()
        active: set[str] = set()
        read = 0
        async with conn.cursor(aiomysql.SSCursor) as cur:
            # every column, as the legacy export handed whole records to the job
            await cur.execute(f"SELECT * FROM readings LIMIT {int(sample)}")
            while rows := await cur.fetchmany(10_000):
                for row in rows:
                    read += 1
                    if row[2] is not None and row[5] >= since:
                        active.add(row[2])
        counts: dict[tuple[str, str, str], int] = {}
        for device_id in active:
            key = devices[device_id]
            counts[key] = counts.get(key, 0) + 1
        sample_s = time.perf_counter() - started
    finally:
        conn.close()
    per_reading_s = sample_s / max(read, 1)
    return {
        "users_and_devices_s": round(fixed_s, 2),
        "readings_sampled": read,
        "readings_total": total_readings,
        "readings_sample_s": round(sample_s, 2),
        "readings_per_s": round(read / sample_s) if sample_s else None,
        "extrapolated_s": round(fixed_s + per_reading_s * total_readings, 1),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = StatsSettings(db_name=args.database)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).date().isoformat(),
        "machine": f"{os.cpu_count()} cores {platform.machine()}",
        "database": args.database,
    }
    if args.seed_users:
        report["seed"] = await prepare(settings, args.seed_users, args.seed)
    conn = await connect(settings)
    try:
        report["dataset"] = {
            table: int(await _scalar(conn, f"SELECT COUNT(*) FROM {table}"))
            for table in ("users", "devices", "readings")
        }
    finally:
        conn.close()
    report["jobs"] = await time_jobs(settings, args.repeats)
    report["baseline"] = await legacy_baseline(settings, args.baseline_readings)
    job_s = min(run["seconds"] for run in report["jobs"]["active-devices-by-model"])
    cold_s = report["jobs"]["active-devices-by-model"][0]["seconds"]
    report["active_devices_by_model"] = {
        "cold_s": cold_s,
        "best_s": job_s,
        "baseline_s": report["baseline"]["extrapolated_s"],
        "speedup_cold": round(report["baseline"]["extrapolated_s"] / cold_s, 1),
        "speedup_best": round(report["baseline"]["extrapolated_s"] / job_s, 1),
    }
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="vitalsync_bench")
    parser.add_argument("--seed-users", type=int, default=0, help="Drop, create and seed the database first.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--baseline-readings", type=int, default=BASELINE_READINGS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(report))
        return
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
