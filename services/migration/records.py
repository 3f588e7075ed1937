"""Export records as the migration handles them, and the queue message the master sends per record.

An export record (DESIGN section 10) is kept as the JSON mapping it arrived as: the transform reads
that shape directly, and the raw table stores it. Only the fields the pipeline itself needs are
checked here (op, scope, bucket, objectID, version, modifiedAt, object); the transform judges the rest.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from services.migration.errors import RecordFormatError
from shared.legacy.transform.records import SCOPE_APP, SCOPE_FIELDS, LegacyRecord, compact_json, object_key

OPS = ("SNAPSHOT", "CREATE", "UPDATE", "DELETE")
DELETE = "DELETE"
# SQS MessageGroupId: at most 128 characters of alphanumerics and punctuation
_GROUP_ID_MAX = 128

# a run of digits that may be an integer beyond orjson's 64 bits (see `decode_record`), looked for in
# the text with every digit made a 0 and everything else a space: an eighth of a regular expression's cost
_DIGITS_AS_ZEROS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_DIGITS = b"0" * 19

# (partition, offset) of a record from its key, for a file whose lines carry no position (the snapshot)
Placement = Callable[[str], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One export record with where it came from (partition, offset, Kafka timestamp)."""

    key: str
    app_id: str
    scope_type: str
    scope_id: str | None
    bucket: str
    object_id: str
    op: str
    version: int
    modified_at: int
    body: Mapping[str, Any] | None
    body_json: str | None  # the body as compact JSON: encoded once, for the raw row and the size check
    partition: int
    offset: int
    timestamp_ms: int | None = None

    @property
    def group_id(self) -> str:
        """The SQS FIFO group: the owner scope (user, thing, group or app), DESIGN section 8."""
        return owner_scope(self.scope_type, self.scope_id)

    @property
    def deduplication_id(self) -> str:
        """The SQS deduplication id: source partition and offset (DESIGN section 8)."""
        return f"{self.partition}-{self.offset}"

    def legacy(self) -> LegacyRecord:
        """The record as the transform reads it."""
        return legacy_record(self, self.body, None if self.body_json is None else len(self.body_json))


