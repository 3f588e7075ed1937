"""Seed users, devices and readings at bulk speed, for scale tests and benchmarks (issue 7).

The data is shaped like the real fleet: five regions (EU, JP, CN, IN, SG) with their own model mix,
four device kinds, firmware versions where the newer ones dominate, and devices that are used daily,
now and then, or not any more (so "active in the last 30 days" is a real question). The same
``--seed`` gives the same rows.

Speed comes from three choices:
- generation runs in worker processes, a chunk of users at a time, while the main process loads the
  previous chunk with ``LOAD DATA LOCAL INFILE`` (multi-row INSERTs when the server refuses LOCAL);
- ids are time-ordered UUIDs (version 7, as many services mint them) handed out in user order, and a
  chunk is loaded users -> devices -> readings, so every index of every table is appended to, never
  split in the middle: the load stays fast when the tables outgrow the buffer pool;
- timestamps travel as epoch seconds and become DATETIME(6) in the server (``FROM_UNIXTIME``, UTC
  session), which saves Python the slowest part of writing a row.
Foreign keys stay checked: every reading's device and user exist before it is loaded.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiomysql
import pymysql

from shared.settings import CommonSettings

DAY_S = 86_400
CHUNK_USERS = 10_000
USER_HISTORY_DAYS = 3 * 365  # registrations spread over the last three years

# region -> (share of users, countries, locale)
REGIONS: dict[str, tuple[float, tuple[str, ...], str]] = {
    "eu": (0.35, ("DE", "FR", "GB", "IT", "ES", "NL", "SE", "PL"), "en-GB"),
    "jp": (0.30, ("JP",), "ja-JP"),
    "cn": (0.15, ("CN",), "zh-CN"),
    "in": (0.12, ("IN",), "en-IN"),
    "sg": (0.08, ("SG",), "en-SG"),
}


@dataclass(frozen=True)
class Model:
    """A device model: its kind, firmware versions (oldest first) and where it sells."""

    name: str
    kind: str
    firmware: tuple[str, ...]
    regions: dict[str, float]  # region -> relative popularity (absent = not sold there)


MODELS: tuple[Model, ...] = (
    Model("BP-5100", "blood_pressure", ("1.0.3", "1.1.0", "1.2.1"), {"eu": 3, "jp": 2, "cn": 2, "in": 3, "sg": 2}),
    Model("BP-7250 Connect", "blood_pressure", ("2.0.0", "2.1.4"), {"eu": 4, "jp": 3, "cn": 1, "in": 1, "sg": 3}),
    Model("BP-9000 Pro", "blood_pressure", ("3.0.1", "3.0.2"), {"eu": 1, "jp": 2, "sg": 1}),
    Model("BPW-20 Wrist", "blood_pressure", ("1.4.0", "1.5.2"), {"eu": 1, "jp": 1, "cn": 3, "in": 2, "sg": 1}),
    Model("血圧計 HB-J1", "blood_pressure", ("1.0.0", "1.0.5"), {"jp": 3}),
    Model("WS-210", "weight", ("1.0.0", "1.0.7"), {"eu": 2, "jp": 2, "cn": 2, "in": 2, "sg": 2}),
    Model("WS-350 Body", "weight", ("2.2.0", "2.3.1"), {"eu": 2, "jp": 1, "sg": 1}),
    Model("TH-10", "body_temperature", ("0.9.8", "1.0.1"), {"eu": 1, "jp": 1, "cn": 2, "in": 2, "sg": 1}),
    Model("TH-12 Ear", "body_temperature", ("1.1.0",), {"eu": 1, "jp": 1, "sg": 1}),
    Model("GL-Sense 2", "blood_glucose", ("4.0.2", "4.1.0"), {"eu": 2, "jp": 1, "cn": 1, "in": 3, "sg": 1}),
    Model("GL-Sense 3", "blood_glucose", ("5.0.0", "5.0.3"), {"eu": 1, "jp": 1, "sg": 1}),
)
KIND_SHARE = {"blood_pressure": 0.55, "weight": 0.25, "body_temperature": 0.10, "blood_glucose": 0.10}
# (share of devices, readings multiplier, days since the last reading: (min, max))
USAGE = {
    "daily": (0.45, 1.6, (0, 2)),
    "sporadic": (0.25, 0.8, (0, 45)),
    "dormant": (0.30, 0.5, (31, 400)),
}


@dataclass(frozen=True)
class SeedPlan:
    """What to generate: totals, history, determinism and where "now" is."""

    users: int
    devices: int
    readings: int
    seed: int
    now_s: int
    chunk_users: int = CHUNK_USERS

    @property
    def chunks(self) -> int:
        return max(1, math.ceil(self.users / self.chunk_users))

    def chunk_bounds(self, index: int) -> tuple[int, int]:
        start = index * self.chunk_users
        return start, min(self.users, start + self.chunk_users)

    def share(self, total: int, index: int) -> int:
        """``total`` split across chunks in proportion to their users, summing exactly to ``total``."""
        start, end = self.chunk_bounds(index)
        return total * end // self.users - total * start // self.users


@dataclass(frozen=True)
class ChunkFiles:
    """One generated chunk: TSV files ready for LOAD DATA, and their row counts."""

    index: int
    users: Path
    devices: Path
    readings: Path
    counts: tuple[int, int, int]


def uuid7(ms: int, rand_a: int, rand_b: int) -> str:
    """A version-7 UUID string: 48-bit Unix milliseconds, then random bits (RFC 9562)."""
    return (
        f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rand_a & 0xFFF:03x}-"
        f"{0x8000 | (rand_b >> 48) & 0x3FFF:04x}-{rand_b & 0xFFFFFFFFFFFF:012x}"
    )


def _weighted(rng: random.Random, cumulative: list[float], items: list[Any]) -> Any:
    return items[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


_REGION_NAMES = list(REGIONS)
_REGION_CUM = _cumulative([REGIONS[r][0] for r in _REGION_NAMES])
_USAGE_NAMES = list(USAGE)
_USAGE_CUM = _cumulative([USAGE[u][0] for u in _USAGE_NAMES])


def _models_by_region() -> dict[str, tuple[list[float], list[Model]]]:
    table = {}
    for region in REGIONS:
        sold = [m for m in MODELS if region in m.regions]
        # within a kind, the region's popularity; across kinds, the kind's share of devices
        kind_totals: dict[str, float] = {}
        for model in sold:
            kind_totals[model.kind] = kind_totals.get(model.kind, 0.0) + model.regions[region]
        weights = [KIND_SHARE[m.kind] * m.regions[region] / kind_totals[m.kind] for m in sold]
        table[region] = (_cumulative(weights), sold)
    return table


_MODELS_BY_REGION = _models_by_region()


def _reading(rng: random.Random, kind: str) -> tuple[str, float, str, str]:
    """(type, primary value, original unit, values JSON) of one plausible measurement."""
    if kind == "blood_pressure":
        sys_ = round(rng.gauss(128, 15))
        dia = round(sys_ * rng.uniform(0.58, 0.7))
        pulse = round(rng.gauss(70, 9))
        return "blood_pressure", sys_, "mmHg", f'{{"systolic":{sys_},"diastolic":{dia},"pulse":{pulse},"unit":"mmHg"}}'
    if kind == "weight":
        kg = round(rng.gauss(70, 13), 1)
        return "weight", kg, "kg", f'{{"kg":{kg},"unit":"kg"}}'
    if kind == "body_temperature":
        celsius = round(rng.gauss(36.6, 0.45), 1)
        return "body_temperature", celsius, "Cel", f'{{"celsius":{celsius},"site":"armpit","unit":"Cel"}}'
    mg_dl = round(rng.gauss(108, 28))
    return "blood_glucose", mg_dl, "mg/dL", f'{{"mg_dl":{mg_dl},"sample":"capillary","unit":"mg/dL"}}'


def generate_chunk(plan: SeedPlan, index: int, directory: str) -> ChunkFiles:
    """Write chunk ``index`` (users [start, end)) as three TSV files; deterministic for (seed, index)."""
    rng = random.Random(f"{plan.seed}:{index}")
    start, end = plan.chunk_bounds(index)
    history_start_ms = (plan.now_s - USER_HISTORY_DAYS * DAY_S) * 1000
    # registrations end two days ago, so every device is paired after its owner registered
    spacing_ms = max(1, (USER_HISTORY_DAYS - 2) * DAY_S * 1000 // max(plan.users, 1))
    n_devices = plan.share(plan.devices, index)
    n_readings = plan.share(plan.readings, index)
    n_users = end - start
    # devices per user: one each while there are enough, the rest to random users of the chunk
    owners = list(range(n_users)) if n_devices >= n_users else sorted(rng.sample(range(n_users), n_devices))
    owners += [rng.randrange(n_users) for _ in range(n_devices - len(owners))]
    owners.sort()
    paths = [Path(directory) / f"chunk{index:06d}.{name}.tsv" for name in ("users", "devices", "readings")]
    devices: list[tuple[str, str, str, float, float, float]] = []  # id, user id, kind, paired_s, weight, end_s
    with paths[0].open("w", encoding="utf-8") as users_out:
        user_rows = []
        for offset in range(n_users):
            number = start + offset
            ms = history_start_ms + number * spacing_ms + rng.randrange(spacing_ms)
            user_id = uuid7(ms, rng.getrandbits(12), rng.getrandbits(62))
            region = _weighted(rng, _REGION_CUM, _REGION_NAMES)
            _, countries, locale = REGIONS[region]
            created_s = ms / 1000
            user_rows.append((user_id, region, created_s, ms))
            users_out.write(
                f"{user_id}\tseed{plan.seed}-{number}\tseed{plan.seed}.{number}@example.test\tUser {number}\t"
                f"{rng.choice(countries)}\t{locale}\t{region}\tlocal\t{created_s:.3f}\n"
            )
    with paths[1].open("w", encoding="utf-8") as devices_out:
        per_user: dict[int, int] = {}
        for owner in owners:
            user_id, region, created_s, ms = user_rows[owner]
            slot = per_user.get(owner, 0)
            per_user[owner] = slot + 1
            device_id = uuid7(ms, slot + 1, rng.getrandbits(62))
            cumulative, models = _MODELS_BY_REGION[region]
            model = _weighted(rng, cumulative, models)
            # newer firmware dominates: weights 1, 2, 4, ...
            firmware = model.firmware[
                _weighted(
                    rng, _cumulative([2.0**i for i in range(len(model.firmware))]), list(range(len(model.firmware)))
                )
            ]
            paired_s = min(created_s + rng.uniform(0, 30 * DAY_S), plan.now_s - DAY_S)
            usage = _weighted(rng, _USAGE_CUM, _USAGE_NAMES)
            _, multiplier, (idle_min, idle_max) = USAGE[usage]
            end_s = max(paired_s + 60, plan.now_s - rng.uniform(idle_min, idle_max) * DAY_S)
            weight = multiplier * rng.uniform(0.5, 1.5)
            devices.append((device_id, user_id, model.kind, paired_s, weight, end_s))
            serial = f"{model.name[:2].upper()}{rng.getrandbits(40):010X}"
            mac = ":".join(f"{rng.getrandbits(8):02X}" for _ in range(6))
            devices_out.write(
                f"{device_id}\t{user_id}\t{model.kind}\t{model.name}\t{serial}\t{firmware}\t{mac}\t{paired_s:.3f}\n"
            )
    total_weight = sum(d[4] for d in devices) or 1.0
    counts = [int(n_readings * d[4] / total_weight) for d in devices]
    for position in rng.sample(range(len(devices)), min(len(devices), n_readings - sum(counts))) if devices else []:
        counts[position] += 1
    last_seen: list[float | None] = []
    with paths[2].open("w", encoding="utf-8") as readings_out:
        write = readings_out.write
        for (device_id, user_id, kind, paired_s, _, end_s), count in zip(devices, counts, strict=True):
            if not count:
                last_seen.append(None)
                continue
            # most readings in the last stretch of use; a few go back to the pairing
            span_s = end_s - paired_s
            times = sorted(end_s - span_s * rng.random() ** 2 for _ in range(count))
            last_seen.append(times[-1])
            prefix = f"{user_id}\t{device_id}\t"
            client = device_id[-12:]
            for n, moment in enumerate(times):
                reading_type, value, unit, values = _reading(rng, kind)
                write(f"{prefix}{reading_type}\t{client}-{n}\t{moment:.6f}\t{value}\t{unit}\t{values}\tseed\n")
    # last_seen_at goes into the devices file (the devices load comes after this chunk is generated)
    device_lines = paths[1].read_text(encoding="utf-8").splitlines()
    with paths[1].open("w", encoding="utf-8") as devices_out:
        for line, seen in zip(device_lines, last_seen, strict=True):
            devices_out.write(f"{line}\t{seen:.6f}\n" if seen is not None else f"{line}\t\\N\n")
    return ChunkFiles(index, paths[0], paths[1], paths[2], (n_users, len(devices), n_readings))


# LOAD DATA column lists: epoch seconds arrive in user variables and become DATETIME(6) in UTC
_LOAD_USERS = """LOAD DATA LOCAL INFILE %s INTO TABLE users CHARACTER SET utf8mb4
FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'
(id, login_name, email, display_name, country, locale, region, idp, @created)
SET profile = '{}', created_at = FROM_UNIXTIME(@created), updated_at = FROM_UNIXTIME(@created)"""
_LOAD_DEVICES = """LOAD DATA LOCAL INFILE %s INTO TABLE devices CHARACTER SET utf8mb4
FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'
(id, user_id, kind, model, serial, firmware, ble_address, @paired, @seen)
SET paired_at = FROM_UNIXTIME(@paired), last_seen_at = FROM_UNIXTIME(@seen),
    created_at = FROM_UNIXTIME(@paired), updated_at = FROM_UNIXTIME(@paired)"""
_LOAD_READINGS = """LOAD DATA LOCAL INFILE %s INTO TABLE readings CHARACTER SET utf8mb4
FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n'
(user_id, device_id, type, client_id, @measured, primary_value, original_unit, reading_values, source)
SET measured_at = FROM_UNIXTIME(@measured), created_at = FROM_UNIXTIME(@measured)"""
_INSERTS = {
    "users": (
        "INSERT INTO users (id, login_name, email, display_name, country, locale, region, idp, created_at, "
        "updated_at, profile) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, FROM_UNIXTIME(%s), FROM_UNIXTIME(%s), '{}')",
        lambda f: (*f[:9], f[8]),
    ),
    "devices": (
        "INSERT INTO devices (id, user_id, kind, model, serial, firmware, ble_address, paired_at, last_seen_at, "
        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, FROM_UNIXTIME(%s), FROM_UNIXTIME(%s), "
        "FROM_UNIXTIME(%s), FROM_UNIXTIME(%s))",
        lambda f: (*f[:8], None if f[8] == "\\N" else f[8], f[7], f[7]),
    ),
    "readings": (
        "INSERT INTO readings (user_id, device_id, type, client_id, measured_at, primary_value, original_unit, "
        "reading_values, source, created_at) VALUES (%s, %s, %s, %s, FROM_UNIXTIME(%s), %s, %s, %s, %s, "
        "FROM_UNIXTIME(%s))",
        lambda f: (*f[:9], f[4]),
    ),
}
INSERT_BATCH_ROWS = 2000


class Loader:
    """Loads chunk files over one connection: LOAD DATA LOCAL, or multi-row INSERTs as a fallback."""

    def __init__(self, conn: aiomysql.Connection) -> None:
        self._conn = conn
        self.local_infile = True

    async def load(self, chunk: ChunkFiles) -> None:
        """Users, devices, readings of one chunk, each in its own transaction, in FK order."""
        for table, path, sql in (
            ("users", chunk.users, _LOAD_USERS),
            ("devices", chunk.devices, _LOAD_DEVICES),
            ("readings", chunk.readings, _LOAD_READINGS),
        ):
            if self.local_infile:
                try:
                    async with self._conn.cursor() as cur:
                        await cur.execute(sql, (str(path),))
                    await self._conn.commit()
                    continue
                except pymysql.err.OperationalError as exc:
                    # 1148/3948/4166: LOCAL INFILE disabled on server or client (MySQL 8 default)
                    if exc.args[0] not in (1148, 3948, 4166, 2068):
                        raise
                    await self._conn.rollback()
                    self.local_infile = False
            await self._insert(table, path)

    async def _insert(self, table: str, path: Path) -> None:
        sql, shape = _INSERTS[table]
        with path.open(encoding="utf-8") as rows:
            lines = (shape(line.rstrip("\n").split("\t")) for line in rows)
            while batch := list(itertools.islice(lines, INSERT_BATCH_ROWS)):
                async with self._conn.cursor() as cur:
                    await cur.executemany(sql, batch)
        await self._conn.commit()


async def connect_for_load(settings: CommonSettings, database: str) -> aiomysql.Connection:
    """A connection in UTC that may send local files (LOAD DATA LOCAL INFILE)."""
    return await aiomysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        db=database,
        charset="utf8mb4",
        autocommit=False,
        local_infile=True,
        init_command="SET time_zone = '+00:00'",
        connect_timeout=10,
    )


@dataclass(frozen=True)
class SeedResult:
    """Totals and timings of one seed run."""

    users: int
    devices: int
    readings: int
    seconds: float
    method: str

    def as_json(self) -> dict[str, Any]:
        rate = self.readings / self.seconds if self.seconds else 0.0
        return {**self.__dict__, "seconds": round(self.seconds, 2), "readings_per_s": round(rate)}


def default_plan(users: int, seed: int, devices: int | None = None, readings: int | None = None) -> SeedPlan:
    """The issue's proportions by default: 1.5 devices per user, 10 readings per device."""
    n_devices = devices if devices is not None else round(users * 1.5)
    n_readings = readings if readings is not None else n_devices * 10
    return SeedPlan(users, n_devices, n_readings, seed, int(datetime.now(UTC).timestamp()))


