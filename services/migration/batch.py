"""A worker message's records in one transaction: new readings together, everything else one by one.

When a message holds several owner scopes (group lanes), their owners' user rows are locked first, in id
order (`owners.owner_user_ids`), then its raw rows: concurrent messages sharing users wait for each other
instead of deadlocking, and the master's upsert never waits for a transaction that is itself waiting for
a user. A message of one scope writes one user's rows and skips those two statements.

Change capture is mostly new readings, and `processing.process_object` spends about ten statements on
each (raw row lock, owner look-ups, user lock, duplicate check, insert, id look-up, change_log, outbox,
created_at, failure, applied mark). Here the message's raw rows are locked with one statement, and the
readings seen for the first time (never applied, not a delete, not a retry, no row for their client id
yet) are transformed against one owner look-up and written with the snapshot loader's multi-row
statements (`bulk.write_new_readings`): the same rows, change_log entries and reading.created events.
Every other record (devices, settings, updates, deletes, retries, and a first reading that fails or
whose client id is taken) goes through `process_object`, in message order; the new readings are
transformed after the others, so a device that arrives in the same message is written before the
readings that name it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import aiomysql

from services.migration import repo
from services.migration.bulk import lock_users, write_new_readings
from services.migration.owners import DbOwners, load_owners, owner_user_ids
from services.migration.processing import (
    Outcome,
    Prefetched,
    ProcessContext,
    Processed,
    process_object,
    reading_waits_for,
)
from shared.legacy.transform import ReadingBucket, ReadingRow, Transformed, transform
from shared.legacy.transform.records import key_scope
from shared.store.readings import existing_ids


async def process_batch(
    cur: aiomysql.Cursor, keys: Sequence[str], ctx: ProcessContext, *, receive_count: int, retry: bool
) -> list[Processed | None]:
    """What each key's object became (None: nothing to do, as for a repeated key), in the caller's transaction."""
    if len({key_scope(key) for key in keys}) > 1:  # one scope's objects belong to one user: nothing to order
        await lock_users(cur, await owner_user_ids(cur, sorted(set(keys))))
    raws = await repo.lock_raws(cur, keys)
    owners = await load_owners(cur, [(raw.scope_type, raw.scope_id, raw.body) for raw in raws.values()])
    prefetched = Prefetched(dict(raws), owners)
    candidates = [key for key in dict.fromkeys(keys) if (raw := raws.get(key)) is not None and _first_reading(raw, ctx)]
    done: dict[str, Processed | None] = {}

    async def one_by_one(key: str) -> None:
        done[key] = await process_object(cur, key, ctx, receive_count=receive_count, retry=retry, prefetched=prefetched)

    for key in dict.fromkeys(keys):
        if key not in candidates:
            await one_by_one(key)
    # after the others: a device that came in the same message is written, so its readings find it
    readings = await _new_readings(cur, {key: raws[key] for key in candidates}, ctx, await prefetched.owners_for(cur))
    for key in candidates:
        if key not in readings:
            await one_by_one(key)
    if readings:
        await _write(cur, readings, ctx)
        done.update(dict.fromkeys(readings, Processed(Outcome.ROWS)))
    await prefetched.flush(cur)
    seen: set[str] = set()
    results: list[Processed | None] = []
    for key in keys:
        results.append(None if key in seen else done[key])
        seen.add(key)
    return results


def _first_reading(raw: repo.RawRow, ctx: ProcessContext) -> bool:
    return (
        raw.applied_version is None
        and raw.outcome is None
        and raw.op != "DELETE"
        and isinstance(ctx.mapping.entry(raw.scope_type, raw.bucket), ReadingBucket)
    )


async def _new_readings(
    cur: aiomysql.Cursor, raws: dict[str, repo.RawRow], ctx: ProcessContext, owners: DbOwners
) -> dict[str, tuple[ReadingRow, str | None]]:
    """key -> (row, waiting_for) of the readings the bulk path writes; the rest stays per object."""
    if not raws:
        return {}
    found: dict[str, tuple[ReadingRow, str | None]] = {}
    for key, raw in raws.items():
        result = transform(raw.legacy(), ctx.mapping, owners)
        if isinstance(result, Transformed) and len(result.rows) == 1 and isinstance(result.rows[0], ReadingRow):
            row = result.rows[0]
            found[key] = (row, reading_waits_for(result, row, raw.body))
    by_user: dict[str, list[str]] = defaultdict(list)
    for row, _ in found.values():
        by_user[row.user_id].append(row.client_id)
    taken = {
        (user_id, client_id)
        for user_id, clients in by_user.items()
        for client_id in await existing_ids(cur, user_id, clients)
    }
    return {key: value for key, value in found.items() if (value[0].user_id, value[0].client_id) not in taken}


async def _write(cur: aiomysql.Cursor, readings: dict[str, tuple[ReadingRow, str | None]], ctx: ProcessContext) -> None:
    await lock_users(cur, {row.user_id for row, _ in readings.values()})
    await write_new_readings(cur, [row for row, _ in readings.values()], ctx)
    by_waiting: dict[str | None, list[str]] = defaultdict(list)
    for key, (_, waiting) in readings.items():
        by_waiting[waiting].append(key)
    for waiting, keys in by_waiting.items():
        await repo.mark_versions_applied(cur, keys, Outcome.ROWS, waiting)
    await repo.clear_failures(cur, list(readings))
