"""report.html and report.json from a hand-made report: self-contained, escaped, schema round trip."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from services.validation.cli import app
from services.validation.html import chart_svg, render_html
from services.validation.report import (
    Checksums,
    Example,
    Inputs,
    PatternReport,
    Report,
    Sample,
    Totals,
    TypeRow,
    read_verdict,
    write_report,
)


def sample_report(verdict: str = "fail") -> Report:
    return Report(
        verdict=verdict,  # type: ignore[arg-type]
        verdict_reasons=["MISSING_IN_TARGET: 1 found, none accepted"] if verdict == "fail" else [],
        generated_at="2026-11-26T10:00:00Z",
        duration_s=1.5,
        inputs=Inputs(
            legacy_dir="/x",
            snapshot_file="snapshot.jsonl.gz",
            snapshot_topic="legacy.export.v1",
            snapshot_taken_at="2022-07-01T00:00:00Z",
            snapshot_offsets={"0": 10},
            changes_file=None,
            change_records=0,
            changes_applied=0,
            changes_beyond_offsets=0,
            changes_malformed=0,
            upto_offsets=None,
            database="vitalsync",
            server_version="10.11",
            mapping="default",
            rules_file="default",
        ),
        totals=Totals(
            legacy_objects=10,
            legacy_deleted=0,
            legacy_failed=1,
            legacy_failed_accepted=1,
            expected_rows=9,
            target_rows=8,
            matched_rows=8,
            missing_rows=1,
            extra_rows=0,
            mismatched_rows=0,
            findings=2,
            unaccepted_findings=1,
            legacy_users=2,
            migrated_users=2,
        ),
        per_type=[
            TypeRow(
                bucket="bp_records",
                table="readings",
                type="blood_pressure",
                legacy_objects=10,
                legacy_deleted=0,
                legacy_failed=1,
                expected_rows=9,
                target_rows=8,
                matched=8,
                missing=1,
                extra=0,
                mismatched=0,
            )
        ],
        patterns=[
            PatternReport(
                pattern="UNKNOWN_UNIT",
                kind="legacy_failure",
                count=1,
                ratio=0.1,
                accepted=True,
                status="accepted",
                rule="UNKNOWN_UNIT",
                reason=None,
                by_type={"blood_pressure": 1},
                samples=[
                    Sample(
                        key="kiicloud://users/u/buckets/bp_records/objects/<script>",
                        type="blood_pressure",
                        field="unit",
                        detail="mmHg2",
                    )
                ],
            ),
            PatternReport(
                pattern="MISSING_IN_TARGET",
                kind="difference",
                count=1,
                ratio=0.1,
                accepted=False,
                status="not_accepted",
                rule="MISSING_IN_TARGET",
                reason="MISSING_IN_TARGET: 1 found, none accepted",
                by_type={"blood_pressure": 1},
                samples=[
                    Sample(
                        key="kiicloud://users/u/buckets/bp_records/objects/o2",
                        type="blood_pressure",
                        field=None,
                        detail="",
                    )
                ],
            ),
        ],
        examples=[
            Example(
                key="k",
                type="blood_pressure",
                pattern="VALUE_MISMATCH:reading_values",
                field="reading_values.x",
                detail="",
                expected={"a": "<b>"},
                actual=None,
            )
        ],
        transform_warnings={},
        checksums=Checksums(
            algorithm="crc32",
            json_encoding="compact",
            segment_chars=4,
            leaf_rows=2000,
            segments_compared=3,
            segments_differing=1,
            narrowing_queries=0,
            leaf_queries=1,
            rows_fetched=8,
            rows_rechecked=0,
            checksum_only_differences=0,
            deepest_prefix=4,
        ),
        files={"json": "report.json", "html": "report.html", "csv": "failed-keys.csv"},
    )


def test_html_is_self_contained_and_escaped() -> None:
    html = render_html(sample_report())
    assert 'id="verdict">FAIL<' in html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "&lt;b&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<rect") >= 2 + 3  # two bars and the legend


def test_chart_bars_are_proportional() -> None:
    report = sample_report()
    big = report.patterns[0].model_copy(update={"count": 10})
    svg = chart_svg([big, report.patterns[1]])
    assert 'width="560"' in svg and 'width="56"' in svg
    assert "No findings" in chart_svg([])


def test_report_json_round_trip_and_verdict(tmp_path: Path) -> None:
    report = sample_report("pass")
    path = write_report(report, tmp_path)
    document = json.loads(path.read_text())
    assert document["format"] == "vitalsync.validation-report"
    assert document["schema_version"] == 1
    assert document["verdict"] == "pass"
    assert read_verdict(path) == "pass"
    assert Report.model_validate(document) == report


def test_cli_usage_errors_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["--out", str(tmp_path)]).exit_code == 2
    assert runner.invoke(app, ["--legacy", str(tmp_path / "none"), "--out", str(tmp_path)]).exit_code == 2
    result = runner.invoke(app, ["--legacy", str(tmp_path), "--out", str(tmp_path / "o"), "--upto-offsets", "x"])
    assert result.exit_code == 2
    result = runner.invoke(app, ["--legacy", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2  # no snapshot.jsonl.gz in the directory
