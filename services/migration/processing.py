"""One legacy object from its raw row to the processed schema: the rule both the worker and the snapshot
loader follow (issue 8 item 3).

- The raw row holds the newest version seen; the processed schema holds the effect of
  `applied_version`. An object is processed only when its raw version is newer than that, so a
  redelivered message, a replayed Kafka range or a stale snapshot record changes nothing, and an older
  version never overwrites a newer one.
- A valid object becomes rows (through `writes`, i.e. shared/store); an invalid one becomes a
  `migration_failures` row with the transform's pattern, and rows an earlier valid version had made are
  removed, so the processed schema always matches the newest version. A DELETE removes the rows.
- Order between objects: a reading whose device is not migrated yet is kept without its device, and
  settings whose device is unknown fail with UNKNOWN_DEVICE; both are marked as waiting for that
  device, and writing the device processes them again in the same transaction.
- Retry after a late fix: an applied version that failed or waits for a device is processed again
  when asked (`retry`): by the device it waits for, or by a `migrate requeue` message once the cause
  is fixed (e.g. the owner imported late). It is still the raw row's newest version that is processed,
  so a retry never brings an older version back over a newer one.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

import aiomysql

from services.migration import repo, writes
from services.migration.errors import RawRowMissingError
from services.migration.owners import DbOwners, load_owners
from services.migration.writes import EventTarget
from shared.legacy.transform import (
    BucketMapping,
    DeleteTarget,
    DeviceRow,
    FailurePattern,
    OwnerResolver,
    ReadingRow,
    SettingsRow,
    Transformed,
    TransformFailure,
    transform,
    transform_delete,
)
from shared.legacy.transform.records import SCOPE_THING, LegacyRecord


class Outcome(StrEnum):
    """What an object became in the processed schema (raw_kii_objects.outcome)."""

    ROWS = "rows"
    FAILED = "failed"
    IGNORED = "ignored"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Processed:
    """What an object became this time; the failure pattern when it failed (the worker counts them)."""

    outcome: Outcome
    pattern: str | None = None


@dataclass(frozen=True, slots=True)
class ProcessContext:
    """What processing needs besides the cursor."""

    mapping: BucketMapping
    events: EventTarget


@dataclass(slots=True)
class Prefetched:
    """What `batch.process_batch` reads once for a whole message instead of once per object.

    - ``raws``: the message's raw rows, locked at the start. An object takes its row out when processed,
      so an object processed a second time in the transaction (woken by a device) is read again.
    - ``owners``: the owners of all of them; devices written in the transaction are added as they are,
      and after objects were woken (processed with their own look-up) it is loaded again.
    - ``settled``: objects whose raw row can be marked applied (and their failure row removed) at the
      end of the transaction, one statement per outcome: those that do not wait for a device and were
      not waiting either, so no wake-up in between reads their mark.
    """

    raws: dict[str, repo.RawRow]
    owners: DbOwners
    settled: dict[Outcome, list[str]] = field(default_factory=lambda: defaultdict(list))
    stale_owners: bool = False

    async def owners_for(self, cur: aiomysql.Cursor) -> DbOwners:
        """The owners, loaded again for the rows still to process when a wake-up made them stale."""
        if self.stale_owners:
            self.owners = await load_owners(cur, [(r.scope_type, r.scope_id, r.body) for r in self.raws.values()])
            self.stale_owners = False
        return self.owners

    async def flush(self, cur: aiomysql.Cursor) -> None:
        """Write the settled objects' applied marks and remove their failure rows."""
        for outcome, keys in self.settled.items():
            await repo.mark_versions_applied(cur, keys, outcome, None)
        await repo.clear_failures(cur, [key for keys in self.settled.values() for key in keys])
        self.settled.clear()


def serial_token(user_id: str, serial: str) -> str:
    """waiting_for of an object that needs the device user_id/serial."""
    return f"serial:{user_id}:{serial}"[:200]


def thing_token(thing_id: str) -> str:
    """waiting_for of an object that needs the device a thing became."""
    return f"thing:{thing_id}"[:200]


def device_tokens(row: DeviceRow, thing_id: str | None) -> list[str]:
    """The waiting_for values a device row satisfies."""
    tokens = [serial_token(row.user_id, row.serial)]
    if thing_id:
        tokens.append(thing_token(thing_id))
    return tokens


def retryable(raw: repo.RawRow) -> bool:
    """The applied version failed or was kept without its device: worth processing again after a fix."""
    return raw.outcome == Outcome.FAILED or raw.waiting_for is not None


