"""Bulk processed writes for the snapshot loader: many objects per statement, same rows as `processing`.

A snapshot chunk is processed like the worker processes one object (`processing`), with these
differences for speed: devices go first (later readings of the chunk look them up). A device seen for
the first time, whose (user, model, serial) no other device has, is written with the chunk's other new
devices in multi-row statements (devices, change_log, device.paired events, thing links, raw rows with
their applied state), the rows shared/store's pair_device would write one by one; anything else (a
re-pair, a duplicate, a failure, a raw row `follow` already wrote) takes the per-object path. Then the
readings and settings of the whole chunk are transformed and written with one multi-row statement per
table: readings and device_settings (upserts by their unique keys), their change_log rows and their
outbox events, the failures, and the raw rows with their applied state. The owners' user rows are
locked first, in id order, as shared/store's change_log.lock_user does, so delta-sync cursors stay in
commit order.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiomysql

from services.migration import repo
from services.migration.inserts import STATEMENTS, Inserter, Table
from services.migration.owners import load_owners
from services.migration.processing import (
    Outcome,
    ProcessContext,
    device_tokens,
    failure_waits_for,
    process_object,
    reading_waits_for,
)
from services.migration.records import SourceRecord
from services.migration.writes import naive_utc
from shared.events.envelope import Event
from shared.legacy.transform import (
    DeviceBucket,
    DeviceRow,
    OwnerResolver,
    ReadingRow,
    SettingsRow,
    Transformed,
    TransformFailure,
    transform,
)
from shared.legacy.transform.records import compact_json


@dataclass
class ChunkReport:
    """Counts of one chunk."""

    rows: int = 0
    failed: int = 0
    ignored: int = 0
    skipped: int = 0
    failures: dict[str, int] = field(default_factory=lambda: defaultdict(int))


_PAIRED = repo.Applied(Outcome.ROWS)

CHANGE_LOG = Table(
    "change_log",
    ("user_id", "entity", "entity_id", "op"),
    "INSERT INTO change_log (user_id, entity, entity_id, op) VALUES (%s, %s, %s, %s)",
)
OUTBOX = Table(
    "outbox",
    ("event_id", "topic", "msg_key", "payload"),
    "INSERT INTO outbox (event_id, topic, msg_key, payload) VALUES (%s, %s, %s, %s)",
)
# new devices only (`_new_devices`); their optional text fields are never empty strings (the transform
# refuses an empty one), so an empty field of the LOAD DATA file can stand for NULL
DEVICES = Table(
    "devices",
    (
        "id",
        "user_id",
        "kind",
        "model",
        "serial",
        "firmware",
        "name",
        "ble_address",
        "paired_at",
        "created_at",
        "updated_at",
    ),
    "INSERT INTO devices (id, user_id, kind, model, serial, firmware, name, ble_address, paired_at, created_at, "
    "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
    nullable=frozenset({"firmware", "name", "ble_address"}),
)
READINGS = Table(
    "readings",
    (
        "user_id",
        "device_id",
        "type",
        "client_id",
        "measured_at",
        "primary_value",
        "original_unit",
        "reading_values",
        "source",
        "created_at",
    ),
    "INSERT INTO readings (user_id, device_id, type, client_id, measured_at, primary_value, original_unit, "
    "reading_values, source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE device_id = VALUES(device_id), type = VALUES(type), "
    "measured_at = VALUES(measured_at), primary_value = VALUES(primary_value), "
    "original_unit = VALUES(original_unit), reading_values = VALUES(reading_values), source = VALUES(source), "
    "created_at = VALUES(created_at)",
    nullable=frozenset({"device_id", "primary_value", "original_unit"}),
)


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


async def load_chunk(
    cur: aiomysql.Cursor, records: Sequence[SourceRecord], ctx: ProcessContext, inserter: Inserter = STATEMENTS
) -> ChunkReport:
    """Raw and processed rows of a snapshot chunk, in the caller's transaction.

    Rows of objects without a raw row yet (the bulk of a first load) go through inserter; rows that may
    exist already (an object `follow` wrote, a reading of an older version) are upserted by statements.
    """
    report = ChunkReport()
    existing = await repo.lock_versions(cur, [r.key for r in records])
    device_keys = await load_devices(cur, records, existing, ctx, inserter, report)
    others = [r for r in records if r.key not in device_keys]
    todo = [r for r in others if _wanted(existing, r)]
    report.skipped += len(others) - len(todo)
    owners = await load_owners(cur, [(r.scope_type, r.scope_id, r.body) for r in todo])
    objects = transform_objects(todo, ctx, owners, report)
    reading_rows = [row for key, row in objects.readings if key not in existing]  # new readings
    known_reading_rows = [row for key, row in objects.readings if key in existing]  # the row may exist: upserted
    await lock_users(cur, objects.user_ids)
    await write_new_readings(cur, reading_rows, ctx, inserter)
    await write_new_readings(cur, known_reading_rows, ctx)
    await write_settings(cur, objects.settings, ctx, inserter)
    await repo.record_failures(cur, objects.failures)
    await repo.upsert_raw(cur, [r for r in others if r.key in existing], objects.applied)
    await repo.insert_raw(cur, [r for r in others if r.key not in existing], objects.applied, inserter)
    return report


def _wanted(existing: Mapping[str, tuple[int, int | None]], record: SourceRecord) -> bool:
    """A record newer than its raw row's version and applied version (`repo.lock_versions`), or without one."""
    found = existing.get(record.key)
    return found is None or (found[0] <= record.version and (found[1] is None or found[1] < record.version))


