"""The bucket mapping (DESIGN 6): user-scope buckets the legacy mapping names are also typed rows.

An old app writes a ``bp_records`` object; in the same transaction the shared transform
(``shared.legacy.transform``, the code the migration runs) turns it into a reading, written through
``shared/store`` with its change_log and outbox rows, so a new app sees it in ``GET /v1/readings``
and in delta sync. Data the transform refuses is refused to the old app too: 400
INVALID_INPUT_DATA naming the failure pattern and the legacy field, and nothing is stored.

- Readings: client id ``kii:<bucket>/<objectID>`` (or the mapping's client id field). A replaced or
  patched object rewrites its reading in place (change_log ``upsert``); a deleted object deletes
  it (change_log ``delete``). Only creation has an event: the event schema knows no
  ``reading.updated`` / ``reading.deleted`` yet.
- Devices: a ``devices`` object pairs (idempotent on model + serial) and keeps name, firmware and
  BLE address current; deleting the object unpairs the device.
- Only the user scope is projected: the thing-scope ``settings`` bucket stays a plain bucket
  (device settings are versioned by the protocol's If-Match flow, which a Kii version would break).
- The caller holds the owner's user lock (``lock_user``) for the whole transaction, as every
  change_log writer does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomysql
from aiohttp import web

from services.sync.kii import objects_repo
from services.sync.kii.objects_repo import StoredObject
from services.sync.kii.payload import MAX_JSON_DEPTH, json_depth
from services.sync.kii.query_sql import ObjectScope
from services.sync.kii.scopes import kii_scope_type
from shared.kii.errors import KiiError
from shared.legacy.transform import (
    BucketMapping,
    DeleteTarget,
    DeviceBucket,
    DeviceRow,
    ReadingBucket,
    ReadingRow,
    TransformFailure,
    transform,
    transform_delete,
)
from shared.store import change_log
from shared.store.devices import pair_device, unpair_device, update_device
from shared.store.readings import NewReading, insert_readings, touch_device

KII_MAPPING = web.AppKey("kii_bucket_mapping", BucketMapping)
SOURCE_KII = "kii"
MappedEntry = ReadingBucket | DeviceBucket


@dataclass(frozen=True, slots=True)
class EventTarget:
    """Where projected writes announce themselves (settings.region, settings.events_topic)."""

    region: str
    topic: str


def mapped_entry(mapping: BucketMapping, scope: ObjectScope) -> MappedEntry | None:
    """The mapping entry that projects this bucket, or None for a plain bucket."""
    if scope.scope_type != "user":
        return None
    entry = mapping.entry(kii_scope_type(scope.scope_type), scope.bucket)
    return entry if isinstance(entry, ReadingBucket | DeviceBucket) else None


class _Owners:
    """The transform's OwnerResolver for one request: the caller, and their devices by serial."""

    def __init__(self, user_id: str, devices: list[tuple[str, str, str]], model: str | None) -> None:
        self._user_id = user_id
        self._by_serial: dict[str, str] = {}
        for serial, device_model, device_id in devices:
            # a devices object names its model: only that model's device is the same device
            if model is None or device_model == model:
                self._by_serial.setdefault(serial, device_id)

    def user_id_for(self, legacy_user_id: str) -> str | None:
        return self._user_id if legacy_user_id == self._user_id else None

    def device_id_for(self, user_id: str, serial: str) -> str | None:
        return self._by_serial.get(serial) if user_id == self._user_id else None

    def thing_device(self, thing_id: str) -> tuple[str, str] | None:
        return None


def _record(scope: ObjectScope, stored: StoredObject) -> dict[str, Any]:
    """The export record the transform reads (DESIGN 10 shape), system fields in the object."""
    return {
        "scope": {"type": kii_scope_type(scope.scope_type), "userID": scope.scope_id},
        "bucket": scope.bucket,
        "objectID": stored.object_id,
        "version": stored.version,
        "modifiedAt": stored.modified_at,
        "object": stored.to_kii(),
    }


async def _owners(cur: aiomysql.Cursor, entry: MappedEntry, user_id: str, body: dict[str, Any]) -> _Owners:
    """The resolver for one body, with the caller's devices whose serial the body names."""
    if isinstance(entry, ReadingBucket):
        field, model = entry.device_serial, None
    else:
        field = entry.fields.serial.legacy
        model_value = body.get(entry.fields.model.legacy)
        model = model_value if isinstance(model_value, str) else ""
    serial = body.get(field) if field else None
    serials = [serial] if isinstance(serial, str) else []
    return _Owners(user_id, await objects_repo.devices_by_serial(cur, user_id, serials), model)


