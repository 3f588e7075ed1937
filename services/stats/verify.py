"""``stats verify``: recompute the streaming aggregates from the base tables and list every difference;
``stats rebuild``: overwrite them with that recomputation (bootstrap after a bulk load, or repair).

The recomputation groups exactly as the consumer does: UTC day of measured_at, lower-cased user region,
device model compared byte-wise (``utf8mb4_bin``; the devices table's own collation would merge
'BP-1' and 'bp-1'), readings without a device under the model "(no device)".

Differences while the consumer is behind are expected (events not applied yet): verify reports what
it sees at that moment. Rebuild replaces days wholesale; run it while no consumer applies events for
those days (e.g. right after ``vitalsync bench seed``, which writes no events), or the readings counted by
both would be counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import aiomysql

from services.stats.events import key_text
from shared.db.transactions import rollback_after

log = logging.getLogger(__name__)

MAX_LISTED_DEVICE_DIFFS = 1000

_RECOMPUTE_DAILY = """
SELECT DATE(r.measured_at), LOWER(u.region),
       COALESCE(d.model, '(no device)') COLLATE utf8mb4_bin, r.type COLLATE ascii_bin,
       COUNT(*), COUNT(DISTINCT r.device_id), COUNT(DISTINCT r.user_id)
FROM readings r
JOIN users u ON u.id = r.user_id
LEFT JOIN devices d ON d.id = r.device_id
WHERE r.measured_at >= %s AND r.measured_at < %s
GROUP BY 1, 2, 3, 4
"""
_STREAM_DAILY = (
    "SELECT day, region, model, reading_type, readings, active_devices, active_users FROM stats_daily "
    "WHERE day >= %s AND day < %s"
)
_RECOMPUTE_REGIONS = """
SELECT DATE(r.measured_at), LOWER(u.region), COUNT(*), COUNT(DISTINCT r.user_id)
FROM readings r
JOIN users u ON u.id = r.user_id
WHERE r.measured_at >= %s AND r.measured_at < %s
GROUP BY 1, 2
"""
_STREAM_REGIONS = "SELECT day, region, readings, active_users FROM stats_daily_regions WHERE day >= %s AND day < %s"
# Last-seen mismatches computed in SQL (millions of devices must not travel to Python): the newest reading
# per device comes from a loose scan of readings (device_id, measured_at).
_LAST_SEEN_DIFFS = """
SELECT b.device_id, b.last_seen, s.last_seen_at
FROM (SELECT r.device_id COLLATE ascii_bin AS device_id, MAX(r.measured_at) AS last_seen
      FROM readings r WHERE r.device_id IS NOT NULL GROUP BY r.device_id) b
LEFT JOIN stats_devices s ON s.device_id = b.device_id
WHERE b.last_seen >= %(since)s AND b.last_seen < %(until)s
  AND (s.last_seen_at IS NULL OR s.last_seen_at <> b.last_seen)
UNION ALL
SELECT s.device_id, NULL, s.last_seen_at
FROM stats_devices s
WHERE s.last_seen_at >= %(since)s AND s.last_seen_at < %(until)s
  AND NOT EXISTS (SELECT 1 FROM readings r
                  WHERE r.device_id = s.device_id COLLATE ascii_general_ci AND r.measured_at >= %(since)s)
"""


@dataclass(frozen=True)
class Difference:
    """One aggregate that differs: which table and key, and both values."""

    table: str
    key: dict[str, Any]
    stream: dict[str, Any] | None
    recomputed: dict[str, Any] | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready (dates and datetimes as ISO strings)."""
        return {
            "table": self.table,
            "key": _jsonable(self.key),
            "stream": _jsonable(self.stream),
            "recomputed": _jsonable(self.recomputed),
        }


@dataclass
class VerifyReport:
    """The outcome of one verify run."""

    since: date
    until: date  # exclusive
    groups_checked: int = 0
    devices_differing: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "from": self.since.isoformat(),
            "to": (self.until - timedelta(days=1)).isoformat(),
            "groups_checked": self.groups_checked,
            "difference_count": len(self.differences),
            "differences": [d.as_json() for d in self.differences],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


async def _rows(conn: aiomysql.Connection, sql: str, params: Any) -> list[tuple[Any, ...]]:
    async with conn.cursor() as cur:
        await cur.execute(sql, params)
        rows = list(await cur.fetchall())
    await conn.commit()
    return rows


