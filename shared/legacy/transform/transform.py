"""Legacy Kii object -> processed rows, driven by a bucket mapping: pure, synchronous, deterministic.

One function serves the migration worker (snapshot and change records), the Kii facade's bucket
mapping (an old app writes `bp_records`, a new app sees a reading) and the validator (DESIGN
sections 6 and 10). Bad data never raises: it comes back as a `TransformFailure` with a pattern.

Decisions:
- Ids. A reading's identity is (user_id, client_id) with client_id ``kii:<bucket>/<objectID>``
  (the bucket is part of it because object ids are unique per bucket only), or the value of the
  mapping's `client_id_field` when the object carries one (objects that new apps' readings became).
  A device keeps the id the resolver already has for (user, serial) (e.g. a device a new app paired
  first), otherwise it is UUIDv5 of the object's kiicloud:// key, so re-running never duplicates and
  a DELETE record (which has no body) still names the device.
- Unknown device: a reading whose device serial matches none of the owner's devices is kept with
  device_id NULL (the schema allows it; the measurement is the user's data, and the old app let a
  device be removed while its readings stayed) and carries an UNKNOWN_DEVICE warning; its serial
  stays in ``reading_values.legacy`` so it can be linked later (a matched serial is the device's).
  Settings need a device: they fail with UNKNOWN_DEVICE (retryable once the device is migrated).
- Checks run in this order, so an object with several faults always reports the same pattern:
  shape, mapping, size, owner, timestamp, values (the protocol's own validation).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.legacy.transform.fields import (
    BLE_ADDRESS,
    FieldFailure,
    from_epoch_ms,
    protocol_failure,
    protocol_values,
    system_time,
    text,
    timestamp,
)
from shared.legacy.transform.mapping import (
    BucketMapping,
    DeviceBucket,
    IgnoredBucket,
    ReadingBucket,
    SettingsBucket,
)
from shared.legacy.transform.records import (
    KII_OBJECT_MAX_CHARS,
    SCOPE_THING,
    SCOPE_USER,
    LegacyRecord,
    RecordShapeError,
    as_legacy_record,
    serialized_size,
)
from shared.legacy.transform.resolver import OwnerResolver
from shared.legacy.transform.rows import (
    DeleteResult,
    DeleteTarget,
    DeviceRow,
    FailurePattern,
    Ignored,
    ReadingRow,
    SettingsRow,
    Transformed,
    TransformFailure,
    TransformResult,
    TransformWarning,
    reading_row,
)
from shared.protocol.readings import READING_TYPES, Reading

SOURCE_MIGRATION = "migration"
CLIENT_ID_PREFIX = "kii:"
DEVICE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:vitalsync:legacy:device")
# Column widths of infra/db/migrations/0001_initial_schema.sql.
_MODEL_CHARS = _SERIAL_CHARS = _FIRMWARE_CHARS = 64
_NAME_CHARS = 128
_KIND_CHARS = 32
_BLE_ADDRESS_CHARS = 17
_THING_ID_CHARS = 128


@dataclass(frozen=True, slots=True)
class _System:
    """The Kii system fields of a body."""

    created: datetime
    modified: datetime
    version: int


_IMMUTABLE = (str, int, float, bool, type(None))  # JSON scalars: kept as they are, no copy needed


def derived_client_id(bucket: str, object_id: str) -> str:
    """The client id of a reading that a Kii object became: ``kii:<bucket>/<objectID>``."""
    return f"{CLIENT_ID_PREFIX}{bucket}/{object_id}"


def derived_device_id(key: str) -> str:
    """The device id derived from a `devices` object's kiicloud:// key (UUIDv5)."""
    return str(uuid.uuid5(DEVICE_ID_NAMESPACE, key))


