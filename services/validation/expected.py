"""The expected side: the final legacy state through the shared transform, spilled to disk by key segment.

Two passes over the snapshot (DESIGN section 10; the same order a migration must follow):

1. devices only (lines are filtered on the bucket name before parsing): their rows tell the owner
   resolver which device a serial or a thing is, as the migration's resolver learns it from the
   ``devices`` table;
2. every object, in worker processes (the transform is the CPU cost; each worker gets the resolver,
   the change index and the mapping once): each final object is transformed and each row's compared
   values and checksum are appended to a partition file named by the first characters of its
   ``user_id`` (UUIDs, so partitions are even), and summed per checksum segment.

Memory: the resolver (users and devices), the change index, per-segment sums (at most 16^4 per
table) and one chunk per worker; rows live on disk until a segment that differs is read back.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

from services.validation.findings import Finding
from services.validation.legacy_state import (
    BadRecord,
    ChangeIndex,
    FinalObject,
    parse_record,
    read_chunks,
    resolve,
)
from services.validation.worker import (
    PARTITION_CHARS,
    SEGMENT_CHARS,
    BatchResult,
    BucketCounts,
    WorkerConfig,
    init_worker,
    load_bucket_mapping,
    run_snapshot_chunk,
    run_unseen,
)
from shared.legacy.transform import (
    BucketMapping,
    DeviceBucket,
    DeviceRow,
    InMemoryOwners,
    Transformed,
    transform,
)

UNSEEN_BATCH = 5000
# ~7,000 records per task (16 MB tasks were tried: +170 MB peak RSS at 10 M readings, no measurable gain)
TASK_CHUNK_BYTES = 4 * 1024 * 1024
INLINE_SNAPSHOT_BYTES = 8 * 1024 * 1024  # smaller snapshots are transformed in-process (no spawn cost)

ProgressCallback = Callable[[int], None]


@dataclass(slots=True)
class ExpectedSide:
    """The expected side's totals; its rows are in `parts_dir`."""

    parts_dir: Path
    objects: int = 0
    buckets: dict[str, BucketCounts] = field(default_factory=dict)
    rows_by_type: Counter[tuple[str, str]] = field(default_factory=Counter)
    segments: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    warnings: Counter[str] = field(default_factory=Counter)
    devices_known: int = 0
    workers: int = 0

    def merge(self, batch: BatchResult) -> None:
        """Add a batch's counts and segment sums."""
        self.objects += batch.objects
        for name, counts in batch.buckets.items():
            self.buckets.setdefault(name, BucketCounts()).add(counts)
        self.rows_by_type.update(batch.rows_by_type)
        self.warnings.update(batch.warnings)
        for segment, (count, total) in batch.segments.items():
            sums = self.segments.get(segment)
            if sums is None:
                self.segments[segment] = [count, total]
            else:
                sums[0] += count
                sums[1] += total


def _lines_containing(snapshot: Path, needles: tuple[bytes, ...]) -> Iterator[bytes]:
    """The snapshot's record lines that contain a needle, in file order, found with bytes.find per chunk
    (pass 1 reads every byte of the snapshot but parses only the devices' lines)."""
    first = True
    for chunk in read_chunks(snapshot):
        if first:
            first = False
            chunk = chunk[chunk.find(b"\n") + 1 :]
        spans: set[tuple[int, int]] = set()
        for needle in needles:
            position = chunk.find(needle)
            while position >= 0:
                end = chunk.find(b"\n", position)
                spans.add((chunk.rfind(b"\n", 0, position) + 1, end))
                position = chunk.find(needle, end)
        for start, end in sorted(spans):
            yield chunk[start:end]


def known_devices(
    snapshot: Path, index: ChangeIndex, mapping: BucketMapping, owners: InMemoryOwners
) -> list[tuple[DeviceRow, str | None]]:
    """Pass 1: the device rows of the final state (tombstones' last live body too), added to owners."""
    buckets = {entry.bucket for entry in mapping.buckets if isinstance(entry, DeviceBucket)}
    devices: list[tuple[DeviceRow, str | None]] = []

    def learn(final: FinalObject) -> None:
        record = final.last_live if final.deleted else final.record
        if record is None:
            return
        outcome = transform(record, mapping, owners)
        if isinstance(outcome, Transformed):
            for row in outcome.rows:
                if isinstance(row, DeviceRow):
                    owners.add_device(row, outcome.thing_id)
                    devices.append((row, outcome.thing_id))

    consumed: set[str] = set()
    for line in _lines_containing(snapshot, tuple(f'"{bucket}"'.encode() for bucket in buckets)):
        parsed = parse_record(line, "snapshot")
        if isinstance(parsed, BadRecord) or parsed.bucket not in buckets:
            continue  # bad lines are reported by pass 2
        entry = index.get(parsed.key)
        if entry is not None:
            consumed.add(parsed.key)
        learn(resolve(parsed, entry, index))
    markers = tuple(f"/buckets/{bucket}/objects/" for bucket in buckets)
    for key, entry in index.entries.items():
        if key not in consumed and any(marker in key for marker in markers):
            final = resolve(None, entry, index)
            if final.bucket in buckets:
                learn(final)
    return devices


