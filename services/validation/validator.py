"""`validate`: the legacy final state, transformed, against the new database; writes the three outputs.

Steps (services/validation/README.md): read the change stream into an index; load the migrated users;
pick the JSON encoding the writer used; then at the same time (the database aggregates while Python
transforms) the per-segment checksums of each table and the expected side (snapshot streamed through
the transform in worker processes, rows spilled by segment); then narrow every differing segment to
rows and fields; judge the patterns with the rules; write report.json, report.html, failed-keys.csv.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiomysql

from services.validation import target
from services.validation.canonical import JSON_ENCODINGS, TABLES, JsonEncoding, pick_encoding
from services.validation.compare import LEAF_ROWS, Narrower
from services.validation.errors import LegacyInputError, ValidatorError
from services.validation.expected import SEGMENT_CHARS, ExpectedSide, build_expected, load_bucket_mapping
from services.validation.findings import EXTRA_IN_TARGET, MISSING_IN_TARGET, Finding, FindingSink
from services.validation.html import write_html
from services.validation.legacy_state import (
    SNAPSHOT_FILE,
    USERS_FILE,
    ChangeIndex,
    SnapshotHeader,
    build_change_index,
    find_changes_file,
    read_header,
    read_legacy_user_ids,
)
from services.validation.report import (
    CSV_FILE,
    HTML_FILE,
    REPORT_FILE,
    Checksums,
    Inputs,
    PatternReport,
    Report,
    Totals,
    TypeRow,
    examples_of,
    samples_of,
    write_report,
)
from services.validation.rules import Rules, judge, load_rules
from shared.db.connection import connect
from shared.legacy.transform import BucketMapping, DeviceBucket, ReadingBucket, SettingsBucket
from shared.settings import CommonSettings

ProgressCallback = Callable[[int], None]
AUTO = "auto"


@dataclass(frozen=True, slots=True)
class ValidateOptions:
    """What `vitalsync validate` was asked to do."""

    legacy_dir: Path
    out_dir: Path
    settings: CommonSettings
    database: str | None = None
    upto_offsets: dict[int, int] | None = None
    rules_path: Path | None = None
    mapping_path: str | None = None
    workers: int = 0
    json_encoding: str = AUTO
    segment_chars: int = SEGMENT_CHARS
    leaf_rows: int = LEAF_ROWS
    spill_dir: Path | None = None


@dataclass(slots=True)
class _TargetSums:
    segments: dict[tuple[str, str], tuple[int, int]]
    type_counts: Counter[tuple[str, str]]


async def _level_one(options: ValidateOptions, encoding: JsonEncoding) -> _TargetSums:
    """Per table (one connection each, in parallel): rows and checksum sums per segment and type."""

    async def one(table: str) -> list[target.SegmentSum]:
        conn = await connect(options.settings, options.database)
        try:
            return await target.segment_sums(conn, TABLES[table], encoding, options.segment_chars)
        finally:
            await close_quietly(conn)

    results = await asyncio.gather(*(one(table) for table in TABLES))
    sums = _TargetSums({}, Counter())
    for table, parts in zip(TABLES, results, strict=True):
        for part in parts:
            count, total = sums.segments.get((table, part.segment), (0, 0))
            sums.segments[(table, part.segment)] = (count + part.count, total + part.total)
            sums.type_counts[(table, part.type)] += part.count
    return sums


async def close_quietly(conn: aiomysql.Connection) -> None:
    """Say goodbye to the server (COM_QUIT, so it logs no aborted connection); drop the socket if that fails."""
    try:
        await conn.ensure_closed()
    except (OSError, aiomysql.Error):
        conn.close()


def _choose_encoding(name: str, dialect: str, samples: list[str]) -> JsonEncoding:
    if name == AUTO:
        return pick_encoding("mysql" if dialect == "mysql" else "mariadb", samples)
    if name not in JSON_ENCODINGS:
        raise ValidatorError(f"--json-encoding must be auto or one of {', '.join(JSON_ENCODINGS)}")
    return JSON_ENCODINGS[name]


def _user_findings(sink: FindingSink, legacy_user_ids: set[str] | None, users: dict[str, str]) -> tuple[int, int]:
    """Users of the legacy export missing in the database, and migrated users the export lacks."""
    if legacy_user_ids is None:
        return 0, 0
    missing = sorted(legacy_user_ids - set(users))
    extra = sorted(set(users) - legacy_user_ids)
    for legacy_id in missing:
        key = f"kiicloud://users/{legacy_id}"
        sink.add(Finding("difference", key, "user", MISSING_IN_TARGET, "legacy_user_id", "no user with this legacy id"))
    for legacy_id in extra:
        detail = f"user {users[legacy_id]} has a legacy id the user export does not list"
        sink.add(Finding("difference", f"kiicloud://users/{legacy_id}", "user", EXTRA_IN_TARGET, None, detail))
    return len(missing), len(extra)


async def validate(options: ValidateOptions, progress: ProgressCallback | None = None) -> Report:
    """Run the whole validation and write report.json, report.html and failed-keys.csv into out_dir."""
    started = time.monotonic()
    rules, rules_source = load_rules(options.rules_path)
    mapping = load_bucket_mapping(options.mapping_path)
    snapshot = options.legacy_dir / SNAPSHOT_FILE
    if not snapshot.is_file():
        raise LegacyInputError(f"{options.legacy_dir} has no {SNAPSHOT_FILE}")
    header = read_header(snapshot)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    database = options.database or options.settings.db_name
    sink = FindingSink(options.out_dir / CSV_FILE)
    try:
        with tempfile.TemporaryDirectory(prefix="vitalsync-validate-", dir=options.spill_dir) as spill:
            index = build_change_index(find_changes_file(options.legacy_dir), header, options.upto_offsets, Path(spill))
            for bad in index.stats.malformed:
                sink.add(Finding("legacy_failure", bad.where, "record", "MALFORMED_OBJECT", bad.field, bad.message))
            legacy_user_ids = read_legacy_user_ids(options.legacy_dir / USERS_FILE)
            conn = await connect(options.settings, options.database)
            try:
                dialect, version = await target.server_dialect(conn)
                users = await target.migrated_users(conn)
                encoding = _choose_encoding(options.json_encoding, dialect, await target.json_samples(conn))
                missing_users, extra_users = _user_findings(sink, legacy_user_ids, users)
                level_one = asyncio.create_task(_level_one(options, encoding))
                try:
                    expected = await asyncio.to_thread(
                        build_expected,
                        snapshot,
                        index,
                        users=users,
                        legacy_user_ids=legacy_user_ids,
                        mapping_path=options.mapping_path,
                        encoding=encoding.name,
                        spill_dir=Path(spill),
                        workers=options.workers,
                        segment_chars=options.segment_chars,
                        on_failure=sink.add,
                        progress=progress,
                    )
                finally:
                    actual = await level_one
                narrower = Narrower(
                    conn,
                    encoding,
                    sink,
                    {user_id: legacy for legacy, user_id in users.items()},
                    parts_dir=expected.parts_dir,
                    segment_chars=options.segment_chars,
                    leaf_rows=options.leaf_rows,
                )
                await narrower.run(expected.segments, actual.segments)
            finally:
                await close_quietly(conn)
                index.close()
    finally:
        sink.close()
    per_type = _per_type(
        mapping, expected, actual.type_counts, narrower, legacy_user_ids, users, missing_users, extra_users
    )
    patterns, reasons, accepted_failures = _judge(rules, sink, expected)
    totals = _totals(per_type, sink, patterns, accepted_failures, legacy_user_ids, users)
    report = Report(
        verdict="fail" if reasons else "pass",
        verdict_reasons=reasons,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=round(time.monotonic() - started, 3),
        inputs=_inputs(options, header, index, database, version, rules_source),
        totals=totals,
        per_type=per_type,
        patterns=patterns,
        examples=examples_of(sorted(sink.patterns.values(), key=lambda t: t.pattern)),
        transform_warnings=dict(sorted(expected.warnings.items())),
        checksums=Checksums(
            algorithm="sum of CRC32(canonical row text) per user_id prefix, narrowed by 2 characters",
            json_encoding=encoding.name,
            segment_chars=options.segment_chars,
            leaf_rows=options.leaf_rows,
            **{name: getattr(narrower.stats, name) for name in narrower.stats.__dataclass_fields__},
        ),
        files={"json": REPORT_FILE, "html": HTML_FILE, "csv": CSV_FILE},
    )
    write_report(report, options.out_dir)
    write_html(report, options.out_dir / HTML_FILE)
    return report


def _inputs(
    options: ValidateOptions, header: SnapshotHeader, index: ChangeIndex, database: str, version: str, rules: str
) -> Inputs:
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
        database=database,
        server_version=version,
        mapping=options.mapping_path or "(default) shared/legacy/transform/default_mapping.yaml",
        rules_file=rules,
    )


def _per_type(
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


def _judge(rules: Rules, sink: FindingSink, expected: ExpectedSide) -> tuple[list[PatternReport], list[str], int]:
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


def _totals(
    per_type: list[TypeRow],
    sink: FindingSink,
    patterns: list[PatternReport],
    accepted_failures: int,
    legacy_user_ids: set[str] | None,
    users: dict[str, str],
) -> Totals:
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
