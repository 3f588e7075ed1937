"""Export records, owner scopes and queue messages of the migration (pure, no I/O)."""

from __future__ import annotations

import json

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


@pytest.mark.parametrize(
    ("body_text", "reason"),
    [
        ('{"a":NaN}', "unexpected character"),  # Python's json takes NaN and Infinity; JSON has neither
        ('{"a":1e400}', "infinity"),  # no double holds it: MariaDB's JSON check would refuse the row
        ('{"a":"\\ud800"}', "surrogate"),  # a lone surrogate: UTF-8 cannot encode it for the raw row
    ],
)
def test_a_record_that_is_not_strict_json_is_malformed_not_a_crash(body_text: str, reason: str) -> None:
    text = json.dumps(RECORD).replace('{"_version": "3", "systolic": 120}', body_text)
    assert body_text in text
    with pytest.raises(RecordFormatError, match=f"record is not JSON: .*{reason}"):
        decode_record(text.encode(), partition=0, offset=0)
    with pytest.raises(RecordFormatError, match="not JSON"):
        decode_record(b'{"op": "UPDATE", "object": "\xff"}', partition=0, offset=0)


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**40, 2**63 - 1, 12345678901234567890])
def test_integers_of_any_size_keep_every_digit(number: int) -> None:
    text = json.dumps({**RECORD, "object": {"serial": number, "ids": [number, "x", 1.5]}})
    record = decode_record(text.encode(), partition=0, offset=0)
    assert record.body == {"serial": number, "ids": [number, "x", 1.5]}
    assert type(record.body["serial"]) is int
    assert record.body_json == f'{{"serial":{number},"ids":[{number},"x",1.5]}}'


def test_a_body_keeps_its_unicode_and_its_text_is_json_dumps_compact_form() -> None:
    # orjson reads the record, json writes the body: the stored text is the one the validator reproduces
    body = {"name": "血圧計 \u00e9 \U0001f600", "note": "tab\there", "n": 0.00001, "big": 1.5e16}
    record = decode_record(json.dumps({**RECORD, "object": body}).encode(), partition=0, offset=0)
    assert record.body == body
    assert record.body_json == '{"name":"血圧計 é 😀","note":"tab\\there","n":1e-05,"big":1.5e+16}'
    assert record.body_json == json.dumps(body, ensure_ascii=False, separators=(",", ":"))


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