async def process_object(
    cur: aiomysql.Cursor,
    key: str,
    ctx: ProcessContext,
    *,
    receive_count: int = 1,
    retry: bool = False,
    prefetched: Prefetched | None = None,
) -> Processed | None:
    """Bring the processed schema up to the raw row of key, in the caller's transaction; None: nothing to do.

    With retry, an applied version that is `retryable` is processed again; one that is not has a newer
    version migrated since the failure was seen, so a failure row left for it is obsolete and goes.
    With prefetched (a message's objects), the raw row and owners come from it and the final mark may
    be deferred to `Prefetched.flush`.
    """
    raw = prefetched.raws.pop(key, None) if prefetched is not None else None
    if raw is None:
        raw = await repo.lock_raw(cur, key)
    if raw is None:
        raise RawRowMissingError(f"no raw row for {key}")
    if not raw.pending and not (retry and retryable(raw)):
        if retry:
            await repo.clear_failure(cur, key)
        return None
    if prefetched is not None:
        owners = await prefetched.owners_for(cur)
    else:
        owners = await load_owners(cur, [(raw.scope_type, raw.scope_id, raw.body)])
    woken: list[str] = []
    waiting: str | None = None
    pattern: str | None = None
    record = raw.legacy()
    if raw.op == "DELETE":
        removal = transform_delete(record, ctx.mapping, owners, last_body=raw.body)
        if isinstance(removal, DeleteTarget):
            await writes.delete_target(cur, removal, ctx.events)
        outcome = Outcome.DELETED
    else:
        result = transform(record, ctx.mapping, owners)
        if isinstance(result, TransformFailure):
            if raw.outcome == Outcome.ROWS:
                await _remove_rows(cur, record, ctx, owners)
            await repo.record_failure(
                cur,
                key,
                raw.bucket,
                raw.version,
                result.pattern,
                result.field,
                result.message,
                receive_count=receive_count,
            )
            outcome, pattern = Outcome.FAILED, str(result.pattern)
            waiting = failure_waits_for(result, raw.scope_type, raw.scope_id, raw.body, owners)
        else:
            outcome = Outcome.ROWS if result.rows else Outcome.IGNORED
            waiting = await apply_rows(cur, result, ctx, owners, raw.body)
            woken = [
                token
                for row in result.rows
                if isinstance(row, DeviceRow)
                for token in device_tokens(row, result.thing_id)
            ]
    if prefetched is not None and outcome != Outcome.FAILED and waiting is None and raw.waiting_for is None:
        prefetched.settled[outcome].append(key)
    else:
        if outcome != Outcome.FAILED:
            await repo.clear_failure(cur, key)
        await repo.mark_applied(cur, key, raw.version, outcome, waiting)
    for waiting_key in await repo.waiting_keys(cur, woken):
        if waiting_key != key:
            await process_object(cur, waiting_key, ctx, receive_count=receive_count, retry=True)
            if prefetched is not None:  # read again if the message has it too; devices may have changed
                prefetched.raws.pop(waiting_key, None)
                prefetched.stale_owners = True
    return Processed(outcome, pattern)


async def apply_rows(
    cur: aiomysql.Cursor, result: Transformed, ctx: ProcessContext, owners: DbOwners, body: object
) -> str | None:
    """Write the rows of one object; returns its waiting_for (a reading kept without its device)."""
    waiting: str | None = None
    for row in result.rows:
        if isinstance(row, DeviceRow):
            await writes.write_device(cur, row, result.thing_id, result.key, ctx.events)
            owners.add_device(row, result.thing_id)
        elif isinstance(row, ReadingRow):
            await writes.write_reading(cur, row, ctx.events)
            waiting = reading_waits_for(result, row, body)
        elif isinstance(row, SettingsRow):
            await writes.write_settings(cur, row, ctx.events)
    return waiting


def reading_waits_for(result: Transformed, row: ReadingRow, body: object) -> str | None:
    """A reading kept without a device waits for the device its serial names."""
    for warning in result.warnings:
        if warning.pattern == FailurePattern.UNKNOWN_DEVICE and warning.field and isinstance(body, dict):
            serial = body.get(warning.field)
            if isinstance(serial, str):
                return serial_token(row.user_id, serial)
    return None


def failure_waits_for(
    failure: TransformFailure, scope_type: str, scope_id: str | None, body: object, owners: OwnerResolver
) -> str | None:
    """Settings whose device is not migrated yet wait for it (thing scope: the thing; else the serial)."""
    if failure.pattern != FailurePattern.UNKNOWN_DEVICE:
        return None
    if scope_type == SCOPE_THING and scope_id:
        return thing_token(scope_id)
    if failure.field and isinstance(body, dict) and scope_id:
        serial, user_id = body.get(failure.field), owners.user_id_for(scope_id)
        if isinstance(serial, str) and user_id:
            return serial_token(user_id, serial)
    return None


async def _remove_rows(cur: aiomysql.Cursor, record: LegacyRecord, ctx: ProcessContext, owners: DbOwners) -> None:
    """An object whose newest version is invalid loses the rows an earlier valid version made."""
    removal = transform_delete(dataclasses.replace(record, body=None), ctx.mapping, owners)
    if isinstance(removal, DeleteTarget):
        await writes.delete_target(cur, removal, ctx.events)
