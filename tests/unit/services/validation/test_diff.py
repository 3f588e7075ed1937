"""Field-level differences and their patterns."""

from __future__ import annotations

from services.validation.canonical import DEVICES, READINGS
from services.validation.diff import diff_row

EXPECTED = {
    "user_id": "u",
    "client_id": "kii:bp_records/1",
    "device_id": "d",
    "type": "blood_pressure",
    "measured_at": "2022-01-01 08:00:00.000000",
    "primary_value": 128.0,
    "original_unit": "mmHg",
    "reading_values": {"systolic": 128.0, "status": ["a", "b"], "legacy": {"notes": "after coffee", "flag": True}},
    "source": "migration",
}


def _with(**changes: object) -> dict[str, object]:
    return {**EXPECTED, **changes}


def test_equal_rows_have_no_difference_even_with_ints_for_floats() -> None:
    assert diff_row(READINGS, EXPECTED, _with(primary_value=128, reading_values={**EXPECTED["reading_values"]})) == []  # type: ignore[dict-item]
    assert diff_row(READINGS, EXPECTED, _with(primary_value=128.0000001)) == []


def test_value_mismatch_names_the_column_and_the_json_path() -> None:
    (diff,) = diff_row(READINGS, EXPECTED, _with(primary_value=129.0))
    assert (diff.pattern, diff.field, diff.expected, diff.actual) == (
        "VALUE_MISMATCH:primary_value",
        "primary_value",
        128.0,
        129.0,
    )
    values = {**EXPECTED["reading_values"], "systolic": 130.0}  # type: ignore[dict-item]
    (diff,) = diff_row(READINGS, EXPECTED, _with(reading_values=values))
    assert (diff.pattern, diff.field) == ("VALUE_MISMATCH:reading_values", "reading_values.systolic")


def test_a_shifted_time_says_by_how_much() -> None:
    (diff,) = diff_row(READINGS, EXPECTED, _with(measured_at="2022-01-01 17:00:00.000000"))
    assert diff.pattern == "VALUE_MISMATCH:measured_at"
    assert "shifted +32400 s" in diff.detail


def test_truncation_is_lost_content_with_the_rest_equal() -> None:
    legacy = {"notes": "after", "flag": True}
    (diff,) = diff_row(READINGS, EXPECTED, _with(reading_values={**EXPECTED["reading_values"], "legacy": legacy}))  # type: ignore[dict-item]
    assert (diff.pattern, diff.field, diff.actual) == ("TRUNCATED", "reading_values.legacy.notes", "after")
    cut = {"systolic": 128.0, "status": ["a"]}
    (diff,) = diff_row(READINGS, EXPECTED, _with(reading_values=cut))
    assert diff.pattern == "TRUNCATED" and "more difference" in diff.detail
    (diff,) = diff_row(DEVICES, {"model": "HEM-7600T"}, {"model": "HEM-76"})
    assert (diff.pattern, diff.field) == ("TRUNCATED", "model")


def test_a_cut_plus_a_change_is_a_mismatch() -> None:
    values = {"systolic": 1.0, "status": ["a"]}
    (diff,) = diff_row(READINGS, EXPECTED, _with(reading_values=values))
    assert (diff.pattern, diff.field) == ("VALUE_MISMATCH:reading_values", "reading_values.systolic")


def test_true_is_not_one_and_null_is_not_a_value() -> None:
    values = {**EXPECTED["reading_values"], "legacy": {"notes": "after coffee", "flag": 1}}  # type: ignore[dict-item]
    (diff,) = diff_row(READINGS, EXPECTED, _with(reading_values=values))
    assert diff.field == "reading_values.legacy.flag"
    (diff,) = diff_row(READINGS, EXPECTED, _with(device_id=None))
    assert diff.pattern == "VALUE_MISMATCH:device_id"
