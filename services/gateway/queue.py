"""The offline queue: every received record goes to SQLite first, uploads read from there.

stdlib ``sqlite3`` (aiosqlite is not a dependency) on one worker thread that owns the connection, so
the event loop never blocks on disk and the connection is never shared between threads. WAL mode with
``synchronous=NORMAL``: a committed transaction survives the gateway process being killed (kill -9);
only an operating-system crash may lose the last commits.

Schema (version 1):

* ``devices``: one row per device identity (``device_key`` = hash of model + serial, the device part
  of client ids), its DIS strings, sync's device id once registered, and ``racp_next_sequence``, the
  first glucose sequence number not collected yet (the RACP ">=" operand of the next visit).
* ``readings``: one row per record, ``client_id`` unique (re-reading a device inserts nothing new).
  ``status`` is ``pending`` (to upload), ``sent`` (sync answered accepted or duplicate),
  ``rejected`` (sync answered rejected; ``reason`` holds its code and message) or ``unsendable``
  (never uploaded: special value, bad status, unknown time, undecodable; see
  :mod:`services.gateway.records`). ``id`` is the arrival order, so uploads go oldest first.
* ``meta``: schema version and the sync user the device ids belong to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from services.gateway.records import DeviceIdentity, QueueItem, dumps

SCHEMA_VERSION = "1"
STATUSES = ("pending", "sent", "rejected", "unsendable")
_T = TypeVar("_T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    device_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    serial TEXT NOT NULL,
    manufacturer TEXT,
    firmware TEXT,
    name TEXT,
    ble_address TEXT,
    sync_device_id TEXT,
    racp_next_sequence INTEGER,
    clock_skew_s REAL,
    first_seen_at TEXT NOT NULL,
    last_visit_at TEXT,
    visits INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS readings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id TEXT NOT NULL UNIQUE,
    device_key TEXT NOT NULL REFERENCES devices (device_key),
    type TEXT NOT NULL,
    sequence_number INTEGER,
    measured_at TEXT,
    payload TEXT,
    flags TEXT NOT NULL DEFAULT '[]',
    decoded TEXT NOT NULL,
    frame_hex TEXT NOT NULL,
    context_hex TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'rejected', 'unsendable')),
    reason TEXT,
    server_id INTEGER,
    server_status TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    collected_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX IF NOT EXISTS readings_by_status ON readings (status, id);
CREATE INDEX IF NOT EXISTS readings_by_device ON readings (device_key, status, id);
"""


@dataclass(frozen=True, slots=True)
class DeviceRow:
    """A device as the queue knows it."""

    device_key: str
    kind: str
    model: str
    serial: str
    manufacturer: str | None
    firmware: str | None
    name: str | None
    ble_address: str | None
    sync_device_id: str | None
    racp_next_sequence: int | None


@dataclass(frozen=True, slots=True)
class PendingReading:
    """A row waiting for upload: its queue id, client id and the reading JSON for sync."""

    row_id: int
    client_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Batch:
    """Up to ``limit`` pending readings of one device, oldest first."""

    device: DeviceRow
    readings: list[PendingReading]