class ExportFields(Protocol):
    """What the transform reads of an export record: a SourceRecord, or a raw row read back (repo.RawRow)."""

    @property
    def scope_type(self) -> str: ...
    @property
    def scope_id(self) -> str | None: ...
    @property
    def bucket(self) -> str: ...
    @property
    def object_id(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def modified_at(self) -> int: ...


def legacy_record(fields: ExportFields, body: Mapping[str, Any] | None, body_chars: int | None = None) -> LegacyRecord:
    """The transform's input with body as the object: built from fields `parse_record` checked, instead of
    an export mapping the transform would take apart and check again (a tenth of its cost)."""
    return LegacyRecord(
        fields.scope_type,
        fields.scope_id,
        fields.bucket,
        fields.object_id,
        body,
        fields.version,
        fields.modified_at,
        body_chars,
    )


def owner_scope(scope_type: str, scope_id: str | None) -> str:
    """``APP``, ``APP_AND_USER:<userID>``, ``APP_AND_THING:<thingID>``..., cut to SQS's 128 characters."""
    return scope_type if scope_id is None else f"{scope_type}:{scope_id}"[:_GROUP_ID_MAX]


def _integer(value: Mapping[str, Any], name: str) -> int:
    number = value.get(name)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise RecordFormatError(f"{name} must be a non-negative integer")
    return number


def parse_record(
    value: object,
    *,
    partition: int = 0,
    offset: int = 0,
    timestamp_ms: int | None = None,
    place: Placement | None = None,
) -> SourceRecord:
    """Check the pipeline's fields of a decoded record; raise RecordFormatError naming the first bad one.

    The position is partition and offset, or what place gives for the record's key."""
    if not isinstance(value, Mapping):
        raise RecordFormatError("record must be a JSON object")
    op = value.get("op")
    if op not in OPS:
        raise RecordFormatError(f"op must be one of {', '.join(OPS)}")
    scope = value.get("scope")
    if not isinstance(scope, Mapping) or not isinstance(scope.get("type"), str):
        raise RecordFormatError("scope must be an object with a type")
    scope_type = scope["type"]
    scope_id: str | None = None
    if scope_type != SCOPE_APP:
        if scope_type not in SCOPE_FIELDS:
            raise RecordFormatError(f"unknown scope type {scope_type}")
        scope_id = scope.get(SCOPE_FIELDS[scope_type][0])
        if not isinstance(scope_id, str) or not scope_id.isascii() or not 0 < len(scope_id) <= 64:
            raise RecordFormatError("scope id must be 1-64 ASCII characters")
    names = {"appID": 64, "bucket": 64, "objectID": 100}
    for name, limit in names.items():
        text = value.get(name)
        if not isinstance(text, str) or not text.isascii() or not 0 < len(text) <= limit:
            raise RecordFormatError(f"{name} must be 1-{limit} ASCII characters")
    body = value.get("object")
    if op == DELETE and body is not None:
        raise RecordFormatError("object must be null for DELETE")
    if op != DELETE and not isinstance(body, Mapping):
        raise RecordFormatError(f"object must be an object for {op}")
    key = object_key(scope_type, scope_id, value["bucket"], value["objectID"])
    if place is not None:
        partition, offset = place(key)
    return SourceRecord(
        key=key,
        app_id=value["appID"],
        scope_type=scope_type,
        scope_id=scope_id,
        bucket=value["bucket"],
        object_id=value["objectID"],
        op=op,
        version=_integer(value, "version"),
        modified_at=_integer(value, "modifiedAt"),
        body=body,
        body_json=None if body is None else compact_json(body),
        partition=partition,
        offset=offset,
        timestamp_ms=timestamp_ms,
    )


def decode_record(
    raw: bytes | str,
    *,
    partition: int = 0,
    offset: int = 0,
    timestamp_ms: int | None = None,
    place: Placement | None = None,
) -> SourceRecord:
    """A record from its JSON text (a Kafka value or a snapshot line); see `parse_record`.

    The text must be JSON as RFC 8259 has it, in UTF-8: orjson refuses NaN, Infinity, numbers no double
    holds and lone surrogates, which json.loads takes and no raw row could store (MariaDB's JSON check
    refuses the first three, UTF-8 cannot encode the last). orjson reads integers beyond 64 bits as
    floats, losing digits, so a text holding 19 digits in a row is read again by json.loads, whose
    integers are exact.
    """
    text = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        value = orjson.loads(text)
        if _LONG_DIGITS in text.translate(_DIGITS_AS_ZEROS):
            value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise RecordFormatError(f"record is not JSON: {error}") from None
    return parse_record(value, partition=partition, offset=offset, timestamp_ms=timestamp_ms, place=place)


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One record announced by a message: which object changed, at which version, from where."""

    key: str
    version: int
    partition: int
    offset: int
    timestamp_ms: int | None

    @classmethod
    def of(cls, record: SourceRecord) -> WorkItem:
        """The item announcing record."""
        return cls(record.key, record.version, record.partition, record.offset, record.timestamp_ms)


@dataclass(frozen=True, slots=True)
class WorkMessage:
    """The queue message: the records of one owner scope from one master batch, in topic order.

    The bodies stay in raw_kii_objects; a message only says which objects to bring up to date. Packing a
    scope's records of a batch into one message keeps their order (one message, one group) and divides
    the number of SQS requests; its deduplication id is its first record's partition-offset.

    ``requeue`` marks the messages of `migrate requeue`: their objects are processed again even though
    their version was applied, when it failed or waits for a device (the cause may be fixed now). The
    master never sets it, and it is only written when set, so its messages are unchanged.
    """

    items: tuple[WorkItem, ...]
    requeue: bool = False

    @property
    def deduplication_id(self) -> str:
        """partition-offset of the first record (DESIGN section 8)."""
        return f"{self.items[0].partition}-{self.items[0].offset}"

    def encode(self) -> str:
        """Compact JSON body: {"records": [[key, version, partition, offset, timestamp_ms], ...]} (+ "requeue")."""
        rows = [[i.key, i.version, i.partition, i.offset, i.timestamp_ms] for i in self.items]
        body: dict[str, Any] = {"records": rows}
        if self.requeue:
            body["requeue"] = True
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> WorkMessage:
        """Parse a message body; raise RecordFormatError when it is not one of ours."""
        try:
            body = json.loads(text)
            items = tuple(
                WorkItem(str(key), int(version), int(partition), int(offset), None if ts is None else int(ts))
                for key, version, partition, offset, ts in body["records"]
            )
            requeue = body.get("requeue", False)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise RecordFormatError(f"not a migration message: {error!r}") from None
        if not items or not all(item.key for item in items):
            raise RecordFormatError("not a migration message: no records")
        if not isinstance(requeue, bool):
            raise RecordFormatError("not a migration message: requeue must be true or false")
        return cls(items, requeue)


def message_group(owner: str, lanes: int) -> str:
    """The SQS message group of an owner scope: itself, or with lanes its lane (a stable hash)."""
    return owner if lanes == 0 else f"lane-{zlib.crc32(owner.encode()) % lanes}"


def pack(records: Sequence[SourceRecord], max_items: int, lanes: int = 0) -> list[tuple[str, WorkMessage]]:
    """(group id, message) per group and up to max_items records, keeping topic order within a group."""
    return pack_items(((record.group_id, WorkItem.of(record)) for record in records), max_items, lanes=lanes)


def pack_items(
    items: Iterable[tuple[str, WorkItem]], max_items: int, *, requeue: bool = False, lanes: int = 0
) -> list[tuple[str, WorkMessage]]:
    """(group id, message) per group of the owner scopes (see message_group) and up to max_items items,
    keeping the given order within a group."""
    groups: dict[str, list[WorkItem]] = {}
    for owner, item in items:
        groups.setdefault(message_group(owner, lanes), []).append(item)
    return [
        (group, WorkMessage(tuple(grouped[start : start + max_items]), requeue))
        for group, grouped in groups.items()
        for start in range(0, len(grouped), max_items)
    ]
