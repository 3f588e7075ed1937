"""Verdict rules: the defaults accept only invalid data; files are checked strictly."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.validation.errors import RulesError
from services.validation.rules import judge, load_rules, parse_rules

INVALID_DATA = (
    "INVALID_TIMESTAMP",
    "UNKNOWN_UNIT",
    "VALUE_OUT_OF_RANGE",
    "SPECIAL_VALUE",
    "ORPHAN_OWNER",
    "OBJECT_TOO_LARGE",
)
DIFFERENCES = ("MISSING_IN_TARGET", "EXTRA_IN_TARGET", "TRUNCATED", "VALUE_MISMATCH:measured_at", "OWNER_NOT_MIGRATED")


def test_default_rules_accept_invalid_data_within_ratios() -> None:
    rules, source = load_rules(None)
    assert "default" in source
    for pattern in INVALID_DATA:
        assert judge(rules, pattern, 10, 1000).status == "accepted"
    assert judge(rules, "ORPHAN_OWNER", 100, 1000).status == "over_threshold"


@pytest.mark.parametrize("pattern", [*DIFFERENCES, "MALFORMED_OBJECT", "SOMETHING_NEW"])
def test_default_rules_accept_no_difference(pattern: str) -> None:
    rules, _ = load_rules(None)
    judgement = judge(rules, pattern, 1, 1_000_000)
    assert judgement.status == "not_accepted" and judgement.reason


def test_globs_counts_and_ratios(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "format: vitalsync.validation-rules.v1\n"
        "default: {accepted: true}\n"
        "patterns:\n"
        "  'VALUE_MISMATCH:*': {accepted: true, max_count: 2}\n"
        "  VALUE_MISMATCH:source: {accepted: false}\n"
        "  ORPHAN_OWNER: {accepted: true, max_ratio: 0.5}\n"
    )
    rules, _ = load_rules(path)
    assert judge(rules, "VALUE_MISMATCH:measured_at", 2, 10).status == "accepted"
    assert judge(rules, "VALUE_MISMATCH:measured_at", 3, 10).status == "over_threshold"
    assert judge(rules, "VALUE_MISMATCH:source", 1, 10).rule == "VALUE_MISMATCH:source"
    assert judge(rules, "ORPHAN_OWNER", 6, 10).status == "over_threshold"
    assert judge(rules, "ANYTHING", 6, 10).rule == "default"
    assert judge(rules, "ANYTHING", 0, 0).ratio == 0.0


@pytest.mark.parametrize(
    "text",
    [
        "format: other\n",
        "format: vitalsync.validation-rules.v1\npatterns: {X: {acepted: true}}\n",
        "format: vitalsync.validation-rules.v1\npatterns: {X: {max_ratio: 2}}\n",
        "format: [unclosed\n",
    ],
)
def test_bad_rules_are_refused(text: str) -> None:
    with pytest.raises(RulesError):
        parse_rules(text, "rules.yaml")


def test_missing_file_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError):
        load_rules(tmp_path / "none.yaml")
