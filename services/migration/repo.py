"""SQL of the migration tables (infra/db/migrations/0006_migration.sql), one function per statement.

Every statement on the master's and the workers' path goes by a primary key or an index:
raw_kii_objects by object_key (PK) or waiting_for, migration_failures by object_key, migration_things
by thing_id, migration_offsets by (topic, partition_id).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomysql

from services.migration.inserts import STATEMENTS, Inserter, Table
from services.migration.records import SourceRecord, legacy_record
from shared.legacy.transform.records import LegacyRecord

_RAW_COLUMN_NAMES = (
    "object_key",
    "app_id",
    "scope_type",
    "scope_id",
    "bucket",
    "object_id",
    "version",
    "op",
    "modified_at",
    "body",
    "source_partition",
    "source_offset",
    "source_timestamp_ms",
    "applied_version",
    "outcome",
    "waiting_for",
    "processed_at",
)
_RAW_COLUMNS = ", ".join(_RAW_COLUMN_NAMES)

# Newer version wins: every column takes the incoming value only when the incoming version is higher;
# `version` itself is assigned last, because MySQL evaluates the assignments left to right. A DELETE
# keeps the last live body (the worker needs it to name the rows the object had become).
_NEWER = "VALUES(version) > version"
_UPSERT_RAW = (
    f"INSERT INTO raw_kii_objects ({_RAW_COLUMNS}) VALUES "  # noqa: S608 - constant columns
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE "
    f"body = IF({_NEWER}, IF(VALUES(op) = 'DELETE', body, VALUES(body)), body), "
    f"op = IF({_NEWER}, VALUES(op), op), "
    f"app_id = IF({_NEWER}, VALUES(app_id), app_id), "
    f"modified_at = IF({_NEWER}, VALUES(modified_at), modified_at), "
    f"source_partition = IF({_NEWER}, VALUES(source_partition), source_partition), "
    f"source_offset = IF({_NEWER}, VALUES(source_offset), source_offset), "
    f"source_timestamp_ms = IF({_NEWER}, VALUES(source_timestamp_ms), source_timestamp_ms), "
    f"received_at = IF({_NEWER}, CURRENT_TIMESTAMP(6), received_at), "
    f"applied_version = IF({_NEWER} AND VALUES(applied_version) IS NOT NULL, VALUES(applied_version), "
    "applied_version), "
    f"outcome = IF({_NEWER} AND VALUES(applied_version) IS NOT NULL, VALUES(outcome), outcome), "
    f"processed_at = IF({_NEWER} AND VALUES(applied_version) IS NOT NULL, VALUES(processed_at), processed_at), "
    f"waiting_for = IF({_NEWER} AND VALUES(applied_version) IS NOT NULL, VALUES(waiting_for), waiting_for), "
    "version = GREATEST(version, VALUES(version))"
)


# the snapshot loader's fresh raw rows (`insert_raw`); with statements it is the upsert
RAW_TABLE = Table(
    "raw_kii_objects",
    _RAW_COLUMN_NAMES,
    _UPSERT_RAW,
    nullable=frozenset({"body", "source_timestamp_ms", "applied_version", "outcome", "waiting_for", "processed_at"}),
)


@dataclass(frozen=True, slots=True)
class Applied:
    """What the processed schema got for a record loaded in bulk (written with its raw row)."""

    outcome: str
    waiting_for: str | None = None


def utcnow() -> datetime:
    """Now as naive UTC (the DATETIME columns hold UTC)."""
    return datetime.now(UTC).replace(tzinfo=None)


def raw_params(record: SourceRecord, applied: Applied | None, now: datetime) -> tuple[Any, ...]:
    return (
        record.key,
        record.app_id,
        record.scope_type,
        record.scope_id or "",
        record.bucket,
        record.object_id,
        record.version,
        record.op,
        record.modified_at,
        record.body_json,
        record.partition,
        record.offset,
        record.timestamp_ms,
        None if applied is None else record.version,
        None if applied is None else applied.outcome,
        None if applied is None else applied.waiting_for,
        None if applied is None else now,
    )


async def upsert_raw(
    cur: aiomysql.Cursor, records: Sequence[SourceRecord], applied: Mapping[str, Applied] | None = None
) -> None:
    """Insert or update raw rows, newer version wins (one multi-row statement per ~1 MB).

    Rows go in key order, the order in which workers lock them (`lock_raws`): the master's upsert and a
    worker's transaction then wait for each other instead of deadlocking. A key's versions may come in
    any order; the newer one wins either way.
    """
    await insert_raw(cur, records, applied, STATEMENTS)


async def insert_raw(
    cur: aiomysql.Cursor,
    records: Sequence[SourceRecord],
    applied: Mapping[str, Applied] | None,
    inserter: Inserter,
) -> None:
    """`upsert_raw` through inserter: only for keys without a raw row (locked by `lock_versions`) unless
    inserter is the statement path."""
    if records:
        applied = applied or {}
        ordered = sorted(records, key=lambda record: record.key)
        now = utcnow()  # one transaction: one processed_at
        await inserter.insert(cur, RAW_TABLE, [raw_params(r, applied.get(r.key), now) for r in ordered])


@dataclass(frozen=True, slots=True)
class RawRow:
    """A raw_kii_objects row."""

    key: str
    app_id: str
    scope_type: str
    scope_id: str | None
    bucket: str
    object_id: str
    version: int
    op: str
    modified_at: int
    body: dict[str, Any] | None
    applied_version: int | None
    outcome: str | None
    waiting_for: str | None

    @property
    def pending(self) -> bool:
        """The processed schema does not reflect this version yet."""
        return self.applied_version is None or self.applied_version < self.version

    def legacy(self) -> LegacyRecord:
        """The row as the transform reads it; a DELETE has no object."""
        return legacy_record(self, None if self.op == "DELETE" else self.body)


_RAW_ROW_SELECT = (
    "SELECT object_key, app_id, scope_type, scope_id, bucket, object_id, version, op, modified_at, body, "
    "applied_version, outcome, waiting_for FROM raw_kii_objects"
)


async def lock_raw(cur: aiomysql.Cursor, key: str) -> RawRow | None:
    """The raw row of key, locked for the rest of the transaction."""
    await cur.execute(f"{_RAW_ROW_SELECT} WHERE object_key = %s FOR UPDATE", (key,))
    row = await cur.fetchone()
    return None if row is None else _raw_row(row)


async def lock_raws(cur: aiomysql.Cursor, keys: Sequence[str]) -> dict[str, RawRow]:
    """key -> raw row of the keys that have one, locked (in key order, as every locker takes them)."""
    if not keys:
        return {}
    ordered = sorted(set(keys))
    placeholders = ", ".join(["%s"] * len(ordered))
    await cur.execute(
        f"{_RAW_ROW_SELECT} WHERE object_key IN ({placeholders}) ORDER BY object_key FOR UPDATE",
        tuple(ordered),
    )
    return {row[0]: _raw_row(row) for row in await cur.fetchall()}


def _raw_row(row: Sequence[Any]) -> RawRow:
    body = row[9]
    return RawRow(
        key=row[0],
        app_id=row[1],
        scope_type=row[2],
        scope_id=row[3] or None,
        bucket=row[4],
        object_id=row[5],
        version=int(row[6]),
        op=row[7],
        modified_at=int(row[8]),
        body=json.loads(body) if body is not None else None,
        applied_version=None if row[10] is None else int(row[10]),
        outcome=row[11],
        waiting_for=row[12],
    )


async def lock_versions(cur: aiomysql.Cursor, keys: Sequence[str]) -> dict[str, tuple[int, int | None]]:
    """key -> (version, applied_version) of the raw rows among keys, locked (snapshot chunks)."""
    if not keys:
        return {}
    placeholders = ", ".join(["%s"] * len(keys))
    await cur.execute(
        f"SELECT object_key, version, applied_version FROM raw_kii_objects "  # noqa: S608 - placeholders only
        f"WHERE object_key IN ({placeholders}) FOR UPDATE",
        tuple(keys),
    )
    return {key: (int(v), None if a is None else int(a)) for key, v, a in await cur.fetchall()}


async def mark_versions_applied(
    cur: aiomysql.Cursor, keys: Sequence[str], outcome: str, waiting_for: str | None
) -> None:
    """Record that the processed schema now reflects the (locked) current version of each key."""
    if keys:
        placeholders = ", ".join(["%s"] * len(keys))
        await cur.execute(
            "UPDATE raw_kii_objects SET applied_version = version, outcome = %s, waiting_for = %s, "  # noqa: S608
            f"processed_at = CURRENT_TIMESTAMP(6) WHERE object_key IN ({placeholders})",
            (outcome, waiting_for, *keys),
        )


async def mark_applied(cur: aiomysql.Cursor, key: str, version: int, outcome: str, waiting_for: str | None) -> None:
    """Record that the processed schema now reflects version of key."""
    await cur.execute(
        "UPDATE raw_kii_objects SET applied_version = %s, outcome = %s, waiting_for = %s, "
        "processed_at = CURRENT_TIMESTAMP(6) WHERE object_key = %s",
        (version, outcome, waiting_for, key),
    )


async def waiting_keys(cur: aiomysql.Cursor, tokens: Sequence[str]) -> list[str]:
    """Keys of objects waiting for one of tokens (a device that has just been written), locked.

    A locking read: it sees marks committed after this transaction's snapshot and waits for one in
    flight, so a concurrent object that missed the device is not missed here (see `owners`).
    """
    if not tokens:
        return []
    placeholders = ", ".join(["%s"] * len(tokens))
    await cur.execute(
        f"SELECT object_key FROM raw_kii_objects WHERE waiting_for IN ({placeholders}) "  # noqa: S608
        "ORDER BY object_key FOR UPDATE",
        tuple(tokens),
    )
    return [key for (key,) in await cur.fetchall()]


async def record_failure(
    cur: aiomysql.Cursor,
    key: str,
    bucket: str,
    version: int,
    pattern: str,
    field: str | None,
    message: str,
    *,
    receive_count: int = 1,
    dead_lettered: bool = False,
) -> None:
    """Insert or refresh the failure of key (first_seen_at stays; last_seen_at moves)."""
    await record_failures(cur, [(key, bucket, version, pattern, field, message, receive_count, dead_lettered)])


FailureParams = tuple[str, str, int, str, str | None, str, int, bool]


async def record_failures(cur: aiomysql.Cursor, failures: Iterable[FailureParams]) -> None:
    """Many record_failure at once: (key, bucket, version, pattern, field, message, receive_count, dead)."""
    rows = [
        (
            key,
            bucket,
            pattern,
            field[:250] if field else None,
            message[:1000],
            version,
            count,
            utcnow() if dead else None,
        )
        for key, bucket, version, pattern, field, message, count, dead in failures
    ]
    if rows:
        await cur.executemany(
            "INSERT INTO migration_failures (object_key, bucket, pattern, field, message, version, receive_count, "
            "dead_lettered_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE pattern = VALUES(pattern), field = VALUES(field), message = VALUES(message), "
            "version = VALUES(version), receive_count = VALUES(receive_count), "
            "last_seen_at = CURRENT_TIMESTAMP(6), dead_lettered_at = COALESCE(VALUES(dead_lettered_at), "
            "dead_lettered_at)",
            rows,
        )


async def clear_failure(cur: aiomysql.Cursor, key: str) -> None:
    """The object migrated (or is gone): it is no longer a failure."""
    await clear_failures(cur, [key])


async def clear_failures(cur: aiomysql.Cursor, keys: Sequence[str]) -> None:
    """The objects migrated: they are no longer failures."""
    if keys:
        placeholders = ", ".join(["%s"] * len(keys))
        await cur.execute(f"DELETE FROM migration_failures WHERE object_key IN ({placeholders})", tuple(keys))  # noqa: S608


@dataclass(frozen=True, slots=True)
class FailureRow:
    """A migration_failures row, with the owner scope and source position of its raw row.

    scope_type is None when there is no raw row (a malformed record or an unreadable message: nothing
    of the object was stored, so there is nothing to process again).
    """

    key: str
    bucket: str
    pattern: str
    version: int
    last_seen_at: datetime
    scope_type: str | None
    scope_id: str | None
    partition: int
    offset: int
    timestamp_ms: int | None


async def select_failures(cur: aiomysql.Cursor, patterns: Sequence[str], bucket: str | None) -> list[FailureRow]:
    """The failures of patterns (all when empty) and bucket (any when None), in key order (`migrate requeue`)."""
    conditions: list[str] = ["TRUE"]
    params: list[str] = []
    if patterns:
        conditions.append(f"f.pattern IN ({', '.join(['%s'] * len(patterns))})")
        params.extend(patterns)
    if bucket is not None:
        conditions.append("f.bucket = %s")
        params.append(bucket)
    await cur.execute(
        "SELECT f.object_key, f.bucket, f.pattern, f.version, f.last_seen_at, r.scope_type, r.scope_id, "  # noqa: S608
        "r.source_partition, r.source_offset, r.source_timestamp_ms FROM migration_failures f "
        "LEFT JOIN raw_kii_objects r ON r.object_key = f.object_key "
        f"WHERE {' AND '.join(conditions)} ORDER BY f.object_key",
        tuple(params),
    )
    return [
        FailureRow(
            key=row[0],
            bucket=row[1],
            pattern=row[2],
            version=int(row[3]),
            last_seen_at=row[4],
            scope_type=row[5],
            scope_id=row[6] or None,
            partition=int(row[7] or 0),
            offset=int(row[8] or 0),
            timestamp_ms=None if row[9] is None else int(row[9]),
        )
        for row in await cur.fetchall()
    ]


ThingLink = tuple[str, str, str, str]  # (thing id, user id, device id, object key)


THINGS = Table(
    "migration_things",
    ("thing_id", "user_id", "device_id", "object_key"),
    "INSERT INTO migration_things (thing_id, user_id, device_id, object_key) VALUES (%s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), device_id = VALUES(device_id), object_key = VALUES(object_key)",
)


async def upsert_things(cur: aiomysql.Cursor, links: Sequence[ThingLink], inserter: Inserter = STATEMENTS) -> None:
    """Remember which device each Kii thing became (through inserter: only for things without a link yet,
    unless it is the statements' upsert)."""
    await inserter.insert(cur, THINGS, links)


async def read_offsets(cur: aiomysql.Cursor, topic: str) -> dict[int, int]:
    """partition -> next offset to read of topic (empty before the snapshot was loaded)."""
    await cur.execute("SELECT partition_id, next_offset FROM migration_offsets WHERE topic = %s", (topic,))
    return {int(p): int(o) for p, o in await cur.fetchall()}


async def init_offsets(cur: aiomysql.Cursor, topic: str, offsets: Mapping[int, int]) -> None:
    """Write the snapshot header's offsets where none are stored yet (never moves an offset back).

    An upsert that changes nothing rather than INSERT IGNORE: the driver turns each ignored duplicate's
    server warning into a Python warning on stderr, which a resumed `migrate snapshot` printed."""
    await cur.executemany(
        "INSERT INTO migration_offsets (topic, partition_id, next_offset, updated_by) "
        "VALUES (%s, %s, %s, 'snapshot') ON DUPLICATE KEY UPDATE next_offset = next_offset",
        [(topic, p, o) for p, o in sorted(offsets.items())],
    )


async def advance_offsets(cur: aiomysql.Cursor, topic: str, offsets: Mapping[int, int]) -> None:
    """Move the stored offsets forward to offsets (a replayed, older position never moves them back)."""
    if offsets:
        await cur.executemany(
            "INSERT INTO migration_offsets (topic, partition_id, next_offset, updated_by) "
            "VALUES (%s, %s, %s, 'master') ON DUPLICATE KEY UPDATE "
            "next_offset = GREATEST(next_offset, VALUES(next_offset)), updated_by = VALUES(updated_by)",
            [(topic, p, o) for p, o in sorted(offsets.items())],
        )


async def snapshot_progress(cur: aiomysql.Cursor, snapshot_id: str) -> tuple[int, datetime | None] | None:
    """(records done, finished at) of a snapshot load, None when it never started."""
    await cur.execute(
        "SELECT records_done, finished_at FROM migration_snapshot_loads WHERE snapshot_id = %s", (snapshot_id,)
    )
    row = await cur.fetchone()
    return None if row is None else (int(row[0]), row[1])


async def save_snapshot_progress(
    cur: aiomysql.Cursor, snapshot_id: str, file_name: str, records_done: int, *, finished: bool = False
) -> None:
    """Checkpoint a snapshot load (in the transaction of the chunk it ends)."""
    await cur.execute(
        "INSERT INTO migration_snapshot_loads (snapshot_id, file_name, records_done, finished_at) "
        "VALUES (%s, %s, %s, IF(%s, CURRENT_TIMESTAMP(6), NULL)) ON DUPLICATE KEY UPDATE "
        "records_done = VALUES(records_done), updated_at = CURRENT_TIMESTAMP(6), "
        "finished_at = COALESCE(VALUES(finished_at), finished_at)",
        (snapshot_id, file_name[:1000], records_done, 1 if finished else 0),
    )
