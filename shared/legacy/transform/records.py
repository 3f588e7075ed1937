"""One legacy Kii object as the transform reads it, whatever shape it arrived in, and its key.

The transform takes an export record (DESIGN section 10: ``{op, appID, scope {type, userID|thingID|
groupID}, bucket, objectID, version, modifiedAt, object}``) as a JSON mapping, or any object with the
attributes of the legacy emulator's ``LegacyObject`` / ``ExportRecord`` (``scope.type``, ``scope.id``,
``bucket``, ``object_id``, ``body``; ``version`` and ``modified_at`` when present). Shared code never
imports the simulator (DESIGN section 2), so the shape is read by duck typing; the key format and
scope constants live here and the emulator imports them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# Kii's scope types (kii-api.md section 2.5) and each one's id field in a record / collection in a URI.
SCOPE_APP = "APP"
SCOPE_USER = "APP_AND_USER"
SCOPE_THING = "APP_AND_THING"
SCOPE_GROUP = "APP_AND_GROUP"
SCOPE_FIELDS: Mapping[str, tuple[str, str]] = {
    SCOPE_USER: ("userID", "users"),
    SCOPE_THING: ("thingID", "things"),
    SCOPE_GROUP: ("groupID", "groups"),
}
SCOPE_TYPES: tuple[str, ...] = (SCOPE_APP, SCOPE_USER, SCOPE_THING, SCOPE_GROUP)

# Kii refuses objects longer than this many characters of compact JSON (kii-api.md section 2.1).
KII_OBJECT_MAX_CHARS = 65534


class RecordShapeError(ValueError):
    """The input is not a legacy object at all (no scope, no bucket, body not an object...)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class LegacyRecord:
    """The parts of one legacy object the transform needs; `body` is None for a DELETE record.

    `body_chars` is the length of the body's compact JSON when the caller has that text already (the
    migration encodes every body once for its raw row); the size check computes it otherwise.
    """

    scope_type: str
    scope_id: str | None
    bucket: str
    object_id: str
    body: Mapping[str, Any] | None
    version: int | None = None
    modified_at: int | None = None
    body_chars: int | None = None

    @property
    def key(self) -> str:
        """The kiicloud:// URI of the object (see `legacy_key`)."""
        return object_key(self.scope_type, self.scope_id, self.bucket, self.object_id)


def object_key(scope_type: str, scope_id: str | None, bucket: str, object_id: str) -> str:
    """``kiicloud://users/{u}/buckets/{b}/objects/{o}`` (things, groups alike; app scope has no prefix)."""
    prefix = "kiicloud:/" if scope_id is None else f"kiicloud://{SCOPE_FIELDS[scope_type][1]}/{scope_id}"
    return f"{prefix}/buckets/{bucket}/objects/{object_id}"


def key_scope(key: str) -> str:
    """The owner-scope part of an object key (what comes before ``/buckets/``): one value per scope."""
    return key.partition("/buckets/")[0]


# built once: json.dumps with options builds a new encoder on every call (a third of the cost for small objects)
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# orjson's text with the digits 5-9 made 5 and the bytes that end a number in it made a comma: a number
# orjson writes otherwise than json (see `compact_json`) then shows as e-5, or 0.0000
_NUMBER_ENDS = bytes(
    ord("5") if chr(byte) in "56789" else ord(",") if chr(byte) in ",]}" else byte for byte in range(256)
)


def compact_json(value: object) -> str:
    """value as compact JSON, non-ASCII kept (Kii's form, and how the migration stores bodies and values):
    exactly json.dumps' text with these options, which the validator reproduces.

    orjson writes it at a quarter of json's cost (the migration encodes every record's body and reading).
    Its text differs only for numbers under 1e-4: 0.00001 and 9.1e-8 where json writes 1e-05 and 9.1e-08.
    Such a number ends in e-5 to e-9 or starts 0.0000, which a translation of the bytes and two searches
    find (some strings too: json writes those, exactly as well). It refuses integers beyond 64 bits and
    keys that are not strings, which json writes. Values come from JSON read strictly, or checked by the
    transform: no NaN or infinity, which orjson would write as null.
    """
    try:
        text = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError
        return _COMPACT_JSON.encode(value)
    marked = text.translate(_NUMBER_ENDS)
    if b"e-5," in marked or b"0.0000" in marked:
        return _COMPACT_JSON.encode(value)
    return text.decode()