def transform(
    record: object,
    mapping: BucketMapping,
    owners: OwnerResolver,
    *,
    source: str = SOURCE_MIGRATION,
) -> TransformResult:
    """The processed rows of one legacy object (export record or legacy object), or why there are none."""
    try:
        legacy = as_legacy_record(record)
    except RecordShapeError as error:
        return TransformFailure("", FailurePattern.MALFORMED_OBJECT, error.field, error.message)
    key = legacy.key
    body = legacy.body
    if body is None:
        return TransformFailure(key, FailurePattern.MALFORMED_OBJECT, "object", "no object body (use transform_delete)")
    entry = mapping.entry(legacy.scope_type, legacy.bucket)
    if entry is None:
        message = f"no mapping for bucket {legacy.bucket} in scope {legacy.scope_type}"
        return TransformFailure(key, FailurePattern.UNMAPPED_BUCKET, "bucket", message)
    if isinstance(entry, IgnoredBucket):
        return Transformed(key, ())
    try:
        size = serialized_size(body) if legacy.body_chars is None else legacy.body_chars
    except (TypeError, ValueError):
        return TransformFailure(key, FailurePattern.MALFORMED_OBJECT, "object", "object is not JSON")
    if size > KII_OBJECT_MAX_CHARS:
        message = f"object is {size} characters of JSON, over Kii's limit of {KII_OBJECT_MAX_CHARS}"
        return TransformFailure(key, FailurePattern.OBJECT_TOO_LARGE, None, message)
    try:
        system = _system(legacy, body)
        if isinstance(entry, ReadingBucket):
            return _reading(legacy, body, system, entry, mapping, owners, source)
        if isinstance(entry, DeviceBucket):
            return _device(legacy, body, system, entry, owners)
        return _settings(legacy, body, system, entry, owners)
    except FieldFailure as failure:
        return TransformFailure(key, failure.pattern, failure.field, failure.message)


def transform_delete(
    record: object,
    mapping: BucketMapping,
    owners: OwnerResolver,
    *,
    last_body: Mapping[str, Any] | None = None,
) -> DeleteResult:
    """The row a DELETE record removes; pass `last_body` (the object's last live body) when known."""
    # The key alone names the row of most objects. The last body is needed for a device the resolver
    # matched by serial (not by key), a reading with an explicit client id, and user-scope settings.
    try:
        legacy = as_legacy_record(record)
    except RecordShapeError as error:
        return TransformFailure("", FailurePattern.MALFORMED_OBJECT, error.field, error.message)
    key = legacy.key
    entry = mapping.entry(legacy.scope_type, legacy.bucket)
    if entry is None:
        message = f"no mapping for bucket {legacy.bucket} in scope {legacy.scope_type}"
        return TransformFailure(key, FailurePattern.UNMAPPED_BUCKET, "bucket", message)
    if isinstance(entry, IgnoredBucket):
        return Ignored(key)
    try:
        deleted_at = from_epoch_ms(legacy.modified_at) if legacy.modified_at is not None else None
    except OverflowError:
        return TransformFailure(key, FailurePattern.INVALID_TIMESTAMP, "modifiedAt", "modifiedAt is out of range")
    if last_body is not None:
        revived = LegacyRecord(legacy.scope_type, legacy.scope_id, legacy.bucket, legacy.object_id, last_body)
        result = transform(revived, mapping, owners)
        if isinstance(result, Transformed) and len(result.rows) == 1:
            return _delete_target(key, result.rows[0], deleted_at)
    try:
        if isinstance(entry, SettingsBucket):
            if entry.scope != SCOPE_THING:
                raise FieldFailure(FailurePattern.MISSING_FIELD, entry.device_serial, "needs the last body")
            _, device_id = _thing_owner(legacy, {}, owners)
            return DeleteTarget(key, "device_settings", {"device_id": device_id}, "delete", deleted_at)
        user_id, _ = _owner(legacy, {}, owners)
        if isinstance(entry, DeviceBucket):
            return DeleteTarget(key, "devices", {"id": derived_device_id(key)}, "unpair", deleted_at)
        row_key = {"user_id": user_id, "client_id": derived_client_id(legacy.bucket, legacy.object_id)}
        return DeleteTarget(key, "readings", row_key, "delete", deleted_at)
    except FieldFailure as failure:
        return TransformFailure(key, failure.pattern, failure.field, failure.message)


