"""Export records, owner scopes and queue messages of the migration (pure, no I/O)."""

from __future__ import annotations

import pytest

from services.migration.errors import RecordFormatError
from services.migration.records import WorkItem, WorkMessage, decode_record, owner_scope, pack, pack_items, parse_record
from shared.legacy.transform.records import LegacyRecord
from simulator.legacy.model import Scope, object_key

RECORD = {
    "op": "UPDATE",
    "appID": "app1",
    "scope": {"type": "APP_AND_USER", "userID": "u-1"},
    "bucket": "bp_records",
    "objectID": "o-1",
    "version": 3,
    "modifiedAt": 1_656_633_600_000,
    "object": {"_version": "3", "systolic": 120},
}


def test_a_record_keeps_the_emulators_key_and_its_owner_scope_is_the_fifo_group() -> None:
    record = parse_record(RECORD, partition=2, offset=41, timestamp_ms=7)
    assert record.key == object_key(Scope.user("u-1"), "bp_records", "o-1")
    assert record.group_id == "APP_AND_USER:u-1"
    assert record.deduplication_id == "2-41"
    body = {"_version": "3", "systolic": 120}  # RECORD["object"]
    assert record.body_json == '{"_version":"3","systolic":120}'
    chars, modified = len(record.body_json), 1_656_633_600_000
    assert record.legacy() == LegacyRecord("APP_AND_USER", "u-1", "bp_records", "o-1", body, 3, modified, chars)
    assert record.legacy().key == record.key
    assert owner_scope("APP", None) == "APP"
    assert len(owner_scope("APP_AND_THING", "t" * 200)) == 128


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": "MERGE"}, "op must be"),
        ({"scope": {"type": "APP_AND_USER"}}, "scope id"),
        ({"version": -1}, "version"),
        ({"op": "DELETE"}, "object must be null"),
        ({"object": None}, "object must be an object"),
        ({"objectID": "x" * 101}, "objectID"),
    ],
)
def test_malformed_records_name_the_field(change: dict[str, object], message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        parse_record({**RECORD, **change}, partition=0, offset=0)
    with pytest.raises(RecordFormatError):
        decode_record(b"not json", partition=0, offset=0)


def test_pack_keeps_topic_order_per_scope_and_splits_long_runs() -> None:
    records = [
        parse_record(
            {**RECORD, "scope": {"type": "APP_AND_USER", "userID": user}, "objectID": f"o{i}"}, partition=0, offset=i
        )
        for i, user in enumerate(["a", "b", "a", "a", "b"])
    ]
    packed = pack(records, max_items=2)
    assert [(group, [item.offset for item in message.items]) for group, message in packed] == [
        ("APP_AND_USER:a", [0, 2]),
        ("APP_AND_USER:a", [3]),
        ("APP_AND_USER:b", [1, 4]),
    ]
    assert packed[0][1].deduplication_id == "0-0"
    for _, message in packed:
        assert WorkMessage.decode(message.encode()) == message
    with pytest.raises(RecordFormatError):
        WorkMessage.decode('{"records": []}')


def test_lanes_pack_many_owners_per_message_in_topic_order_per_owner() -> None:
    users = [f"u{n}" for n in range(40)]
    records = [
        parse_record(
            {**RECORD, "scope": {"type": "APP_AND_USER", "userID": users[i % 40]}, "objectID": f"o{i}"},
            partition=0,
            offset=i,
        )
        for i in range(200)
    ]
    packed = pack(records, max_items=50, lanes=4)
    assert {group for group, _ in packed} <= {"lane-0", "lane-1", "lane-2", "lane-3"}
    assert len(packed) < 10  # by owner it would be 40 messages
    assert sorted(item.offset for _, message in packed for item in message.items) == list(range(200))
    lane_of = {}
    for group, message in packed:
        for item in message.items:
            owner = item.key.split("/buckets/")[0]
            assert lane_of.setdefault(owner, group) == group  # an owner always in one lane
    for owner in lane_of:  # and in topic order within it
        offsets = [i.offset for _, m in packed for i in m.items if i.key.startswith(owner + "/")]
        assert offsets == sorted(offsets)


def test_a_requeue_message_is_flagged_and_a_masters_message_is_unchanged() -> None:
    record = parse_record(RECORD, partition=1, offset=7, timestamp_ms=5)
    ((_, plain),) = pack([record], max_items=10)
    assert plain.encode() == '{"records":[["' + record.key + '",3,1,7,5]]}'  # what workers have always read
    assert WorkMessage.decode(plain.encode()).requeue is False
    ((group, flagged),) = pack_items([(record.group_id, WorkItem.of(record))], max_items=10, requeue=True)
    assert group == "APP_AND_USER:u-1" and flagged.requeue is True
    assert WorkMessage.decode(flagged.encode()) == flagged
    with pytest.raises(RecordFormatError, match="requeue"):
        WorkMessage.decode('{"records": [["k", 1, 0, 0, null]], "requeue": "yes"}')
    with pytest.raises(RecordFormatError):
        WorkMessage.decode('[["k", 1, 0, 0, null]]')