@dataclass(frozen=True, slots=True)
class UploadResult:
    """Sync's answer for one client id."""

    status: str  # accepted | duplicate | rejected
    server_id: int | None = None
    error: Mapping[str, Any] | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class OfflineQueue:
    """The SQLite queue; every method runs on the queue's own thread and is awaited from the loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-queue")
        self._db: sqlite3.Connection | None = None
        self.changed = asyncio.Event()  # set whenever rows are added (the uploader waits on it)

    async def open(self) -> None:
        """Create or open the database file, switch to WAL and create the schema."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        await self._run(self._open)

    def _open(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.executescript(_SCHEMA)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
        self._db = db

    async def close(self) -> None:
        """Close the connection and stop the worker thread."""
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _run(self, function: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the queue is not open")
        return self._db

    def _transaction(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    # -- meta -----------------------------------------------------------------------------------------

    async def bind_user(self, user_id: str) -> bool:
        """Remember which sync user the device ids belong to; a new user forgets them (True if changed)."""

        def work(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT value FROM meta WHERE key = 'user_id'").fetchone()
            if row is not None and row["value"] == user_id:
                return False
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('user_id', ?)", (user_id,))
            if row is None:
                return False
            db.execute("UPDATE devices SET sync_device_id = NULL")
            return True

        return await self._run(self._transaction, work)

    # -- devices --------------------------------------------------------------------------------------

    async def upsert_device(
        self, identity: DeviceIdentity, kind: str, name: str | None, ble_address: str | None
    ) -> DeviceRow:
        """Insert or refresh a device seen on this visit; returns the stored row."""

        def work(db: sqlite3.Connection) -> DeviceRow:
            db.execute(
                "INSERT INTO devices (device_key, kind, model, serial, manufacturer, firmware, name, ble_address,"
                " first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device_key) DO UPDATE SET"
                " firmware = COALESCE(excluded.firmware, firmware), name = COALESCE(excluded.name, name),"
                " ble_address = COALESCE(excluded.ble_address, ble_address),"
                " manufacturer = COALESCE(excluded.manufacturer, manufacturer)",
                (
                    identity.key,
                    kind,
                    identity.model,
                    identity.serial,
                    identity.manufacturer,
                    identity.firmware,
                    name,
                    ble_address,
                    _now(),
                ),
            )
            return _device(db.execute("SELECT * FROM devices WHERE device_key = ?", (identity.key,)).fetchone())

        return await self._run(self._transaction, work)

    async def device(self, device_key: str) -> DeviceRow | None:
        """The stored device, if any."""
        row = await self._run(self._fetchone, "SELECT * FROM devices WHERE device_key = ?", (device_key,))
        return _device(row) if row is not None else None

    async def record_visit(self, device_key: str, clock_skew_s: float | None) -> None:
        """Count a finished visit and remember the clock error seen before setting the clock."""
        await self._run(
            self._execute,
            "UPDATE devices SET visits = visits + 1, last_visit_at = ?, clock_skew_s = COALESCE(?, clock_skew_s)"
            " WHERE device_key = ?",
            (_now(), clock_skew_s, device_key),
        )

    async def set_sync_device_id(self, device_key: str, sync_device_id: str | None) -> None:
        """Store (or forget, with None) sync's id for the device."""
        await self._run(
            self._execute, "UPDATE devices SET sync_device_id = ? WHERE device_key = ?", (sync_device_id, device_key)
        )

    # -- readings -------------------------------------------------------------------------------------

    async def add(self, device_key: str, items: Iterable[QueueItem], racp_next_sequence: int | None = None) -> int:
        """Store received records in one transaction (known client ids are skipped); returns rows added.

        ``racp_next_sequence`` advances the device's RACP cursor in the same transaction, so the cursor
        never runs ahead of what is on disk.
        """
        rows = [_reading_row(device_key, item) for item in items]

        def work(db: sqlite3.Connection) -> int:
            before = db.total_changes
            db.executemany(
                "INSERT INTO readings (client_id, device_key, type, sequence_number, measured_at, payload, flags,"
                " decoded, frame_hex, context_hex, status, reason, collected_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (client_id) DO NOTHING",
                rows,
            )
            added = db.total_changes - before
            if racp_next_sequence is not None:
                db.execute(
                    "UPDATE devices SET racp_next_sequence = MAX(COALESCE(racp_next_sequence, 0), ?)"
                    " WHERE device_key = ?",
                    (racp_next_sequence, device_key),
                )
            return added

        added = await self._run(self._transaction, work)
        if added:
            self.changed.set()
        return added

    async def next_batch(self, limit: int) -> Batch | None:
        """The device of the oldest pending reading and up to ``limit`` of its pending readings, oldest first."""

        def work() -> Batch | None:
            db = self._conn()
            oldest = db.execute(
                "SELECT device_key FROM readings WHERE status = 'pending' ORDER BY id LIMIT 1"
            ).fetchone()
            if oldest is None:
                return None
            device = _device(db.execute("SELECT * FROM devices WHERE device_key = ?", (oldest[0],)).fetchone())
            rows = db.execute(
                "SELECT id, client_id, payload FROM readings WHERE device_key = ? AND status = 'pending'"
                " ORDER BY id LIMIT ?",
                (device.device_key, limit),
            ).fetchall()
            return Batch(device, [PendingReading(row[0], row[1], json.loads(row[2])) for row in rows])

        return await self._run(work)

    async def mark_results(self, results: Mapping[str, UploadResult]) -> None:
        """Apply sync's per-item answers: accepted/duplicate -> sent, rejected -> rejected with its code."""
        now = _now()
        sent = [
            (r.status, r.server_id, now, cid) for cid, r in results.items() if r.status in ("accepted", "duplicate")
        ]
        rejected = [(_error_text(r.error), now, cid) for cid, r in results.items() if r.status == "rejected"]

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "UPDATE readings SET status = 'sent', server_status = ?, server_id = ?, sent_at = ?,"
                " attempts = attempts + 1 WHERE client_id = ? AND status = 'pending'",
                sent,
            )
            db.executemany(
                "UPDATE readings SET status = 'rejected', reason = ?, sent_at = ?, attempts = attempts + 1"
                " WHERE client_id = ? AND status = 'pending'",
                rejected,
            )

        await self._run(self._transaction, work)

    async def count_attempt(self, client_ids: list[str]) -> None:
        """Count an upload attempt that got no per-item answer (the API was down)."""
        await self._run(
            self._executemany,
            "UPDATE readings SET attempts = attempts + 1 WHERE client_id = ?",
            [(c,) for c in client_ids],
        )

    async def counts(self) -> dict[str, int]:
        """Rows per status (every status present, zero when empty)."""
        rows = await self._run(self._fetchall, "SELECT status, COUNT(*) FROM readings GROUP BY status", ())
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({row[0]: int(row[1]) for row in rows})
        return counts

    async def problems(self) -> list[dict[str, Any]]:
        """Unsendable and rejected rows with their reasons, decoded values and frames (the report)."""
        rows = await self._run(
            self._fetchall,
            "SELECT r.client_id, r.status, r.reason, r.type, r.measured_at, r.flags, r.decoded, r.frame_hex,"
            " d.model, d.serial, d.name FROM readings r JOIN devices d USING (device_key)"
            " WHERE r.status IN ('unsendable', 'rejected') ORDER BY r.id",
            (),
        )
        return [
            {
                "client_id": row["client_id"],
                "status": row["status"],
                "reason": row["reason"],
                "type": row["type"],
                "measured_at": row["measured_at"],
                "flags": json.loads(row["flags"]),
                "decoded": json.loads(row["decoded"]),
                "frame_hex": row["frame_hex"],
                "device": {"model": row["model"], "serial": row["serial"], "name": row["name"]},
            }
            for row in rows
        ]

    async def frames(self, device: str | None = None) -> list[dict[str, Any]]:
        """Every stored frame, oldest first, of one device (name, serial or key) or of all devices."""
        rows = await self._run(
            self._fetchall,
            "SELECT d.name, d.model, d.serial, d.kind, r.frame_hex, r.context_hex, r.measured_at, r.status, r.reason"
            " FROM readings r JOIN devices d USING (device_key)"
            " WHERE ? IS NULL OR d.name = ? OR d.serial = ? OR d.device_key = ? ORDER BY r.id",
            (device, device, device, device),
        )
        return [dict(row) for row in rows]

    # -- plumbing (queue thread) ----------------------------------------------------------------------

    def _execute(self, sql: str, params: tuple[Any, ...]) -> None:
        self._conn().execute(sql, params)

    def _executemany(self, sql: str, params: list[tuple[Any, ...]]) -> None:
        self._transaction(lambda db: db.executemany(sql, params))

    def _fetchone(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._conn().execute(sql, params).fetchone()
        return row

    def _fetchall(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()


def _device(row: sqlite3.Row) -> DeviceRow:
    return DeviceRow(
        device_key=row["device_key"],
        kind=row["kind"],
        model=row["model"],
        serial=row["serial"],
        manufacturer=row["manufacturer"],
        firmware=row["firmware"],
        name=row["name"],
        ble_address=row["ble_address"],
        sync_device_id=row["sync_device_id"],
        racp_next_sequence=row["racp_next_sequence"],
    )


def _reading_row(device_key: str, item: QueueItem) -> tuple[Any, ...]:
    return (
        item.client_id,
        device_key,
        item.type,
        item.sequence_number,
        item.measured_at,
        dumps(item.payload) if item.payload is not None else None,
        dumps(list(item.flags)),
        dumps(item.decoded),
        item.frame_hex,
        item.context_hex,
        "pending" if item.sendable else "unsendable",
        item.reason,
        _now(),
    )


def _error_text(error: Mapping[str, Any] | None) -> str:
    if not error:
        return "REJECTED"
    text = str(error.get("code", "REJECTED"))
    if error.get("message"):
        text += f": {error['message']}"
    if error.get("field"):
        text += f" ({error['field']})"
    return text
