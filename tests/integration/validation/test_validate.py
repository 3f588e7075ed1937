"""`vitalsync validate` against a real MariaDB: a clean migration passes with only invalid data failing,
and injected corruptions are found exactly, by pattern, count and key (issue 9)."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from services.validation.legacy_state import read_header
from services.validation.report import Report
from services.validation.validator import ValidateOptions, validate
from shared.db.connection import connect
from shared.legacy.transform import FailurePattern
from shared.settings import CommonSettings
from simulator.legacy.edge_cases import EdgeCase

from .migrated import LegacyExport, MigratedRows

pytestmark = pytest.mark.integration

# Invalid legacy data and the pattern the transform must give it (simulator/legacy/edge_cases.py).
INVALID_DATA: dict[EdgeCase, FailurePattern] = {
    EdgeCase.TIMESTAMP_ZERO: FailurePattern.INVALID_TIMESTAMP,
    EdgeCase.TIMESTAMP_UNPARSEABLE: FailurePattern.INVALID_TIMESTAMP,
    EdgeCase.TIMESTAMP_NULL: FailurePattern.INVALID_TIMESTAMP,
    EdgeCase.UNKNOWN_UNIT: FailurePattern.UNKNOWN_UNIT,
    EdgeCase.VALUE_OUT_OF_RANGE: FailurePattern.VALUE_OUT_OF_RANGE,
    EdgeCase.SIZE_OVER_LIMIT: FailurePattern.OBJECT_TOO_LARGE,
    EdgeCase.ORPHAN_OWNER: FailurePattern.ORPHAN_OWNER,
}


async def run(settings: CommonSettings, export: LegacyExport, database: str, out: Path, **options: object) -> Report:
    return await validate(ValidateOptions(export.directory, out, settings, database=database, **options))  # type: ignore[arg-type]


def failed_keys(out: Path) -> list[dict[str, str]]:
    with (out / "failed-keys.csv").open(encoding="utf-8", newline="") as lines:
        return list(csv.DictReader(lines))


def by_kind(report: Report, kind: str) -> dict[str, int]:
    return {p.pattern: p.count for p in report.patterns if p.kind == kind}


async def test_clean_migration_passes_and_only_invalid_data_failed(
    settings: CommonSettings, export: LegacyExport, rows: MigratedRows, database: str, tmp_path: Path
) -> None:
    report = await run(settings, export, database, tmp_path)

    assert report.verdict == "pass", report.verdict_reasons
    totals = report.totals
    assert (totals.missing_rows, totals.extra_rows, totals.mismatched_rows) == (0, 0, 0)
    assert totals.expected_rows == totals.target_rows == len(rows.readings) + len(rows.devices) + len(rows.settings)
    assert report.checksums.segments_differing == 0
    # every legacy failure is invalid data, reported under its pattern and accepted by the default rules
    assert by_kind(report, "difference") == {}
    assert by_kind(report, "legacy_failure") == dict(Counter(f.pattern.value for f in rows.failures.values()))
    assert all(p.accepted and p.status == "accepted" for p in report.patterns)
    manifest = export.dataset.edge_cases
    invalid = {key: pattern.value for category, pattern in INVALID_DATA.items() for key in manifest[category.value]}
    listed = {row["key"]: row["pattern"] for row in failed_keys(tmp_path)}
    assert listed == invalid
    # per type: legacy objects and rows line up with the replayed final state
    per_type = {row.type: row for row in report.per_type}
    assert per_type["user"].target_rows == per_type["user"].legacy_objects == len(export.dataset.users)
    for row in report.per_type:
        assert row.expected_rows == row.target_rows == row.matched, row
    live_by_bucket = Counter(record.bucket for record in export.final.values())
    assert {r.bucket: r.legacy_objects for r in report.per_type if r.bucket} == dict(live_by_bucket)
    assert report.inputs.changes_applied == len(export.changes)
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "pass"


async def test_normalized_json_checksums_agree_with_mariadb(
    settings: CommonSettings, export: LegacyExport, database: str, tmp_path: Path
) -> None:
    """The JSON_NORMALIZE encoding (used when the writer's serialisation is not recognised) also matches."""
    report = await run(settings, export, database, tmp_path, json_encoding="normalized", workers=2)

    assert report.verdict == "pass"
    assert report.checksums.json_encoding == "normalized"
    assert report.checksums.segments_differing == 0


async def _corrupt(settings: CommonSettings, database: str, rows: MigratedRows) -> dict[str, set[tuple[str, str]]]:
    """Drop, change, shift, add and truncate rows; returns pattern -> {(legacy key, field)} injected."""
    readings = sorted(rows.readings, key=lambda r: (r.user_id, r.client_id))
    key_of = rows.legacy_keys
    injected: dict[str, set[tuple[str, str]]] = {}

    def mark(pattern: str, table: str, user_id: str, key: str, field: str = "") -> None:
        injected.setdefault(pattern, set()).add((key_of[(table, user_id, key)], field))

    with_notes = [r for r in readings if isinstance(r.reading_values.get("legacy", {}).get("notes"), str)]
    long_notes = max(with_notes, key=lambda r: len(r.reading_values["legacy"]["notes"]))
    plain = [r for r in readings if r is not long_notes and r.reading_values.get("legacy")]
    dropped, changed, shifted, cut = plain[0:3], plain[10:12], plain[20:22], plain[30]
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            for r in dropped:
                await cur.execute(
                    "DELETE FROM readings WHERE user_id = %s AND client_id = %s", (r.user_id, r.client_id)
                )
                mark("MISSING_IN_TARGET", "readings", r.user_id, r.client_id)
            for r in changed:
                await cur.execute(
                    "UPDATE readings SET primary_value = primary_value + 0.5 WHERE user_id = %s AND client_id = %s",
                    (r.user_id, r.client_id),
                )
                mark("VALUE_MISMATCH:primary_value", "readings", r.user_id, r.client_id, "primary_value")
            for r in shifted:
                await cur.execute(
                    "UPDATE readings SET measured_at = measured_at + INTERVAL 9 HOUR "
                    "WHERE user_id = %s AND client_id = %s",
                    (r.user_id, r.client_id),
                )
                mark("VALUE_MISMATCH:measured_at", "readings", r.user_id, r.client_id, "measured_at")
            # truncated JSON: a long text cut short, and a document that lost a member
            await cur.execute(
                "UPDATE readings SET reading_values = JSON_SET(reading_values, '$.legacy.notes', "
                "LEFT(JSON_VALUE(reading_values, '$.legacy.notes'), 100)) WHERE user_id = %s AND client_id = %s",
                (long_notes.user_id, long_notes.client_id),
            )
            mark("TRUNCATED", "readings", long_notes.user_id, long_notes.client_id, "reading_values.legacy.notes")
            await cur.execute(
                "UPDATE readings SET reading_values = JSON_REMOVE(reading_values, '$.original') "
                "WHERE user_id = %s AND client_id = %s",
                (cut.user_id, cut.client_id),
            )
            mark("TRUNCATED", "readings", cut.user_id, cut.client_id, "reading_values.original")
            device = sorted(rows.devices, key=lambda d: d.id)[0]
            await cur.execute("UPDATE devices SET firmware = 'X9.9.9' WHERE id = %s", (device.id,))
            mark("VALUE_MISMATCH:firmware", "devices", device.user_id, device.id, "firmware")
            setting = sorted(rows.settings, key=lambda s: s.device_id)[0]
            await cur.execute(
                "UPDATE device_settings SET document = JSON_SET(document, '$.language', 'xx') WHERE device_id = %s",
                (setting.device_id,),
            )
            mark("VALUE_MISMATCH:document", "device_settings", setting.user_id, setting.device_id, "document.language")
            for index, owner in enumerate((readings[0].user_id, readings[-1].user_id)):
                client_id = f"kii:bp_records/injected-{index}"
                await cur.execute(
                    "INSERT INTO readings (user_id, type, client_id, measured_at, primary_value, original_unit, "
                    "reading_values, source) VALUES (%s, 'blood_pressure', %s, '2022-06-01 08:00:00', 120, 'mmHg', "
                    "'{\"systolic\":120.0,\"diastolic\":80.0}', 'migration')",
                    (owner, client_id),
                )
                legacy_user = next(legacy for legacy, user_id in rows.users.items() if user_id == owner)
                key = f"kiicloud://users/{legacy_user}/buckets/bp_records/objects/injected-{index}"
                injected.setdefault("EXTRA_IN_TARGET", set()).add((key, ""))
    finally:
        conn.close()
    return injected


@pytest.mark.parametrize(("segment_chars", "leaf_rows"), [(4, 2000), (1, 3)], ids=["default", "deep-narrowing"])
async def test_injected_corruptions_are_found_exactly(
    settings: CommonSettings,
    export: LegacyExport,
    rows: MigratedRows,
    database: str,
    tmp_path: Path,
    segment_chars: int,
    leaf_rows: int,
) -> None:
    injected = await _corrupt(settings, database, rows)

    report = await run(settings, export, database, tmp_path, segment_chars=segment_chars, leaf_rows=leaf_rows)

    assert report.verdict == "fail"
    assert by_kind(report, "difference") == {pattern: len(keys) for pattern, keys in injected.items()}
    found: dict[str, set[tuple[str, str]]] = {}
    for row in failed_keys(tmp_path):
        if row["pattern"] in injected:
            found.setdefault(row["pattern"], set()).add((row["key"], row["field"]))
    assert found == injected
    # the legacy failures are still all invalid data, still accepted
    assert by_kind(report, "legacy_failure") == dict(Counter(f.pattern.value for f in rows.failures.values()))
    statuses = {p.pattern: p.status for p in report.patterns}
    assert all(statuses[pattern] == "not_accepted" for pattern in injected)
    assert len(report.verdict_reasons) == len(injected)
    totals = report.totals
    assert (totals.missing_rows, totals.extra_rows, totals.mismatched_rows) == (3, 2, 8)
    readings = next(r for r in report.per_type if r.type == "blood_pressure")
    assert readings.target_rows == readings.expected_rows - readings.missing + readings.extra
    if leaf_rows < 10:
        assert report.checksums.narrowing_queries > 0 and report.checksums.deepest_prefix > segment_chars
    example = next(e for e in report.examples if e.pattern == "VALUE_MISMATCH:measured_at")
    assert "shifted +32400 s" in example.detail


async def test_a_user_that_was_not_migrated_is_not_an_orphan(
    settings: CommonSettings, export: LegacyExport, rows: MigratedRows, database: str, tmp_path: Path
) -> None:
    """Objects of a user the export lists but the database lacks fail as OWNER_NOT_MIGRATED, never accepted."""
    counts = Counter(r.user_id for r in rows.readings)
    user_id = min(counts, key=lambda u: (counts[u], u))
    legacy_id = next(legacy for legacy, uid in rows.users.items() if uid == user_id)
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            for table in ("readings", "device_settings", "devices", "users"):
                column = "id" if table == "users" else "user_id"
                await cur.execute(f"DELETE FROM {table} WHERE {column} = %s", (user_id,))
    finally:
        conn.close()

    report = await run(settings, export, database, tmp_path)

    assert report.verdict == "fail"
    patterns = {p.pattern: p for p in report.patterns}
    # the user's own objects, and the settings of their things (thing scope, created by them)
    owned = sum(
        1 for r in export.final.values() if f"/users/{legacy_id}/" in r.key or (r.body or {}).get("_owner") == legacy_id
    )
    assert patterns["OWNER_NOT_MIGRATED"].count == owned
    assert patterns["OWNER_NOT_MIGRATED"].status == "not_accepted"
    assert patterns["MISSING_IN_TARGET"].by_type == {"user": 1}
    assert "EXTRA_IN_TARGET" not in patterns


async def test_upto_offsets_leave_later_changes_out(
    settings: CommonSettings, export: LegacyExport, database: str, tmp_path: Path
) -> None:
    """At the snapshot's own offsets no change applies, so only keys the change stream touched differ."""
    offsets = read_header(export.directory / "snapshot.jsonl.gz").partitions
    report = await run(settings, export, database, tmp_path, upto_offsets=offsets)

    assert report.inputs.changes_applied == 0
    assert report.inputs.changes_beyond_offsets == len(export.changes)
    assert report.verdict == "fail"
    touched = {record.key for record in export.changes}
    differing = [row for row in failed_keys(tmp_path) if row["pattern"] in ("MISSING_IN_TARGET", "EXTRA_IN_TARGET")]
    differing += [row for row in failed_keys(tmp_path) if row["pattern"].startswith("VALUE_MISMATCH")]
    assert differing
    assert {row["key"] for row in differing} <= touched


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "validate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
        check=False,
    )