def is_device(record: SourceRecord, ctx: ProcessContext) -> bool:
    """Whether the record's bucket holds devices (paired before the chunk's other objects)."""
    return isinstance(ctx.mapping.entry(record.scope_type, record.bucket), DeviceBucket)


async def load_devices(
    cur: aiomysql.Cursor,
    records: Sequence[SourceRecord],
    existing: Mapping[str, tuple[int, int | None]],
    ctx: ProcessContext,
    inserter: Inserter,
    report: ChunkReport,
) -> set[str]:
    """Pair the chunk's devices (new ones in bulk, the rest one by one); returns the device records' keys."""
    devices = [r for r in records if is_device(r, ctx)]
    new_devices = await _new_devices(cur, [r for r in devices if r.key not in existing], ctx)
    await repo.upsert_raw(cur, [r for r in devices if r.key not in new_devices])
    for record in devices:
        if record.key in new_devices:
            report.rows += 1
        elif _wanted(existing, record):
            await process_object(cur, record.key, ctx)
            report.rows += 1
        else:
            report.skipped += 1
    await _write_devices(cur, list(new_devices.values()), ctx, inserter)
    return {r.key for r in devices}


@dataclass
class ObjectRows:
    """What the transform made of a chunk's objects other than devices."""

    readings: list[tuple[str, ReadingRow]] = field(default_factory=list)  # (record key, row)
    settings: list[SettingsRow] = field(default_factory=list)
    failures: list[repo.FailureParams] = field(default_factory=list)
    applied: dict[str, repo.Applied] = field(default_factory=dict)

    @property
    def user_ids(self) -> set[str]:
        """The users whose rows these are (locked before writing them)."""
        return {row.user_id for _, row in self.readings} | {row.user_id for row in self.settings}


def transform_objects(
    records: Sequence[SourceRecord], ctx: ProcessContext, owners: OwnerResolver, report: ChunkReport
) -> ObjectRows:
    """Transform records (none a device) into their rows, failures and applied states, counted in report."""
    objects = ObjectRows()
    for record in records:
        result = transform(record.legacy(), ctx.mapping, owners)
        if isinstance(result, TransformFailure):
            objects.failures.append(
                (record.key, record.bucket, record.version, result.pattern, result.field, result.message, 1, False)
            )
            waiting = failure_waits_for(result, record.scope_type, record.scope_id, record.body, owners)
            objects.applied[record.key] = repo.Applied(Outcome.FAILED, waiting)
            report.failed += 1
            report.failures[result.pattern] += 1
            continue
        waiting = None
        for row in result.rows:
            if isinstance(row, ReadingRow):
                objects.readings.append((record.key, row))
                waiting = reading_waits_for(result, row, record.body)
            elif isinstance(row, SettingsRow):
                objects.settings.append(row)
        objects.applied[record.key] = repo.Applied(Outcome.ROWS if result.rows else Outcome.IGNORED, waiting)
        if result.rows:
            report.rows += 1
        else:
            report.ignored += 1
    return objects


