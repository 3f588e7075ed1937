"""The legacy platform's final state, read from its export files in bounded memory (DESIGN section 10).

Inputs in the legacy directory:

- ``snapshot.jsonl.gz``: a ``{"snapshot": {"topic", "partitions": {p: next_offset}, "taken_at"}}`` header,
  then one SNAPSHOT record per object (``op, appID, scope, bucket, objectID, version, modifiedAt, object``);
- ``changes.jsonl.gz`` or ``changes.jsonl`` (optional): the change topic's CREATE/UPDATE/DELETE records
  in topic order: either as `vitalsync legacy export` writes them, ``{"partition", "offset",
  "timestamp_ms", "record": {...}}``, or bare records, optionally with ``partition`` and ``offset``
  fields; without coordinates the partition is Kafka's default partitioner's (murmur2 of the key) and
  offsets count up from the header's;
- ``users.jsonl`` (optional): the platform's user export; its ids tell an account that was never
  migrated apart from one that was deleted on the platform (an orphan).

Rule (the migration's): per key (scope + bucket + objectID) the highest version wins; on equal versions
the first record seen stays (the snapshot before the changes); a DELETE is a tombstone. Only the change
stream is indexed in memory (key -> version and file offsets, about 150 bytes per changed key; the
records themselves are spilled to a file); the snapshot is streamed and each of its records resolved
against that index, so memory does not grow with the snapshot.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.validation.errors import LegacyInputError
from services.validation.offsets import partition_for
from shared.legacy.transform import as_legacy_record
from shared.legacy.transform.records import SCOPE_APP, SCOPE_FIELDS, RecordShapeError, object_key

SNAPSHOT_FILE = "snapshot.jsonl.gz"
CHANGES_FILES = ("changes.jsonl.gz", "changes.jsonl")
USERS_FILE = "users.jsonl"
CHUNK_BYTES = 4 * 1024 * 1024
READ_BYTES = 256 * 1024
LIVE_OPS = frozenset({"SNAPSHOT", "CREATE", "UPDATE"})
DELETE_OP = "DELETE"
KAFKA_COORDINATES = ("partition", "offset")

# A change index entry: (version, deleted, offset, length, live_version, live_offset, live_length);
# the live_* fields name the newest non-DELETE record of the key (-1 when there is none), which a
# tombstone needs: a deleted device stays a row, unpaired (shared.legacy.transform.DeleteTarget).
ChangeEntry = tuple[int, bool, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """The snapshot's first line: topic, next offset per partition, when it was taken."""

    topic: str
    partitions: dict[int, int]
    taken_at: str


def _blocks(path: Path, limit: int) -> Iterator[bytes]:
    """The file's bytes, gunzipped when it ends in .gz, in blocks of at most `limit` bytes.

    Concatenated gzip members (files written in parts) are read one after the other; a member cut
    short is an error, not a silently shorter snapshot.
    """
    with path.open("rb") as raw:
        if path.suffix != ".gz":
            while block := raw.read(limit):
                yield block
            return
        decompressor = zlib.decompressobj(wbits=47)  # 47: a gzip or zlib header
        fed = False
        pending = b""
        while True:
            if not pending:
                pending = raw.read(READ_BYTES)
                if not pending:
                    break
            fed = True
            data = decompressor.decompress(pending, limit)
            if decompressor.eof:
                pending = decompressor.unused_data
                decompressor, fed = zlib.decompressobj(wbits=47), False
            else:
                pending = decompressor.unconsumed_tail
            if data:
                yield data
        if fed and not decompressor.eof:
            raise LegacyInputError(f"{path} ends in the middle of a gzip stream (truncated file?)")


def read_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's bytes (gunzipped when it ends in .gz) in chunks of about chunk_bytes that end at a line break."""
    pending = b""
    for data in _blocks(path, chunk_bytes):
        pending += data
        if len(pending) >= chunk_bytes:
            cut = pending.rfind(b"\n")
            if cut >= 0:
                yield pending[: cut + 1]
                pending = pending[cut + 1 :]
    if pending.strip():
        yield pending if pending.endswith(b"\n") else pending + b"\n"