def _delete_target(key: str, row: ReadingRow | DeviceRow | SettingsRow, deleted_at: datetime | None) -> DeleteTarget:
    if isinstance(row, ReadingRow):
        return DeleteTarget(key, "readings", {"user_id": row.user_id, "client_id": row.client_id}, "delete", deleted_at)
    if isinstance(row, DeviceRow):
        return DeleteTarget(key, "devices", {"id": row.id}, "unpair", deleted_at)
    return DeleteTarget(key, "device_settings", {"device_id": row.device_id}, "delete", deleted_at)


def _system(legacy: LegacyRecord, body: Mapping[str, Any]) -> _System:
    created = system_time(body, "_created")
    modified = system_time(body, "_modified") if "_modified" in body else created
    version = legacy.version
    if version is None:
        try:
            version = int(body.get("_version", 1))
        except (TypeError, ValueError):
            raise FieldFailure(FailurePattern.MALFORMED_OBJECT, "_version", "_version must be a number") from None
    if version < 1:
        raise FieldFailure(FailurePattern.MALFORMED_OBJECT, "_version", "version must be 1 or more")
    return _System(created, modified, version)


def _owner(legacy: LegacyRecord, body: Mapping[str, Any], owners: OwnerResolver) -> tuple[str, str | None]:
    """(user id, device id from a thing scope) of the object; ORPHAN_OWNER when the user is not known."""
    if legacy.scope_type == SCOPE_THING:
        return _thing_owner(legacy, body, owners)
    assert legacy.scope_type == SCOPE_USER and legacy.scope_id is not None  # the mapping allows no other
    user_id = owners.user_id_for(legacy.scope_id)
    if user_id is None:
        raise FieldFailure(FailurePattern.ORPHAN_OWNER, "_owner", f"user {legacy.scope_id} is not known")
    return user_id, None


def _thing_owner(legacy: LegacyRecord, body: Mapping[str, Any], owners: OwnerResolver) -> tuple[str, str]:
    assert legacy.scope_id is not None
    found = owners.thing_device(legacy.scope_id)
    if found is not None:
        return found
    creator = body.get("_owner")
    if isinstance(creator, str) and owners.user_id_for(creator) is None:
        raise FieldFailure(FailurePattern.ORPHAN_OWNER, "_owner", f"user {creator} is not known")
    raise FieldFailure(FailurePattern.UNKNOWN_DEVICE, "thingID", f"thing {legacy.scope_id} is no known device")


def _reading(
    legacy: LegacyRecord,
    body: Mapping[str, Any],
    system: _System,
    entry: ReadingBucket,
    mapping: BucketMapping,
    owners: OwnerResolver,
    source: str,
) -> Transformed:
    user_id, device_id = _owner(legacy, body, owners)
    measured_at = timestamp(body, entry.measured_at, uploaded=system.created)
    values = protocol_values(body, entry)
    explicit = body.get(mapping.client_id_field)
    client_id = explicit if explicit is not None else derived_client_id(legacy.bucket, legacy.object_id)
    client_id_source = mapping.client_id_field if explicit is not None else "objectID"
    warnings: list[TransformWarning] = []
    serial = body.get(entry.device_serial) if entry.device_serial else None
    if device_id is None and serial is not None:
        if not isinstance(serial, str):
            raise FieldFailure(FailurePattern.MALFORMED_OBJECT, entry.device_serial, "device serial must be text")
        device_id = owners.device_id_for(user_id, serial)
        if device_id is None:
            message = f"no device with serial {serial}: reading kept without a device"
            warnings.append(TransformWarning(FailurePattern.UNKNOWN_DEVICE, entry.device_serial, message))
    item = {"client_id": client_id, "type": entry.reading_type, "measured_at": measured_at, "values": values}
    try:
        reading = Reading.model_validate({"item": item}).item
    except ValidationError as error:
        raise protocol_failure(error, entry, client_id_source) from None
    consumed = entry.consumed_fields | {mapping.client_id_field}
    if device_id is not None and entry.device_serial is not None:
        consumed |= {entry.device_serial}  # the device row has the serial; unmatched ones stay in `legacy`
    extras = {
        name: value if isinstance(value, _IMMUTABLE) else copy.deepcopy(value)
        for name, value in body.items()
        if not name.startswith("_") and name not in consumed
    }
    row = reading_row(
        reading, user_id=user_id, device_id=device_id, source=source, created_at=system.created, legacy=extras
    )
    return Transformed(legacy.key, (row,), tuple(warnings))