def _snapshot_chunks(snapshot: Path) -> Iterator[tuple[bytes, int]]:
    """The snapshot's record lines in chunks (one task each), with the line number each chunk starts at."""
    line = 1
    first = True
    for chunk in read_chunks(snapshot, TASK_CHUNK_BYTES):
        if first:
            first = False
            cut = chunk.find(b"\n")
            chunk = chunk[cut + 1 :]
            line = 2
        yield chunk, line
        line += chunk.count(b"\n")


def build_expected(
    snapshot: Path,
    index: ChangeIndex,
    *,
    users: dict[str, str],
    legacy_user_ids: set[str] | None,
    mapping_path: str | None,
    encoding: str,
    spill_dir: Path,
    workers: int,
    segment_chars: int = SEGMENT_CHARS,
    on_failure: Callable[[Finding], None],
    progress: ProgressCallback | None = None,
) -> ExpectedSide:
    """Both passes; failures go to on_failure in snapshot order, rows to spill_dir/parts."""
    mapping = load_bucket_mapping(mapping_path)
    devices = [
        (row.id, row.user_id, row.serial, thing_id)
        for row, thing_id in known_devices(snapshot, index, mapping, InMemoryOwners(users))
    ]
    parts_dir = spill_dir / "parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    config = WorkerConfig(
        mapping_path=mapping_path,
        users=users,
        legacy_user_ids=frozenset(legacy_user_ids) if legacy_user_ids is not None else None,
        devices=devices,
        index=index,
        encoding=encoding,
        parts_dir=str(parts_dir),
        segment_chars=segment_chars,
        partition_chars=min(segment_chars, PARTITION_CHARS),
    )
    side = ExpectedSide(parts_dir, devices_known=len(devices))
    if workers <= 0:
        workers = 1 if snapshot.stat().st_size < INLINE_SNAPSHOT_BYTES else (os.cpu_count() or 1)
    side.workers = workers
    consumed: set[str] = set()

    def take(batch: BatchResult) -> None:
        side.merge(batch)
        consumed.update(batch.consumed)
        for failure in batch.failures:
            on_failure(failure)
        if progress is not None:
            progress(batch.objects)

    if workers == 1:
        init_worker(config)
        for chunk, first_line in _snapshot_chunks(snapshot):
            take(run_snapshot_chunk(chunk, first_line))
        for keys in _unseen_batches(index, consumed):
            take(run_unseen(keys))
        init_worker(None)
        return side
    # spawn: the caller may run threads (the asyncio loop); forking those is unsafe
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=init_worker, initargs=(config,)) as pool:
        _ordered(pool, ((run_snapshot_chunk, args) for args in _snapshot_chunks(snapshot)), workers * 2, take)
        _ordered(pool, ((run_unseen, (keys,)) for keys in _unseen_batches(index, consumed)), workers * 2, take)
        pool.close()
        pool.join()
    return side


def _unseen_batches(index: ChangeIndex, consumed: set[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for final in _unseen_keys(index, consumed):
        batch.append(final)
        if len(batch) >= UNSEEN_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _unseen_keys(index: ChangeIndex, consumed: set[str]) -> Iterator[str]:
    for key in index.entries:
        if key not in consumed:
            yield key


def _ordered(
    pool: Pool,
    tasks: Iterator[tuple[Callable[..., BatchResult], tuple[Any, ...]]],
    window: int,
    take: Callable[[BatchResult], None],
) -> None:
    """Run tasks on the pool with at most `window` in flight, taking results in submission order."""
    pending: deque[AsyncResult[BatchResult]] = deque()
    for function, args in tasks:
        pending.append(pool.apply_async(function, args))
        if len(pending) >= window:
            take(pending.popleft().get())
    while pending:
        take(pending.popleft().get())