def read_lines(path: Path) -> Iterator[bytes]:
    """The non-blank lines of a JSONL file (plain or .gz), without their line breaks."""
    for chunk in read_chunks(path):
        for line in chunk.split(b"\n"):
            if line.strip():
                yield line


def parse_header(line: bytes) -> SnapshotHeader:
    """The snapshot header line; LegacyInputError when the line is not one."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        raise LegacyInputError(f"the snapshot's first line is not JSON: {exc}") from None
    snapshot = value.get("snapshot") if isinstance(value, dict) else None
    partitions = snapshot.get("partitions") if isinstance(snapshot, dict) else None
    if not isinstance(partitions, dict) or not all(
        isinstance(key, str) and key.isdigit() and isinstance(offset, int) for key, offset in partitions.items()
    ):
        raise LegacyInputError('the snapshot must start with a {"snapshot": {"partitions": {...}}} header')
    assert isinstance(snapshot, dict)
    return SnapshotHeader(
        str(snapshot.get("topic", "")),
        {int(key): offset for key, offset in partitions.items()},
        str(snapshot.get("taken_at", "")),
    )


def read_header(path: Path) -> SnapshotHeader:
    """The header of a snapshot file."""
    for line in read_lines(path):
        return parse_header(line)
    raise LegacyInputError(f"{path} is empty")


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One export record line, parsed, with its key, bucket and version."""

    value: dict[str, Any]
    key: str
    bucket: str
    op: str
    version: int


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A line that is no export record: what was wrong and where."""

    where: str
    field: str
    message: str


def _quick_key(value: dict[str, Any]) -> tuple[str, str] | None:
    """(key, bucket) of a well-formed record without building a LegacyRecord (the hot path)."""
    scope, bucket, object_id = value.get("scope"), value.get("bucket"), value.get("objectID")
    if not isinstance(scope, dict) or not isinstance(bucket, str) or not isinstance(object_id, str):
        return None
    if not bucket or not object_id:
        return None
    scope_type = scope.get("type")
    if scope_type == SCOPE_APP:
        return object_key(SCOPE_APP, None, bucket, object_id), bucket
    fields = SCOPE_FIELDS.get(scope_type) if isinstance(scope_type, str) else None
    scope_id = scope.get(fields[0]) if fields else None
    if not isinstance(scope_type, str) or not isinstance(scope_id, str) or not scope_id:
        return None
    return object_key(scope_type, scope_id, bucket, object_id), bucket


def parse_record(line: bytes | str, where: str) -> ParsedRecord | BadRecord:
    """One export record line; BadRecord when it is not JSON or not a record."""
    try:
        value = json.loads(line)
    except ValueError as exc:
        return BadRecord(where, "line", f"not JSON: {exc}")
    return parse_value(value, where)


def parse_value(value: Any, where: str) -> ParsedRecord | BadRecord:
    """One export record, already parsed from JSON; BadRecord when it is not a record."""
    if not isinstance(value, dict):
        return BadRecord(where, "line", "not a JSON object")
    op = value.get("op")
    if op not in LIVE_OPS and op != DELETE_OP:
        return BadRecord(where, "op", f"op must be SNAPSHOT, CREATE, UPDATE or DELETE, not {op!r}")
    version, body = value.get("version", 0), value.get("object")
    quick = _quick_key(value)
    if quick is None or not isinstance(version, int) or isinstance(version, bool) or not isinstance(body, dict | None):
        try:  # the shared reader names the field that is wrong
            legacy = as_legacy_record(value)
        except RecordShapeError as error:
            return BadRecord(where, error.field, error.message)
        quick = (legacy.key, legacy.bucket)
        version = legacy.version if legacy.version is not None else 0
    key, bucket = quick
    if op != DELETE_OP and body is None:
        return BadRecord(key, "object", f"object must be an object for {op}")
    return ParsedRecord(value, key, bucket, op, version)


@dataclass(slots=True)
class ChangeStats:
    """What reading the change file found."""

    file: str | None = None
    records: int = 0
    applied: int = 0
    beyond_offsets: int = 0
    malformed: list[BadRecord] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)
    # partition -> the offset after the last record compared (the snapshot's where no change was): what
    # the cut-over gate holds against the offsets change capture has committed since
    covered: dict[int, int] = field(default_factory=dict)


class ChangeIndex:
    """Key -> the winning change (and newest live change) of each key the change stream touched."""

    def __init__(self, lines_path: Path | None, entries: dict[str, ChangeEntry], stats: ChangeStats) -> None:
        self.lines_path = lines_path
        self.entries = entries
        self.stats = stats
        self._fd: int | None = None

    def __len__(self) -> int:
        return len(self.entries)

    def __getstate__(self) -> dict[str, Any]:
        # sent to worker processes once; each opens the spill file for itself
        return {"lines_path": self.lines_path, "entries": self.entries, "stats": self.stats}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.lines_path = state["lines_path"]
        self.entries = state["entries"]
        self.stats = state["stats"]
        self._fd = None

    def get(self, key: str) -> ChangeEntry | None:
        """The entry of key, None when the changes never touched it."""
        return self.entries.get(key)

    def read(self, offset: int, length: int) -> dict[str, Any]:
        """The change record stored at offset (parsed again from the spill file)."""
        if self._fd is None:
            assert self.lines_path is not None
            self._fd = os.open(self.lines_path, os.O_RDONLY)
        value = json.loads(os.pread(self._fd, length, offset))
        assert isinstance(value, dict)
        for coordinate in KAFKA_COORDINATES:  # where the record was on the topic is not part of it
            value.pop(coordinate, None)
        return value

    def close(self) -> None:
        """Close the spill file if it is open."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def find_changes_file(directory: Path) -> Path | None:
    """The changes file of a legacy directory, None when it has none."""
    for name in CHANGES_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def build_change_index(
    changes: Path | None, header: SnapshotHeader, upto: Mapping[int, int] | None, spill_dir: Path
) -> ChangeIndex:
    """Index the change records within the offsets; their lines are copied to spill_dir/changes.lines."""
    stats = ChangeStats(file=str(changes) if changes else None, covered=dict(header.partitions))
    entries: dict[str, ChangeEntry] = {}
    if changes is None:
        return ChangeIndex(None, entries, stats)
    lines_path = spill_dir / "changes.lines"
    next_offsets = dict(header.partitions)
    partitions = max(len(header.partitions), 1)
    position = 0
    with lines_path.open("wb") as spill:
        for number, line in enumerate(read_lines(changes), start=1):
            stats.records += 1
            where = f"{changes.name}:{number}"
            try:
                value = json.loads(line)
            except ValueError as exc:
                stats.malformed.append(BadRecord(where, "line", f"not JSON: {exc}"))
                continue
            coordinates = value
            if isinstance(value, dict) and isinstance(value.get("record"), dict):
                # a topic dump line (`vitalsync legacy export`): {"partition", "offset", "timestamp_ms", "record"}
                value = value["record"]
                line = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            parsed = parse_value(value, where)
            if isinstance(parsed, BadRecord):
                stats.malformed.append(parsed)
                continue
            partition, offset = coordinates.get("partition"), coordinates.get("offset")
            if not isinstance(partition, int) or not isinstance(offset, int):
                partition = partition_for(parsed.key, partitions)
                offset = next_offsets.get(partition, 0)
            next_offsets[partition] = offset + 1
            if upto is not None and partition in upto and offset >= upto[partition]:
                stats.beyond_offsets += 1
                continue
            stats.applied += 1
            stats.ops[parsed.op] += 1
            stats.covered[partition] = max(stats.covered.get(partition, 0), offset + 1)
            spill.write(line + b"\n")
            _index(entries, parsed, position, len(line))
            position += len(line) + 1
    return ChangeIndex(lines_path, entries, stats)


