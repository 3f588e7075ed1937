"""A hand-made validation report, for the tests of the report files and of the cut-over gate that reads them."""

from __future__ import annotations

from services.validation.report import (
    Checksums,
    Example,
    Inputs,
    PatternReport,
    Report,
    Sample,
    Totals,
    TypeRow,
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
