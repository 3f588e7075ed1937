"""The pure parts of the prepared snapshot path: LOAD DATA files as bytes with their line ends, the record
of the owner questions a transform asked, and a prepared chunk's records decoded again from its lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.migration.bulk import reading_event
from services.migration.inserts import RowLines, Table, row_lines
from services.migration.prepared import Answers, PreparedChunk, RecordingOwners, outbox_around_id
from services.migration.processing import ProcessContext
from services.migration.records import decode_record
from services.migration.writes import EventTarget
from shared.events.envelope import Event
from shared.legacy.transform import InMemoryOwners, ReadingRow
from shared.legacy.transform.mapping import default_mapping

TABLE = Table("t", ("a", "b"), "INSERT INTO t (a, b) VALUES (%s, %s)", nullable=frozenset({"b"}))


@given(st.lists(st.tuples(st.text(), st.one_of(st.none(), st.text())), min_size=2, max_size=30))
def test_a_file_splits_in_halves_at_line_ends(rows: list[tuple[str, str | None]]) -> None:
    whole = row_lines(TABLE, rows)
    assert len(whole) == len(rows) and whole.ends[-1] == len(whole.data)
    first, rest = whole.halves()
    assert (len(first), len(rest)) == (len(rows) // 2, len(rows) - len(rows) // 2)
    assert first.data + rest.data == whole.data
    assert first.escaped == rest.escaped == whole.escaped
    # each half is the file of its rows, as if made from them alone
    assert row_lines(TABLE, rows[: len(rows) // 2]).data == first.data or whole.escaped
    assert rest.ends == [end - len(first.data) for end in whole.ends[len(rows) // 2 :]]


def test_line_ends_count_bytes_not_characters() -> None:
    lines = RowLines.of(["é\tx\n", "ab\tc\n"], escaped=False)
    assert lines.ends == [len("é\tx\n".encode()), len("é\tx\nab\tc\n".encode())]
    assert lines.halves()[1].data == b"ab\tc\n"


def test_a_tab_in_a_value_makes_an_escaped_file() -> None:
    plain, escaped = row_lines(TABLE, [("a", "b")]), row_lines(TABLE, [("a\tb", None)])
    assert (plain.escaped, plain.data) == (False, b"a\tb\n")
    assert (escaped.escaped, escaped.data) == (True, b"a\\\tb\t\n")


def _owners() -> InMemoryOwners:
    owners = InMemoryOwners()
    owners.add_user("legacy-1", "user-1")
    return owners


def test_the_answers_a_transform_got_are_kept_and_checked() -> None:
    recording = RecordingOwners(_owners())
    assert recording.user_id_for("legacy-1") == "user-1"
    assert recording.user_id_for("legacy-2") is None
    assert recording.device_id_for("user-1", "SN") is None
    assert recording.thing_device("th-1") is None
    assert recording.answers == Answers(
        users={"legacy-1": "user-1", "legacy-2": None}, devices={("user-1", "SN"): None}, things={"th-1": None}
    )
    assert recording.answers.agree(_owners())
    changed = _owners()
    changed.add_user("legacy-2", "user-2")  # a user imported after the guess
    assert not recording.answers.agree(changed)


def test_a_prepared_chunk_decodes_its_records_again() -> None:
    lines = [
        json.dumps(
            {
                "op": "SNAPSHOT",
                "appID": "app",
                "scope": {"type": "APP_AND_USER", "userID": f"u{n}"},
                "bucket": "bp_records",
                "objectID": f"o{n}",
                "version": n + 1,
                "modifiedAt": 1_700_000_000_000,
                "object": {"systolic": 120 + n},
            },
            separators=(",\r", ":"),  # a carriage return between tokens is JSON whitespace, not a line end
        ).encode()
        for n in range(3)
    ]
    chunk = PreparedChunk(b"".join(line + b"\n" for line in lines), [(0, 7), (2, 0), (1, 4)], [], None, 10)
    assert len(chunk) == 3
    assert chunk.records() == [
        decode_record(line, partition=partition, offset=offset)
        for line, (partition, offset) in zip(lines, chunk.places, strict=True)
    ]


@given(
    user_id=st.text(min_size=1, max_size=40).filter(lambda text: "\t" not in text and "\n" not in text),
    device_id=st.none() | st.text(max_size=40),
    value=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    reading_id=st.integers(min_value=1, max_value=2**63 - 1),
)
def test_a_prepared_event_with_its_id_put_in_is_the_reading_created_event(
    user_id: str, device_id: str | None, value: float | None, reading_id: int
) -> None:
    # any text in the strings (quotes, backslashes, '"data":{"reading_id":0,' itself) keeps the cut in place
    when = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    row = ReadingRow(user_id, device_id, '"data":{"reading_id":0,', "c-1", when, value, None, {}, "migration", when)
    ctx = ProcessContext(default_mapping(), EventTarget("eu", "vitalsync.events.v1"))
    head, tail = outbox_around_id(row, ctx)
    event_id, topic, key, payload = f"{head}{reading_id}{tail}".split("\t")
    assert (topic, key) == ("vitalsync.events.v1", user_id) and payload.endswith("\n")
    event = Event.model_validate_json(payload)
    assert event.id == event_id
    expected = reading_event(row, reading_id, ctx)
    assert event.model_dump(exclude={"id", "occurred_at"}) == expected.model_dump(exclude={"id", "occurred_at"})
    assert event.data["reading_id"] == reading_id
