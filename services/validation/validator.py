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
from services.validation.canonical import TABLES
from services.validation.compare import LEAF_ROWS, Narrower
from services.validation.errors import LegacyInputError, ValidatorError
from services.validation.expected import build_expected
from services.validation.findings import EXTRA_IN_TARGET, MISSING_IN_TARGET, Finding, FindingSink
from services.validation.html import write_html
from services.validation.json_encodings import JSON_ENCODINGS, JsonEncoding, pick_encoding
from services.validation.kafka_changes import dump_topic
from services.validation.legacy_state import (
    SNAPSHOT_FILE,
    USERS_FILE,
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
    Report,
    examples_of,
    write_report,
)
from services.validation.rules import load_rules
from services.validation.summary import inputs_of, judge_patterns, per_type_rows, totals_of
from services.validation.worker import SEGMENT_CHARS, load_bucket_mapping
from shared.db.connection import connect
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
    # read the change records from this Kafka topic (VITALSYNC_KAFKA_BOOTSTRAP) instead of a changes file
    kafka_topic: str | None = None


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
            changes = find_changes_file(options.legacy_dir)
            if options.kafka_topic is not None:
                changes = Path(spill) / "changes-from-kafka.jsonl"
                await dump_topic(
                    options.settings.kafka_bootstrap,
                    options.kafka_topic,
                    header.partitions,
                    changes,
                    upto=options.upto_offsets,
                )
            index = build_change_index(changes, header, options.upto_offsets, Path(spill))
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
    per_type = per_type_rows(
        mapping, expected, actual.type_counts, narrower, legacy_user_ids, users, missing_users, extra_users
    )
    patterns, reasons, accepted_failures = judge_patterns(rules, sink, expected)
    totals = totals_of(per_type, sink, patterns, accepted_failures, legacy_user_ids, users)
    report = Report(
        verdict="fail" if reasons else "pass",
        verdict_reasons=reasons,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        duration_s=round(time.monotonic() - started, 3),
        inputs=inputs_of(options, header, index, database, version, rules_source),
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
