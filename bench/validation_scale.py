"""Benchmark: `vitalsync validate` over N migrated readings, time and peak RSS, against a naive full-row
comparison measured in the same run on a smaller sample (validation issue 9).

Data (generated, then reused with ``--reuse``): a synthetic legacy export of N blood-pressure readings
(``--per-user`` readings per user, one device and one settings document each) in the canonical record
format, written by two processes as concatenated gzip members; and a scratch database
``vitalsync_val_bench_<N>`` holding what a correct migration writes: users, devices and settings through
multi-row INSERTs, readings through ``LOAD DATA LOCAL INFILE`` of rows built from a template. The template
is checked against the real transform on the first readings, and the validation itself must find zero
differences, so a wrong template cannot pass unnoticed.

Measured:
- the validator as the user runs it (``python -m vitalsync_cli validate ... --json``): wall time, peak RSS
  of the whole process tree (main + transform workers, sampled from /proc every 0.2 s) and of its largest
  process, Python CPU seconds, and MariaDB's CPU seconds over the same interval;
- baseline, same run, on ``--baseline-readings``: both sides loaded into Python dicts (legacy: every
  record parsed, replayed and transformed; new: every row SELECTed) and compared key by key; its wall
  time and peak RSS, and the validator on that same sample; extrapolated linearly to N.

    .venv/bin/python -m bench.validation_scale --readings 10000000 [--baseline-readings 200000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import multiprocessing
import os
import platform
import random
import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomysql

from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.legacy.transform import (
    DeviceRow,
    InMemoryOwners,
    ReadingRow,
    SettingsRow,
    Transformed,
    default_mapping,
    derived_device_id,
    transform,
)
from shared.settings import CommonSettings

REPO = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("VITALSYNC_BENCH_DIR", "/tmp/vitalsync-bench-validation"))
BASE_MS = 1_609_459_200_000  # 2021-01-01T00:00:00Z
CHECKED_READINGS = 2000
SAMPLE_S = 0.2
STACK_PID_FILE = REPO / ".stack" / "mariadb" / "mariadbd.pid"

_READING_LINE = (
    '{{"op":"SNAPSHOT","appID":"bench","scope":{{"type":"APP_AND_USER","userID":"{legacy}"}},"bucket":"bp_records",'
    '"objectID":"{oid}","version":1,"modifiedAt":{created},"object":{{"_id":"{oid}","_owner":"{legacy}",'
    '"_created":{created},"_modified":{created},"_version":"1","deviceSerial":"{serial}","measuredAt":{measured},'
    '"systolic":{sys},"diastolic":{dia},"pulse":{pulse},"unit":"mmHg","statusFlags":0,"userSlot":1}}}}\n'
)
# The transform's reading_values for the line above (dict order as the transform builds it), compact JSON.
_READING_VALUES = (
    '{{"unit":"mmHg","status":[],"user_slot":1,"systolic":{sys}.0,"diastolic":{dia}.0,"mean_arterial":null,'
    '"pulse":{pulse}.0,"original":{{"systolic":{sys},"diastolic":{dia},"pulse":{pulse},"unit":"mmHg",'
    '"status":[],"user_slot":1}}}}'
)


def _users(count: int) -> list[tuple[str, str]]:
    """(VitalSync user id, legacy id) per user, sorted by user id (sequential index inserts)."""
    rng = random.Random(f"bench-validation:{count}")  # data, not secrets
    users = [(str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{n:012x}-bench-legacy-user") for n in range(count)]
    return sorted(users)


def _ms_text(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _device_record(legacy: str, u: int) -> dict[str, Any]:
    created = BASE_MS - 86_400_000 + u
    return {
        "op": "SNAPSHOT",
        "appID": "bench",
        "scope": {"type": "APP_AND_USER", "userID": legacy},
        "bucket": "devices",
        "objectID": f"dev-{u:08d}",
        "version": 1,
        "modifiedAt": created,
        "object": {
            "_id": f"dev-{u:08d}",
            "_owner": legacy,
            "_created": created,
            "_modified": created,
            "_version": "1",
            "model": "HEM-7600T",
            "serial": f"S{u:09d}",
            "kind": "blood_pressure",
            "firmware": "1.2.0",
            "pairedAt": created,
            "thingID": f"th.bench-{u:08d}",
        },
    }


def _settings_record(legacy: str, u: int) -> dict[str, Any]:
    created = BASE_MS - 86_000_000 + u
    return {
        "op": "SNAPSHOT",
        "appID": "bench",
        "scope": {"type": "APP_AND_THING", "thingID": f"th.bench-{u:08d}"},
        "bucket": "settings",
        "objectID": f"set-{u:08d}",
        "version": 2,
        "modifiedAt": created,
        "object": {
            "_id": f"set-{u:08d}",
            "_owner": legacy,
            "_created": created,
            "_modified": created,
            "_version": "2",
            "autoTransfer": u % 2 == 0,
            "language": "en",
        },
    }


def _reading(u: int, j: int) -> dict[str, int | str]:
    measured = BASE_MS + u * 7919 + j * 3_600_000
    return {
        "oid": f"r{u:08d}-{j:06d}",
        "measured": measured,
        "created": measured + 60_000,
        "sys": 100 + (u + j) % 60,
        "dia": 60 + (u * 3 + j) % 30,
        "pulse": 50 + (u + j * 7) % 40,
    }


def _write_part(args: tuple[Path, int, list[tuple[int, str, str]], int]) -> int:
    """One generator process: a gzip member of snapshot lines and a TSV of reading rows."""
    directory, part, users, per_user = args
    lines = 0
    with (
        gzip.open(directory / f"snapshot.part{part}.gz", "wt", encoding="utf-8", compresslevel=1) as snapshot,
        (directory / f"readings.part{part}.tsv").open("w", encoding="utf-8") as tsv,
    ):
        for u, user_id, legacy in users:
            device_key = f"kiicloud://users/{legacy}/buckets/devices/objects/dev-{u:08d}"
            device_id = derived_device_id(device_key)
            snapshot.write(json.dumps(_device_record(legacy, u), separators=(",", ":")) + "\n")
            snapshot.write(json.dumps(_settings_record(legacy, u), separators=(",", ":")) + "\n")
            serial = f"S{u:09d}"
            out_lines, out_rows = [], []
            for j in range(per_user):
                r = _reading(u, j)
                out_lines.append(_READING_LINE.format(legacy=legacy, serial=serial, **r))
                values = _READING_VALUES.format(**r)
                out_rows.append(
                    f"{user_id}\t{device_id}\tblood_pressure\tkii:bp_records/{r['oid']}\t{_ms_text(int(r['measured']))}"
                    f"\t{r['sys']}\tmmHg\t{values}\tmigration\t{_ms_text(int(r['created']))}\n"
                )
            snapshot.writelines(out_lines)
            tsv.writelines(out_rows)
            lines += 2 + per_user
    return lines


def _check_template(users: list[tuple[str, str]], per_user: int) -> None:
    """The reading rows the template writes are the real transform's, for the first readings."""
    owners = InMemoryOwners({legacy: user_id for user_id, legacy in users})
    mapping = default_mapping()
    checked = 0
    for u, (_, legacy) in enumerate(users):
        device = transform(_device_record(legacy, u), mapping, owners)
        assert isinstance(device, Transformed) and isinstance(device.rows[0], DeviceRow)
        owners.add_device(device.rows[0], device.thing_id)
        for j in range(per_user):
            r = _reading(u, j)
            line = _READING_LINE.format(legacy=legacy, serial=f"S{u:09d}", **r)
            result = transform(json.loads(line), mapping, owners)
            assert isinstance(result, Transformed)
            row = result.rows[0]
            assert isinstance(row, ReadingRow)
            assert json.dumps(row.reading_values, separators=(",", ":")) == _READING_VALUES.format(**r)
            assert row.device_id == device.rows[0].id and row.primary_value == float(r["sys"])
            assert row.measured_at.strftime("%Y-%m-%d %H:%M:%S.%f") == _ms_text(int(r["measured"]))
            assert row.created_at.strftime("%Y-%m-%d %H:%M:%S.%f") == _ms_text(int(r["created"]))
            checked += 1
            if checked >= CHECKED_READINGS:
                return


