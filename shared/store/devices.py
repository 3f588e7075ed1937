"""Device writes: pair (idempotent on user + model + serial), update, unpair (kept as a deletion)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomysql

from shared.events.envelope import Event
from shared.store import change_log
from shared.store.outbox import add_event

DEVICE_COLUMNS = (
    "id, user_id, kind, model, serial, firmware, name, ble_address, paired_at, unpaired_at, last_seen_at, updated_at"
)


@dataclass
class DeviceRow:
    id: str
    user_id: str
    kind: str
    model: str
    serial: str
    firmware: str | None
    name: str | None
    ble_address: str | None
    paired_at: datetime
    unpaired_at: datetime | None
    last_seen_at: datetime | None
    updated_at: datetime | None = None


async def get_device(cur: aiomysql.Cursor, user_id: str, device_id: str) -> DeviceRow | None:
    """The user's device (another user's id is simply not found)."""
    await cur.execute(
        f"SELECT {DEVICE_COLUMNS} FROM devices WHERE id = %s AND user_id = %s",  # noqa: S608 - constant columns
        (device_id, user_id),
    )
    found = await cur.fetchone()
    return DeviceRow(*found) if found else None


async def pair_device(
    cur: aiomysql.Cursor,
    user_id: str,
    fields: dict[str, Any],
    now: datetime,
    region: str,
    topic: str,
    device_id: str | None = None,
) -> tuple[DeviceRow, bool]:
    """Pair or re-pair; returns (device, created). Caller holds the user lock (change_log.lock_user)."""
    await cur.execute(
        f"SELECT {DEVICE_COLUMNS} FROM devices WHERE user_id = %s AND model = %s AND serial = %s",  # noqa: S608
        (user_id, fields["model"], fields["serial"]),
    )
    found = await cur.fetchone()
    if found is not None:
        device = DeviceRow(*found)
        if device.unpaired_at is None:
            return device, False
        await cur.execute(
            "UPDATE devices SET unpaired_at = NULL, paired_at = %s, kind = %s, firmware = COALESCE(%s, firmware), "
            "name = COALESCE(%s, name), ble_address = COALESCE(%s, ble_address) WHERE id = %s",
            (now, fields["kind"], fields.get("firmware"), fields.get("name"), fields.get("ble_address"), device.id),
        )
        created = False
    else:
        device_id = device_id or str(uuid.uuid4())
        await cur.execute(
            "INSERT INTO devices (id, user_id, kind, model, serial, firmware, name, ble_address, paired_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                device_id,
                user_id,
                fields["kind"],
                fields["model"],
                fields["serial"],
                fields.get("firmware"),
                fields.get("name"),
                fields.get("ble_address"),
                now,
            ),
        )
        device = DeviceRow(
            device_id, user_id, fields["kind"], fields["model"], fields["serial"], None, None, None, now, None, None
        )
        created = True
    await change_log.record(cur, user_id, "device", [device.id], "upsert")
    await add_event(
        cur,
        Event(
            type="device.paired",
            user_id=user_id,
            region=region,
            data={
                "device_id": device.id,
                "kind": fields["kind"],
                "model": fields["model"],
                "firmware": fields.get("firmware"),
            },
        ),
        topic,
    )
    refreshed = await get_device(cur, user_id, device.id)
    assert refreshed is not None
    return refreshed, created


async def update_device(cur: aiomysql.Cursor, user_id: str, device_id: str, changes: dict[str, Any]) -> None:
    """Update whitelisted columns (names fixed here, values bound) and log the change."""
    allowed = [c for c in ("name", "firmware", "ble_address") if c in changes]
    if allowed:
        assignments = ", ".join(f"{c} = %s" for c in allowed)
        await cur.execute(
            f"UPDATE devices SET {assignments} WHERE id = %s AND user_id = %s",  # noqa: S608 - fixed column names
            (*[changes[c] for c in allowed], device_id, user_id),
        )
        await change_log.record(cur, user_id, "device", [device_id], "upsert")


async def unpair_device(
    cur: aiomysql.Cursor, user_id: str, device_id: str, now: datetime, region: str, topic: str
) -> bool:
    """Mark unpaired (the row stays, so delta sync can report the deletion); False if not paired."""
    await cur.execute(
        "UPDATE devices SET unpaired_at = %s WHERE id = %s AND user_id = %s AND unpaired_at IS NULL",
        (now, device_id, user_id),
    )
    if not cur.rowcount:
        return False
    await change_log.record(cur, user_id, "device", [device_id], "delete")
    await add_event(
        cur, Event(type="device.unpaired", user_id=user_id, region=region, data={"device_id": device_id}), topic
    )
    return True