def _failure(failure: TransformFailure) -> KiiError:
    where = f" (field {failure.field})" if failure.field else ""
    return KiiError(
        400,
        "INVALID_INPUT_DATA",
        f"{failure.pattern.value}{where}: {failure.message}",
        failurePattern=failure.pattern.value,
        field=failure.field,
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


async def project_write(
    cur: aiomysql.Cursor,
    mapping: BucketMapping,
    entry: MappedEntry,
    scope: ObjectScope,
    before: StoredObject | None,
    after: StoredObject,
    events: EventTarget,
) -> None:
    """Create or update the typed row of a written object; KiiError 400 if the transform refuses it."""
    owners = await _owners(cur, entry, scope.scope_id, after.body)
    result = transform(_record(scope, after), mapping, owners, source=SOURCE_KII)
    if isinstance(result, TransformFailure):
        raise _failure(result)
    previous = await _previous_target(cur, mapping, entry, scope, before)
    for row in result.rows:
        if isinstance(row, ReadingRow):
            await _write_reading(cur, row, previous, events)
        elif isinstance(row, DeviceRow):
            await _write_device(cur, row, previous, events)


async def _previous_target(
    cur: aiomysql.Cursor, mapping: BucketMapping, entry: MappedEntry, scope: ObjectScope, before: StoredObject | None
) -> DeleteTarget | None:
    """The row an object's stored version projects to: what a change of identity or a delete removes."""
    if before is None:
        return None
    owners = await _owners(cur, entry, scope.scope_id, before.body)
    target = transform_delete(_record(scope, before), mapping, owners, last_body=before.to_kii())
    return target if isinstance(target, DeleteTarget) else None


async def _write_reading(
    cur: aiomysql.Cursor, row: ReadingRow, previous: DeleteTarget | None, events: EventTarget
) -> None:
    # reading_values nests the legacy extras one level down: keep within what MariaDB stores
    if json_depth(row.reading_values) > MAX_JSON_DEPTH:
        raise KiiError(400, "INVALID_INPUT_DATA", f"the reading's fields may nest at most {MAX_JSON_DEPTH - 1} levels")
    if previous is not None and previous.table == "readings" and previous.row_key["client_id"] != row.client_id:
        await _delete_reading(cur, row.user_id, previous.row_key["client_id"])
    measured_at = _naive(row.measured_at)
    values = {
        "device_id": row.device_id,
        "type": row.type,
        "measured_at": measured_at,
        "primary_value": row.primary_value,
        "original_unit": row.original_unit,
        "reading_values": row.reading_values,
    }
    existing = await objects_repo.reading_id(cur, row.user_id, row.client_id)
    if existing is not None:
        await objects_repo.update_reading(cur, existing, values)
        await change_log.record(cur, row.user_id, "reading", [str(existing)], "upsert")
        return
    reading = NewReading(
        client_id=row.client_id,
        type=row.type,
        measured_at=measured_at,
        primary_value=row.primary_value,
        original_unit=row.original_unit,
        values=row.reading_values,
        device_id=row.device_id,
    )
    await insert_readings(cur, row.user_id, [reading], SOURCE_KII, events.region, events.topic)
    if row.device_id is not None:
        await touch_device(cur, row.device_id, reading.measured_at)


async def _write_device(
    cur: aiomysql.Cursor, row: DeviceRow, previous: DeleteTarget | None, events: EventTarget
) -> None:
    fields = {
        "kind": row.kind,
        "model": row.model,
        "serial": row.serial,
        "firmware": row.firmware,
        "name": row.name,
        "ble_address": row.ble_address,
    }
    # The derived id (UUIDv5 of the object's key) may already name another device: an object id
    # reused after a delete for other hardware. pair_device then picks a fresh id.
    taken = await objects_repo.device_model_serial(cur, row.id)
    wanted_id = row.id if taken is None or taken == (row.user_id, row.model, row.serial) else None
    device, _ = await pair_device(cur, row.user_id, fields, _now(), events.region, events.topic, device_id=wanted_id)
    changes = {
        column: value
        for column, value in (("name", row.name), ("firmware", row.firmware), ("ble_address", row.ble_address))
        if value is not None and getattr(device, column) != value
    }
    if changes:
        await update_device(cur, row.user_id, device.id, changes)
    if previous is not None and previous.table == "devices" and previous.row_key["id"] != device.id:
        await unpair_device(cur, row.user_id, previous.row_key["id"], _now(), events.region, events.topic)


async def project_delete(
    cur: aiomysql.Cursor,
    mapping: BucketMapping,
    entry: MappedEntry,
    scope: ObjectScope,
    before: StoredObject,
    events: EventTarget,
) -> None:
    """Remove the typed row of a deleted object (a device is unpaired, not deleted)."""
    target = await _previous_target(cur, mapping, entry, scope, before)
    if target is None:
        return
    if target.table == "readings":
        await _delete_reading(cur, target.row_key["user_id"], target.row_key["client_id"])
    elif target.table == "devices":
        await unpair_device(cur, scope.scope_id, target.row_key["id"], _now(), events.region, events.topic)


async def _delete_reading(cur: aiomysql.Cursor, user_id: str, client_id: str) -> None:
    existing = await objects_repo.reading_id(cur, user_id, client_id)
    if existing is not None:
        await objects_repo.delete_reading(cur, existing)
        await change_log.record(cur, user_id, "reading", [str(existing)], "delete")
