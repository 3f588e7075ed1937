"""Bulk processed writes for the snapshot loader: many objects per statement, same rows as `processing`.

A snapshot chunk is processed like the worker processes one object (`processing`), with these
differences for speed: devices go first through the per-object path (there are few, and later readings
of the chunk need them), then the readings and settings of the whole chunk are transformed and written
with one multi-row statement per table: readings and device_settings (upserts by their unique keys),
their change_log rows and their outbox events (the rows shared/store would write one by one), the
failures, and the raw rows with their applied state. The owners' user rows are locked first, in id
order, as shared/store's change_log.lock_user does, so delta-sync cursors stay in commit order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiomysql

from services.migration import repo
from services.migration.owners import load_owners
from services.migration.processing import (
    Outcome,
    ProcessContext,
    failure_waits_for,
    process_object,
    reading_waits_for,
)
from services.migration.records import SourceRecord
from services.migration.writes import naive_utc
from shared.events.envelope import Event
from shared.legacy.transform import (
    DeviceBucket,
    ReadingRow,
    SettingsRow,
    TransformFailure,
    transform,
)


@dataclass
class ChunkReport:
    """Counts of one chunk."""

    rows: int = 0
    failed: int = 0
    ignored: int = 0
    skipped: int = 0
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


async def load_chunk(cur: aiomysql.Cursor, records: Sequence[SourceRecord], ctx: ProcessContext) -> ChunkReport:
    """Raw and processed rows of a snapshot chunk, in the caller's transaction."""
    report = ChunkReport()
    existing = await repo.lock_versions(cur, [r.key for r in records])

    def wanted(record: SourceRecord) -> bool:
        found = existing.get(record.key)
        return found is None or (found[0] <= record.version and (found[1] is None or found[1] < record.version))

    devices = [r for r in records if isinstance(ctx.mapping.entry(r.scope_type, r.bucket), DeviceBucket)]
    device_keys = {r.key for r in devices}
    others = [r for r in records if r.key not in device_keys]
    await repo.upsert_raw(cur, devices)
    for record in devices:
        if wanted(record):
            await process_object(cur, record.key, ctx)
            report.rows += 1
        else:
            report.skipped += 1

    todo = [r for r in others if wanted(r)]
    report.skipped += len(others) - len(todo)
    owners = await load_owners(cur, [(r.scope_type, r.scope_id, r.body) for r in todo])
    applied: dict[str, repo.Applied] = {}
    reading_rows: list[ReadingRow] = []
    settings_rows: list[SettingsRow] = []
    failures: list[repo.FailureParams] = []
    for record in todo:
        result = transform(record.to_export_json(), ctx.mapping, owners)
        if isinstance(result, TransformFailure):
            failures.append(
                (record.key, record.bucket, record.version, result.pattern, result.field, result.message, 1, False)
            )
            waiting = failure_waits_for(result, record.scope_type, record.scope_id, record.body, owners)
            applied[record.key] = repo.Applied(Outcome.FAILED, waiting)
            report.failed += 1
            report.failures[result.pattern] += 1
            continue
        waiting = None
        for row in result.rows:
            if isinstance(row, ReadingRow):
                reading_rows.append(row)
                waiting = reading_waits_for(result, row, record.body)
            elif isinstance(row, SettingsRow):
                settings_rows.append(row)
        applied[record.key] = repo.Applied(Outcome.ROWS if result.rows else Outcome.IGNORED, waiting)
        if result.rows:
            report.rows += 1
        else:
            report.ignored += 1

    user_ids = sorted({row.user_id for row in reading_rows} | {row.user_id for row in settings_rows})
    if user_ids:
        await cur.execute(
            f"SELECT id FROM users WHERE id IN ({_placeholders(len(user_ids))}) ORDER BY id FOR UPDATE",  # noqa: S608
            tuple(user_ids),
        )
        await cur.fetchall()
    await _write_readings(cur, reading_rows, ctx)
    await _write_settings(cur, settings_rows, ctx)
    await repo.record_failures(cur, failures)
    await repo.upsert_raw(cur, others, applied)
    return report


async def _write_readings(cur: aiomysql.Cursor, rows: Sequence[ReadingRow], ctx: ProcessContext) -> None:
    if not rows:
        return
    await cur.executemany(
        "INSERT INTO readings (user_id, device_id, type, client_id, measured_at, primary_value, original_unit, "
        "reading_values, source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE device_id = VALUES(device_id), type = VALUES(type), "
        "measured_at = VALUES(measured_at), primary_value = VALUES(primary_value), "
        "original_unit = VALUES(original_unit), reading_values = VALUES(reading_values), source = VALUES(source), "
        "created_at = VALUES(created_at)",
        [
            (
                row.user_id,
                row.device_id,
                row.type,
                row.client_id,
                naive_utc(row.measured_at),
                row.primary_value,
                row.original_unit,
                _dumps(row.reading_values),
                row.source,
                naive_utc(row.created_at),
            )
            for row in rows
        ],
    )
    users = sorted({row.user_id for row in rows})
    clients = sorted({row.client_id for row in rows})
    await cur.execute(
        f"SELECT user_id, client_id, id FROM readings WHERE user_id IN ({_placeholders(len(users))}) "  # noqa: S608
        f"AND client_id IN ({_placeholders(len(clients))})",
        (*users, *clients),
    )
    ids = {(user_id, client_id): int(reading_id) for user_id, client_id, reading_id in await cur.fetchall()}
    ordered = sorted(rows, key=lambda row: (row.user_id, ids[(row.user_id, row.client_id)]))
    await cur.executemany(
        "INSERT INTO change_log (user_id, entity, entity_id, op) VALUES (%s, %s, %s, %s)",
        [(row.user_id, "reading", str(ids[(row.user_id, row.client_id)]), "upsert") for row in ordered],
    )
    events = []
    for row in ordered:
        event = Event(
            type="reading.created",
            user_id=row.user_id,
            region=ctx.events.region,
            data={
                "reading_id": ids[(row.user_id, row.client_id)],
                "device_id": row.device_id,
                "type": row.type,
                "measured_at": naive_utc(row.measured_at).isoformat() + "Z",
                "primary_value": row.primary_value,
            },
        )
        events.append((event.id, ctx.events.topic, row.user_id, event.model_dump_json()))
    await cur.executemany("INSERT INTO outbox (event_id, topic, msg_key, payload) VALUES (%s, %s, %s, %s)", events)


async def _write_settings(cur: aiomysql.Cursor, rows: Sequence[SettingsRow], ctx: ProcessContext) -> None:
    if not rows:
        return
    await cur.executemany(
        "INSERT INTO device_settings (device_id, user_id, version, document, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE version = VALUES(version), "
        "document = VALUES(document), updated_at = VALUES(updated_at)",
        [(r.device_id, r.user_id, r.version, _dumps(r.document), naive_utc(r.updated_at)) for r in rows],
    )
    ordered = sorted(rows, key=lambda row: row.user_id)
    await cur.executemany(
        "INSERT INTO change_log (user_id, entity, entity_id, op) VALUES (%s, %s, %s, %s)",
        [(row.user_id, "settings", row.device_id, "upsert") for row in ordered],
    )
    events = []
    for row in ordered:
        event = Event(
            type="settings.changed",
            user_id=row.user_id,
            region=ctx.events.region,
            data={"device_id": row.device_id, "version": row.version},
        )
        events.append((event.id, ctx.events.topic, row.user_id, event.model_dump_json()))
    await cur.executemany("INSERT INTO outbox (event_id, topic, msg_key, payload) VALUES (%s, %s, %s, %s)", events)