async def lock_users(cur: aiomysql.Cursor, user_ids: set[str]) -> None:
    """The owners' user rows, locked in id order as shared/store's change_log.lock_user does one by one."""
    if user_ids:
        ordered = sorted(user_ids)
        await cur.execute(
            f"SELECT id FROM users WHERE id IN ({_placeholders(len(ordered))}) ORDER BY id FOR UPDATE",  # noqa: S608
            tuple(ordered),
        )
        await cur.fetchall()


@dataclass(frozen=True, slots=True)
class _NewDevice:
    record: SourceRecord
    row: DeviceRow
    thing_id: str | None


async def _new_devices(
    cur: aiomysql.Cursor, records: Sequence[SourceRecord], ctx: ProcessContext
) -> dict[str, _NewDevice]:
    """key -> device of the records that pair a device nobody has yet (the bulk path's share)."""
    owners = await load_owners(cur, [(r.scope_type, r.scope_id, r.body) for r in records])
    found: dict[str, _NewDevice] = {}
    for record in records:
        result = transform(record.legacy(), ctx.mapping, owners)
        if isinstance(result, Transformed) and len(result.rows) == 1 and isinstance(result.rows[0], DeviceRow):
            found[record.key] = _NewDevice(record, result.rows[0], result.thing_id)
    if not found:
        return {}
    pairs = Counter((d.row.user_id, d.row.model, d.row.serial) for d in found.values())
    users = sorted({d.row.user_id for d in found.values()})
    ids = sorted(d.row.id for d in found.values())
    await cur.execute(
        f"SELECT id, user_id, model, serial FROM devices WHERE user_id IN ({_placeholders(len(users))}) "  # noqa: S608
        f"OR id IN ({_placeholders(len(ids))}) LOCK IN SHARE MODE",
        (*users, *ids),
    )
    taken_ids, taken_pairs = set(), set()
    for device_id, user_id, model, serial in await cur.fetchall():
        taken_ids.add(device_id)
        taken_pairs.add((user_id, model, serial))
    return {
        key: device
        for key, device in found.items()
        if device.row.id not in taken_ids
        and (pair := (device.row.user_id, device.row.model, device.row.serial)) not in taken_pairs
        and pairs[pair] == 1
    }


async def _write_devices(
    cur: aiomysql.Cursor, devices: Sequence[_NewDevice], ctx: ProcessContext, inserter: Inserter
) -> None:
    """Pair new devices with their legacy fields and times, as pair_device plus `writes` would one by one."""
    if not devices:
        return
    ordered = sorted(devices, key=lambda d: (d.row.user_id, d.row.id))
    await lock_users(cur, {d.row.user_id for d in ordered})
    await inserter.insert(
        cur,
        DEVICES,
        [
            (
                d.row.id,
                d.row.user_id,
                d.row.kind,
                d.row.model,
                d.row.serial,
                d.row.firmware,
                d.row.name,
                d.row.ble_address,
                naive_utc(d.row.paired_at),
                naive_utc(d.row.created_at),
                naive_utc(d.row.updated_at),
            )
            for d in ordered
        ],
    )
    await inserter.insert(cur, CHANGE_LOG, [(d.row.user_id, "device", d.row.id, "upsert") for d in ordered])
    events = []
    for d in ordered:
        data = {"device_id": d.row.id, "kind": d.row.kind, "model": d.row.model, "firmware": d.row.firmware}
        event = Event(type="device.paired", user_id=d.row.user_id, region=ctx.events.region, data=data)
        events.append((event.id, ctx.events.topic, d.row.user_id, event.model_dump_json()))
    await inserter.insert(cur, OUTBOX, events)
    links = [(d.thing_id, d.row.user_id, d.row.id, d.record.key) for d in ordered if d.thing_id]
    await repo.upsert_things(cur, links, inserter)
    applied = dict.fromkeys((d.record.key for d in devices), _PAIRED)
    await repo.insert_raw(cur, [d.record for d in devices], applied, inserter)
    # objects of earlier chunks (or of follow) kept waiting for one of these devices: process them now,
    # after the devices' own change_log rows and events (held back by a `GatheredLoads`)
    tokens = [token for d in ordered for token in device_tokens(d.row, d.thing_id)]
    waiting = await repo.waiting_keys(cur, tokens)
    if waiting:
        await inserter.flush(cur)
    for key in waiting:
        await process_object(cur, key, ctx, retry=True)