def _compare(
    table: str,
    key_names: tuple[str, ...],
    value_names: tuple[str, ...],
    stream: list[tuple[Any, ...]],
    recomputed: list[tuple[Any, ...]],
    normalise: Callable[[tuple[Any, ...]], tuple[Any, ...]],
) -> tuple[int, list[Difference]]:
    width = len(key_names)
    ours = {normalise(row[:width]): tuple(int(v) for v in row[width:]) for row in stream}
    theirs: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for row in recomputed:
        key = normalise(row[:width])
        values = tuple(int(v) for v in row[width:])
        # keys equal after normalising (trailing spaces) are one group for the consumer too
        previous = theirs.get(key)
        theirs[key] = values if previous is None else tuple(a + b for a, b in zip(previous, values, strict=True))
    diffs = []
    for key in sorted(ours.keys() | theirs.keys()):
        mine, base = ours.get(key), theirs.get(key)
        if mine != base:
            diffs.append(
                Difference(
                    table,
                    dict(zip(key_names, key, strict=True)),
                    dict(zip(value_names, mine, strict=True)) if mine is not None else None,
                    dict(zip(value_names, base, strict=True)) if base is not None else None,
                )
            )
    return len(ours.keys() | theirs.keys()), diffs


def _daily_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    day, region, model, reading_type = key
    return (day, region.lower(), key_text(model), reading_type)


def _region_key(key: tuple[Any, ...]) -> tuple[Any, ...]:
    day, region = key
    return (day, region.lower())


async def verify(conn: aiomysql.Connection, since: date, until: date) -> VerifyReport:
    """Compare stats_daily, stats_daily_regions and stats_devices.last_seen_at with the base tables for
    days in [since, until)."""
    report = VerifyReport(since, until)
    start, end = _midnight(since), _midnight(until)
    checked, diffs = _compare(
        "stats_daily",
        ("day", "region", "model", "reading_type"),
        ("readings", "active_devices", "active_users"),
        await _rows(conn, _STREAM_DAILY, (since, until)),
        await _rows(conn, _RECOMPUTE_DAILY, (start, end)),
        _daily_key,
    )
    report.groups_checked += checked
    report.differences += diffs
    checked, diffs = _compare(
        "stats_daily_regions",
        ("day", "region"),
        ("readings", "active_users"),
        await _rows(conn, _STREAM_REGIONS, (since, until)),
        await _rows(conn, _RECOMPUTE_REGIONS, (start, end)),
        _region_key,
    )
    report.groups_checked += checked
    report.differences += diffs
    device_rows = await _rows(conn, _LAST_SEEN_DIFFS, {"since": start, "until": end})
    report.devices_differing = len(device_rows)
    for device_id, base_last, stream_last in device_rows[:MAX_LISTED_DEVICE_DIFFS]:
        report.differences.append(
            Difference(
                "stats_devices",
                {"device_id": device_id},
                {"last_seen_at": stream_last},
                {"last_seen_at": base_last},
            )
        )
    return report


