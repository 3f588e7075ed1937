"""One transform process of the expected side: final objects in, rows' checksums and spill lines out.

Each worker gets the resolver, the change index and the mapping once (`WorkerConfig`, pickled to
spawned processes), then batches: a chunk of snapshot lines, or keys only the change stream has. Rows
go to partition files named by the first characters of their ``user_id`` (one file per worker, so no
locking), counts and per-segment checksum sums go back to the caller.
"""

from __future__ import annotations

import json
import os
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.validation.canonical import TableSpec, canonical_text, reversible, row_values
from services.validation.findings import MALFORMED_RECORD, OWNER_NOT_MIGRATED, Finding
from services.validation.json_encodings import JSON_ENCODINGS
from services.validation.legacy_state import (
    BadRecord,
    ChangeIndex,
    FinalObject,
    parse_record,
    resolve,
)
from shared.legacy.transform import (
    BucketMapping,
    DeleteTarget,
    DeviceBucket,
    DeviceRow,
    FailurePattern,
    InMemoryOwners,
    ReadingBucket,
    SettingsBucket,
    Transformed,
    TransformFailure,
    default_mapping,
    derived_client_id,
    load_mapping,
    transform,
    transform_delete,
)
from shared.legacy.transform.fields import EPOCH
from shared.legacy.transform.records import SCOPE_USER

SEGMENT_CHARS = 4
PARTITION_CHARS = 2
ROW, TOMBSTONE, FAILED = "R", "T", "F"
# Partition lines: "user_id TAB R TAB table TAB key TAB checksum TAB legacy key TAB bucket TAB type TAB canonical
# text" for rows (the common case, no second serialisation), "user_id TAB J TAB [kind, ...] as JSON" otherwise.
JSON_LINE = "J"
META_TABS = 5


@dataclass(slots=True)
class BucketCounts:
    """Per legacy bucket: live objects at the end, tombstones, failures and rows produced."""

    live: int = 0
    deleted: int = 0
    failed: int = 0
    rows: int = 0

    def add(self, other: BucketCounts) -> None:
        """Add another batch's counts."""
        self.live += other.live
        self.deleted += other.deleted
        self.failed += other.failed
        self.rows += other.rows


@dataclass(slots=True)
class BatchResult:
    """What one batch of final objects produced (rows themselves went to partition files)."""

    buckets: dict[str, BucketCounts] = field(default_factory=dict)
    rows_by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    segments: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    failures: list[Finding] = field(default_factory=list)
    warnings: Counter[str] = field(default_factory=Counter)
    consumed: list[str] = field(default_factory=list)
    objects: int = 0

    def bucket(self, name: str) -> BucketCounts:
        """The counts of a bucket, created on first use."""
        counts = self.buckets.get(name)
        if counts is None:
            counts = self.buckets[name] = BucketCounts()
        return counts


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """Everything a worker needs, sent once (pickled) when it starts."""

    mapping_path: str | None
    users: dict[str, str]
    legacy_user_ids: frozenset[str] | None
    # (device id, user id, serial, thing id) of every device pass 1 learnt: all the resolver keeps
    devices: list[tuple[str, str, str, str | None]]
    index: ChangeIndex
    encoding: str
    parts_dir: str
    segment_chars: int = SEGMENT_CHARS
    partition_chars: int = PARTITION_CHARS


def load_bucket_mapping(path: str | None) -> BucketMapping:
    """The bucket mapping from a file, or the old app's default."""
    return default_mapping() if path is None else load_mapping(path)


def type_label(spec: TableSpec, row_type: str | None) -> str:
    """The per-type label of a row: the reading type, else the table's label."""
    return row_type if spec.type_column is not None and row_type else spec.type_label


