"""The snapshot reader gives each record the position Kafka's partitioner gave it at snapshot time."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest

from services.migration.errors import RecordFormatError
from services.migration.snapshot_file import SnapshotReader
from shared.legacy.partitioning import partition_for

HEADER = {"snapshot": {"topic": "legacy.export", "partitions": {"0": 0, "1": 0, "2": 0}, "taken_at": "2026-11-26"}}


def _record(number: int) -> dict[str, object]:
    return {
        "op": "SNAPSHOT",
        "appID": "app1",
        "scope": {"type": "APP_AND_USER", "userID": f"u-{number % 4}"},
        "bucket": "bp_records",
        "objectID": f"o-{number}",
        "version": 1,
        "modifiedAt": 1_656_633_600_000,
        "object": {"systolic": 120},
    }


def _write(path: Path, lines: list[str]) -> Path:
    with gzip.open(path, "wt", encoding="utf-8") as file:
        file.write("".join(f"{line}\n" for line in lines))
    return path


def test_records_get_their_keys_partition_and_the_next_offset_there(tmp_path: Path) -> None:
    path = _write(tmp_path / "snapshot.jsonl.gz", [json.dumps(HEADER)] + [json.dumps(_record(n)) for n in range(60)])
    reader = SnapshotReader(path)
    try:
        records = list(reader.records())
    finally:
        reader.close()
    assert [r.object_id for r in records] == [f"o-{n}" for n in range(60)]
    seen: Counter[int] = Counter()
    for record in records:
        assert record.partition == partition_for(record.key.encode(), 3)
        assert record.offset == seen[record.partition]  # offsets count up per partition, in file order
        seen[record.partition] += 1
    assert len(seen) == 3  # 60 keys do reach every partition


def test_a_malformed_line_is_named_by_its_number(tmp_path: Path) -> None:
    path = _write(tmp_path / "snapshot.jsonl.gz", [json.dumps(HEADER), json.dumps(_record(1)), "{not json"])
    reader = SnapshotReader(path)
    try:
        with pytest.raises(RecordFormatError, match=r"snapshot\.jsonl\.gz line 3: record is not JSON"):
            list(reader.records())
    finally:
        reader.close()


def test_a_copy_cut_short_is_named_not_taken_for_end_of_input(tmp_path: Path) -> None:
    whole = _write(tmp_path / "whole.jsonl.gz", [json.dumps(HEADER)] + [json.dumps(_record(n)) for n in range(500)])
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    reader = SnapshotReader(cut)
    with pytest.raises(RecordFormatError, match=r"^cut.jsonl.gz is not a readable snapshot \(EOFError: "):
        list(reader.records())
    reader.close()


def test_a_file_that_is_not_gzip_is_named(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_text(json.dumps(HEADER) + "\n")
    with pytest.raises(RecordFormatError, match=r"^snapshot.jsonl.gz is not a readable snapshot \(BadGzipFile: "):
        SnapshotReader(path)
