"""The expected outcome of a migration: the legacy final state (simulator/legacy/replay.py) through the
transform (shared/legacy/transform), and the same picture read back from a migrated database.

Both sides are plain sets of tuples, so a test asserts equality and a failure shows the difference.
Devices are transformed first (in the replayed order), as the pipeline makes sure a device exists
before the readings and settings that name it are final.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiomysql

from shared.legacy.transform import (
    DeviceBucket,
    DeviceRow,
    InMemoryOwners,
    ReadingRow,
    SettingsRow,
    TransformFailure,
    default_mapping,
    transform,
)
from simulator.legacy.model import ExportRecord
from simulator.legacy.replay import replay


def _naive(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _json(value: Any) -> str:
    return json.dumps(json.loads(value) if isinstance(value, str | bytes) else value, sort_keys=True)


@dataclass
class MigratedState:
    """Processed rows and failures, normalised for comparison."""

    devices: set[tuple[Any, ...]] = field(default_factory=set)
    readings: set[tuple[Any, ...]] = field(default_factory=set)
    settings: set[tuple[Any, ...]] = field(default_factory=set)
    failures: set[tuple[str, str]] = field(default_factory=set)

    def summary(self) -> dict[str, int]:
        """Sizes, for messages."""
        return {name: len(getattr(self, name)) for name in ("devices", "readings", "settings", "failures")}


def _device(row: DeviceRow) -> tuple[Any, ...]:
    return (
        row.id,
        row.user_id,
        row.kind,
        row.model,
        row.serial,
        row.firmware,
        row.name,
        row.ble_address,
        _naive(row.paired_at),
        _naive(row.unpaired_at),
        _naive(row.created_at),
        _naive(row.updated_at),
    )


def _reading(row: ReadingRow) -> tuple[Any, ...]:
    return (
        row.user_id,
        row.client_id,
        row.device_id,
        row.type,
        _naive(row.measured_at),
        row.primary_value,
        row.original_unit,
        _json(row.reading_values),
        row.source,
        _naive(row.created_at),
    )


def _settings(row: SettingsRow) -> tuple[Any, ...]:
    return (row.device_id, row.user_id, row.version, _json(row.document), _naive(row.updated_at))


def expected_state(records: Iterable[ExportRecord], users: Mapping[str, str]) -> MigratedState:
    """What the processed schema must hold after migrating records (snapshot then changes)."""
    mapping = default_mapping()
    live = replay(records)
    owners = InMemoryOwners(users)
    state = MigratedState()
    ordered = sorted(live.values(), key=lambda r: not isinstance(mapping.entry(r.scope.type, r.bucket), DeviceBucket))
    for record in ordered:
        result = transform(record.to_json(), mapping, owners)
        if isinstance(result, TransformFailure):
            state.failures.add((record.key, str(result.pattern)))
            continue
        for row in result.rows:
            if isinstance(row, DeviceRow):
                owners.add_device(row, result.thing_id)
                state.devices.add(_device(row))
            elif isinstance(row, ReadingRow):
                state.readings.add(_reading(row))
            else:
                state.settings.add(_settings(row))
    return state


async def migrated_state(cur: aiomysql.Cursor) -> MigratedState:
    """The processed schema and migration_failures of a database, in expected_state's shape."""
    state = MigratedState()
    await cur.execute(
        "SELECT id, user_id, kind, model, serial, firmware, name, ble_address, paired_at, unpaired_at, created_at, "
        "updated_at FROM devices"
    )
    state.devices = {tuple(row) for row in await cur.fetchall()}
    await cur.execute(
        "SELECT user_id, client_id, device_id, type, measured_at, primary_value, original_unit, reading_values, "
        "source, created_at FROM readings"
    )
    state.readings = {(*row[:7], _json(row[7]), *row[8:]) for row in await cur.fetchall()}
    await cur.execute("SELECT device_id, user_id, version, document, updated_at FROM device_settings")
    state.settings = {(row[0], row[1], int(row[2]), _json(row[3]), row[4]) for row in await cur.fetchall()}
    await cur.execute("SELECT object_key, pattern FROM migration_failures")
    state.failures = {(key, pattern) for key, pattern in await cur.fetchall()}
    return state


async def legacy_user_ids(cur: aiomysql.Cursor) -> dict[str, str]:
    """legacy user id -> user id of the imported users."""
    await cur.execute("SELECT legacy_user_id, id FROM users WHERE legacy_user_id IS NOT NULL")
    return {legacy: user_id for legacy, user_id in await cur.fetchall()}