class _Worker:
    """Per-process state: the resolver, mapping and change index, and the partition files' buffers."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.mapping = load_bucket_mapping(config.mapping_path)
        self.owners = InMemoryOwners(config.users)
        for device_id, user_id, serial, thing_id in config.devices:
            self.owners.add_device(_resolver_row(device_id, user_id, serial), thing_id)
        self.encoding = JSON_ENCODINGS[config.encoding]
        self.parts_dir = Path(config.parts_dir)
        self.bucket_types = _bucket_types(self.mapping)

    def snapshot_chunk(self, chunk: bytes, first_line: int) -> BatchResult:
        """Resolve, transform and spill the snapshot records of one chunk of whole lines."""
        result = BatchResult()
        lines: dict[str, list[str]] = {}
        for number, line in enumerate(chunk.split(b"\n"), start=first_line):
            if not line.strip():
                continue
            parsed = parse_record(line, f"snapshot line {number}")
            if isinstance(parsed, BadRecord):
                self._bad(parsed, result)
                continue
            entry = self.config.index.get(parsed.key)
            if entry is not None:
                result.consumed.append(parsed.key)
            self._final(resolve(parsed, entry, self.config.index), result, lines)
        self._flush(lines)
        return result

    def unseen_changes(self, keys: list[str]) -> BatchResult:
        """The same for keys only the change stream has."""
        result = BatchResult()
        lines: dict[str, list[str]] = {}
        for key in keys:
            entry = self.config.index.get(key)
            assert entry is not None
            self._final(resolve(None, entry, self.config.index), result, lines)
        self._flush(lines)
        return result

    def _bad(self, bad: BadRecord, result: BatchResult) -> None:
        result.objects += 1
        result.failures.append(Finding("legacy_failure", bad.where, "record", MALFORMED_RECORD, bad.field, bad.message))

    def _final(self, final: FinalObject, result: BatchResult, lines: dict[str, list[str]]) -> None:
        result.objects += 1
        counts = result.bucket(final.bucket)
        if final.deleted:
            counts.deleted += 1
            self._tombstone(final, result, lines)
            return
        counts.live += 1
        outcome = transform(final.record, self.mapping, self.owners)
        if isinstance(outcome, TransformFailure):
            counts.failed += 1
            self._failure(final, outcome, result, lines)
            return
        for warning in outcome.warnings:
            result.warnings[warning.pattern.value] += 1
        for row in outcome.rows:
            counts.rows += 1
            self._row(row, final.key, final.bucket, result, lines)

    def _tombstone(self, final: FinalObject, result: BatchResult, lines: dict[str, list[str]]) -> None:
        last = final.last_live.get("object") if final.last_live is not None else None
        target = transform_delete(final.record, self.mapping, self.owners, last_body=last)
        if not isinstance(target, DeleteTarget):
            return
        if target.action == "unpair" and final.last_live is not None:
            # a deleted device stays a row (readings keep referring to it), unpaired when it was deleted
            revived = transform(final.last_live, self.mapping, self.owners)
            if isinstance(revived, Transformed):
                for row in revived.rows:
                    if isinstance(row, DeviceRow):
                        unpaired = DeviceRow(**{**_fields(row), "unpaired_at": target.deleted_at})
                        result.bucket(final.bucket).rows += 1
                        self._row(unpaired, final.key, final.bucket, result, lines)
            return
        user_id = target.row_key.get("user_id")
        key2 = next((value for name, value in target.row_key.items() if name != "user_id"), None)
        if user_id is not None and key2 is not None:
            marker = {"version": final.record.get("version"), "modifiedAt": final.record.get("modifiedAt")}
            self._spill(lines, user_id, [TOMBSTONE, target.table, key2, 0, final.key, final.bucket, "", marker])

    def _failure(
        self, final: FinalObject, failure: TransformFailure, result: BatchResult, lines: dict[str, list[str]]
    ) -> None:
        pattern = failure.pattern.value
        label = self.bucket_types.get(final.bucket, final.bucket)
        detail = failure.message
        if failure.pattern is FailurePattern.ORPHAN_OWNER:
            owner = _owner_of(final.record)
            ids = self.config.legacy_user_ids
            if owner is not None and ids is not None and owner in ids:
                pattern = OWNER_NOT_MIGRATED
                detail = f"user {owner} is in the legacy user export but not in the new database"
        result.failures.append(Finding("legacy_failure", final.key, label, pattern, failure.field, detail))
        # where the failed object's row would be, so a row the target has there anyway is explained
        entry = self.mapping.entry(final.record.get("scope", {}).get("type", ""), final.bucket)
        owner = _owner_of(final.record)
        user_id = self.owners.user_id_for(owner) if owner else None
        if isinstance(entry, ReadingBucket) and user_id is not None:
            body = final.record.get("object") or {}
            explicit = body.get(self.mapping.client_id_field)
            client_id = explicit if isinstance(explicit, str) else derived_client_id(final.bucket, _object_id(final))
            marker = {"pattern": pattern, "message": failure.message}
            self._spill(lines, user_id, [FAILED, "readings", client_id, 0, final.key, final.bucket, label, marker])

    def _row(self, row: Any, legacy_key: str, bucket: str, result: BatchResult, lines: dict[str, list[str]]) -> None:
        spec, values = row_values(row)
        text = canonical_text(spec, values, self.encoding)
        checksum = zlib.crc32(text.encode("utf-8"))
        user_id = values["user_id"]
        label = type_label(spec, values.get(spec.type_column) if spec.type_column else None)
        result.rows_by_type[(spec.name, label)] += 1
        segment = (spec.name, user_id[: self.config.segment_chars])
        sums = result.segments.get(segment)
        if sums is None:
            result.segments[segment] = [1, checksum]
        else:
            sums[0] += 1
            sums[1] += checksum
        key2 = str(values[spec.key_column])
        meta = f"{spec.name}\t{key2}\t{checksum}\t{legacy_key}\t{bucket}\t{label}"
        if meta.count("\t") == META_TABS and "\n" not in meta and reversible(spec, values, text):
            # the canonical text made for the checksum is the spilled row (values_from_canonical reads it)
            lines.setdefault(user_id[: self.config.partition_chars], []).append(f"{user_id}\t{ROW}\t{meta}\t{text}\n")
        else:
            self._spill(lines, user_id, [ROW, spec.name, key2, checksum, legacy_key, bucket, label, values])

    def _spill(self, lines: dict[str, list[str]], user_id: str, item: list[Any]) -> None:
        """A partition line in the general form: the item as JSON."""
        text = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        lines.setdefault(user_id[: self.config.partition_chars], []).append(f"{user_id}\t{JSON_LINE}\t{text}\n")

    def _flush(self, lines: dict[str, list[str]]) -> None:
        pid = os.getpid()
        for partition, items in lines.items():
            with (self.parts_dir / f"{_safe(partition)}.{pid}.part").open("a", encoding="utf-8") as out:
                out.writelines(items)


def _resolver_row(device_id: str, user_id: str, serial: str) -> DeviceRow:
    """A device row carrying what InMemoryOwners.add_device reads (id, user, serial); the rest is filler."""
    return DeviceRow(device_id, user_id, "", "", serial, None, None, None, EPOCH, None, None, EPOCH, EPOCH)


def _fields(row: DeviceRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in DeviceRow.__dataclass_fields__}


def _owner_of(record: Any) -> str | None:
    """The legacy user owning a record: its user scope, else the body's `_owner`."""
    scope = record.get("scope") or {}
    if scope.get("type") == SCOPE_USER and isinstance(scope.get("userID"), str):
        return str(scope["userID"])
    body = record.get("object") or {}
    owner = body.get("_owner")
    return owner if isinstance(owner, str) else None