async def write_new_readings(
    cur: aiomysql.Cursor, rows: Sequence[ReadingRow], ctx: ProcessContext, inserter: Inserter = STATEMENTS
) -> None:
    """Readings with their change_log rows and reading.created events (every row must be new: an existing
    one would be updated by the statement path's upsert and announced as created again, and would make
    LOAD DATA raise `LoadMismatch`)."""
    if not rows:
        return
    numbered = await inserter.insert_numbered(cur, READINGS, [reading_params(row) for row in rows])
    if numbered is not None:
        ids = {(row.user_id, row.client_id): reading_id for row, reading_id in zip(rows, numbered, strict=True)}
    else:
        ids = await _reading_ids(cur, rows)
    ordered = sorted(rows, key=lambda row: (row.user_id, ids[(row.user_id, row.client_id)]))
    await inserter.insert(
        cur,
        CHANGE_LOG,
        [(row.user_id, "reading", str(ids[(row.user_id, row.client_id)]), "upsert") for row in ordered],
    )
    events = []
    for row in ordered:
        event = reading_event(row, ids[(row.user_id, row.client_id)], ctx)
        events.append((event.id, ctx.events.topic, row.user_id, event.model_dump_json()))
    await inserter.insert(cur, OUTBOX, events)


def reading_event(row: ReadingRow, reading_id: int, ctx: ProcessContext) -> Event:
    """The reading.created event of a migrated reading (`reading_id` first in its data: see
    `prepared.outbox_around_id`)."""
    return Event(
        type="reading.created",
        user_id=row.user_id,
        region=ctx.events.region,
        data={
            "reading_id": reading_id,
            "device_id": row.device_id,
            "type": row.type,
            "measured_at": naive_utc(row.measured_at).isoformat() + "Z",
            "primary_value": row.primary_value,
        },
    )


def reading_params(row: ReadingRow) -> tuple[object, ...]:
    """A reading's values in `READINGS.columns` order."""
    return (
        row.user_id,
        row.device_id,
        row.type,
        row.client_id,
        naive_utc(row.measured_at),
        row.primary_value,
        row.original_unit,
        compact_json(row.reading_values),
        row.source,
        naive_utc(row.created_at),
    )


async def _reading_ids(cur: aiomysql.Cursor, rows: Sequence[ReadingRow]) -> dict[tuple[str, str], int]:
    """(user id, client id) -> id of the rows' readings, read back."""
    users = sorted({row.user_id for row in rows})
    clients = sorted({row.client_id for row in rows})
    await cur.execute(
        f"SELECT user_id, client_id, id FROM readings WHERE user_id IN ({_placeholders(len(users))}) "  # noqa: S608
        f"AND client_id IN ({_placeholders(len(clients))})",
        (*users, *clients),
    )
    return {(user_id, client_id): int(reading_id) for user_id, client_id, reading_id in await cur.fetchall()}


async def write_settings(
    cur: aiomysql.Cursor, rows: Sequence[SettingsRow], ctx: ProcessContext, inserter: Inserter
) -> None:
    """Device settings (upserts by device), their change_log rows and settings.changed events."""
    if not rows:
        return
    await cur.executemany(
        "INSERT INTO device_settings (device_id, user_id, version, document, updated_at) "
        "VALUES (%s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE version = VALUES(version), "
        "document = VALUES(document), updated_at = VALUES(updated_at)",
        [(r.device_id, r.user_id, r.version, compact_json(r.document), naive_utc(r.updated_at)) for r in rows],
    )
    ordered = sorted(rows, key=lambda row: row.user_id)
    await inserter.insert(cur, CHANGE_LOG, [(row.user_id, "settings", row.device_id, "upsert") for row in ordered])
    events = []
    for row in ordered:
        event = Event(
            type="settings.changed",
            user_id=row.user_id,
            region=ctx.events.region,
            data={"device_id": row.device_id, "version": row.version},
        )
        events.append((event.id, ctx.events.topic, row.user_id, event.model_dump_json()))
    await inserter.insert(cur, OUTBOX, events)
