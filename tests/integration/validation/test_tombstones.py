"""Deletions on the legacy platform: a deleted device stays a row, unpaired; a deleted reading must be gone."""

from __future__ import annotations

import dataclasses
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.validation.report import Report
from services.validation.validator import ValidateOptions, validate
from shared.db.connection import connect
from shared.legacy.transform import (
    DeviceRow,
    InMemoryOwners,
    ReadingRow,
    SettingsRow,
    Transformed,
    default_mapping,
    transform,
)
from shared.settings import CommonSettings

from .migrated import MigratedRows, create_database, drop_database, insert_readings, insert_rows

pytestmark = pytest.mark.integration

LEGACY_USER = "aaaaaaaaaaaa-bbbb-cccc-dddd-eeeeeeee"
USER_ID = "0f0f0f0f-0000-4000-8000-00000000000a"
T0 = 1_640_995_200_000  # 2022-01-01T00:00:00Z
DELETED_AT = T0 + 86_400_000


def _record(
    op: str, bucket: str, object_id: str, version: int, body: dict[str, Any] | None, **scope: str
) -> dict[str, Any]:
    scope = scope or {"type": "APP_AND_USER", "userID": LEGACY_USER}
    modified = DELETED_AT if op == "DELETE" else T0
    return {
        "op": op,
        "appID": "app",
        "scope": scope,
        "bucket": bucket,
        "objectID": object_id,
        "version": version,
        "modifiedAt": modified,
        "object": body,
    }


def _system(version: int) -> dict[str, Any]:
    return {"_owner": LEGACY_USER, "_created": T0, "_modified": T0, "_version": str(version)}


DEVICE = {
    **_system(1),
    "model": "HEM-7600T",
    "serial": "S-1",
    "kind": "blood_pressure",
    "pairedAt": T0,
    "thingID": "th.1",
}
READINGS = [
    {
        **_system(1),
        "deviceSerial": "S-1",
        "measuredAt": T0 - 60_000 * n,
        "systolic": 120 + n,
        "diastolic": 80,
        "unit": "mmHg",
    }
    for n in range(2)
]
SETTINGS = {**_system(1), "language": "en"}


def write_legacy(directory: Path) -> list[dict[str, Any]]:
    """Snapshot: a device, two readings, settings; changes: the device and the second reading deleted."""
    snapshot = [
        _record("SNAPSHOT", "devices", "dev-1", 1, DEVICE),
        *(_record("SNAPSHOT", "bp_records", f"r-{n}", 1, body) for n, body in enumerate(READINGS)),
        _record("SNAPSHOT", "settings", "set-1", 1, SETTINGS, type="APP_AND_THING", thingID="th.1"),
    ]
    changes = [_record("DELETE", "devices", "dev-1", 2, None), _record("DELETE", "bp_records", "r-1", 2, None)]
    directory.mkdir()
    header = {"snapshot": {"topic": "legacy.export.v1", "partitions": {"0": len(snapshot)}, "taken_at": "x"}}
    with gzip.open(directory / "snapshot.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(line) + "\n" for line in [header, *snapshot])
    with gzip.open(directory / "changes.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(line) + "\n" for line in changes)
    return snapshot


def rows_of(snapshot: list[dict[str, Any]]) -> MigratedRows:
    """What a correct migration leaves: the device unpaired at the deletion, the deleted reading gone."""
    owners = InMemoryOwners({LEGACY_USER: USER_ID})
    mapping = default_mapping()
    rows = MigratedRows({LEGACY_USER: USER_ID})
    device = transform(snapshot[0], mapping, owners)
    assert isinstance(device, Transformed) and isinstance(device.rows[0], DeviceRow)
    owners.add_device(device.rows[0], device.thing_id)
    unpaired_at = datetime.fromtimestamp(DELETED_AT / 1000, tz=UTC)
    rows.devices.append(dataclasses.replace(device.rows[0], unpaired_at=unpaired_at))
    for record in snapshot[1:2] + snapshot[3:]:
        result = transform(record, mapping, owners)
        assert isinstance(result, Transformed)
        row = result.rows[0]
        if isinstance(row, ReadingRow):
            rows.readings.append(row)
        elif isinstance(row, SettingsRow):
            rows.settings.append(row)
    return rows


async def run(settings: CommonSettings, legacy: Path, database: str, out: Path) -> Report:
    return await validate(ValidateOptions(legacy, out, settings, database=database))


async def test_deletions(settings: CommonSettings, tmp_path: Path) -> None:
    snapshot = write_legacy(tmp_path / "legacy")
    rows = rows_of(snapshot)
    database = await create_database(settings)
    try:
        await insert_rows(settings, database, rows)
        clean = await run(settings, tmp_path / "legacy", database, tmp_path / "clean")
        assert clean.verdict == "pass", clean.verdict_reasons
        assert {r.bucket: r.legacy_deleted for r in clean.per_type if r.bucket} == {
            "devices": 1,
            "bp_records": 1,
            "weight_records": 0,
            "temperature_records": 0,
            "glucose_records": 0,
            "settings": 0,
        }
        # a migration that missed both deletions: the device still paired, the reading still there
        conn = await connect(settings, database)
        try:
            async with conn.cursor() as cur:
                await cur.execute("UPDATE devices SET unpaired_at = NULL")
        finally:
            await conn.ensure_closed()
        kept = transform(snapshot[2], default_mapping(), _owners(rows))
        assert isinstance(kept, Transformed) and isinstance(kept.rows[0], ReadingRow)
        conn = await connect(settings, database)
        try:
            async with conn.cursor() as cur:
                await insert_readings(cur, [kept.rows[0]])
        finally:
            await conn.ensure_closed()
        missed = await run(settings, tmp_path / "legacy", database, tmp_path / "missed")
        patterns = {p.pattern: p for p in missed.patterns}
        assert set(patterns) == {"VALUE_MISMATCH:unpaired_at", "EXTRA_IN_TARGET"}
        (extra,) = patterns["EXTRA_IN_TARGET"].samples
        assert extra.key.endswith("/buckets/bp_records/objects/r-1")
        assert "deleted on the legacy platform" in extra.detail
    finally:
        await drop_database(settings, database)


def _owners(rows: MigratedRows) -> InMemoryOwners:
    owners = InMemoryOwners(rows.users)
    for device in rows.devices:
        owners.add_device(device, "th.1")
    return owners
