"""Canonical row text and JSON encodings (the SQL side's agreement is tested against MariaDB in
tests/integration/validation/test_checksums_sql.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.validation.canonical import (
    FIELD_SEPARATOR,
    NULL_TEXT,
    READINGS,
    canonical_text,
    datetime_text,
    micro_units,
    row_values,
)
from services.validation.json_encodings import JSON_ENCODINGS, pick_encoding
from shared.legacy.transform import ReadingRow

# JSON_NORMALIZE output of MariaDB 10.11.19 for these numbers (captured with SELECT JSON_NORMALIZE('[...]')).
MARIADB_NUMBERS = {
    "1": "1.0E0",
    "1.0": "1.0E0",
    "128": "1.28E2",
    "1e300": "1.0E300",
    "5e-324": "5.0E-324",
    "0.1": "1.0E-1",
    "100": "1.0E2",
    "1000000": "1.0E6",
    "12345678901234567890": "1.234567890123456789E19",
    "-0.0": "0.0E0",
    "0": "0.0E0",
    "2.5e-7": "2.5E-7",
    "123456789012345678": "1.23456789012345678E17",
    "0.30000000000000004": "3.0000000000000004E-1",
    "-3": "-3.0E0",
}


@pytest.mark.parametrize(("written", "normalized"), MARIADB_NUMBERS.items())
def test_numbers_normalize_like_mariadb(written: str, normalized: str) -> None:
    assert JSON_ENCODINGS["normalized"].python(json.loads(written)) == normalized


def test_normalized_documents_sort_keys_by_their_stored_text() -> None:
    # MariaDB: {"k":1,"aa":2,"b":3,"B":4,"é":5,"z":6} -> B, aa, b, k, z, é (bytes of the escaped text)
    document = {"k": 1, "aa": 2, "b": 3, "B": 4, "é": 5, "z": 6}
    assert JSON_ENCODINGS["normalized-utf8"].python(document) == (
        '{"B":4.0E0,"aa":2.0E0,"b":3.0E0,"k":1.0E0,"z":6.0E0,"é":5.0E0}'
    )
    assert JSON_ENCODINGS["normalized"].python({"": 1, " x": 2}) == '{"":1.0E0," x":2.0E0}'


@pytest.mark.parametrize(
    "name", ["compact", "compact-utf8", "spaced", "spaced-utf8", "compact-sorted", "spaced-sorted"]
)
def test_the_writers_serialisation_is_recognised(name: str) -> None:
    documents = [{"systolic": 128.0, "unit": "mmHg", "legacy": {"note": "日本", "z": [1, 2]}}, {"b": None, "a": True}]
    samples = [JSON_ENCODINGS[name].python(document) for document in documents]
    picked = pick_encoding("mariadb", samples)
    assert all(picked.python(d) == s for d, s in zip(documents, samples, strict=True))


def test_unrecognised_text_falls_back_to_json_normalize() -> None:
    assert pick_encoding("mariadb", ['{"a" :1}']).name == "normalized"
    assert pick_encoding("mariadb", ['{"a" :"é"}']).name == "normalized-utf8"
    assert pick_encoding("mariadb", []).name == "compact-utf8"
    assert pick_encoding("mysql", ['{"a": 1}']).name == "mysql"


def test_mysql_text_form() -> None:
    text = JSON_ENCODINGS["mysql"].python({"bb": 1, "a": [128.0, "é\n"], "c": None})
    assert text == '{"a": [128.0, "é\\n"], "c": null, "bb": 1}'


def test_datetimes_are_utc_text_with_microseconds() -> None:
    moment = datetime(2022, 7, 1, 9, 0, 0, 5, tzinfo=timezone(timedelta(hours=9)))
    assert datetime_text(moment) == "2022-07-01 00:00:00.000005"
    assert datetime_text(datetime(2022, 7, 1)) == "2022-07-01 00:00:00.000000"
    assert datetime_text(None) is None


@given(st.floats(-1e9, 1e9, allow_nan=False))
def test_micro_units_round_half_up(value: float) -> None:
    assert abs(micro_units(value) - value * 1_000_000) <= 0.5 + 1e-6 * abs(value)


def test_reading_row_text() -> None:
    row = ReadingRow(
        user_id="u-1",
        device_id=None,
        type="weight",
        client_id="kii:weight_records/o1",
        measured_at=datetime(2021, 4, 22, 22, 39, 43, tzinfo=UTC),
        primary_value=52.3,
        original_unit="kg",
        reading_values={"weight": 52.3, "unit": "kg"},
        source="migration",
        created_at=datetime(2021, 4, 22, 22, 46, 42, tzinfo=UTC),
    )
    spec, values = row_values(row)
    assert spec is READINGS
    text = canonical_text(spec, values, JSON_ENCODINGS["compact"])
    assert text.split(FIELD_SEPARATOR) == [
        "u-1",
        "kii:weight_records/o1",
        NULL_TEXT,
        "weight",
        "2021-04-22 22:39:43.000000",
        "52300000",
        "kg",
        '{"weight":52.3,"unit":"kg"}',
        "migration",
    ]


def test_small_sorted_documents_do_not_prove_a_sorting_writer() -> None:
    settings_documents = ['{"autoTransfer":true,"language":"en"}']
    assert pick_encoding("mariadb", settings_documents).name == "compact-utf8"
    sorted_readings = ['{"diastolic":80.0,"systolic":120.0,"unit":"mmHg"}', *settings_documents]
    assert pick_encoding("mariadb", sorted_readings).name == "compact-utf8-sorted"


def test_escapes_in_samples_tell_an_ascii_writer() -> None:
    documents = [{"unit": "mmHg", "legacy": {"notes": "朝"}}, {"unit": "kg"}]
    ascii_samples = [json.dumps(d, separators=(",", ":")) for d in documents]
    assert pick_encoding("mariadb", ascii_samples).name == "compact"
    utf8_samples = [json.dumps(d, ensure_ascii=False, separators=(",", ":")) for d in documents]
    assert pick_encoding("mariadb", utf8_samples).name == "compact-utf8"