def serialized_size(body: Mapping[str, Any]) -> int:
    """Characters of an object's compact JSON form, the measure Kii's 65534 limit applies to."""
    return len(compact_json(body))


def _scope_from_json(value: object) -> tuple[str, str | None]:
    if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
        raise RecordShapeError("scope", "scope must be an object with a type")
    scope_type = value["type"]
    if scope_type == SCOPE_APP:
        return scope_type, None
    if scope_type not in SCOPE_FIELDS:
        raise RecordShapeError("scope", f"scope type must be one of {', '.join(SCOPE_TYPES)}")
    id_field = SCOPE_FIELDS[scope_type][0]
    scope_id = value.get(id_field)
    if not isinstance(scope_id, str) or not scope_id:
        raise RecordShapeError("scope", f"scope {scope_type} needs {id_field}")
    return scope_type, scope_id


def _optional_int(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordShapeError(field, f"{field} must be an integer")
    return value


def _from_mapping(value: Mapping[str, Any]) -> LegacyRecord:
    scope_type, scope_id = _scope_from_json(value.get("scope"))
    for name in ("bucket", "objectID"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise RecordShapeError(name, f"{name} must be a non-empty string")
    body = value.get("object")
    if body is not None and not isinstance(body, Mapping):
        raise RecordShapeError("object", "object must be a JSON object")
    return LegacyRecord(
        scope_type=scope_type,
        scope_id=scope_id,
        bucket=value["bucket"],
        object_id=value["objectID"],
        body=body,
        version=_optional_int(value.get("version"), "version"),
        modified_at=_optional_int(value.get("modifiedAt"), "modifiedAt"),
    )


def _from_attributes(value: Any) -> LegacyRecord:
    scope = getattr(value, "scope", None)
    scope_type, scope_id = getattr(scope, "type", None), getattr(scope, "id", None)
    if scope_type not in SCOPE_TYPES or (scope_type == SCOPE_APP) != (scope_id is None):
        raise RecordShapeError("scope", "scope must have a known type and an id unless it is APP")
    bucket, object_id, body = getattr(value, "bucket", None), getattr(value, "object_id", None), value.body
    if not isinstance(bucket, str) or not isinstance(object_id, str):
        raise RecordShapeError("bucket", "bucket and object_id must be strings")
    if body is not None and not isinstance(body, Mapping):
        raise RecordShapeError("object", "body must be a mapping")
    try:
        # ExportRecord carries version/modified_at; LegacyObject derives version from `_version` (may raise).
        version = getattr(value, "version", None)
    except (KeyError, TypeError, ValueError):
        version = None
    return LegacyRecord(
        scope_type=scope_type,
        scope_id=scope_id,
        bucket=bucket,
        object_id=object_id,
        body=body,
        version=version if isinstance(version, int) else None,
        modified_at=getattr(value, "modified_at", None),
    )


def as_legacy_record(record: object) -> LegacyRecord:
    """The record as a `LegacyRecord`; raise RecordShapeError naming the first field that is wrong."""
    if isinstance(record, LegacyRecord):
        return record
    if isinstance(record, Mapping):
        return _from_mapping(record)
    if hasattr(record, "scope") and hasattr(record, "body"):
        return _from_attributes(record)
    raise RecordShapeError("record", "record must be an export record object or a legacy object")


def legacy_key(record: object) -> str:
    """The object's kiicloud:// URI, the same text as the legacy emulator's key (Kafka key, manifest)."""
    return as_legacy_record(record).key
