"""Processed writes of one object through shared/store, so migrated data shows in delta sync and stats.

The store pairs devices, inserts readings and puts settings with their change_log and outbox rows (the
sync service's own code); what the store has no function for (a reading's full update or deletion, the
legacy timestamps a migrated row keeps) is done here, with the same change_log entries. The caller
runs everything in one transaction; each function takes the owner's user lock first (change_log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import aiomysql

from services.migration import repo
from shared.legacy.transform import DeleteTarget, DeviceRow, ReadingRow, SettingsRow
from shared.legacy.transform.records import compact_json
from shared.store import change_log, devices, readings, settings


@dataclass(frozen=True, slots=True)
class EventTarget:
    """Where store writes announce themselves: the region stamped on events and the outbox topic."""

    region: str
    topic: str


def naive_utc(moment: datetime) -> datetime:
    """An aware datetime as the naive UTC the DATETIME columns hold."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


class UnknownUserError(LookupError):
    """The owner vanished between the transform and the write (a user deleted mid-migration)."""


async def _lock(cur: aiomysql.Cursor, user_id: str) -> None:
    if not await change_log.lock_user(cur, user_id):
        raise UnknownUserError(user_id)


async def write_device(cur: aiomysql.Cursor, row: DeviceRow, thing_id: str | None, key: str, to: EventTarget) -> None:
    """Pair (or re-pair) the device, then give it the legacy object's fields and times."""
    await _lock(cur, row.user_id)
    fields = {
        "kind": row.kind,
        "model": row.model,
        "serial": row.serial,
        "firmware": row.firmware,
        "name": row.name,
        "ble_address": row.ble_address,
    }
    device, created = await devices.pair_device(
        cur, row.user_id, fields, naive_utc(row.paired_at), to.region, to.topic, device_id=row.id
    )
    changed = (device.kind, device.firmware, device.name, device.ble_address, device.unpaired_at) != (
        row.kind,
        row.firmware,
        row.name,
        row.ble_address,
        None,
    )
    # pair_device keeps an existing device's fields and stamps its own times: align with the legacy object
    await cur.execute(
        "UPDATE devices SET kind = %s, firmware = %s, name = %s, ble_address = %s, paired_at = %s, "
        "unpaired_at = NULL, created_at = %s, updated_at = %s WHERE id = %s",
        (
            row.kind,
            row.firmware,
            row.name,
            row.ble_address,
            naive_utc(row.paired_at),
            naive_utc(row.created_at),
            naive_utc(row.updated_at),
            device.id,
        ),
    )
    if not created and changed:
        await change_log.record(cur, row.user_id, "device", [device.id], "upsert")
    if thing_id is not None:
        await repo.upsert_things(cur, [(thing_id, row.user_id, device.id, key)])


async def write_reading(cur: aiomysql.Cursor, row: ReadingRow, to: EventTarget) -> None:
    """Insert the reading (store: change_log + reading.created), or update it in full when it exists."""
    await _lock(cur, row.user_id)
    found = await readings.existing_ids(cur, row.user_id, [row.client_id])
    values = compact_json(row.reading_values)
    if found:
        reading_id = found[row.client_id]
        await cur.execute(
            "UPDATE readings SET device_id = %s, type = %s, measured_at = %s, primary_value = %s, "
            "original_unit = %s, reading_values = %s, source = %s, created_at = %s WHERE id = %s",
            (
                row.device_id,
                row.type,
                naive_utc(row.measured_at),
                row.primary_value,
                row.original_unit,
                values,
                row.source,
                naive_utc(row.created_at),
                reading_id,
            ),
        )
        await change_log.record(cur, row.user_id, "reading", [str(reading_id)], "upsert")
        return
    new = readings.NewReading(
        client_id=row.client_id,
        type=row.type,
        measured_at=naive_utc(row.measured_at),
        primary_value=row.primary_value,
        original_unit=row.original_unit,
        values=row.reading_values,
        device_id=row.device_id,
    )
    ids = await readings.insert_readings(cur, row.user_id, [new], row.source, to.region, to.topic)
    # a migrated reading keeps the time the old app created it
    await cur.execute(
        "UPDATE readings SET created_at = %s WHERE id = %s", (naive_utc(row.created_at), ids[row.client_id])
    )


async def write_settings(cur: aiomysql.Cursor, row: SettingsRow, to: EventTarget) -> None:
    """Put the settings document at its legacy version (store: change_log + settings.changed)."""
    await _lock(cur, row.user_id)
    await settings.put_settings(cur, row.user_id, row.device_id, row.document, row.version, to.region, to.topic)
    await cur.execute(
        "UPDATE device_settings SET updated_at = %s WHERE device_id = %s", (naive_utc(row.updated_at), row.device_id)
    )


async def delete_target(cur: aiomysql.Cursor, target: DeleteTarget, to: EventTarget) -> None:
    """Remove what a deleted object had become (a device is unpaired, not deleted); absent rows are fine."""
    deleted_at = naive_utc(target.deleted_at) if target.deleted_at else repo.utcnow()
    if target.table == "readings":
        user_id = target.row_key["user_id"]
        await _lock(cur, user_id)
        found = await readings.existing_ids(cur, user_id, [target.row_key["client_id"]])
        if found:
            reading_id = found[target.row_key["client_id"]]
            await cur.execute("DELETE FROM readings WHERE id = %s", (reading_id,))
            await change_log.record(cur, user_id, "reading", [str(reading_id)], "delete")
        return
    if target.table == "devices":
        device_id = target.row_key["id"]
        await cur.execute("SELECT user_id FROM devices WHERE id = %s", (device_id,))
        owner = await cur.fetchone()
        if owner is not None:
            await _lock(cur, owner[0])
            await devices.unpair_device(cur, owner[0], device_id, deleted_at, to.region, to.topic)
        return
    device_id = target.row_key["device_id"]
    await cur.execute("SELECT user_id FROM device_settings WHERE device_id = %s", (device_id,))
    owner = await cur.fetchone()
    if owner is not None:
        await _lock(cur, owner[0])
        await cur.execute("DELETE FROM device_settings WHERE device_id = %s", (device_id,))
        await change_log.record(cur, owner[0], "settings", [device_id], "delete")
