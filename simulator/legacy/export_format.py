"""The files a legacy export consists of, written and read back.

In the dataset directory (`vitalsync legacy seed --out DIR`):

- ``users.jsonl``: one user per line, the auth import format: ``legacy_user_id, login_name, email,
  display_name, country, locale, attributes, hash_scheme, hash, salt, params`` (``hash``/``salt``
  standard padded base64; for bcrypt ``$2b$...`` and argon2 ``$argon2id$...`` strings ``salt`` is
  null and ``params`` is {}), i.e. `LegacyHash.from_record(hash_scheme, hash, salt, params)`.
- ``passwords.json``: {legacy_user_id: plaintext password} (tests only; mode 0600).
- ``hash.key``: the platform's HMAC key, raw bytes (the secret given separately; mode 0600).
- ``things.jsonl``: one Kii thing per line (``_thingID, _vendorThingID, _thingType, _vendor,
  _productName, _firmwareVersion, _created, _disabled, serialNumber, owners {users, groups}``).
- ``snapshot.jsonl.gz``: DESIGN section 10: a header line
  ``{"snapshot": {"topic", "partitions": {"0": next_offset, ...}, "taken_at"}}`` then one SNAPSHOT
  record per object (``op, appID, scope {type, userID|thingID|groupID}, bucket, objectID, version,
  modifiedAt, object``). The snapshot stands for the topic's content up to the header offsets: the
  k-th record of partition p (see `partitioning`) had offset k, so change capture starts at
  next_offset = the number of the snapshot's records in that partition.
- ``manifest.json``: seed, counts per bucket and hash scheme, snapshot offsets, the edge-case
  manifest (category -> keys) with a description of each category.

All JSON is UTF-8 without ASCII escaping; JSONL lines are compact. Files are written to a temporary
name and renamed, and the gzip header carries no name or time, so the same dataset always gives the
same bytes.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from simulator.legacy.edge_cases import DESCRIPTIONS
from simulator.legacy.model import ExportRecord, ExportRecordError, LegacyDataset
from simulator.legacy.partitioning import DEFAULT_PARTITIONS, partition_for, record_key

SNAPSHOT_TOPIC = "legacy.export.v1"
MANIFEST_FORMAT = "vitalsync.legacy-dataset.v1"
USERS_FILE = "users.jsonl"
PASSWORDS_FILE = "passwords.json"
HASH_KEY_FILE = "hash.key"
THINGS_FILE = "things.jsonl"
SNAPSHOT_FILE = "snapshot.jsonl.gz"
MANIFEST_FILE = "manifest.json"
_SECRET_MODE = 0o600
_GZIP_LEVEL = 6

ProgressCallback = Callable[[int], None]


def dumps_line(value: object) -> str:
    """Compact JSON for one JSONL line (UTF-8 text kept as is; NaN refused)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def iso8601_ms(epoch_ms: int) -> str:
    """Epoch ms as ISO 8601 UTC with a Z, e.g. 2022-07-01T00:00:00Z (milliseconds shown when not 0)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    text = moment.isoformat(timespec="milliseconds" if epoch_ms % 1000 else "seconds")
    return text.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class SnapshotHeader:
    """The snapshot file's first line: topic, next offset per partition, and when it was taken."""

    topic: str
    partitions: dict[int, int]
    taken_at: str

    def to_json(self) -> dict[str, Any]:
        """The header line's object."""
        offsets = {str(partition): offset for partition, offset in sorted(self.partitions.items())}
        return {"snapshot": {"topic": self.topic, "partitions": offsets, "taken_at": self.taken_at}}

    @classmethod
    def from_json(cls, value: object) -> SnapshotHeader:
        """Parse a header line; raise ExportRecordError when it is not one."""
        snapshot = value.get("snapshot") if isinstance(value, dict) else None
        if not isinstance(snapshot, dict):
            raise ExportRecordError('the first line must be a {"snapshot": ...} header')
        partitions = snapshot.get("partitions")
        if not isinstance(partitions, dict) or not all(
            key.isdigit() and isinstance(offset, int) for key, offset in partitions.items()
        ):
            raise ExportRecordError("snapshot.partitions must map partition numbers to offsets")
        topic, taken_at = snapshot.get("topic"), snapshot.get("taken_at")
        if not isinstance(topic, str) or not isinstance(taken_at, str):
            raise ExportRecordError("snapshot.topic and snapshot.taken_at must be strings")
        return cls(topic, {int(key): offset for key, offset in partitions.items()}, taken_at)


def partition_offsets(records: Iterable[ExportRecord], partitions: int = DEFAULT_PARTITIONS) -> dict[int, int]:
    """Next offset per partition after the records (every partition listed, empty ones at 0)."""
    counts = Counter(partition_for(record_key(record), partitions) for record in records)
    return {partition: counts.get(partition, 0) for partition in range(partitions)}


@dataclass(frozen=True, slots=True)
class WrittenDataset:
    """What `write_dataset` produced: the files by name and the snapshot's offsets."""

    directory: Path
    files: dict[str, Path]
    offsets: dict[int, int]
    manifest: dict[str, Any]


class _AtomicFile:
    """Write to NAME.tmp, rename to NAME on success, remove the temporary file on failure."""

    def __init__(self, path: Path, mode: int | None = None) -> None:
        self.path = path
        self.temp = path.with_name(path.name + ".tmp")
        self.mode = mode

    def __enter__(self) -> Path:
        return self.temp

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            if self.mode is not None:
                os.chmod(self.temp, self.mode)
            os.replace(self.temp, self.path)
        else:
            self.temp.unlink(missing_ok=True)


