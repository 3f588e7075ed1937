"""The change stream and the replayed final state (the validation's ground truth)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.legacy.changes import generate_changes
from simulator.legacy.edge_cases import EdgeCase
from simulator.legacy.model import ExportRecord, LegacyDataset, Op, Scope
from simulator.legacy.replay import LegacyState, replay

CHANGES = 3000


@pytest.fixture(scope="module")
def changes(dataset: LegacyDataset) -> list[ExportRecord]:
    return list(generate_changes(dataset, CHANGES, seed=9))


def sequential(records: Iterable[ExportRecord]) -> dict[str, ExportRecord]:
    """The naive model of an in-order stream: each record replaces its key, a DELETE removes it."""
    state: dict[str, ExportRecord] = {}
    for record in records:
        if record.op is Op.DELETE:
            state.pop(record.key, None)
        else:
            state[record.key] = record
    return state


def test_changes_are_deterministic_per_seed(dataset: LegacyDataset, changes: list[ExportRecord]) -> None:
    assert len(changes) == CHANGES
    assert list(generate_changes(dataset, CHANGES, seed=9)) == changes
    assert list(generate_changes(dataset, 50, seed=10)) != changes[:50]


def test_versions_grow_by_one_per_object_and_ops_fit_the_state(
    dataset: LegacyDataset, changes: list[ExportRecord]
) -> None:
    version = {obj.key: obj.version for obj in dataset.objects}
    live = {obj.key for obj in dataset.objects}
    clock = dataset.snapshot_at_ms
    for record in changes:
        assert record.version == version.get(record.key, 0) + 1, record
        assert record.modified_at > clock
        clock = record.modified_at
        assert record.app_id == dataset.app_id
        if record.op is Op.CREATE:
            assert record.key not in live
            live.add(record.key)
        else:
            assert record.op in (Op.UPDATE, Op.DELETE) and record.key in live
            if record.op is Op.DELETE:
                live.remove(record.key)
        if record.body is not None:
            assert record.body["_version"] == str(record.version) and record.body["_modified"] == record.modified_at
            assert record.body["_id"] == record.object_id
        version[record.key] = record.version


def test_the_mix_is_mostly_new_readings_with_updates_deletes_and_recreates(
    dataset: LegacyDataset, changes: list[ExportRecord]
) -> None:
    snapshot_keys = {obj.key for obj in dataset.objects}
    ops = Counter(record.op for record in changes)
    assert ops[Op.CREATE] > CHANGES / 2 and ops[Op.UPDATE] > CHANGES / 20 and ops[Op.DELETE] > CHANGES / 50
    assert Counter(record.bucket for record in changes if record.op is Op.UPDATE)["settings"] > 0
    deleted: set[str] = set()
    recreated = 0
    for record in changes:
        if record.op is Op.DELETE:
            deleted.add(record.key)
        elif record.op is Op.CREATE and record.key in deleted:
            recreated += 1
    assert recreated > len(dataset.edge_cases[EdgeCase.DELETED_AND_RECREATED])
    assert any(record.op is Op.CREATE and record.key not in snapshot_keys for record in changes)


def test_every_deleted_and_recreated_object_is_deleted_then_created_again(
    dataset: LegacyDataset, changes: list[ExportRecord]
) -> None:
    objects = dataset.objects_by_key()
    final = replay([*dataset.snapshot_records(), *changes])
    for key in dataset.edge_cases[EdgeCase.DELETED_AND_RECREATED]:
        history = [(record.op, record.version) for record in changes if record.key == key][:2]
        snapshot_version = objects[key].version
        assert history == [(Op.DELETE, snapshot_version + 1), (Op.CREATE, snapshot_version + 2)], key
        assert final[key].version >= snapshot_version + 2 and final[key].object_id == objects[key].object_id


def test_changes_leave_the_other_edge_cases_as_the_snapshot_has_them(
    dataset: LegacyDataset, changes: list[ExportRecord]
) -> None:
    untouchable = {
        key
        for category, keys in dataset.edge_cases.items()
        if category != EdgeCase.DELETED_AND_RECREATED
        for key in keys
        if "/buckets/" in key
    }
    assert not untouchable & {record.key for record in changes}


def test_replay_of_snapshot_and_changes_is_the_in_order_state(
    dataset: LegacyDataset, changes: list[ExportRecord]
) -> None:
    stream = [*dataset.snapshot_records(), *changes]
    expected = sequential(stream)
    assert replay(stream) == expected
    # Replays after a restart: the snapshot again, then the changes again from some offset.
    assert replay([*stream, *dataset.snapshot_records(), *changes[1000:], *changes[:10]]) == expected
    assert replay(reversed(stream)) == expected


def test_few_changes_still_honour_count(dataset: LegacyDataset) -> None:
    assert list(generate_changes(dataset, 0, seed=1)) == []
    assert len(list(generate_changes(dataset, 3, seed=1))) == 3
    with pytest.raises(ValueError):
        list(generate_changes(dataset, -1, seed=1))


def test_a_stale_record_does_not_resurrect_a_deleted_object() -> None:
    scope = Scope.user("u")
    create = ExportRecord(Op.CREATE, "a", scope, "b", "o", 1, 10, {"v": 1})
    delete = ExportRecord(Op.DELETE, "a", scope, "b", "o", 2, 20, None)
    recreate = ExportRecord(Op.CREATE, "a", scope, "b", "o", 3, 30, {"v": 3})
    state = LegacyState()
    assert state.apply(create) and state.apply(delete)
    assert not state.apply(create)
    assert state.live() == {} and state.latest(create.key) == delete
    assert state.apply(recreate) and state.live() == {create.key: recreate}


# --- Property: any delivery order, with any duplicates, gives the in-order final state ----------------------


@st.composite
def histories(draw: st.DrawFn) -> list[ExportRecord]:
    """An in-order stream over a few keys: per key CREATE, then UPDATE/DELETE, re-CREATE after DELETE."""
    keys = draw(st.integers(min_value=1, max_value=4))
    pending: list[list[ExportRecord]] = []
    for index in range(keys):
        scope = Scope.user(f"user{index % 2}") if index < 3 else Scope.thing("th.t")
        version, live, records = 0, False, []
        for _ in range(draw(st.integers(min_value=1, max_value=6))):
            version += draw(st.integers(min_value=1, max_value=3))
            if not live:
                op = draw(st.sampled_from([Op.CREATE, Op.SNAPSHOT])) if version <= 3 else Op.CREATE
            else:
                op = draw(st.sampled_from([Op.UPDATE, Op.DELETE]))
            live = op is not Op.DELETE
            body = None if op is Op.DELETE else {"_version": str(version), "value": draw(st.integers(0, 9))}
            records.append(ExportRecord(op, "app", scope, "bucket", f"obj{index}", version, version * 10, body))
        pending.append(records)
    stream: list[ExportRecord] = []
    while any(pending):
        queue = draw(st.sampled_from([records for records in pending if records]))
        stream.append(queue.pop(0))
    return stream


@given(data=st.data(), stream=histories())
def test_newest_version_wins_whatever_the_order_and_duplication(
    data: st.DataObject, stream: list[ExportRecord]
) -> None:
    expected = sequential(stream)
    duplicates = data.draw(st.lists(st.sampled_from(stream), max_size=len(stream) * 2))
    delivered = data.draw(st.permutations([*stream, *duplicates]))
    assert replay(delivered) == expected