async def seed(
    settings: CommonSettings,
    database: str,
    plan: SeedPlan,
    *,
    workers: int | None = None,
    on_chunk: Callable[[ChunkFiles], None] = lambda chunk: None,
) -> SeedResult:
    """Generate in worker processes and load in order; returns the totals and the elapsed time."""
    started = time.perf_counter()
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    conn = await connect_for_load(settings, database)
    loader = Loader(conn)
    try:
        with tempfile.TemporaryDirectory(prefix="vitalsync-seed-") as directory:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for chunk in _ahead(pool, plan, directory, workers + 1):
                    await loader.load(chunk)
                    on_chunk(chunk)
                    for path in (chunk.users, chunk.devices, chunk.readings):
                        path.unlink()
    finally:
        conn.close()
    return SeedResult(
        plan.users,
        plan.devices,
        plan.readings,
        time.perf_counter() - started,
        "load data local infile" if loader.local_infile else "multi-row insert",
    )


def _ahead(pool: ProcessPoolExecutor, plan: SeedPlan, directory: str, depth: int) -> Iterator[ChunkFiles]:
    """Chunks in order, keeping ``depth`` generations in flight (bounded disk use)."""
    pending: list[Future[ChunkFiles]] = []
    next_index = 0
    while next_index < plan.chunks or pending:
        while next_index < plan.chunks and len(pending) < depth:
            pending.append(pool.submit(generate_chunk, plan, next_index, directory))
            next_index += 1
        yield pending.pop(0).result()


async def table_sizes(conn: aiomysql.Connection, database: str) -> dict[str, dict[str, int]]:
    """Rows (estimated) and bytes (data + indexes) per table, from information_schema."""
    async with conn.cursor() as cur:
        await cur.execute("ANALYZE TABLE users, devices, readings")  # refresh the size statistics
        await cur.fetchall()
        await cur.execute(
            "SELECT TABLE_NAME, TABLE_ROWS, DATA_LENGTH, INDEX_LENGTH FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = %s",
            (database,),
        )
        rows = await cur.fetchall()
    await conn.commit()
    return {
        name: {"rows": int(n or 0), "data_bytes": int(d or 0), "index_bytes": int(i or 0)} for name, n, d, i in rows
    }


def describe_mix() -> str:
    """The catalogue as JSON, for the benchmark write-up."""
    return json.dumps({m.name: {"kind": m.kind, "regions": m.regions} for m in MODELS}, ensure_ascii=False)
