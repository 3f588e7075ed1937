"""The pure parts of the prepared snapshot path: LOAD DATA files as bytes with their line ends, the record
of the owner questions a transform asked, and a prepared chunk's records decoded again from its lines."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from services.migration.inserts import RowLines, Table, row_lines
from services.migration.prepared import Answers, PreparedChunk, RecordingOwners
from services.migration.records import decode_record
from shared.legacy.transform import InMemoryOwners

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
