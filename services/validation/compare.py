"""Narrowing: from per-segment checksums down to the rows that differ, then to their fields.

Level 1 compares (count, sum of row checksums) per table and ``user_id`` prefix (`SEGMENT_CHARS`
characters) between the expected side's sums and one aggregate query per table. A segment that
differs is narrowed: while the database holds more than `leaf_rows` rows under the prefix, the
prefix grows by two characters (one GROUP BY over that index range, 256 sub-segments) and only the
sub-segments that differ are followed; at a leaf, the rows' keys and checksums are fetched and matched
with the expected rows read back from the segment's partition file: missing, extra, and checksum
mismatches, which are fetched whole and compared field by field (`services.validation.diff`).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomysql

from services.validation import target
from services.validation.canonical import TABLES, TableSpec, values_from_canonical
from services.validation.diff import diff_row
from services.validation.findings import EXTRA_IN_TARGET, MISSING_IN_TARGET, Finding, FindingSink
from services.validation.json_encodings import JsonEncoding
from services.validation.worker import FAILED, PARTITION_CHARS, ROW, TOMBSTONE, partition_files_glob

LEAF_ROWS = 2000
USER_ID_CHARS = 36
NARROW_STEP_CHARS = 2


@dataclass(frozen=True, slots=True)
class ExpectedItem:
    """One line of a partition file: an expected row, or a marker (tombstone / failed object)."""

    kind: str
    table: str
    user_id: str
    key: str
    checksum: int
    legacy_key: str
    bucket: str
    type: str
    payload: Any


@dataclass(slots=True)
class CompareStats:
    """How much work the narrowing did."""

    segments_compared: int = 0
    segments_differing: int = 0
    narrowing_queries: int = 0
    leaf_queries: int = 0
    rows_fetched: int = 0
    rows_rechecked: int = 0
    checksum_only_differences: int = 0
    deepest_prefix: int = 0


@dataclass(slots=True)
class TypeDifferences:
    """Per (table, type): rows missing in the target, extra there, and stored with other values."""

    missing: Counter[tuple[str, str]] = field(default_factory=Counter)
    extra: Counter[tuple[str, str]] = field(default_factory=Counter)
    mismatched: Counter[tuple[str, str]] = field(default_factory=Counter)


def read_partition(parts_dir: Path, prefix: str, wanted: set[tuple[str, str]], chars: int) -> list[ExpectedItem]:
    """The items under a user_id prefix whose (table, segment) is wanted (other lines are not parsed)."""
    wanted_prefixes = {segment for _, segment in wanted}
    items = []
    for path in sorted(parts_dir.glob(partition_files_glob(prefix))):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                user_id, _, rest = line.rstrip("\n").partition("\t")
                segment = user_id[:chars]
                if segment not in wanted_prefixes:
                    continue
                form, _, rest = rest.partition("\t")
                if form == ROW:
                    table, key, checksum, legacy_key, bucket, label, text = rest.split("\t", 6)
                    if (table, segment) in wanted:
                        values = values_from_canonical(TABLES[table], text)
                        items.append(
                            ExpectedItem(ROW, table, user_id, key, int(checksum), legacy_key, bucket, label, values)
                        )
                    continue
                kind, table, key, checksum, legacy_key, bucket, label, payload = json.loads(rest)
                if (table, segment) in wanted:
                    items.append(
                        ExpectedItem(kind, table, user_id, str(key), checksum, legacy_key, bucket, label, payload)
                    )
    return items


class Narrower:
    """Walks the differing segments of every table and reports what differs to the sink."""

    def __init__(
        self,
        conn: aiomysql.Connection,
        encoding: JsonEncoding,
        sink: FindingSink,
        legacy_ids: dict[str, str],
        *,
        parts_dir: Path,
        segment_chars: int,
        leaf_rows: int = LEAF_ROWS,
    ) -> None:
        self.conn = conn
        self.encoding = encoding
        self.sink = sink
        self.legacy_ids = legacy_ids
        self.parts_dir = parts_dir
        self.segment_chars = segment_chars
        self.leaf_rows = leaf_rows
        self.stats = CompareStats()
        self.by_type = TypeDifferences()

    async def run(
        self, expected: dict[tuple[str, str], list[int]], actual: dict[tuple[str, str], tuple[int, int]]
    ) -> None:
        """Compare level-1 sums and narrow every segment that differs."""
        segments = sorted(set(expected) | set(actual))
        self.stats.segments_compared = len(segments)
        differing = [s for s in segments if tuple(expected.get(s, (0, 0))) != tuple(actual.get(s, (0, 0)))]
        self.stats.segments_differing = len(differing)
        by_partition: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for table, segment in differing:
            by_partition[segment[:PARTITION_CHARS]].add((table, segment))
        for partition in sorted(by_partition):
            wanted = by_partition[partition]
            items = read_partition(self.parts_dir, partition, wanted, self.segment_chars)
            grouped: dict[tuple[str, str], list[ExpectedItem]] = defaultdict(list)
            for item in items:
                grouped[(item.table, item.user_id[: self.segment_chars])].append(item)
            for table, segment in sorted(wanted):
                count = actual.get((table, segment), (0, 0))[0]
                await self._narrow(TABLES[table], segment, grouped.get((table, segment), []), count)

    async def _narrow(self, spec: TableSpec, prefix: str, items: list[ExpectedItem], actual_count: int) -> None:
        self.stats.deepest_prefix = max(self.stats.deepest_prefix, len(prefix))
        if actual_count <= self.leaf_rows or len(prefix) >= USER_ID_CHARS:
            await self._leaf(spec, prefix, items)
            return
        chars = min(len(prefix) + NARROW_STEP_CHARS, USER_ID_CHARS)
        self.stats.narrowing_queries += 1
        actual: dict[str, list[int]] = {}
        for part in await target.segment_sums(self.conn, spec, self.encoding, chars, prefix):
            sums = actual.setdefault(part.segment, [0, 0])
            sums[0] += part.count
            sums[1] += part.total
        expected: dict[str, list[int]] = {}
        children: dict[str, list[ExpectedItem]] = defaultdict(list)
        for item in items:
            sub = item.user_id[:chars]
            children[sub].append(item)
            if item.kind == ROW:
                sums = expected.setdefault(sub, [0, 0])
                sums[0] += 1
                sums[1] += item.checksum
        for sub in sorted(set(actual) | set(expected)):
            if expected.get(sub, [0, 0]) != actual.get(sub, [0, 0]):
                await self._narrow(spec, sub, children.get(sub, []), actual.get(sub, [0, 0])[0])

    async def _leaf(self, spec: TableSpec, prefix: str, items: Iterable[ExpectedItem]) -> None:
        self.stats.leaf_queries += 1
        rows: dict[tuple[str, str], ExpectedItem] = {}
        markers: dict[tuple[str, str], ExpectedItem] = {}
        for entry in items:
            (rows if entry.kind == ROW else markers)[(entry.user_id, entry.key)] = entry
        stored = await target.leaf_rows(self.conn, spec, self.encoding, prefix)
        self.stats.rows_fetched += len(stored)
        recheck: list[ExpectedItem] = []
        for row in stored:
            key = (row.user_id, row.key)
            found = rows.pop(key, None)
            if found is None:
                self._extra(spec, row, markers.get(key))
            elif found.checksum != row.checksum:
                recheck.append(found)
        for item in rows.values():
            self.by_type.missing[(spec.name, item.type)] += 1
            detail = f"no {spec.name} row ({item.user_id}, {item.key})"
            self.sink.add(Finding("difference", item.legacy_key, item.type, MISSING_IN_TARGET, None, detail))
        if recheck:
            await self._recheck(spec, recheck)

    def _extra(self, spec: TableSpec, row: target.LeafRow, marker: ExpectedItem | None) -> None:
        self.by_type.extra[(spec.name, row.type)] += 1
        if marker is not None and marker.kind == TOMBSTONE:
            key = marker.legacy_key
            detail = f"deleted on the legacy platform (version {marker.payload.get('version')}) but still stored"
        elif marker is not None and marker.kind == FAILED:
            key = marker.legacy_key
            detail = f"the legacy object failed to transform ({marker.payload.get('pattern')}) but a row is stored"
        else:
            key = self._legacy_key(spec, row)
            detail = f"{spec.name} row ({row.user_id}, {row.key}) has no legacy object"
        self.sink.add(Finding("difference", key, row.type, EXTRA_IN_TARGET, None, detail))

    def _legacy_key(self, spec: TableSpec, row: target.LeafRow) -> str:
        """The kiicloud:// key a stored reading would have come from (derived client ids), else the row key."""
        legacy_user = self.legacy_ids.get(row.user_id)
        if spec.name == "readings" and legacy_user and row.key.startswith("kii:") and "/" in row.key:
            bucket, _, object_id = row.key[4:].partition("/")
            return f"kiicloud://users/{legacy_user}/buckets/{bucket}/objects/{object_id}"
        return f"{spec.name}:{row.user_id}/{row.key}"

    async def _recheck(self, spec: TableSpec, items: list[ExpectedItem]) -> None:
        stored = await target.full_rows(self.conn, spec, [(item.user_id, item.key) for item in items])
        self.stats.rows_rechecked += len(items)
        for item in items:
            actual = stored.get((item.user_id, item.key))
            if actual is None:  # deleted between the two queries
                continue
            diffs = diff_row(spec, item.payload, actual)
            if not diffs:
                self.stats.checksum_only_differences += 1
                continue
            self.by_type.mismatched[(spec.name, item.type)] += 1
            for found in diffs:
                self.sink.add(
                    Finding(
                        "difference",
                        item.legacy_key,
                        item.type,
                        found.pattern,
                        found.field,
                        found.detail,
                        found.expected,
                        found.actual,
                    )
                )