def write_users(dataset: LegacyDataset, path: Path) -> None:
    """users.jsonl: one auth import record per user."""
    with _AtomicFile(path) as temp, temp.open("w", encoding="utf-8", newline="\n") as out:
        for user in dataset.users:
            out.write(dumps_line(user.to_import_record()) + "\n")


def write_passwords(dataset: LegacyDataset, path: Path) -> None:
    """passwords.json: each user's plaintext, for tests that log in as them."""
    with _AtomicFile(path, _SECRET_MODE) as temp:
        temp.write_text(json.dumps(dataset.passwords, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_hash_key(dataset: LegacyDataset, path: Path) -> None:
    """hash.key: the raw HMAC key bytes."""
    with _AtomicFile(path, _SECRET_MODE) as temp:
        temp.write_bytes(dataset.hash_key)


def write_things(dataset: LegacyDataset, path: Path) -> None:
    """things.jsonl: one Kii thing per line."""
    with _AtomicFile(path) as temp, temp.open("w", encoding="utf-8", newline="\n") as out:
        for thing in dataset.things:
            out.write(dumps_line(thing.to_export_record()) + "\n")


def write_snapshot(
    dataset: LegacyDataset,
    path: Path,
    *,
    partitions: int = DEFAULT_PARTITIONS,
    progress: ProgressCallback | None = None,
) -> dict[int, int]:
    """snapshot.jsonl.gz: header then SNAPSHOT records in dataset order; returns the header offsets."""
    records = dataset.snapshot_records()
    offsets = partition_offsets(records, partitions)
    header = SnapshotHeader(SNAPSHOT_TOPIC, offsets, iso8601_ms(dataset.snapshot_at_ms))
    with _AtomicFile(path) as temp, temp.open("wb") as raw:
        # filename="" and mtime=0 keep the gzip header free of the name and time: same data, same bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=_GZIP_LEVEL) as zipped:
            zipped.write((dumps_line(header.to_json()) + "\n").encode("utf-8"))
            for record in records:
                zipped.write((dumps_line(record.to_json()) + "\n").encode("utf-8"))
                if progress is not None:
                    progress(1)
    return offsets


def build_manifest(dataset: LegacyDataset, offsets: dict[int, int]) -> dict[str, Any]:
    """manifest.json's content: what is in the dataset and where its edge cases are."""
    buckets = Counter(obj.bucket for obj in dataset.objects)
    schemes = Counter(user.legacy_hash.scheme for user in dataset.users)
    return {
        "format": MANIFEST_FORMAT,
        "seed": dataset.seed,
        "users": dataset.user_count,
        "app_id": dataset.app_id,
        "app_key": dataset.app_key,
        "files": {
            "users": USERS_FILE,
            "passwords": PASSWORDS_FILE,
            "hash_key": HASH_KEY_FILE,
            "things": THINGS_FILE,
            "snapshot": SNAPSHOT_FILE,
        },
        "snapshot": {
            "topic": SNAPSHOT_TOPIC,
            "partitions": len(offsets),
            "offsets": {str(partition): offset for partition, offset in sorted(offsets.items())},
            "taken_at": iso8601_ms(dataset.snapshot_at_ms),
            "records": len(dataset.objects),
        },
        "counts": {
            "users": dataset.user_count,
            "things": len(dataset.things),
            "objects": len(dataset.objects),
            "orphan_owners": len(dataset.orphan_user_ids),
            "buckets": dict(sorted(buckets.items())),
            "hash_schemes": dict(sorted(schemes.items())),
        },
        "edge_case_descriptions": {category.value: text for category, text in DESCRIPTIONS.items()},
        "edge_cases": dataset.edge_cases,
    }


def write_manifest(manifest: dict[str, Any], path: Path) -> None:
    """manifest.json, indented for people."""
    with _AtomicFile(path) as temp:
        temp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def write_dataset(
    dataset: LegacyDataset,
    directory: Path,
    *,
    partitions: int = DEFAULT_PARTITIONS,
    progress: ProgressCallback | None = None,
) -> WrittenDataset:
    """Write every file of the dataset into directory (created if missing); progress(1) per record."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        name: directory / name
        for name in (USERS_FILE, PASSWORDS_FILE, HASH_KEY_FILE, THINGS_FILE, SNAPSHOT_FILE, MANIFEST_FILE)
    }
    write_users(dataset, files[USERS_FILE])
    write_passwords(dataset, files[PASSWORDS_FILE])
    write_hash_key(dataset, files[HASH_KEY_FILE])
    write_things(dataset, files[THINGS_FILE])
    offsets = write_snapshot(dataset, files[SNAPSHOT_FILE], partitions=partitions, progress=progress)
    manifest = build_manifest(dataset, offsets)
    # The manifest goes last: its presence says the other files are complete.
    write_manifest(manifest, files[MANIFEST_FILE])
    return WrittenDataset(directory, files, offsets, manifest)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file (plain or .gz), one per non-empty line."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def read_snapshot(path: Path) -> tuple[SnapshotHeader, list[ExportRecord]]:
    """The snapshot's header and all its records (for tests and small datasets)."""
    lines = read_jsonl(path)
    try:
        header = SnapshotHeader.from_json(next(lines))
    except StopIteration:
        raise ExportRecordError("the snapshot file is empty") from None
    return header, [ExportRecord.from_json(line) for line in lines]
