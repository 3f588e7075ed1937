"""Apply a batch of events to the streaming aggregates in one transaction, idempotently by event id.

One transaction per batch holds everything the batch changes: the ids of the events applied now
(``stats_processed_events``), the daily counters, the membership rows behind the distinct counts and
the per-device state. Ids already in the ledger are skipped, so a replayed partition changes nothing;
the transaction commits before the consumer commits offsets (services/stats/consumer.py).

Distinct counts stay exact without recounting. ``stats_daily_members`` holds, per day x region x model x
type group, one row per active device (user, device) and one marker row per active user (user, '').
The batch's rows of each group are inserted by one ``INSERT ... ON DUPLICATE KEY UPDATE`` whose update is
a no-op, so its affected-row count is the number of rows that were new: exactly the increase of
``active_devices`` (device rows) or ``active_users`` (marker rows). All of a batch's inserts travel in one
multi-statement round trip, and nothing is read back. The same holds for users per day x region in
``stats_daily_region_members``. Two transactions applying the same events (only while a rebalance hands a
partition over) serialise on the ledger rows, which each claims first and in key order: the later one waits
for the first to commit, then finds those ids taken and leaves their events out.

Fast paths, none of which changes a result:
- the batch's event ids are inserted first, counted the same way; when every one was new (the normal
  case) no lookup is needed, when none was (a replay) the batch is done;
- :class:`~services.stats.known_rows.KnownRows` remembers committed membership rows, device models and
  last-seen times, so a device's next reading of the day sends no membership rows and needs no lookup (and an
  older reading skips the last-seen write); see known_rows.py for why that is safe.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import aiomysql
from pymysql.constants import CLIENT

from services.stats.device_state import DeviceState, load_devices, save_devices
from services.stats.events import (
    NO_DEVICE,
    NO_DEVICE_MODEL,
    DevicePaired,
    DeviceUnpaired,
    IgnoredEvent,
    ReadingCreated,
    StatsEvent,
    key_text,
)
from services.stats.known_rows import Group, KnownRows, Learned, Member, RegionMember
from services.stats.sql import chunks, placeholders, values_sql
from shared.db.transactions import rollback_after

MULTI_STATEMENT_BYTES = 1024 * 1024  # inserts sent per round trip (far below max_allowed_packet)
_NO_OP = " ON DUPLICATE KEY UPDATE {0} = {0}"  # an update that changes nothing: affected rows = new rows
RowKey = TypeVar("RowKey", bound=tuple[Any, ...])

LedgerKey = tuple[date, str]  # occurred_on, event_id


@dataclass
class BatchOutcome:
    """What one batch did: counts per outcome, and the events to dead-letter with their reasons."""

    applied: int = 0
    duplicates: int = 0
    ignored: int = 0
    rejected: list[tuple[StatsEvent, str]] = field(default_factory=list)


@dataclass
class _Deltas:
    readings: Counter[Group] = field(default_factory=Counter)
    devices: set[Member] = field(default_factory=set)  # (group, user, device)
    markers: set[Member] = field(default_factory=set)  # (group, user, '')
    region_readings: Counter[tuple[date, str]] = field(default_factory=Counter)
    region_members: set[RegionMember] = field(default_factory=set)


async def apply_events(
    conn: aiomysql.Connection, events: Sequence[StatsEvent], known: KnownRows | None = None
) -> BatchOutcome:
    """Apply ``events`` (in partition order) in one transaction and commit it; roll back on any error."""
    outcome = BatchOutcome()
    relevant: list[StatsEvent] = []
    batch_ids: set[str] = set()
    for event in events:
        if isinstance(event, IgnoredEvent):
            outcome.ignored += 1
        elif event.id in batch_ids:
            outcome.duplicates += 1  # the relay may publish an event twice; both copies can share a batch
        else:
            batch_ids.add(event.id)
            relevant.append(event)
    if not relevant:
        return outcome
    if conn.client_flag & CLIENT.FOUND_ROWS:
        # affected rows must count changed rows only: the new-row counts above depend on it
        raise RuntimeError("the stats consumer needs connections without CLIENT.FOUND_ROWS")
    known = known or KnownRows(0)
    learned = Learned()
    await conn.begin()
    try:
        async with conn.cursor() as cur:
            fresh = await _claim_ids(cur, relevant)
            outcome.duplicates += len(relevant) - len(fresh)
            if fresh:
                devices = await load_devices(cur, fresh, known)
                deltas, accepted = _fold(fresh, devices, outcome)
                if outcome.rejected:  # their ids were claimed above, but they are not applied
                    await _unclaim(cur, [event for event, _ in outcome.rejected])
                if accepted:
                    await _apply_daily(cur, deltas, known, learned)
                    await _apply_regions(cur, deltas, known, learned)
                    await save_devices(cur, devices.values())
                    learned.devices = {d.device_id: (d.model, d.newest_seen) for d in devices.values()}
                outcome.applied = len(accepted)
        await conn.commit()
    except BaseException:
        await rollback_after(conn)
        raise
    known.learn(learned)
    return outcome


def _ledger_key(event: StatsEvent) -> LedgerKey:
    return (event.occurred_at.date(), event.id)


async def _claim_ids(cur: aiomysql.Cursor, events: list[StatsEvent]) -> list[StatsEvent]:
    """Record the batch's event ids; return the events not applied before (in order)."""
    keys = sorted(_ledger_key(e) for e in events)
    values = values_sql(cur.connection, keys, 1)  # escaped literals
    await cur.execute(
        f"INSERT INTO stats_processed_events (occurred_on, event_id) VALUES {values} "  # noqa: S608
        "ON DUPLICATE KEY UPDATE event_id = event_id"
    )
    inserted = cur.rowcount
    if inserted == len(keys):
        return events
    if inserted == 0:
        return []
    # some were applied before (a partial replay): find which, with the ledger as it was
    await cur.connection.rollback()
    await cur.connection.begin()
    seen: set[LedgerKey] = set()
    for part in chunks(keys):
        await cur.execute(
            "SELECT occurred_on, event_id FROM stats_processed_events "  # noqa: S608
            f"WHERE (occurred_on, event_id) IN ({placeholders(2, len(part))})",
            tuple(value for key in part for value in key),
        )
        seen.update((day, event_id) for day, event_id in await cur.fetchall())
    fresh = [e for e in events if _ledger_key(e) not in seen]
    if fresh:
        await cur.executemany(
            "INSERT INTO stats_processed_events (occurred_on, event_id) VALUES (%s, %s)",
            sorted(_ledger_key(e) for e in fresh),
        )
    return fresh


