"""Processed row -> Kii object: how a new app's data looks to an old app through the Kii facade.

DESIGN section 6: an old app and a new app see the same data. An old app's writes become rows through
`transform`; `to_kii_object` is the other way, so that ``transform(to_kii_object(row)) == row``.
The result has the export-record shape `transform` reads (``scope, bucket, objectID, version,
modifiedAt, object``); ``object`` is the Kii object body an old app gets.

Decisions:
- The object id of a reading is recovered from a ``kii:<bucket>/<objectID>`` client id; any other
  client id (a new app's) gets a UUIDv5 object id and travels in the mapping's `client_id_field`.
- Values come from ``reading_values.original`` (so a reading taken in kPa reads back in kPa, exactly
  as given), from the canonical values when a row has no original. Fields the mapping does not name
  are not shown; the old app's own extra fields (``reading_values.legacy``) are.
- Kii keeps milliseconds: sub-millisecond parts of row times are dropped. Rows have no Kii version
  except settings; readings and devices show ``_version`` "1".
- Kii reserves `_` keys for the system, so settings-document keys starting with `_` are not shown.
"""

from __future__ import annotations

import copy
import re
import uuid
from datetime import datetime
from typing import Any

from shared.legacy.transform.errors import ReverseMappingError
from shared.legacy.transform.fields import to_epoch_ms
from shared.legacy.transform.mapping import BucketMapping, DeviceBucket, ReadingBucket, SettingsBucket
from shared.legacy.transform.records import SCOPE_FIELDS, SCOPE_THING, SCOPE_USER
from shared.legacy.transform.resolver import KiiNames
from shared.legacy.transform.rows import DeviceRow, ReadingRow, Row, SettingsRow
from shared.legacy.transform.transform import CLIENT_ID_PREFIX

OBJECT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:vitalsync:legacy:object")
# Kii object ids: [a-zA-Z0-9_-.]{2,100} (kii-api.md section 2.1).
KII_OBJECT_ID = re.compile(r"^[A-Za-z0-9_.-]{2,100}$")
_DOCUMENT_KEYS = frozenset({"original", "legacy"})


def to_kii_object(row: Row, mapping: BucketMapping, names: KiiNames) -> dict[str, Any]:
    """The Kii object (as an export record) that shows a processed row to an old app."""
    if isinstance(row, ReadingRow):
        return _reading_object(row, mapping, names)
    if isinstance(row, DeviceRow):
        return _device_object(row, mapping, names)
    return _settings_object(row, mapping, names)


def _record(scope_type: str, scope_id: str, bucket: str, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "scope": {"type": scope_type, SCOPE_FIELDS[scope_type][0]: scope_id},
        "bucket": bucket,
        "objectID": object_id,
        "version": int(body["_version"]),
        "modifiedAt": body["_modified"],
        "object": body,
    }


def _system(object_id: str, owner: str, created: datetime, modified: datetime, version: int) -> dict[str, Any]:
    return {
        "_id": object_id,
        "_owner": owner,
        "_created": to_epoch_ms(created),
        "_modified": to_epoch_ms(modified),
        "_version": str(version),
    }


def _kii_user(names: KiiNames, user_id: str) -> str:
    kii_user = names.kii_user_id(user_id)
    if kii_user is None:
        raise ReverseMappingError(f"user {user_id} has no Kii user id")
    return kii_user


def _thing(names: KiiNames, device_id: str | None) -> str:
    thing_id = names.thing_id(device_id) if device_id is not None else None
    if thing_id is None:
        raise ReverseMappingError(f"device {device_id} is no Kii thing, so it has no thing scope")
    return thing_id


def _reading_object(row: ReadingRow, mapping: BucketMapping, names: KiiNames) -> dict[str, Any]:
    entry = mapping.reading_bucket(row.type)
    if entry is None:
        raise ReverseMappingError(f"the mapping has no bucket for {row.type} readings")
    prefix = f"{CLIENT_ID_PREFIX}{entry.bucket}/"
    object_id = row.client_id.removeprefix(prefix)
    explicit = not (row.client_id.startswith(prefix) and KII_OBJECT_ID.fullmatch(object_id))
    if explicit:
        object_id = str(uuid.uuid5(OBJECT_ID_NAMESPACE, f"reading/{row.user_id}/{row.client_id}"))
    owner = _kii_user(names, row.user_id)
    body = _system(object_id, owner, row.created_at, row.created_at, 1)
    body.update(copy.deepcopy(row.reading_values.get("legacy") or {}))
    body.update(_legacy_values(row, entry))
    body[entry.measured_at] = to_epoch_ms(row.measured_at)
    if entry.device_serial is not None and row.device_id is not None:
        serial = names.device_serial(row.device_id)
        if serial is None:
            raise ReverseMappingError(f"device {row.device_id} has no serial")
        body[entry.device_serial] = serial
    if explicit:
        body[mapping.client_id_field] = row.client_id
    if entry.scope == SCOPE_THING:
        return _record(SCOPE_THING, _thing(names, row.device_id), entry.bucket, object_id, body)
    return _record(SCOPE_USER, owner, entry.bucket, object_id, body)


def _legacy_values(row: ReadingRow, entry: ReadingBucket) -> dict[str, Any]:
    """The reading's values under the legacy names, in the unit it was taken in."""
    original = row.reading_values.get("original")
    if not isinstance(original, dict):
        original = {name: value for name, value in row.reading_values.items() if name not in _DOCUMENT_KEYS}
    return {
        source.legacy: source.legacy_value(copy.deepcopy(original[name]))
        for name, source in entry.fields.items()
        if original.get(name) is not None
    }


def _device_object(row: DeviceRow, mapping: BucketMapping, names: KiiNames) -> dict[str, Any]:
    entry: DeviceBucket | None = mapping.device_bucket()
    if entry is None:
        raise ReverseMappingError("the mapping has no bucket for devices")
    owner = _kii_user(names, row.user_id)
    body = _system(row.id, owner, row.created_at, row.updated_at, 1)
    columns: dict[str, Any] = {
        "model": row.model,
        "serial": row.serial,
        "kind": row.kind,
        "paired_at": to_epoch_ms(row.paired_at),
        "firmware": row.firmware,
        "name": row.name,
        "ble_address": row.ble_address,
        "thing_id": names.thing_id(row.id),
    }
    for column, value in columns.items():
        source = getattr(entry.fields, column)
        if source is not None and value is not None:
            body[source.legacy] = source.legacy_value(value)
    return _record(SCOPE_USER, owner, entry.bucket, row.id, body)


def _settings_object(row: SettingsRow, mapping: BucketMapping, names: KiiNames) -> dict[str, Any]:
    entry: SettingsBucket | None = mapping.settings_bucket()
    if entry is None:
        raise ReverseMappingError("the mapping has no bucket for device settings")
    owner = _kii_user(names, row.user_id)
    object_id = str(uuid.uuid5(OBJECT_ID_NAMESPACE, f"settings/{row.device_id}"))
    body = _system(object_id, owner, row.updated_at, row.updated_at, row.version)
    body.update({name: copy.deepcopy(value) for name, value in row.document.items() if not name.startswith("_")})
    if entry.scope == SCOPE_THING:
        return _record(SCOPE_THING, _thing(names, row.device_id), entry.bucket, object_id, body)
    assert entry.device_serial is not None  # the mapping requires it in a user scope
    serial = names.device_serial(row.device_id)
    if serial is None:
        raise ReverseMappingError(f"device {row.device_id} has no serial")
    body[entry.device_serial] = serial
    return _record(SCOPE_USER, owner, entry.bucket, object_id, body)