def _index(entries: dict[str, ChangeEntry], record: ParsedRecord, offset: int, length: int) -> None:
    deleted = record.op == DELETE_OP
    current = entries.get(record.key)
    if current is None:
        live = (-1, -1, 0) if deleted else (record.version, offset, length)
        entries[record.key] = (record.version, deleted, offset, length, *live)
        return
    version, was_deleted, win_offset, win_length, live_version, live_offset, live_length = current
    if record.version > version:
        version, was_deleted, win_offset, win_length = record.version, deleted, offset, length
    if not deleted and record.version > live_version:
        live_version, live_offset, live_length = record.version, offset, length
    entries[record.key] = (version, was_deleted, win_offset, win_length, live_version, live_offset, live_length)


@dataclass(frozen=True, slots=True)
class FinalObject:
    """One key of the final legacy state: its winning record; for a tombstone, the last live one too."""

    key: str
    bucket: str
    record: Mapping[str, Any]
    deleted: bool
    last_live: Mapping[str, Any] | None = None


def resolve(snapshot: ParsedRecord | None, entry: ChangeEntry | None, index: ChangeIndex) -> FinalObject:
    """The final state of a key from its snapshot record (if any) and its change entry (if any)."""
    if entry is None:
        assert snapshot is not None
        return FinalObject(snapshot.key, snapshot.bucket, snapshot.value, snapshot.op == DELETE_OP)
    version, deleted, offset, length, live_version, live_offset, live_length = entry
    if snapshot is not None and snapshot.version >= version:
        return FinalObject(snapshot.key, snapshot.bucket, snapshot.value, snapshot.op == DELETE_OP)
    record = index.read(offset, length)
    key = snapshot.key if snapshot is not None else as_legacy_record(record).key
    bucket = str(record["bucket"])
    if not deleted:
        return FinalObject(key, bucket, record, False)
    last_live: Mapping[str, Any] | None = None
    if live_version >= 0 and (snapshot is None or live_version > snapshot.version or snapshot.op == DELETE_OP):
        last_live = index.read(live_offset, live_length)
    elif snapshot is not None and snapshot.op != DELETE_OP:
        last_live = snapshot.value
    return FinalObject(key, bucket, record, True, last_live)