def generate(directory: Path, readings: int, per_user: int, processes: int) -> dict[str, Any]:
    """The legacy export (snapshot.jsonl.gz) and the reading TSVs; returns counts."""
    directory.mkdir(parents=True, exist_ok=True)
    user_count = max(1, readings // per_user)
    users = _users(user_count)
    _check_template(users, per_user)
    indexed = [(u, user_id, legacy) for u, (user_id, legacy) in enumerate(users)]
    parts = [indexed[p::processes] for p in range(processes)]
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        lines = sum(pool.map(_write_part, [(directory, p, part, per_user) for p, part in enumerate(parts)]))
    header = {"snapshot": {"topic": "legacy.export.v1", "partitions": {"0": lines}, "taken_at": "2022-07-01T00:00:00Z"}}
    with (directory / "snapshot.jsonl.gz").open("wb") as out:
        out.write(gzip.compress((json.dumps(header) + "\n").encode()))
        for p in range(processes):
            member = directory / f"snapshot.part{p}.gz"
            out.write(member.read_bytes())
            member.unlink()
    return {
        "users": user_count,
        "readings": user_count * per_user,
        "lines": lines,
        "generate_s": time.monotonic() - started,
    }


async def load(settings: CommonSettings, directory: Path, database: str) -> float:
    """A scratch database with the migrated rows: INSERTs for users/devices/settings, LOAD DATA for readings."""
    started = time.monotonic()
    server = await connect(settings, "")
    async with server.cursor() as cur:
        await cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
        await cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    server.close()
    conn = await connect(settings, database, multi_statements=True)
    await migrate(conn)
    conn.close()
    conn = await aiomysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        db=database,
        charset="utf8mb4",
        autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )
    try:
        async with conn.cursor() as cur:
            await cur.execute("SET foreign_key_checks = 0, unique_checks = 0")
            users = _users(int((directory / "users.txt").read_text()))
            owners = InMemoryOwners({legacy: user_id for user_id, legacy in users})
            mapping = default_mapping()
            user_rows, device_rows, settings_rows = [], [], []
            for u, (user_id, legacy) in enumerate(users):
                user_rows.append((user_id, f"bench{u}", legacy))
                device = transform(_device_record(legacy, u), mapping, owners)
                assert isinstance(device, Transformed)
                row = device.rows[0]
                assert isinstance(row, DeviceRow)
                owners.add_device(row, device.thing_id)
                device_rows.append(
                    (row.id, row.user_id, row.kind, row.model, row.serial, row.firmware, _naive(row.paired_at))
                )
                setting = transform(_settings_record(legacy, u), mapping, owners)
                assert isinstance(setting, Transformed)
                srow = setting.rows[0]
                assert isinstance(srow, SettingsRow)
                settings_rows.append(
                    (srow.device_id, srow.user_id, srow.version, json.dumps(srow.document, separators=(",", ":")))
                )
            for start in range(0, len(users), 5000):
                await cur.executemany(
                    "INSERT INTO users (id, login_name, region, profile, idp, legacy_user_id) "
                    "VALUES (%s, %s, 'eu', '{}', 'local', %s)",
                    user_rows[start : start + 5000],
                )
                await cur.executemany(
                    "INSERT INTO devices (id, user_id, kind, model, serial, firmware, paired_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    device_rows[start : start + 5000],
                )
                await cur.executemany(
                    "INSERT INTO device_settings (device_id, user_id, version, document) VALUES (%s, %s, %s, %s)",
                    settings_rows[start : start + 5000],
                )
    finally:
        await conn.ensure_closed()
    # readings through the mariadb client: aiomysql's LOCAL INFILE sender trips max_allowed_packet on big files
    for tsv in sorted(await asyncio.to_thread(lambda: list(directory.glob("readings.part*.tsv")))):
        sql = (
            "SET foreign_key_checks = 0, unique_checks = 0, time_zone = '+00:00'; "
            f"LOAD DATA LOCAL INFILE '{tsv}' INTO TABLE readings CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY '\\t' ESCAPED BY '' LINES TERMINATED BY '\\n' "
            "(user_id, device_id, type, client_id, measured_at, primary_value, original_unit, "
            "reading_values, source, created_at)"
        )
        command = ["mariadb", "--local-infile=1", "-h", settings.db_host, "-P", str(settings.db_port)]
        command += ["-u", settings.db_user, database, "-e", sql]
        env = {**os.environ, "MYSQL_PWD": settings.db_password.get_secret_value()}
        await asyncio.to_thread(subprocess.run, command, check=True, env=env, capture_output=True)
    return time.monotonic() - started


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