def _device(
    legacy: LegacyRecord, body: Mapping[str, Any], system: _System, entry: DeviceBucket, owners: OwnerResolver
) -> Transformed:
    user_id, _ = _owner(legacy, body, owners)
    fields = entry.fields
    model = text(body, fields.model, max_length=_MODEL_CHARS, required=True)
    serial = text(body, fields.serial, max_length=_SERIAL_CHARS, required=True)
    kind = text(body, fields.kind, max_length=_KIND_CHARS, required=True)
    assert model is not None and serial is not None and kind is not None
    if kind not in READING_TYPES:
        raise FieldFailure(FailurePattern.MALFORMED_OBJECT, fields.kind.legacy, f"kind must be one of {READING_TYPES}")
    ble_address = text(body, fields.ble_address, max_length=_BLE_ADDRESS_CHARS, required=False)
    if ble_address is not None and not BLE_ADDRESS.fullmatch(ble_address):
        assert fields.ble_address is not None
        raise FieldFailure(FailurePattern.MALFORMED_OBJECT, fields.ble_address.legacy, "not a Bluetooth address")
    row = DeviceRow(
        id=owners.device_id_for(user_id, serial) or derived_device_id(legacy.key),
        user_id=user_id,
        kind=kind,
        model=model,
        serial=serial,
        firmware=text(body, fields.firmware, max_length=_FIRMWARE_CHARS, required=False),
        name=text(body, fields.name, max_length=_NAME_CHARS, required=False),
        ble_address=ble_address,
        paired_at=timestamp(body, fields.paired_at.legacy, uploaded=system.created),
        unpaired_at=None,
        last_seen_at=None,
        created_at=system.created,
        updated_at=system.modified,
    )
    thing_id = text(body, fields.thing_id, max_length=_THING_ID_CHARS, required=False)
    return Transformed(legacy.key, (row,), thing_id=thing_id)


def _settings(
    legacy: LegacyRecord, body: Mapping[str, Any], system: _System, entry: SettingsBucket, owners: OwnerResolver
) -> Transformed:
    if legacy.scope_type == SCOPE_THING:
        user_id, device_id = _thing_owner(legacy, body, owners)
    else:
        user_id, _ = _owner(legacy, body, owners)
        assert entry.device_serial is not None  # the mapping requires it in a user scope
        serial = body.get(entry.device_serial)
        if not isinstance(serial, str):
            raise FieldFailure(FailurePattern.MISSING_FIELD, entry.device_serial, "settings name no device serial")
        found = owners.device_id_for(user_id, serial)
        if found is None:
            raise FieldFailure(FailurePattern.UNKNOWN_DEVICE, entry.device_serial, f"no device with serial {serial}")
        device_id = found
    document = {
        name: copy.deepcopy(value)
        for name, value in body.items()
        if not name.startswith("_") and name != entry.device_serial
    }
    row = SettingsRow(device_id, user_id, system.version, document, system.modified)
    return Transformed(legacy.key, (row,))