async def _unclaim(cur: aiomysql.Cursor, events: list[StatsEvent]) -> None:
    keys = sorted(_ledger_key(e) for e in events)
    for part in chunks(keys):
        await cur.execute(
            "DELETE FROM stats_processed_events "  # noqa: S608
            f"WHERE (occurred_on, event_id) IN ({placeholders(2, len(part))})",
            tuple(value for key in part for value in key),
        )


def _fold(
    events: Sequence[StatsEvent], devices: dict[str, DeviceState], outcome: BatchOutcome
) -> tuple[_Deltas, list[StatsEvent]]:
    """Walk the events in order: device state changes, and the counter deltas of the readings."""
    deltas = _Deltas()
    accepted: list[StatsEvent] = []
    for event in events:
        if isinstance(event, DevicePaired):
            paired = event.data
            state = devices.get(paired.device_id)
            if state is None:
                state = DeviceState(paired.device_id, event.user_id, event.region, None, "", None, None, None, None)
                devices[paired.device_id] = state
            state.user_id, state.region, state.kind = event.user_id, event.region, paired.kind
            state.model, state.firmware = key_text(paired.model), paired.firmware
            state.paired_at, state.unpaired_at, state.dirty = event.occurred_at, None, True
        elif isinstance(event, DeviceUnpaired):
            state = devices.get(event.data.device_id)
            if state is None:
                outcome.rejected.append((event, "unknown device"))
                continue
            state.unpaired_at, state.dirty = event.occurred_at, True
        elif isinstance(event, ReadingCreated):
            data = event.data
            device_id, model = NO_DEVICE, NO_DEVICE_MODEL
            if data.device_id:
                state = devices.get(data.device_id)
                if state is None:
                    outcome.rejected.append((event, "unknown device"))
                    continue
                device_id, model = data.device_id, state.model
                newest = state.seen or state.last_seen_at
                if newest is None or data.measured_at > newest:
                    state.seen = data.measured_at
            day = data.measured_at.date()
            group = (day, event.region, model, data.type)
            deltas.readings[group] += 1
            deltas.markers.add((*group, event.user_id, NO_DEVICE))
            if device_id != NO_DEVICE:
                deltas.devices.add((*group, event.user_id, device_id))
            deltas.region_readings[(day, event.region)] += 1
            deltas.region_members.add((day, event.region, event.user_id))
        accepted.append(event)
    return deltas, accepted


