"""A migrated dataset built without the migration pipeline: what a correct migration writes, inserted directly.

The legacy side comes from `simulator.legacy` (dataset + change stream, written as the export files the
validator reads); the expected final state is the simulator's own `replay`, transformed by the shared
transform (devices first, so readings and settings find them), so the validator's reader and replay are
checked against an independent one. Rows go into a scratch database ``vitalsync_val_<random>`` migrated
with the project's migrations; JSON is written as the migration writes it (compact, UTF-8 unescaped).
"""

from __future__ import annotations

import gzip
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.legacy.transform import (
    DeviceRow,
    InMemoryOwners,
    ReadingRow,
    SettingsRow,
    Transformed,
    TransformFailure,
    default_mapping,
    transform,
)
from shared.settings import CommonSettings
from simulator.legacy.changes import generate_changes
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import dumps_line, write_snapshot, write_users
from simulator.legacy.model import ExportRecord, LegacyDataset
from simulator.legacy.replay import replay

USERS = 40
SEED = 51
CHANGES = 400


@dataclass
class LegacyExport:
    """A legacy export directory and what it holds."""

    directory: Path
    dataset: LegacyDataset
    changes: list[ExportRecord]
    final: dict[str, ExportRecord]


@dataclass
class MigratedRows:
    """The rows a correct migration of an export writes, and the transform failures it records."""

    users: dict[str, str]
    devices: list[DeviceRow] = field(default_factory=list)
    readings: list[ReadingRow] = field(default_factory=list)
    settings: list[SettingsRow] = field(default_factory=list)
    failures: dict[str, TransformFailure] = field(default_factory=dict)
    # (table, user_id, key column value) -> the legacy key the row came from
    legacy_keys: dict[tuple[str, str, str], str] = field(default_factory=dict)


def user_id_of(legacy_user_id: str) -> str:
    """The VitalSync id the test gives an imported legacy user."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"validation-test-user:{legacy_user_id}"))


def write_export(directory: Path, users: int = USERS, seed: int = SEED, changes: int = CHANGES) -> LegacyExport:
    """snapshot.jsonl.gz, changes.jsonl.gz and users.jsonl of a generated legacy app."""
    directory.mkdir(parents=True, exist_ok=True)
    dataset = generate_dataset(users, seed)
    stream = list(generate_changes(dataset, changes, seed))
    write_snapshot(dataset, directory / "snapshot.jsonl.gz")
    write_users(dataset, directory / "users.jsonl")
    with gzip.open(directory / "changes.jsonl.gz", "wt", encoding="utf-8") as out:
        for record in stream:
            out.write(dumps_line(record.to_json()) + "\n")
    final = replay([*dataset.snapshot_records(), *stream])
    return LegacyExport(directory, dataset, stream, final)


def migrated_rows(export: LegacyExport) -> MigratedRows:
    """Transform the replayed final state as the migration does: devices first, then everything."""
    users = {user.legacy_user_id: user_id_of(user.legacy_user_id) for user in export.dataset.users}
    owners = InMemoryOwners(users)
    mapping = default_mapping()
    result = MigratedRows(users)
    for record in export.final.values():
        if record.bucket == "devices":
            outcome = transform(record, mapping, owners)
            if isinstance(outcome, Transformed):
                row = outcome.rows[0]
                assert isinstance(row, DeviceRow)
                owners.add_device(row, outcome.thing_id)
    for key, record in export.final.items():
        outcome = transform(record, mapping, owners)
        if isinstance(outcome, TransformFailure):
            result.failures[key] = outcome
            continue
        for row in outcome.rows:
            if isinstance(row, DeviceRow):
                result.devices.append(row)
                result.legacy_keys[("devices", row.user_id, row.id)] = key
            elif isinstance(row, ReadingRow):
                result.readings.append(row)
                result.legacy_keys[("readings", row.user_id, row.client_id)] = key
            elif isinstance(row, SettingsRow):
                result.settings.append(row)
                result.legacy_keys[("device_settings", row.user_id, row.device_id)] = key
    return result


def _naive(moment: Any) -> Any:
    return None if moment is None else moment.replace(tzinfo=None)


async def create_database(settings: CommonSettings) -> str:
    """A new scratch database with the project's schema; returns its name."""
    name = f"vitalsync_val_{secrets.token_hex(4)}"
    server = await connect(settings, "")
    try:
        async with server.cursor() as cur:
            await cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        server.close()
    conn = await connect(settings, name, multi_statements=True)
    try:
        await migrate(conn)
    finally:
        conn.close()
    return name


async def drop_database(settings: CommonSettings, name: str) -> None:
    """Drop a scratch database."""
    assert name.startswith("vitalsync_val_")
    server = await connect(settings, "")
    try:
        async with server.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    finally:
        server.close()


async def insert_rows(settings: CommonSettings, database: str, rows: MigratedRows) -> None:
    """Users (with their legacy ids), devices, readings and settings, as a correct migration leaves them."""
    conn = await connect(settings, database)
    try:
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO users (id, login_name, region, profile, idp, legacy_user_id) "
                "VALUES (%s, %s, 'eu', '{}', 'local', %s)",
                [(user_id, f"u{legacy}", legacy) for legacy, user_id in rows.users.items()],
            )
            await cur.executemany(
                "INSERT INTO devices (id, user_id, kind, model, serial, firmware, name, ble_address, paired_at, "
                "unpaired_at, last_seen_at, created_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                [
                    (
                        d.id,
                        d.user_id,
                        d.kind,
                        d.model,
                        d.serial,
                        d.firmware,
                        d.name,
                        d.ble_address,
                        _naive(d.paired_at),
                        _naive(d.unpaired_at),
                        _naive(d.last_seen_at),
                        _naive(d.created_at),
                        _naive(d.updated_at),
                    )
                    for d in rows.devices
                ],
            )
            await insert_readings(cur, rows.readings)
            await cur.executemany(
                "INSERT INTO device_settings (device_id, user_id, version, document, updated_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                [
                    (
                        s.device_id,
                        s.user_id,
                        s.version,
                        json.dumps(s.document, ensure_ascii=False, separators=(",", ":")),
                        _naive(s.updated_at),
                    )
                    for s in rows.settings
                ],
            )
    finally:
        conn.close()


async def insert_readings(cur: Any, readings: Sequence[ReadingRow]) -> None:
    """Reading rows with their values JSON written as the migration writes it (services/migration/writes.py)."""
    await cur.executemany(
        "INSERT INTO readings (user_id, device_id, type, client_id, measured_at, primary_value, original_unit, "
        "reading_values, source, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                r.user_id,
                r.device_id,
                r.type,
                r.client_id,
                _naive(r.measured_at),
                r.primary_value,
                r.original_unit,
                json.dumps(r.reading_values, ensure_ascii=False, separators=(",", ":")),
                r.source,
                _naive(r.created_at),
            )
            for r in readings
        ],
    )
