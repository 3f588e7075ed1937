"""Values of the legacy dataset: users, things, Kii objects, export records and their keys.

Keys follow Kii's own SDK URI notation (reference/kii-api.md section 2.1), so one string names an
object in the manifest, in the replayed state and (UTF-8 encoded) as the Kafka record key:
``kiicloud://users/{userID}/buckets/{bucket}/objects/{objectID}``, ``kiicloud://things/{thingID}/...``,
``kiicloud://groups/{groupID}/...`` and ``kiicloud://buckets/{bucket}/objects/{objectID}`` (app scope).
Users and things are named ``kiicloud://users/{userID}`` and ``kiicloud://things/{thingID}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shared.legacy.hash_schemes import LegacyHash

# Scope types, the key format and the 64 KB measure are the transform's: one definition, so the
# emulator's keys are by construction the ones the migration and the validator compute.
from shared.legacy.transform.records import (
    SCOPE_APP,
    SCOPE_FIELDS,
    SCOPE_THING,
    SCOPE_TYPES,
    SCOPE_USER,
)
from shared.legacy.transform.records import object_key as _object_key


class ExportRecordError(ValueError):
    """An export record line that does not follow the legacy.export.v1 shape."""


class Op(StrEnum):
    """The op of an export record: SNAPSHOT lines in the snapshot file, the others on the change topic."""

    SNAPSHOT = "SNAPSHOT"
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class DeviceKind(StrEnum):
    """The four device kinds of the old app (DESIGN section 5 reading types)."""

    BLOOD_PRESSURE = "blood_pressure"
    WEIGHT = "weight"
    BODY_TEMPERATURE = "body_temperature"
    BLOOD_GLUCOSE = "blood_glucose"


# The user-scope bucket each kind's readings live in (DESIGN section 10 legacy data layout).
READING_BUCKETS: Mapping[DeviceKind, str] = {
    DeviceKind.BLOOD_PRESSURE: "bp_records",
    DeviceKind.WEIGHT: "weight_records",
    DeviceKind.BODY_TEMPERATURE: "temperature_records",
    DeviceKind.BLOOD_GLUCOSE: "glucose_records",
}
DEVICES_BUCKET = "devices"
SETTINGS_BUCKET = "settings"


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a Kii object lives: the app, or one user, thing or group of it."""

    type: str
    id: str | None = None

    def __post_init__(self) -> None:
        if self.type not in SCOPE_TYPES:
            raise ExportRecordError(f"scope type must be one of {', '.join(SCOPE_TYPES)}")
        if (self.type == SCOPE_APP) != (self.id is None):
            raise ExportRecordError(f"scope {self.type} {'takes no' if self.id else 'needs an'} id")

    @classmethod
    def user(cls, user_id: str) -> Scope:
        """A user scope."""
        return cls(SCOPE_USER, user_id)

    @classmethod
    def thing(cls, thing_id: str) -> Scope:
        """A thing scope."""
        return cls(SCOPE_THING, thing_id)

    def to_json(self) -> dict[str, str]:
        """The record's scope object, e.g. {"type": "APP_AND_USER", "userID": "..."}."""
        if self.id is None:
            return {"type": self.type}
        return {"type": self.type, SCOPE_FIELDS[self.type][0]: self.id}

    @classmethod
    def from_json(cls, value: object) -> Scope:
        """Parse a record's scope object."""
        if not isinstance(value, Mapping) or not isinstance(value.get("type"), str):
            raise ExportRecordError("scope must be an object with a type")
        scope_type = value["type"]
        if scope_type == SCOPE_APP:
            return cls(SCOPE_APP)
        if scope_type not in SCOPE_FIELDS:
            raise ExportRecordError(f"scope type must be one of {', '.join(SCOPE_TYPES)}")
        scope_id = value.get(SCOPE_FIELDS[scope_type][0])
        if not isinstance(scope_id, str) or not scope_id:
            raise ExportRecordError(f"scope {scope_type} needs {SCOPE_FIELDS[scope_type][0]}")
        return cls(scope_type, scope_id)


def object_key(scope: Scope, bucket: str, object_id: str) -> str:
    """The object's kiicloud:// URI: the record key text (scope + bucket + objectID, DESIGN section 10)."""
    return _object_key(scope.type, scope.id, bucket, object_id)


def user_key(user_id: str) -> str:
    """How the manifest names a user."""
    return f"kiicloud://users/{user_id}"


def thing_key(thing_id: str) -> str:
    """How the manifest names a thing."""
    return f"kiicloud://things/{thing_id}"


@dataclass(frozen=True, slots=True)
class LegacyUser:
    """One legacy account as the platform's user export describes it, with its password hash."""

    legacy_user_id: str
    login_name: str
    email: str | None
    display_name: str
    country: str | None
    locale: str | None
    attributes: Mapping[str, Any]
    legacy_hash: LegacyHash

    @property
    def key(self) -> str:
        """The manifest key of this user."""
        return user_key(self.legacy_user_id)

    def to_import_record(self) -> dict[str, Any]:
        """The users.jsonl line that the auth import reads (field order fixed)."""
        return {
            "legacy_user_id": self.legacy_user_id,
            "login_name": self.login_name,
            "email": self.email,
            "display_name": self.display_name,
            "country": self.country,
            "locale": self.locale,
            "attributes": dict(self.attributes),
            "hash_scheme": self.legacy_hash.scheme,
            "hash": self.legacy_hash.hash,
            "salt": self.legacy_hash.salt,
            "params": dict(self.legacy_hash.params),
        }