async def _insert_new(
    cur: aiomysql.Cursor, table: str, columns: tuple[str, ...], rows_by_key: dict[RowKey, list[tuple[Any, ...]]]
) -> Counter[RowKey]:
    """Insert each key's rows with a no-op ODKU, all in multi-statement round trips; new rows per key."""
    new: Counter[RowKey] = Counter()
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "  # noqa: S608 - names fixed by the callers
    tail = _NO_OP.format(columns[-1])
    pending: list[tuple[RowKey, str]] = []
    size = 0

    async def flush() -> None:
        await cur.execute(";".join(statement for _, statement in pending))
        counts = [cur.rowcount]
        while await cur.nextset():
            counts.append(cur.rowcount)
        for (key, _), count in zip(pending, counts, strict=True):
            new[key] += count
        pending.clear()

    for key in sorted(rows_by_key):  # one lock order for every writer
        statement = head + values_sql(cur.connection, sorted(rows_by_key[key]), len(key)) + tail
        pending.append((key, statement))
        size += len(statement)
        if size >= MULTI_STATEMENT_BYTES:
            await flush()
            size = 0
    if pending:
        await flush()
    return new


def _by_group(members: Iterable[Member]) -> dict[Group, list[tuple[Any, ...]]]:
    grouped: dict[Group, list[tuple[Any, ...]]] = {}
    for member in members:
        grouped.setdefault(member[:4], []).append(member)
    return grouped


async def _apply_daily(cur: aiomysql.Cursor, deltas: _Deltas, known: KnownRows, learned: Learned) -> None:
    if not deltas.readings:
        return
    columns = ("day", "region", "model", "reading_type", "user_id", "device_id")
    # rows known to exist need not be sent: they would not be new (nothing deletes them)
    new_users = await _insert_new(
        cur, "stats_daily_members", columns, _by_group(m for m in deltas.markers if m not in known.members)
    )
    new_devices = await _insert_new(
        cur, "stats_daily_members", columns, _by_group(m for m in deltas.devices if m not in known.members)
    )
    # sorted, so concurrent consumers lock shared counter rows in one order (no deadlock cycles)
    await cur.executemany(
        "INSERT INTO stats_daily (day, region, model, reading_type, readings, active_devices, active_users) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s) ON DUPLICATE KEY UPDATE readings = readings + VALUES(readings), "
        "active_devices = active_devices + VALUES(active_devices), active_users = active_users + VALUES(active_users)",
        [(*group, count, new_devices[group], new_users[group]) for group, count in sorted(deltas.readings.items())],
    )
    learned.members = deltas.markers | deltas.devices


async def _apply_regions(cur: aiomysql.Cursor, deltas: _Deltas, known: KnownRows, learned: Learned) -> None:
    if not deltas.region_readings:
        return
    unknown: dict[tuple[date, str], list[tuple[Any, ...]]] = {}
    for member in deltas.region_members:
        if member not in known.region_members:
            unknown.setdefault(member[:2], []).append(member)
    new_users = await _insert_new(cur, "stats_daily_region_members", ("day", "region", "user_id"), unknown)
    await cur.executemany(
        "INSERT INTO stats_daily_regions (day, region, readings, active_users) VALUES (%s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE readings = readings + VALUES(readings), "
        "active_users = active_users + VALUES(active_users)",
        [(*key, count, new_users[key]) for key, count in sorted(deltas.region_readings.items())],
    )
    learned.region_members = deltas.region_members