def iter_final_state(
    snapshot_path: Path,
    index: ChangeIndex,
    *,
    line_filter: Callable[[bytes], bool] | None = None,
    bad: Callable[[BadRecord], None] | None = None,
) -> Iterator[FinalObject]:
    """Every key's final state in one process: snapshot order, then keys only the changes have.

    `line_filter` skips snapshot lines cheaply before parsing (it must keep every line it may need).
    """
    consumed: set[str] = set()
    lines = read_lines(snapshot_path)
    next(lines, None)  # the header
    for number, line in enumerate(lines, start=2):
        if line_filter is not None and not line_filter(line):
            continue
        parsed = parse_record(line, f"{snapshot_path.name}:{number}")
        if isinstance(parsed, BadRecord):
            if bad is not None:
                bad(parsed)
            continue
        entry = index.get(parsed.key)
        if entry is not None:
            consumed.add(parsed.key)
        yield resolve(parsed, entry, index)
    yield from iter_unseen_changes(index, consumed)


def iter_unseen_changes(index: ChangeIndex, seen: set[str]) -> Iterator[FinalObject]:
    """The final state of keys the change stream has and the snapshot had not (in first-change order)."""
    for key, entry in index.entries.items():
        if key not in seen:
            yield resolve(None, entry, index)


def read_legacy_user_ids(path: Path) -> set[str] | None:
    """The legacy user ids of users.jsonl, None when the file is absent."""
    if not path.is_file():
        return None
    ids: set[str] = set()
    for line in read_lines(path):
        value = json.loads(line)
        if isinstance(value, dict) and isinstance(value.get("legacy_user_id"), str):
            ids.add(value["legacy_user_id"])
    return ids