REBUILD_USERS_PER_CHUNK = 5000
DELETE_BATCH_ROWS = 50_000
_AGGREGATE_TABLES = ("stats_daily", "stats_daily_members", "stats_daily_regions", "stats_daily_region_members")
_CHUNK_END = "SELECT id FROM users WHERE id > %s ORDER BY id LIMIT 1 OFFSET %s"
_CHUNK_LAST = "SELECT MAX(id) FROM users WHERE id > %s"
# One user range at a time (index readings (user_id, measured_at)): bounded transactions, one pass over the
# readings in all. A user's rows all fall into one chunk, so the chunks' distinct counts simply add up.
_USERS = "r.user_id > %(low)s AND r.user_id <= %(high)s AND r.measured_at >= %(start)s AND r.measured_at < %(end)s"
_REBUILD_CHUNK = (
    # one row per active device, and one marker row (device_id '') per active user, as the consumer writes
    f"""INSERT INTO stats_daily_members (day, region, model, reading_type, user_id, device_id)
        SELECT DISTINCT DATE(r.measured_at), LOWER(u.region),
               COALESCE(d.model, '(no device)') COLLATE utf8mb4_bin, r.type COLLATE ascii_bin,
               r.user_id COLLATE ascii_bin, r.device_id COLLATE ascii_bin
        FROM readings r JOIN users u ON u.id = r.user_id JOIN devices d ON d.id = r.device_id
        WHERE {_USERS}""",  # noqa: S608 - constant fragments only
    f"""INSERT INTO stats_daily_members (day, region, model, reading_type, user_id, device_id)
        SELECT DISTINCT DATE(r.measured_at), LOWER(u.region),
               COALESCE(d.model, '(no device)') COLLATE utf8mb4_bin, r.type COLLATE ascii_bin,
               r.user_id COLLATE ascii_bin, ''
        FROM readings r JOIN users u ON u.id = r.user_id LEFT JOIN devices d ON d.id = r.device_id
        WHERE {_USERS}""",  # noqa: S608 - constant fragments only
    f"""INSERT INTO stats_daily (day, region, model, reading_type, readings, active_devices, active_users)
        SELECT DATE(r.measured_at), LOWER(u.region),
               COALESCE(d.model, '(no device)') COLLATE utf8mb4_bin, r.type COLLATE ascii_bin,
               COUNT(*), COUNT(DISTINCT r.device_id), COUNT(DISTINCT r.user_id)
        FROM readings r JOIN users u ON u.id = r.user_id LEFT JOIN devices d ON d.id = r.device_id
        WHERE {_USERS}
        GROUP BY 1, 2, 3, 4
        ON DUPLICATE KEY UPDATE readings = readings + VALUES(readings),
            active_devices = active_devices + VALUES(active_devices),
            active_users = active_users + VALUES(active_users)""",  # noqa: S608 - constant fragments only
    f"""INSERT INTO stats_daily_region_members (day, region, user_id)
        SELECT DISTINCT DATE(r.measured_at), LOWER(u.region), r.user_id COLLATE ascii_bin
        FROM readings r JOIN users u ON u.id = r.user_id
        WHERE {_USERS}""",  # noqa: S608 - constant fragments only
    f"""INSERT INTO stats_daily_regions (day, region, readings, active_users)
        SELECT DATE(r.measured_at), LOWER(u.region), COUNT(*), COUNT(DISTINCT r.user_id)
        FROM readings r JOIN users u ON u.id = r.user_id
        WHERE {_USERS}
        GROUP BY 1, 2
        ON DUPLICATE KEY UPDATE readings = readings + VALUES(readings),
            active_users = active_users + VALUES(active_users)""",  # noqa: S608 - constant fragments only
    """INSERT INTO stats_devices (device_id, user_id, region, kind, model, firmware, paired_at, unpaired_at,
                                  last_seen_at)
        SELECT d.id, d.user_id, LOWER(u.region), d.kind, TRIM(TRAILING ' ' FROM d.model), d.firmware, d.paired_at,
               d.unpaired_at, (SELECT MAX(r.measured_at) FROM readings r WHERE r.device_id = d.id)
        FROM devices d JOIN users u ON u.id = d.user_id
        WHERE d.user_id > %(low)s AND d.user_id <= %(high)s
        ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), region = VALUES(region), kind = VALUES(kind),
            model = VALUES(model), firmware = VALUES(firmware), paired_at = VALUES(paired_at),
            unpaired_at = VALUES(unpaired_at), last_seen_at = VALUES(last_seen_at)""",
)


async def _scalar(conn: aiomysql.Connection, sql: str, params: Any) -> Any:
    rows = await _rows(conn, sql, params)
    return rows[0][0] if rows else None


async def rebuild(
    conn: aiomysql.Connection,
    since: date,
    until: date,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Recompute the aggregates of days in [since, until) from the base tables, and every device's last
    seen; user range by user range, each in its own transaction. Returns the number of users covered.

    ``on_progress(users_done, users_total)`` is called after each chunk.
    """
    start, end = _midnight(since), _midnight(until)
    for table in _AGGREGATE_TABLES:
        while True:
            async with conn.cursor() as cur:
                await cur.execute(
                    f"DELETE FROM {table} WHERE day >= %s AND day < %s LIMIT %s",  # noqa: S608 - fixed names
                    (since, until, DELETE_BATCH_ROWS),
                )
                deleted = cur.rowcount
            await conn.commit()
            if deleted < DELETE_BATCH_ROWS:
                break
    total = int(await _scalar(conn, "SELECT COUNT(*) FROM users", ()))
    done, low = 0, ""
    while True:
        high = await _scalar(conn, _CHUNK_END, (low, REBUILD_USERS_PER_CHUNK - 1))
        if high is None:
            high = await _scalar(conn, _CHUNK_LAST, (low,))
            if high is None:
                break
        params = {"low": low, "high": high, "start": start, "end": end}
        async with conn.cursor() as cur:
            await cur.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            await conn.begin()
            try:
                for statement in _REBUILD_CHUNK:
                    await cur.execute(statement, params)
                await conn.commit()
            except BaseException:
                await rollback_after(conn)
                raise
        done = min(total, done + REBUILD_USERS_PER_CHUNK)
        on_progress(done, total)
        low = high
    return done


async def reading_days(conn: aiomysql.Connection) -> tuple[date, date] | None:
    """The first and last UTC day with readings (for ``rebuild --all``)."""
    rows = await _rows(conn, "SELECT DATE(MIN(measured_at)), DATE(MAX(measured_at)) FROM readings", ())
    first, last = rows[0]
    return (first, last) if first is not None else None
