"""Findings: every failed, missing, extra or differing record, grouped by pattern as they stream in.

A finding goes to ``failed-keys.csv`` at once (so the file holds all of them, however many) and into
per-pattern counters with a few samples (so the report stays small). Kinds: ``legacy_failure``, a
legacy object the transform refused (invalid data, or a user that was not migrated), and
``difference``, where the new database disagrees with the transformed final legacy state.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

FindingKind = Literal["legacy_failure", "difference"]
CSV_COLUMNS = ("key", "type", "pattern", "field", "detail")
SAMPLES_PER_PATTERN = 10
EXAMPLE_VALUE_CHARS = 300

MISSING_IN_TARGET = "MISSING_IN_TARGET"
EXTRA_IN_TARGET = "EXTRA_IN_TARGET"
VALUE_MISMATCH = "VALUE_MISMATCH"
TRUNCATED = "TRUNCATED"
OWNER_NOT_MIGRATED = "OWNER_NOT_MIGRATED"
MALFORMED_RECORD = "MALFORMED_OBJECT"


@dataclass(frozen=True, slots=True)
class Finding:
    """One record that did not arrive as it should, and why."""

    kind: FindingKind
    key: str
    type: str
    pattern: str
    field: str | None = None
    detail: str = ""
    expected: Any = None
    actual: Any = None


def clip(value: Any, limit: int = EXAMPLE_VALUE_CHARS) -> Any:
    """A value short enough for a report example (long texts cut with an ellipsis)."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… ({len(value)} characters)"
    if isinstance(value, dict | list):
        text = repr(value)
        if len(text) > limit:
            return text[:limit] + f"… ({len(text)} characters)"
    return value


@dataclass(slots=True)
class PatternTally:
    """Count, per-type counts and the first samples of one pattern."""

    pattern: str
    kind: FindingKind
    count: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    samples: list[Finding] = field(default_factory=list)


class FindingSink:
    """Writes findings to failed-keys.csv and keeps counts and samples per pattern."""

    def __init__(self, csv_path: Path, samples: int = SAMPLES_PER_PATTERN) -> None:
        self.csv_path = csv_path
        self._samples = samples
        self._file: TextIO = csv_path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(CSV_COLUMNS)
        self.patterns: dict[str, PatternTally] = {}

    def add(self, finding: Finding) -> None:
        """Record one finding."""
        self._writer.writerow((finding.key, finding.type, finding.pattern, finding.field or "", finding.detail))
        tally = self.patterns.get(finding.pattern)
        if tally is None:
            tally = self.patterns[finding.pattern] = PatternTally(finding.pattern, finding.kind)
        tally.count += 1
        tally.by_type[finding.type] += 1
        if len(tally.samples) < self._samples:
            tally.samples.append(finding)

    def count(self, kind: FindingKind | None = None) -> int:
        """Findings so far (of one kind, or all)."""
        return sum(t.count for t in self.patterns.values() if kind is None or t.kind == kind)

    def close(self) -> None:
        """Flush and close the CSV file."""
        self._file.close()