async def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`vitalsync validate ARGS` in a subprocess (off the event loop)."""
    return await asyncio.to_thread(_run_cli, *args)


async def test_cli_exit_codes_follow_the_verdict(
    settings: CommonSettings, export: LegacyExport, rows: MigratedRows, database: str, tmp_path: Path
) -> None:
    legacy, out = str(export.directory), str(tmp_path / "x")
    clean = await cli("--legacy", legacy, "--out", str(tmp_path / "clean"), "--database", database)
    assert clean.returncode == 0, clean.stderr
    assert json.loads((tmp_path / "clean" / "report.json").read_text())["verdict"] == "pass"

    await _corrupt(settings, database, rows)
    failing = await cli("--legacy", legacy, "--out", str(tmp_path / "bad"), "--database", database, "--json")
    assert failing.returncode == 1, failing.stderr
    assert json.loads(failing.stdout)["verdict"] == "fail"

    assert (await cli("--legacy", str(tmp_path / "nowhere"), "--out", out)).returncode == 2
    assert (await cli("--legacy", legacy, "--out", out, "--upto-offsets", "zero")).returncode == 2
    assert (await cli("--out", out)).returncode == 2
    rules = tmp_path / "rules.yaml"
    rules.write_text("format: vitalsync.validation-rules.v1\npatterns: {X: {acepted: true}}\n")
    bad_rules = await cli("--legacy", legacy, "--out", out, "--database", database, "--rules", str(rules))
    assert bad_rules.returncode == 2
    assert "acepted" in bad_rules.stderr
