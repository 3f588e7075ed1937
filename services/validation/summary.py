"""From counts and findings to the report's tables: inputs, per type, patterns judged by the rules, totals."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from services.validation.compare import Narrower
from services.validation.expected import ExpectedSide
from services.validation.findings import FindingSink
from services.validation.legacy_state import SNAPSHOT_FILE, ChangeIndex, SnapshotHeader
from services.validation.report import Inputs, PatternReport, Totals, TypeRow, samples_of
from services.validation.rules import Rules, judge
from shared.legacy.transform import BucketMapping, DeviceBucket, ReadingBucket, SettingsBucket

if TYPE_CHECKING:
    from services.validation.validator import ValidateOptions


def inputs_of(
    options: ValidateOptions, header: SnapshotHeader, index: ChangeIndex, database: str, version: str, rules: str
) -> Inputs:
    """What was compared: the legacy files, the change stream's numbers, the database, the rules."""
    stats = index.stats
    return Inputs(
        legacy_dir=str(options.legacy_dir),
        snapshot_file=SNAPSHOT_FILE,
        snapshot_topic=header.topic,
        snapshot_taken_at=header.taken_at,
        snapshot_offsets={str(p): o for p, o in sorted(header.partitions.items())},
        changes_file=Path(stats.file).name if stats.file else None,
        change_records=stats.records,
        changes_applied=stats.applied,
        changes_beyond_offsets=stats.beyond_offsets,
        changes_malformed=len(stats.malformed),
        upto_offsets={str(p): o for p, o in sorted(options.upto_offsets.items())} if options.upto_offsets else None,
        covered_offsets={str(p): o for p, o in sorted(stats.covered.items())},
        database=database,
        server_version=version,
        mapping=options.mapping_path or "(default) shared/legacy/transform/default_mapping.yaml",
        rules_file=rules,
    )


def per_type_rows(
    mapping: BucketMapping,
    expected: ExpectedSide,
    type_counts: Counter[tuple[str, str]],
    narrower: Narrower,
    legacy_user_ids: set[str] | None,
    users: dict[str, str],
    missing_users: int,
    extra_users: int,
) -> list[TypeRow]:
    """One row per mapped bucket (mapping order), users first, then buckets the mapping does not know."""
    rows: list[TypeRow] = []
    legacy_users = len(legacy_user_ids) if legacy_user_ids is not None else len(users)
    rows.append(
        TypeRow(
            bucket=None,
            table="users",
            type="user",
            legacy_objects=legacy_users,
            legacy_deleted=0,
            legacy_failed=0,
            expected_rows=legacy_users,
            target_rows=len(users),
            matched=legacy_users - missing_users,
            missing=missing_users,
            extra=extra_users,
            mismatched=0,
        )
    )
    seen: set[str] = set()
    by_type = narrower.by_type
    for entry in mapping.buckets:
        label: str
        if isinstance(entry, ReadingBucket):
            table, label = "readings", str(entry.reading_type)
        elif isinstance(entry, DeviceBucket):
            table, label = "devices", "device"
        elif isinstance(entry, SettingsBucket):
            table, label = "device_settings", "device_settings"
        else:
            continue
        seen.add(entry.bucket)
        counts = expected.buckets.get(entry.bucket)
        key = (table, label)
        expected_rows = expected.rows_by_type.get(key, 0)
        missing, mismatched = by_type.missing.get(key, 0), by_type.mismatched.get(key, 0)
        rows.append(
            TypeRow(
                bucket=entry.bucket,
                table=table,
                type=label,
                legacy_objects=counts.live if counts else 0,
                legacy_deleted=counts.deleted if counts else 0,
                legacy_failed=counts.failed if counts else 0,
                expected_rows=expected_rows,
                target_rows=type_counts.get(key, 0),
                matched=expected_rows - missing - mismatched,
                missing=missing,
                extra=by_type.extra.get(key, 0),
                mismatched=mismatched,
            )
        )
    for bucket, counts in sorted(expected.buckets.items()):
        if bucket not in seen:
            rows.append(
                TypeRow(
                    bucket=bucket,
                    table=None,
                    type=bucket,
                    legacy_objects=counts.live,
                    legacy_deleted=counts.deleted,
                    legacy_failed=counts.failed,
                    expected_rows=counts.rows,
                    target_rows=0,
                    matched=counts.rows,
                    missing=0,
                    extra=0,
                    mismatched=0,
                )
            )
    return rows


def judge_patterns(
    rules: Rules, sink: FindingSink, expected: ExpectedSide
) -> tuple[list[PatternReport], list[str], int]:
    """Each pattern's status under the rules; the verdict's reasons; accepted legacy failures."""
    denominator = sum(counts.live for counts in expected.buckets.values())
    patterns: list[PatternReport] = []
    reasons: list[str] = []
    accepted_failures = 0
    for tally in sorted(sink.patterns.values(), key=lambda t: (t.kind != "legacy_failure", t.pattern)):
        judgement = judge(rules, tally.pattern, tally.count, denominator)
        if judgement.reason:
            reasons.append(judgement.reason)
        if judgement.status == "accepted" and tally.kind == "legacy_failure":
            accepted_failures += tally.count
        patterns.append(
            PatternReport(
                pattern=tally.pattern,
                kind=tally.kind,
                count=tally.count,
                ratio=round(judgement.ratio, 6),
                accepted=judgement.status == "accepted",
                status=judgement.status,
                rule=judgement.rule,
                reason=judgement.reason,
                by_type=dict(sorted(tally.by_type.items())),
                samples=samples_of(tally),
            )
        )
    limit = rules.limits.max_legacy_failure_ratio
    if limit is not None and denominator and accepted_failures / denominator > limit:
        reasons.append(
            f"accepted legacy failures are {accepted_failures / denominator:.2%} of legacy objects, "
            f"over the limit of {limit:.2%}"
        )
    return patterns, reasons, accepted_failures


def totals_of(
    per_type: list[TypeRow],
    sink: FindingSink,
    patterns: list[PatternReport],
    accepted_failures: int,
    legacy_user_ids: set[str] | None,
    users: dict[str, str],
) -> Totals:
    """Sums over the per-type rows (users apart) and the findings."""
    data = [row for row in per_type if row.table != "users"]
    return Totals(
        legacy_objects=sum(row.legacy_objects for row in data),
        legacy_deleted=sum(row.legacy_deleted for row in data),
        legacy_failed=sum(row.legacy_failed for row in data),
        legacy_failed_accepted=accepted_failures,
        expected_rows=sum(row.expected_rows for row in data),
        target_rows=sum(row.target_rows for row in data),
        matched_rows=sum(row.matched for row in data),
        missing_rows=sum(row.missing for row in data),
        extra_rows=sum(row.extra for row in data),
        mismatched_rows=sum(row.mismatched for row in data),
        findings=sink.count(),
        unaccepted_findings=sum(p.count for p in patterns if not p.accepted),
        legacy_users=len(legacy_user_ids) if legacy_user_ids is not None else None,
        migrated_users=len(users),
    )
