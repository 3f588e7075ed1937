"""A snapshot chunk's readings, settings and failures made ahead of the writer, and the writer's check of them.

The loader's writer used to transform a chunk and build its rows and events between its statements, on
the one connection a chunk's transaction has: its Python and MariaDB's work took turns, and the load ran
at a third of LOAD DATA's rate. The snapshot's preparer process (`preparer`) now does that work for the
following chunks on the other core, with the owners (users, devices, things) read without locks plus
the devices it saw in the chunks before, which the writer may not have committed yet: a guess.

The transform is a pure function of the record and the owners' answers, so the guess is checked, not
trusted: `RecordingOwners` keeps every question the transform asked and the answer it got, and the
writer, after the same locking read of the owners as `bulk.load_chunk` makes, compares them. Any
difference, or a server that does not number a LOAD DATA's rows consecutively, raises `SpeculationMissed`;
a raw row that exists already fails the raw rows' LOAD DATA (`LoadMismatch`). Either way the chunk is
rolled back and written by `bulk.load_chunk`, from the records themselves. Readings' ids are known only
once their LOAD DATA ran: the preparer makes their reading.created events' text around the id
(`outbox_around_id`), and the writer puts the ids in and makes their change_log rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiomysql

from services.migration import repo
from services.migration.bulk import (
    CHANGE_LOG,
    OUTBOX,
    READINGS,
    ChunkReport,
    load_devices,
    lock_users,
    reading_event,
    reading_params,
    transform_objects,
    write_settings,
)
from services.migration.errors import MigrationError
from services.migration.inserts import GatheredLoads, LoadMismatch, LocalInfileInserter, RowLines, row_lines
from services.migration.owners import fetch_owners, owner_ids
from services.migration.processing import ProcessContext
from services.migration.records import SourceRecord, decode_record
from shared.legacy.transform import OwnerResolver, ReadingRow, SettingsRow


class SpeculationMissed(MigrationError):
    """The prepared rows do not fit the database as locked: the chunk is written the normal way."""


@dataclass
class Answers:
    """The owner questions a chunk's transform asked, and the answers it got."""

    users: dict[str, str | None] = field(default_factory=dict)
    devices: dict[tuple[str, str], str | None] = field(default_factory=dict)
    things: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    def agree(self, owners: OwnerResolver) -> bool:
        """Whether owners answers every question the same."""
        return (
            all(owners.user_id_for(legacy) == answer for legacy, answer in self.users.items())
            and all(owners.device_id_for(*device) == answer for device, answer in self.devices.items())
            and all(owners.thing_device(thing) == answer for thing, answer in self.things.items())
        )


class RecordingOwners:
    """An OwnerResolver that keeps what it was asked (`Answers`)."""

    def __init__(self, owners: OwnerResolver) -> None:
        self._owners = owners
        self.answers = Answers()

    def user_id_for(self, legacy_user_id: str) -> str | None:
        """See `OwnerResolver.user_id_for`."""
        answer = self.answers.users[legacy_user_id] = self._owners.user_id_for(legacy_user_id)
        return answer

    def device_id_for(self, user_id: str, serial: str) -> str | None:
        """See `OwnerResolver.device_id_for`."""
        answer = self.answers.devices[(user_id, serial)] = self._owners.device_id_for(user_id, serial)
        return answer

    def thing_device(self, thing_id: str) -> tuple[str, str] | None:
        """See `OwnerResolver.thing_device`."""
        answer = self.answers.things[thing_id] = self._owners.thing_device(thing_id)
        return answer


@dataclass
class PreparedObjects:
    """The rows of a chunk's objects other than devices, ready to send (see the module docstring)."""

    legacy_ids: list[str]
    thing_ids: list[str]
    answers: Answers
    user_ids: set[str]
    readings: RowLines
    # the readings in (user, reading) order, as change_log wants them: row indexes, and their users and
    # outbox lines (reading.created events) before and after the id (`outbox_around_id`)
    reading_order: list[int]
    events: list[tuple[str, str, str]]
    settings: list[SettingsRow]
    failures: list[repo.FailureParams]
    raw: RowLines
    rows: int
    failed: int
    ignored: int
    patterns: dict[str, int]


def prepare_objects(records: list[SourceRecord], ctx: ProcessContext, owners: OwnerResolver) -> PreparedObjects | None:
    """Transform records (no device among them) with owners and build their lines; None when a value
    would need the statements' judgement (a NULL where none is allowed, a tab in an id)."""
    recording = RecordingOwners(owners)
    report = ChunkReport()
    objects = transform_objects(records, ctx, recording, report)
    rows = [row for _, row in objects.readings]
    try:
        readings = row_lines(READINGS, [reading_params(row) for row in rows])
        now = repo.utcnow()
        ordered = sorted(records, key=lambda record: record.key)
        raw = row_lines(repo.RAW_TABLE, [repo.raw_params(r, objects.applied.get(r.key), now) for r in ordered])
    except LoadMismatch:
        return None
    order = sorted(range(len(rows)), key=lambda index: (rows[index].user_id, index))
    if not _plain(ctx.events.topic, *(row.user_id for row in rows)):
        return None
    legacy_ids, thing_ids = owner_ids((r.scope_type, r.scope_id, r.body) for r in records)
    return PreparedObjects(
        legacy_ids=legacy_ids,
        thing_ids=thing_ids,
        answers=recording.answers,
        user_ids=objects.user_ids,
        readings=readings,
        reading_order=order,
        events=[(rows[index].user_id, *outbox_around_id(rows[index], ctx)) for index in order],
        settings=objects.settings,
        failures=objects.failures,
        raw=raw,
        rows=report.rows,
        failed=report.failed,
        ignored=report.ignored,
        patterns=dict(report.failures),
    )