# --- measurement -----------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                tree.setdefault(int(fields[1]), []).append(int(entry))
            except OSError:
                continue
    return tree


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> Iterator[int]:
    tree = _children()
    stack = [root]
    while stack:
        pid = stack.pop()
        yield pid
        stack.extend(tree.get(pid, []))


def _cpu_s(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return 0.0


def _machine_busy_s() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def measure(command: list[str]) -> dict[str, Any]:
    """Run command; wall time, peak RSS of its process tree (sum) and of its largest process, CPU.

    The machine is shared (the local stack's other services, other sessions' tests): `other_cpu_s` is
    the CPU the rest of the machine used meanwhile, so a slow run can be told from a busy machine.
    """
    db_pid = int(STACK_PID_FILE.read_text().strip()) if STACK_PID_FILE.exists() else 0
    db_cpu = _cpu_s(db_pid)
    busy = _machine_busy_s()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak_total = peak_single = 0
    while process.poll() is None:
        sizes = [_rss_kb(pid) for pid in _tree(process.pid)]
        peak_total = max(peak_total, sum(sizes))
        peak_single = max(peak_single, max(sizes, default=0))
        time.sleep(SAMPLE_S)
    stdout, stderr = process.communicate()
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    python_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    mariadb_cpu = _cpu_s(db_pid) - db_cpu if db_pid else 0.0
    return {
        "wall_s": round(wall, 2),
        "peak_rss_tree_mb": round(peak_total / 1024, 1),
        "peak_rss_process_mb": round(peak_single / 1024, 1),
        "python_cpu_s": round(python_cpu, 1),
        "mariadb_cpu_s": round(mariadb_cpu, 1),
        "other_cpu_s": round(_machine_busy_s() - busy - python_cpu - mariadb_cpu, 1),
        "returncode": process.returncode,
        "stdout": stdout,
        "stderr": stderr[-2000:],
    }


def settle(max_wait_s: float = 600.0, idle_share: float = 0.05) -> float:
    """Wait until MariaDB's background work after a bulk load (purge, flushing) has calmed down."""
    if not STACK_PID_FILE.exists():
        return 0.0
    pid = int(STACK_PID_FILE.read_text().strip())
    started = time.monotonic()
    while time.monotonic() - started < max_wait_s:
        before = _cpu_s(pid)
        time.sleep(2.0)
        if (_cpu_s(pid) - before) / 2.0 < idle_share:
            break
    return time.monotonic() - started


def run_validator(directory: Path, database: str, out: Path, workers: int) -> dict[str, Any]:
    """`vitalsync validate` as a user runs it, measured (once the database is idle)."""
    settle()
    command = [sys.executable, "-m", "vitalsync_cli", "validate", "--legacy", str(directory), "--out", str(out)]
    command += ["--database", database, "--workers", str(workers), "--json"]
    result = measure(command)
    if result["returncode"] not in (0, 1):
        raise SystemExit(f"validate failed: {result['stderr']}")
    report = json.loads(result.pop("stdout"))
    result["verdict"] = report["verdict"]
    result["totals"] = report["totals"]
    result["segments_differing"] = report["checksums"]["segments_differing"]
    result["json_encoding"] = report["checksums"]["json_encoding"]
    return result


def naive_compare_main(directory: str, database: str) -> None:
    """Baseline (run in its own process): both sides fully in Python dicts, compared row by row."""
    from services.validation.canonical import TABLES, db_values, row_values, select_columns
    from services.validation.diff import diff_row

    async def target_rows(
        settings: CommonSettings,
    ) -> tuple[dict[str, str], dict[tuple[str, str, str], dict[str, Any]]]:
        conn = await connect(settings, database)
        rows: dict[tuple[str, str, str], dict[str, Any]] = {}
        async with conn.cursor() as cur:
            await cur.execute("SELECT legacy_user_id, id FROM users WHERE legacy_user_id IS NOT NULL")
            users = {str(a): str(b) for a, b in await cur.fetchall()}
            for spec in TABLES.values():
                await cur.execute(f"SELECT {select_columns(spec)} FROM {spec.name} t")
                for row in await cur.fetchall():
                    values = db_values(spec, row)
                    rows[(spec.name, values["user_id"], str(values[spec.key_column]))] = values
        conn.close()
        return users, rows

    settings = CommonSettings()
    users, actual = asyncio.run(target_rows(settings))
    state: dict[str, dict[str, Any]] = {}
    with gzip.open(Path(directory) / "snapshot.jsonl.gz", "rt", encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            record = json.loads(line)
            key = f"{record['scope']}/{record['bucket']}/{record['objectID']}"
            if key not in state or state[key]["version"] < record["version"]:
                state[key] = record
    owners = InMemoryOwners(users)
    mapping = default_mapping()
    for record in state.values():
        if record["bucket"] == "devices":
            result = transform(record, mapping, owners)
            if isinstance(result, Transformed) and isinstance(result.rows[0], DeviceRow):
                owners.add_device(result.rows[0], result.thing_id)
    expected: dict[tuple[str, str, str], dict[str, Any]] = {}
    for record in state.values():
        result = transform(record, mapping, owners)
        if isinstance(result, Transformed):
            for row in result.rows:
                spec, values = row_values(row)
                expected[(spec.name, values["user_id"], str(values[spec.key_column]))] = values
    missing = sum(1 for key in expected if key not in actual)
    extra = sum(1 for key in actual if key not in expected)
    differing = sum(
        1 for key, values in expected.items() if key in actual and diff_row(TABLES[key[0]], values, actual[key])
    )
    print(
        json.dumps(
            {
                "expected": len(expected),
                "actual": len(actual),
                "missing": missing,
                "extra": extra,
                "differing": differing,
            }
        )
    )


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB, {platform.system()} {platform.release()}"


def prepare(settings: CommonSettings, readings: int, per_user: int, reuse: bool) -> tuple[Path, str, dict[str, Any]]:
    """The dataset directory and database for `readings` (generated and loaded unless reused)."""
    directory = WORK / f"n{readings}"
    database = f"vitalsync_val_bench_{readings}"
    info: dict[str, Any] = {"readings": readings, "per_user": per_user}
    loaded = directory / "loaded.ok"
    if reuse and loaded.exists() and asyncio.run(_exists(settings, database)):
        info["reused"] = True
        return directory, database, info
    generated = generate(directory, readings, per_user, processes=max(1, os.cpu_count() or 1))
    (directory / "users.txt").write_text(str(generated["users"]))
    info.update({k: (round(v, 1) if isinstance(v, float) else v) for k, v in generated.items()})
    info["load_s"] = round(asyncio.run(load(settings, directory, database)), 1)
    info["snapshot_mb"] = round((directory / "snapshot.jsonl.gz").stat().st_size / 1024**2, 1)
    for tsv in directory.glob("readings.part*.tsv"):
        tsv.unlink()
    loaded.write_text(json.dumps(info))
    return directory, database, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--baseline-readings", type=int, default=200_000)
    parser.add_argument("--per-user", type=int, default=100)
    parser.add_argument("--workers", type=int, default=0, help="validator transform processes (0: one per core)")
    parser.add_argument("--reuse", action="store_true", help="reuse generated data and databases from an earlier run")
    parser.add_argument("--drop", action="store_true", help="drop the scratch databases and data at the end")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--naive", nargs=2, metavar=("DIR", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive:
        naive_compare_main(*args.naive)
        return
    settings = CommonSettings()
    results: dict[str, Any] = {"date": datetime.now(UTC).date().isoformat(), "machine": machine()}

    small_dir, small_db, small_info = prepare(settings, args.baseline_readings, args.per_user, args.reuse)
    settle()
    naive = measure([sys.executable, "-m", "bench.validation_scale", "--naive", str(small_dir), small_db])
    naive.update(json.loads(naive.pop("stdout")))
    small = run_validator(small_dir, small_db, WORK / "out-small", args.workers)
    big_dir, big_db, big_info = prepare(settings, args.readings, args.per_user, args.reuse)
    big = run_validator(big_dir, big_db, WORK / "out-big", args.workers)

    scale = args.readings / args.baseline_readings
    results.update(
        {
            "sample": {"data": small_info, "naive": naive, "validator": small},
            "full": {"data": big_info, "validator": big},
            "naive_extrapolated": {
                "wall_s": round(naive["wall_s"] * scale, 1),
                "peak_rss_mb": round(naive["peak_rss_tree_mb"] * scale, 1),
            },
            "ratios": {
                "sample_time_validator_over_naive": round(small["wall_s"] / naive["wall_s"], 3),
                "sample_rss_validator_over_naive": round(small["peak_rss_tree_mb"] / naive["peak_rss_tree_mb"], 3),
                "full_time_over_naive_extrapolated": round(big["wall_s"] / (naive["wall_s"] * scale), 3),
                "full_rss_over_naive_extrapolated": round(
                    big["peak_rss_tree_mb"] / (naive["peak_rss_tree_mb"] * scale), 3
                ),
            },
            "targets": {
                "under_5_min": big["wall_s"] < 300,
                "rss_under_1_gb": big["peak_rss_tree_mb"] < 1024,
                "clean_pass": big["verdict"] == "pass" and small["verdict"] == "pass",
            },
        }
    )
    if args.drop:
        asyncio.run(_drop(settings, [small_db, big_db]))
    print(json.dumps(results, indent=2) if args.json else _table(results))


async def _exists(settings: CommonSettings, database: str) -> bool:
    conn = await connect(settings, "")
    async with conn.cursor() as cur:
        await cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        (found,) = await cur.fetchone()
    conn.close()
    return bool(found)


async def _drop(settings: CommonSettings, names: list[str]) -> None:
    conn = await connect(settings, "")
    async with conn.cursor() as cur:
        for name in names:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def _table(results: dict[str, Any]) -> str:
    big, small, naive = results["full"]["validator"], results["sample"]["validator"], results["sample"]["naive"]
    n, s = results["full"]["data"]["readings"], results["sample"]["data"]["readings"]
    lines = [
        f"{results['date']} · {results['machine']}",
        f"validate {n:,} readings: {big['wall_s']} s, peak RSS {big['peak_rss_tree_mb']} MB (tree), "
        f"{big['peak_rss_process_mb']} MB (largest process), python CPU {big['python_cpu_s']} s, "
        f"MariaDB CPU {big['mariadb_cpu_s']} s (other processes {big['other_cpu_s']} s), verdict {big['verdict']}",
        f"sample {s:,}: validator {small['wall_s']} s / {small['peak_rss_tree_mb']} MB; naive {naive['wall_s']} s / "
        f"{naive['peak_rss_tree_mb']} MB",
        f"naive extrapolated to {n:,}: {results['naive_extrapolated']['wall_s']} s / "
        f"{results['naive_extrapolated']['peak_rss_mb']} MB",
        f"ratios: {results['ratios']}",
        f"targets: {results['targets']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
