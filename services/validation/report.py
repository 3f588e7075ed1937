"""report.json: the validation report's schema (version 1) and how it is assembled.

The schema is documented field by field in services/validation/README.md; `vitalsync cutover check`
reads ``verdict``. Compatible additions keep ``schema_version``; a removal or a change of meaning
raises it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.validation.findings import PatternTally, clip

REPORT_FORMAT: Literal["vitalsync.validation-report"] = "vitalsync.validation-report"
SCHEMA_VERSION = 1
REPORT_FILE = "report.json"
HTML_FILE = "report.html"
CSV_FILE = "failed-keys.csv"
MAX_EXAMPLES = 25

Verdict = Literal["pass", "fail"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Sample(_Model):
    """One finding of a pattern, as an example."""

    key: str
    type: str
    field: str | None
    detail: str


class PatternReport(_Model):
    """One pattern: how often, whether the rules accept it, and samples."""

    pattern: str
    kind: Literal["legacy_failure", "difference"]
    count: int
    ratio: float
    accepted: bool
    status: Literal["accepted", "not_accepted", "over_threshold"]
    rule: str
    reason: str | None
    by_type: dict[str, int]
    samples: list[Sample]


class TypeRow(_Model):
    """Legacy versus new for one bucket / row type."""

    bucket: str | None
    table: str | None
    type: str
    legacy_objects: int
    legacy_deleted: int
    legacy_failed: int
    expected_rows: int
    target_rows: int
    matched: int
    missing: int
    extra: int
    mismatched: int


class Example(_Model):
    """A field-level difference with both values (clipped)."""

    key: str
    type: str
    pattern: str
    field: str | None
    detail: str
    expected: Any
    actual: Any


class Totals(_Model):
    """Sums over all types."""

    legacy_objects: int
    legacy_deleted: int
    legacy_failed: int
    legacy_failed_accepted: int
    expected_rows: int
    target_rows: int
    matched_rows: int
    missing_rows: int
    extra_rows: int
    mismatched_rows: int
    findings: int
    unaccepted_findings: int
    legacy_users: int | None
    migrated_users: int


class Inputs(_Model):
    """What was compared."""

    legacy_dir: str
    snapshot_file: str
    snapshot_topic: str
    snapshot_taken_at: str
    snapshot_offsets: dict[str, int]
    changes_file: str | None
    change_records: int
    changes_applied: int
    changes_beyond_offsets: int
    changes_malformed: int
    upto_offsets: dict[str, int] | None
    covered_offsets: dict[str, int] = Field(default_factory=dict)
    database: str
    server_version: str
    mapping: str
    rules_file: str


class Checksums(_Model):
    """How the comparison narrowed down."""

    algorithm: str
    json_encoding: str
    segment_chars: int
    leaf_rows: int
    segments_compared: int
    segments_differing: int
    narrowing_queries: int
    leaf_queries: int
    rows_fetched: int
    rows_rechecked: int
    checksum_only_differences: int
    deepest_prefix: int


class Report(_Model):
    """report.json."""

    format: Literal["vitalsync.validation-report"] = REPORT_FORMAT
    schema_version: int = SCHEMA_VERSION
    verdict: Verdict
    verdict_reasons: list[str]
    generated_at: str
    duration_s: float
    inputs: Inputs
    totals: Totals
    per_type: list[TypeRow]
    patterns: list[PatternReport]
    examples: list[Example]
    transform_warnings: dict[str, int]
    checksums: Checksums
    files: dict[str, str]


def samples_of(tally: PatternTally) -> list[Sample]:
    """The report samples of a pattern tally."""
    return [Sample(key=f.key, type=f.type, field=f.field, detail=f.detail) for f in tally.samples]


def examples_of(tallies: list[PatternTally], limit: int = MAX_EXAMPLES) -> list[Example]:
    """Field-level examples (differences with values), a few of each pattern, at most `limit`."""
    examples: list[Example] = []
    for tally in tallies:
        for finding in tally.samples[:5]:
            if finding.kind == "difference" and (finding.expected is not None or finding.actual is not None):
                examples.append(
                    Example(
                        key=finding.key,
                        type=finding.type,
                        pattern=finding.pattern,
                        field=finding.field,
                        detail=finding.detail,
                        expected=_jsonable(clip(finding.expected)),
                        actual=_jsonable(clip(finding.actual)),
                    )
                )
    return examples[:limit]


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


def write_report(report: Report, out_dir: Path) -> Path:
    """Write report.json (indented, UTF-8) and return its path."""
    path = out_dir / REPORT_FILE
    text = json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2)
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(text + "\n", encoding="utf-8")
    temp.replace(path)
    return path


def read_verdict(path: Path) -> Verdict:
    """The verdict of a report.json (what `vitalsync cutover check` needs)."""
    return Report.model_validate_json(path.read_text(encoding="utf-8")).verdict