# where a reading.created event's text is cut for the reading's id: the first member of its data. Inside a
# JSON string every quote follows a backslash, so this text is found only where it is the member itself.
_ID_PLACE = '"data":{"reading_id":0,'


def outbox_around_id(row: ReadingRow, ctx: ProcessContext) -> tuple[str, str]:
    """The reading's outbox line (its reading.created event) before and after its id, which its LOAD DATA
    gives: made here with the id 0 and cut there, so the writer only puts the id in. Its occurred_at is
    when the preparer made it, a moment before the chunk is written."""
    event = reading_event(row, 0, ctx)
    head, place, tail = event.model_dump_json().partition(_ID_PLACE)
    if not place:
        raise MigrationError("a reading.created event without data.reading_id first")
    return f"{event.id}\t{ctx.events.topic}\t{row.user_id}\t{head}{place[:-2]}", f"{place[-1]}{tail}\n"


def _plain(*values: str) -> bool:
    """No value holds a tab or a newline (the prepared change_log and outbox lines are not escaped)."""
    return not any("\t" in value or "\n" in value for value in values)


async def write_prepared_objects(
    cur: aiomysql.Cursor,
    prepared: PreparedObjects,
    ctx: ProcessContext,
    inserter: GatheredLoads,
    report: ChunkReport,
) -> None:
    """Write prepared in the caller's transaction once its guess is confirmed; SpeculationMissed (nothing
    written by this call then matters: the caller rolls back). The locks come in `bulk.load_chunk`'s
    order: the users first, then the rows."""
    owners = await fetch_owners(cur, prepared.legacy_ids, prepared.thing_ids)
    if not prepared.answers.agree(owners):
        raise SpeculationMissed("an owner (user, device or thing) is not what the preparer read")
    if prepared.readings and not await inserter.numbers_consecutively(cur):
        raise SpeculationMissed("the server does not number a LOAD DATA's rows consecutively")
    await lock_users(cur, prepared.user_ids)
    ids = await inserter.load(cur, READINGS, prepared.readings, numbered=True)
    change_log, outbox = _reading_lines(prepared, ids)
    await inserter.load(cur, CHANGE_LOG, change_log)
    await inserter.load(cur, OUTBOX, outbox)
    await write_settings(cur, prepared.settings, ctx, inserter)
    await repo.record_failures(cur, prepared.failures)
    await inserter.load(cur, repo.RAW_TABLE, prepared.raw)
    report.rows += prepared.rows
    report.failed += prepared.failed
    report.ignored += prepared.ignored
    for pattern, count in prepared.patterns.items():
        report.failures[pattern] += count


def _reading_lines(prepared: PreparedObjects, ids: list[int]) -> tuple[RowLines, RowLines]:
    """The readings' change_log rows and reading.created events, as files, now that their ids are known."""
    change_log, outbox = [], []
    for (user_id, head, tail), index in zip(prepared.events, prepared.reading_order, strict=True):
        reading_id = ids[index]
        change_log.append(f"{user_id}\treading\t{reading_id}\tupsert\n")
        outbox.append(f"{head}{reading_id}{tail}")
    return RowLines.of(change_log, escaped=False), RowLines.of(outbox, escaped=False)


@dataclass
class PreparedChunk:
    """A chunk as the preparer sends it: its lines (decoded again if the guess missed), its devices (the
    writer pairs them itself, as `bulk.load_chunk` does) and its other objects prepared."""

    text: bytes  # the chunk's lines of the file, as they were
    places: list[tuple[int, int]]  # each line's (partition, offset)
    devices: list[SourceRecord]
    objects: PreparedObjects | None  # None: the chunk needs the statements' judgement
    bytes_read: int  # compressed bytes of the file read up to the end of this chunk

    def __len__(self) -> int:
        return len(self.places)

    def records(self) -> list[SourceRecord]:
        """The chunk's records, decoded from its lines."""
        return [
            decode_record(line, partition=partition, offset=offset)
            for line, (partition, offset) in zip(self.text.split(b"\n")[:-1], self.places, strict=True)
        ]


async def load_prepared_chunk(
    cur: aiomysql.Cursor, chunk: PreparedChunk, ctx: ProcessContext, inserter: LocalInfileInserter
) -> ChunkReport:
    """`bulk.load_chunk` of a prepared chunk, in the caller's transaction; SpeculationMissed when the
    chunk must be written from its records.

    Only the devices' raw rows are read (and locked) first, as `bulk.load_chunk` does: the other objects
    are prepared as new, and their raw rows' LOAD DATA, the chunk's last statement, fails on any that
    exists (a duplicate is a warning: `LoadMismatch`), so a raw row `follow` wrote meanwhile sends the
    chunk to the records' path all the same, and their locks are taken by the inserts themselves. The
    devices', readings' and settings' change_log rows, events and raw rows are gathered (`GatheredLoads`)
    and loaded at the end, one file per table.
    """
    if chunk.objects is None:
        raise SpeculationMissed("the chunk holds a value the preparer leaves to the statements")
    existing = await repo.lock_versions(cur, [r.key for r in chunk.devices])
    report = ChunkReport()
    loads = GatheredLoads(inserter, (CHANGE_LOG, OUTBOX, repo.RAW_TABLE))
    await load_devices(cur, chunk.devices, existing, ctx, loads, report)
    await write_prepared_objects(cur, chunk.objects, ctx, loads, report)
    await loads.flush(cur)
    return report
