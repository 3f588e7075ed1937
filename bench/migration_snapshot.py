"""Benchmark: `migrate snapshot` records/s against LOAD DATA LOCAL INFILE of the same rows (issue 8).

One run: a legacy dataset of --users users is generated, its users imported into a scratch database
(auth's import code), and the snapshot loaded by the migration's loader as `migrate snapshot` runs it
(raw + processed rows, their change_log and outbox rows, failures, checkpoints; the preparer process
unless VITALSYNC_MIGRATION_SNAPSHOT_PREPARER=false, its CPU reported apart), timed. The rows the load
produced in every table it wrote are then dumped to tab-separated files and loaded into the same tables
of a second scratch database (same schema, same users) with LOAD DATA LOCAL INFILE, timed. Both are
reported as snapshot records per second. Target: the loader at least 50 % of LOAD DATA. Scratch
databases and files are removed.

    .venv/bin/python -m bench.migration_snapshot [--users 2000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import resource
import shutil
import tempfile
import time
import uuid
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomysql

from services.auth.cli import _run as import_users_run
from services.auth.config import AuthSettings
from services.migration.cli import _context
from services.migration.config import MigrationSettings
from services.migration.inserts import STATEMENTS, LocalInfileInserter, max_file_bytes
from services.migration.snapshot import load_snapshot
from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.db.pool import create_pool
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import write_dataset

TABLES = (
    "raw_kii_objects",
    "migration_things",
    "migration_failures",
    "devices",
    "readings",
    "device_settings",
    "change_log",
    "outbox",
)


def _tsv(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, datetime):
        value = value.isoformat(sep=" ")
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


async def _scratch(settings: MigrationSettings) -> str:
    name = f"vitalsync_bench_{uuid.uuid4().hex[:8]}"
    admin = await connect(settings, "")
    async with admin.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{name}`")
    admin.close()
    conn = await connect(settings, name, multi_statements=True)
    await migrate(conn)
    conn.close()
    return name


async def _drop(settings: MigrationSettings, name: str) -> None:
    admin = await connect(settings, "")
    async with admin.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


def _write_parts(work: Path, table: str, lines: list[bytes], limit: int) -> list[Path]:
    """The table's dump in files of at most limit bytes, what aiomysql can send in one packet (a larger
    file fails past the server's max_allowed_packet, see `inserts.LocalInfileInserter`); one file per
    table up to ~2,000 users."""
    parts: list[list[bytes]] = [[]]
    size = 0
    for line in lines:
        if parts[-1] and size + len(line) > limit:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += len(line)
    paths = [work / f"{table}.{number}.tsv" for number in range(len(parts))]
    for path, part in zip(paths, parts, strict=True):
        path.write_bytes(b"".join(part))
    return paths


async def _copy_users(settings: MigrationSettings, source: str, target: str) -> None:
    admin = await connect(settings, "")
    async with admin.cursor() as cur:
        await cur.execute(f"INSERT INTO `{target}`.users SELECT * FROM `{source}`.users")
    admin.close()


async def _check_baseline(conn: aiomysql.Connection, rows: dict[str, int]) -> None:
    """LOAD DATA LOCAL turns a row it cannot insert into a warning: a baseline that skipped rows is void."""
    async with conn.cursor() as cur:
        for table, expected in rows.items():
            await cur.execute(f"SELECT COUNT(*) FROM {table}")
            (count,) = await cur.fetchone()
            if count != expected:
                raise SystemExit(f"LOAD DATA baseline loaded {count} of {expected} rows into {table}")


async def run(users: int) -> dict[str, Any]:
    """Both loads in one run; returns the numbers."""
    base = MigrationSettings()
    work = Path(tempfile.mkdtemp(prefix="bench-migration-"))
    dataset = generate_dataset(users, 11)
    write_dataset(dataset, work)
    records = len(dataset.objects)
    # `migrate snapshot` runs in a process of its own: the generator's half a million objects, left alive
    # here, made each of the loader's full garbage collections walk them (0.27 s of its time)
    del dataset
    gc.collect()
    loaded, baseline = await _scratch(base), await _scratch(base)
    try:
        lines = (work / "users.jsonl").read_text(encoding="utf-8").splitlines()
        await import_users_run(AuthSettings(db_name=loaded), lines)
        # the baseline gets the very same user rows: a second import would draw other ids, and every
        # device, reading and setting row of the dump would then fail its foreign key and be skipped
        await _copy_users(base, loaded, baseline)
        settings = base.model_copy(update={"db_name": loaded})
        load_data = settings.migration_snapshot_load_data  # as `migrate snapshot` opens its pool
        pool = await create_pool(settings, no_backslash_escapes=True, local_infile=load_data)
        with LocalInfileInserter() if load_data else nullcontext(STATEMENTS) as inserter:
            started = time.perf_counter()
            cpu = resource.getrusage(resource.RUSAGE_SELF)
            child_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)  # the preparer, once reaped
            report = await load_snapshot(
                pool,
                work / "snapshot.jsonl.gz",
                _context(settings),
                chunk_size=2000,
                inserter=inserter,
                settings=settings if settings.migration_snapshot_preparer else None,
            )
            loader_s = time.perf_counter() - started
            cpu_after = resource.getrusage(resource.RUSAGE_SELF)
            child_cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        pool.close()
        await pool.wait_closed()

        # dump what the loader wrote (rows that were not in the database before: users were imported alike)
        source = await connect(base, loaded)
        files: dict[str, tuple[list[Path], list[str]]] = {}
        rows: dict[str, int] = {}
        async with source.cursor() as cur:
            limit = await max_file_bytes(cur)
            for table in TABLES:
                await cur.execute(f"SELECT * FROM {table}")
                columns = [d[0] for d in cur.description]
                dumped = [("\t".join(_tsv(v) for v in row) + "\n").encode() for row in await cur.fetchall()]
                files[table] = (_write_parts(work, table, dumped, limit), columns)
                rows[table] = len(dumped)
        source.close()
        # the loader's kind of pool (UTC sessions, LOCAL files allowed), on the baseline database
        target_pool = await create_pool(base.model_copy(update={"db_name": baseline}), local_infile=True)
        async with target_pool.acquire() as target:
            started = time.perf_counter()
            async with target.cursor() as cur:
                for table in TABLES:
                    paths, columns = files[table]
                    for path in paths:
                        await cur.execute(
                            f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE {table} CHARACTER SET utf8mb4 "
                            f"FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                            f"({', '.join(columns)})"
                        )
            await target.commit()
            load_data_s = time.perf_counter() - started
            await _check_baseline(target, rows)
        target_pool.close()
        await target_pool.wait_closed()
    finally:
        await _drop(base, loaded)
        await _drop(base, baseline)
        shutil.rmtree(work, ignore_errors=True)
    loader_rate, load_data_rate = records / loader_s, records / load_data_s
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "users": users,
        "snapshot_records": records,
        "rows_written": rows,
        "loader_s": round(loader_s, 2),
        "loader_cpu_s": round(cpu_after.ru_utime + cpu_after.ru_stime - cpu.ru_utime - cpu.ru_stime, 2),
        "preparer_cpu_s": round(
            child_cpu_after.ru_utime + child_cpu_after.ru_stime - child_cpu.ru_utime - child_cpu.ru_stime, 2
        ),
        "chunks_rewritten": report.missed,
        "loader_records_per_s": round(loader_rate),
        "load_data_s": round(load_data_s, 2),
        "load_data_records_per_s": round(load_data_rate),
        "ratio": round(loader_rate / load_data_rate, 3),
        "failures": report.failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.users))
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