@dataclass(frozen=True, slots=True)
class LegacyThing:
    """One registered device (Kii thing) and the user who owns it."""

    thing_id: str
    vendor_thing_id: str
    kind: DeviceKind
    vendor: str
    model: str
    serial: str
    firmware: str
    owner_user_id: str
    created_ms: int

    @property
    def key(self) -> str:
        """The manifest key of this thing."""
        return thing_key(self.thing_id)

    def to_export_record(self) -> dict[str, Any]:
        """The things.jsonl line: Kii's ThingRetrievalResponse fields plus the owner list."""
        return {
            "_thingID": self.thing_id,
            "_vendorThingID": self.vendor_thing_id,
            "_thingType": self.kind.value,
            "_vendor": self.vendor,
            "_productName": self.model,
            "_firmwareVersion": self.firmware,
            "_created": self.created_ms,
            "_disabled": False,
            "serialNumber": self.serial,
            "owners": {"users": [self.owner_user_id], "groups": []},
        }


@dataclass(frozen=True, slots=True)
class LegacyObject:
    """One Kii object as stored at snapshot time: scope, bucket, id and the body with system fields."""

    scope: Scope
    bucket: str
    object_id: str
    body: Mapping[str, Any]

    @property
    def key(self) -> str:
        """The record key text of this object."""
        return object_key(self.scope, self.bucket, self.object_id)

    @property
    def version(self) -> int:
        """Kii keeps `_version` as a string; records carry it as a number."""
        return int(self.body["_version"])

    @property
    def modified_ms(self) -> int:
        """Last modification, epoch milliseconds."""
        return int(self.body["_modified"])


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One legacy.export.v1 record (DESIGN section 10); `body` (JSON field "object") is None for DELETE."""

    op: Op
    app_id: str
    scope: Scope
    bucket: str
    object_id: str
    version: int
    modified_at: int
    body: Mapping[str, Any] | None

    @property
    def key(self) -> str:
        """The record key text (scope + bucket + objectID)."""
        return object_key(self.scope, self.bucket, self.object_id)

    def to_json(self) -> dict[str, Any]:
        """The record as one JSON line's object (field order fixed)."""
        return {
            "op": self.op.value,
            "appID": self.app_id,
            "scope": self.scope.to_json(),
            "bucket": self.bucket,
            "objectID": self.object_id,
            "version": self.version,
            "modifiedAt": self.modified_at,
            "object": None if self.body is None else dict(self.body),
        }

    @classmethod
    def from_json(cls, value: object) -> ExportRecord:
        """Parse one record; raise ExportRecordError naming the first field that is wrong."""
        if not isinstance(value, Mapping):
            raise ExportRecordError("record must be a JSON object")
        op_name = value.get("op")
        if op_name not in set(Op):
            raise ExportRecordError(f"op must be one of {', '.join(Op)}")
        op = Op(op_name)
        for name in ("appID", "bucket", "objectID"):
            if not isinstance(value.get(name), str):
                raise ExportRecordError(f"{name} must be a string")
        for name in ("version", "modifiedAt"):
            number = value.get(name)
            if not isinstance(number, int) or isinstance(number, bool):
                raise ExportRecordError(f"{name} must be an integer")
        body = value.get("object")
        if op is Op.DELETE and body is not None:
            raise ExportRecordError("object must be null for DELETE")
        if op is not Op.DELETE and not isinstance(body, Mapping):
            raise ExportRecordError(f"object must be an object for {op}")
        return cls(
            op=op,
            app_id=value["appID"],
            scope=Scope.from_json(value.get("scope")),
            bucket=value["bucket"],
            object_id=value["objectID"],
            version=value["version"],
            modified_at=value["modifiedAt"],
            body=body,
        )

    @classmethod
    def snapshot_of(cls, app_id: str, obj: LegacyObject) -> ExportRecord:
        """The SNAPSHOT record of an object as it stands."""
        return cls(
            op=Op.SNAPSHOT,
            app_id=app_id,
            scope=obj.scope,
            bucket=obj.bucket,
            object_id=obj.object_id,
            version=obj.version,
            modified_at=obj.modified_ms,
            body=obj.body,
        )


# Change records share the snapshot records' shape; only the op differs.
ChangeRecord = ExportRecord


@dataclass(slots=True)
class LegacyDataset:
    """A whole legacy app at snapshot time, plus what tests need to check a migration of it."""

    seed: int
    app_id: str
    app_key: str
    snapshot_at_ms: int
    users: list[LegacyUser]
    things: list[LegacyThing]
    objects: list[LegacyObject]
    hash_key: bytes
    passwords: dict[str, str]
    edge_cases: dict[str, list[str]]
    orphan_user_ids: list[str] = field(default_factory=list)

    @property
    def user_count(self) -> int:
        """Number of live users (orphans' former owners are not counted)."""
        return len(self.users)

    def snapshot_records(self) -> list[ExportRecord]:
        """One SNAPSHOT record per object, in dataset order."""
        return [ExportRecord.snapshot_of(self.app_id, obj) for obj in self.objects]

    def objects_by_key(self) -> dict[str, LegacyObject]:
        """Objects indexed by record key text."""
        return {obj.key: obj for obj in self.objects}
