"""The validator's reader and replay of the legacy export agree with the simulator's (its ground truth)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.validation.errors import LegacyInputError, OffsetsError
from services.validation.legacy_state import (
    FinalObject,
    build_change_index,
    iter_final_state,
    read_chunks,
    read_header,
    read_lines,
)
from services.validation.offsets import murmur2, parse_offsets, partition_for
from simulator.legacy.changes import generate_changes
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import dumps_line, write_snapshot
from simulator.legacy.model import ExportRecord, Op, Scope
from simulator.legacy.partitioning import murmur2 as kafka_murmur2
from simulator.legacy.partitioning import partition_for as kafka_partition_for
from simulator.legacy.replay import LegacyState, replay

USERS, SEED, CHANGES = 25, 7, 300
Legacy = tuple[Path, list[ExportRecord], list[ExportRecord]]


def write_changes(path: Path, records: list[ExportRecord], coordinates: list[tuple[int, int]] | None = None) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for index, record in enumerate(records):
            value = record.to_json()
            if coordinates is not None:
                value["partition"], value["offset"] = coordinates[index]
            out.write(dumps_line(value) + "\n")


def final_state(directory: Path, tmp: Path, upto: dict[int, int] | None = None) -> dict[str, FinalObject]:
    snapshot = directory / "snapshot.jsonl.gz"
    changes = directory / "changes.jsonl.gz"
    index = build_change_index(changes if changes.exists() else None, read_header(snapshot), upto, tmp)
    try:
        return {final.key: final for final in iter_final_state(snapshot, index)}
    finally:
        index.close()


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Legacy:
    directory = tmp_path_factory.mktemp("legacy")
    dataset = generate_dataset(USERS, SEED)
    changes = list(generate_changes(dataset, CHANGES, SEED))
    write_snapshot(dataset, directory / "snapshot.jsonl.gz")
    write_changes(directory / "changes.jsonl.gz", changes)
    return directory, dataset.snapshot_records(), changes


def test_final_state_equals_the_simulators_replay(legacy: Legacy, tmp_path: Path) -> None:
    directory, snapshot, changes = legacy
    state = final_state(directory, tmp_path)
    live = {key: final.record for key, final in state.items() if not final.deleted}
    assert live == {key: record.to_json() for key, record in replay([*snapshot, *changes]).items()}
    simulator = LegacyState().apply_all([*snapshot, *changes])
    tombstones = {key for key, final in state.items() if final.deleted}
    assert tombstones == {key for key in state if simulator.latest(key).op is Op.DELETE}  # type: ignore[union-attr]
    assert tombstones, "the change stream deletes some readings"
    for key in tombstones:
        last = state[key].last_live
        assert last is not None and last["version"] < state[key].record["version"]


def test_without_changes_the_snapshot_is_the_state(legacy: Legacy, tmp_path: Path) -> None:
    directory, snapshot, _ = legacy
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "snapshot.jsonl.gz").write_bytes((directory / "snapshot.jsonl.gz").read_bytes())
    state = final_state(alone, tmp_path)
    assert {key: final.record for key, final in state.items()} == {r.key: r.to_json() for r in snapshot}


def test_upto_offsets_cut_the_stream_per_partition(legacy: Legacy, tmp_path: Path) -> None:
    directory, snapshot, changes = legacy
    header = read_header(directory / "snapshot.jsonl.gz")
    # the derived coordinates are Kafka's: partition by murmur2 of the key, offsets after the snapshot's
    upto = {partition: offset + 20 for partition, offset in header.partitions.items()}
    state = final_state(directory, tmp_path, upto)
    next_offset = dict(header.partitions)
    kept = []
    for record in changes:
        partition = kafka_partition_for(record.key.encode(), len(header.partitions))
        if next_offset[partition] < upto[partition]:
            kept.append(record)
        next_offset[partition] += 1
    assert len(kept) < len(changes)
    live = {key: final.record for key, final in state.items() if not final.deleted}
    assert live == {key: record.to_json() for key, record in replay([*snapshot, *kept]).items()}


def test_the_legacy_exports_topic_dump_format_is_read(legacy: Legacy, tmp_path: Path) -> None:
    """`vitalsync legacy export` writes {"partition", "offset", "timestamp_ms", "record"} lines."""
    directory, snapshot, changes = legacy
    dump = tmp_path / "dump"
    dump.mkdir()
    (dump / "snapshot.jsonl.gz").write_bytes((directory / "snapshot.jsonl.gz").read_bytes())
    with gzip.open(dump / "changes.jsonl.gz", "wt", encoding="utf-8") as out:
        for offset, record in enumerate(changes):
            line = {"partition": 1, "offset": 500 + offset, "timestamp_ms": 1, "record": record.to_json()}
            out.write(dumps_line(line) + "\n")
    state = final_state(dump, tmp_path, {1: 500 + 150})
    live = {key: final.record for key, final in state.items() if not final.deleted}
    assert live == {key: record.to_json() for key, record in replay([*snapshot, *changes[:150]]).items()}


def test_explicit_coordinates_win_over_derived_ones(legacy: Legacy, tmp_path: Path) -> None:
    directory, snapshot, changes = legacy
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    (explicit / "snapshot.jsonl.gz").write_bytes((directory / "snapshot.jsonl.gz").read_bytes())
    write_changes(explicit / "changes.jsonl.gz", changes, [(0, n) for n in range(len(changes))])
    state = final_state(explicit, tmp_path, {0: 100})
    live = {key: final.record for key, final in state.items() if not final.deleted}
    assert live == {key: record.to_json() for key, record in replay([*snapshot, *changes[:100]]).items()}


_KEYS = st.sampled_from([f"obj-{n}" for n in range(4)])
_RECORDS = st.lists(
    st.tuples(_KEYS, st.integers(1, 6), st.sampled_from([Op.CREATE, Op.UPDATE, Op.DELETE]), st.integers(0, 9)),
    max_size=25,
)


def _record(object_id: str, version: int, op: Op, mark: int) -> ExportRecord:
    body = None if op is Op.DELETE else {"_version": str(version), "mark": mark, "_created": 1, "_modified": 1}
    return ExportRecord(op, "app", Scope.user("u1"), "bp_records", object_id, version, 1, body)


@settings(max_examples=80, deadline=None)
@given(snapshot_versions=st.dictionaries(_KEYS, st.integers(1, 6), max_size=4), stream=_RECORDS)
def test_replays_and_out_of_order_versions_resolve_like_the_simulator(
    tmp_path_factory: pytest.TempPathFactory, snapshot_versions: dict[str, int], stream: list[tuple[str, int, Op, int]]
) -> None:
    """Newer version wins, equal versions keep the first seen, tombstones stick: as LegacyState does."""
    directory = tmp_path_factory.mktemp("replay")
    snapshot = [
        ExportRecord(Op.SNAPSHOT, "app", Scope.user("u1"), "bp_records", key, version, 1, {"_version": str(version)})
        for key, version in sorted(snapshot_versions.items())
    ]
    with gzip.open(directory / "snapshot.jsonl.gz", "wt", encoding="utf-8") as out:
        out.write(json.dumps({"snapshot": {"topic": "t", "partitions": {"0": len(snapshot)}, "taken_at": "x"}}) + "\n")
        for record in snapshot:
            out.write(dumps_line(record.to_json()) + "\n")
    changes = [_record(*item) for item in stream]
    write_changes(directory / "changes.jsonl.gz", changes)
    state = final_state(directory, directory)
    expected = LegacyState().apply_all([*snapshot, *changes])
    for key, final in state.items():
        latest = expected.latest(key)
        assert latest is not None
        assert final.record == latest.to_json()
        assert final.deleted == (latest.op is Op.DELETE)
    assert len(state) == len({r.key for r in [*snapshot, *changes]})


@given(st.binary(max_size=40))
def test_murmur2_is_kafkas(data: bytes) -> None:
    assert murmur2(data) == kafka_murmur2(data)


@given(st.text(max_size=60), st.integers(1, 12))
def test_partition_is_kafkas_default_partitioners(key: str, partitions: int) -> None:
    assert partition_for(key, partitions) == kafka_partition_for(key.encode(), partitions)


def test_parse_offsets() -> None:
    assert parse_offsets("0:12, 3:0") == {0: 12, 3: 0}
    assert parse_offsets(None) is None and parse_offsets(" ") is None
    for bad in ("0", "a:1", "1:-2", "0:1,"):
        with pytest.raises(OffsetsError):
            parse_offsets(bad)


def test_chunks_end_at_line_breaks_plain_gzip_and_concatenated_members(tmp_path: Path) -> None:
    lines = [json.dumps({"n": n, "pad": "x" * (n % 37)}) for n in range(500)]
    plain = tmp_path / "plain.jsonl"
    plain.write_text("\n".join(lines) + "\n\n")
    zipped = tmp_path / "two.jsonl.gz"
    zipped.write_bytes(
        gzip.compress("\n".join(lines[:200]).encode() + b"\n") + gzip.compress("\n".join(lines[200:]).encode())
    )
    for path in (plain, zipped):
        chunks = list(read_chunks(path, chunk_bytes=97))
        assert all(chunk.endswith(b"\n") for chunk in chunks)
        assert [line.decode() for line in read_lines(path)] == lines


def test_a_snapshot_without_a_header_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"op": "SNAPSHOT"}\n'))
    with pytest.raises(LegacyInputError):
        read_header(path)


def test_a_truncated_gzip_is_an_error_not_a_shorter_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.jsonl.gz"
    whole = gzip.compress(b"".join(b'{"n": %d}\n' % n for n in range(5000)))
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(LegacyInputError):
        list(read_lines(path))