def _object_id(final: FinalObject) -> str:
    return str(final.record.get("objectID", ""))


def _safe(partition: str) -> str:
    """A partition name usable as a file name (user ids are UUIDs; anything else is hex-escaped)."""
    return partition if partition.isalnum() else partition.encode().hex()


def partition_files_glob(prefix: str) -> str:
    """The glob of the partition files holding user ids that start with prefix (one file per worker)."""
    return f"{_safe(prefix)}*.part"


def _bucket_types(mapping: BucketMapping) -> dict[str, str]:
    """Legacy bucket -> the type label its rows get."""
    labels: dict[str, str] = {}
    for entry in mapping.buckets:
        if isinstance(entry, ReadingBucket):
            labels[entry.bucket] = entry.reading_type
        elif isinstance(entry, DeviceBucket):
            labels[entry.bucket] = "device"
        elif isinstance(entry, SettingsBucket):
            labels[entry.bucket] = "device_settings"
    return labels


# --- entry points of a pool worker ----------------------------------------------------------------

_WORKER: _Worker | None = None


def init_worker(config: WorkerConfig | None) -> None:
    global _WORKER  # one worker state per process, set by the pool's initializer (None: release it)
    _WORKER = _Worker(config) if config is not None else None


def run_snapshot_chunk(chunk: bytes, first_line: int) -> BatchResult:
    assert _WORKER is not None
    return _WORKER.snapshot_chunk(chunk, first_line)


def run_unseen(keys: list[str]) -> BatchResult:
    assert _WORKER is not None
    return _WORKER.unseen_changes(keys)
