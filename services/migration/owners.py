"""The transform's OwnerResolver answered from the database: users by legacy id, devices, things.

The transform is synchronous, so the answers are fetched before it runs (`load_owners`) for a whole
batch of objects at once (one statement per table), and devices written meanwhile are added as they
are (`add_device`), exactly as the validator's in-memory resolver does.

Devices and things are read with shared locks: an object that finds no device is marked as waiting for
it, and the transaction writing that device wakes the waiting objects (`processing`). Workers process
owner scopes concurrently (a device in its user's group, settings in their thing's), so with plain
snapshot reads each side could miss the other's uncommitted write and the object would wait forever.
A locking read sees the latest committed rows and waits for an uncommitted device; its gap lock makes
a device written after it wait for this transaction, whose waiting mark the device's transaction then
finds (it reads the marks with a locking read too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import aiomysql

from shared.legacy.transform import DeviceRow
from shared.legacy.transform.records import SCOPE_THING, SCOPE_USER


class DbOwners:
    """OwnerResolver over prefetched rows (see `load_owners`)."""

    def __init__(self) -> None:
        self._users: dict[str, str] = {}
        self._devices: dict[tuple[str, str], str] = {}
        self._things: dict[str, tuple[str, str]] = {}

    def user_id_for(self, legacy_user_id: str) -> str | None:
        """See `OwnerResolver.user_id_for`."""
        return self._users.get(legacy_user_id)

    def device_id_for(self, user_id: str, serial: str) -> str | None:
        """See `OwnerResolver.device_id_for`."""
        return self._devices.get((user_id, serial))

    def thing_device(self, thing_id: str) -> tuple[str, str] | None:
        """See `OwnerResolver.thing_device`."""
        return self._things.get(thing_id)

    def add_device(self, row: DeviceRow, thing_id: str | None) -> None:
        """Know a device written in this transaction (the first device of a user with a serial keeps it)."""
        self._devices.setdefault((row.user_id, row.serial), row.id)
        if thing_id is not None:
            self._things[thing_id] = (row.user_id, row.id)


def _placeholders(values: Iterable[Any]) -> str:
    return ", ".join(["%s"] * len(list(values)))


async def load_owners(
    cur: aiomysql.Cursor, objects: Iterable[tuple[str, str | None, Mapping[str, Any] | None]]
) -> DbOwners:
    """Prefetch what the transform may ask about objects given as (scope type, scope id, body)."""
    return await fetch_owners(cur, *owner_ids(objects))


def owner_ids(objects: Iterable[tuple[str, str | None, Mapping[str, Any] | None]]) -> tuple[list[str], list[str]]:
    """The legacy user ids and thing ids the transform may ask about objects (scope type, scope id, body)."""
    legacy_ids: set[str] = set()
    thing_ids: set[str] = set()
    for scope_type, scope_id, body in objects:
        if scope_type == SCOPE_USER and scope_id:
            legacy_ids.add(scope_id)
        elif scope_type == SCOPE_THING and scope_id:
            thing_ids.add(scope_id)
            creator = body.get("_owner") if body else None
            if isinstance(creator, str):
                legacy_ids.add(creator)
    return sorted(legacy_ids), sorted(thing_ids)


async def fetch_owners(
    cur: aiomysql.Cursor, legacy_ids: Sequence[str], thing_ids: Sequence[str], *, lock: bool = True
) -> DbOwners:
    """Users of legacy_ids, things of thing_ids and the devices of all their users.

    lock=False reads without locks: for a guess made ahead of the writer (the snapshot's preparer), which
    must not wait for the writer's uncommitted devices and is checked against a locking read later.
    """
    owners = DbOwners()
    share = " LOCK IN SHARE MODE" if lock else ""
    if legacy_ids:
        await cur.execute(
            f"SELECT legacy_user_id, id FROM users WHERE legacy_user_id IN ({_placeholders(legacy_ids)})",  # noqa: S608
            tuple(legacy_ids),
        )
        owners._users.update({legacy: user_id for legacy, user_id in await cur.fetchall()})
    if thing_ids:
        await cur.execute(
            f"SELECT thing_id, user_id, device_id FROM migration_things WHERE thing_id IN ({_placeholders(thing_ids)})"  # noqa: S608
            f"{share}",
            tuple(thing_ids),
        )
        owners._things.update({thing: (user_id, device_id) for thing, user_id, device_id in await cur.fetchall()})
    user_ids = sorted(set(owners._users.values()) | {user for user, _ in owners._things.values()})
    if user_ids:
        await cur.execute(
            f"SELECT user_id, serial, id FROM devices WHERE user_id IN ({_placeholders(user_ids)}) "  # noqa: S608
            f"ORDER BY created_at, id{share}",
            tuple(user_ids),
        )
        for user_id, serial, device_id in await cur.fetchall():
            owners._devices.setdefault((user_id, serial), device_id)
    return owners


async def owner_user_ids(cur: aiomysql.Cursor, keys: Sequence[str]) -> set[str]:
    """The users owning the scopes of these objects' raw rows, by plain reads (no locks).

    A worker locks these users, in id order, before the raw rows and before any other user lock of its
    transaction. Objects of one user arrive in several groups (their user scope and their things'):
    transactions that took users one by one in message order deadlocked, and a transaction waiting for
    a user while holding raw rows stalled the master's upsert of those rows.
    """
    if not keys:
        return set()
    marks = _placeholders(keys)
    await cur.execute(
        "SELECT u.id FROM raw_kii_objects r JOIN users u ON u.legacy_user_id = r.scope_id "  # noqa: S608
        f"WHERE r.object_key IN ({marks}) AND r.scope_type = %s "
        "UNION SELECT t.user_id FROM raw_kii_objects r JOIN migration_things t ON t.thing_id = r.scope_id "
        f"WHERE r.object_key IN ({marks}) AND r.scope_type = %s",
        (*keys, SCOPE_USER, *keys, SCOPE_THING),
    )
    return {user_id for (user_id,) in await cur.fetchall() if user_id}
