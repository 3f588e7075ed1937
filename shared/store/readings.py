"""Reading writes: insert new ones, report duplicates by (user, client_id), log and announce each."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomysql

from shared.events.envelope import Event
from shared.store import change_log


@dataclass(frozen=True)
class NewReading:
    """A validated reading in canonical units, ready to store."""

    client_id: str
    type: str
    measured_at: datetime  # UTC, naive
    primary_value: float | None
    original_unit: str | None
    values: dict[str, Any]
    device_id: str | None = None


async def existing_ids(cur: aiomysql.Cursor, user_id: str, client_ids: Sequence[str]) -> dict[str, int]:
    """client_id -> reading id of the user's readings among ``client_ids``."""
    if not client_ids:
        return {}
    placeholders = ", ".join(["%s"] * len(client_ids))
    await cur.execute(
        f"SELECT client_id, id FROM readings WHERE user_id = %s AND client_id IN ({placeholders})",  # noqa: S608
        (user_id, *client_ids),
    )
    return {client_id: int(reading_id) for client_id, reading_id in await cur.fetchall()}


async def insert_readings(
    cur: aiomysql.Cursor, user_id: str, readings: Sequence[NewReading], source: str, region: str, topic: str
) -> dict[str, int]:
    """Insert readings whose client ids are new (caller holds the user lock); returns client_id -> id."""
    if not readings:
        return {}
    await cur.executemany(
        "INSERT INTO readings (user_id, device_id, type, client_id, measured_at, primary_value, original_unit, "
        "reading_values, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            (
                user_id,
                r.device_id,
                r.type,
                r.client_id,
                r.measured_at,
                r.primary_value,
                r.original_unit,
                json.dumps(r.values, separators=(",", ":")),
                source,
            )
            for r in readings
        ],
    )
    ids = await existing_ids(cur, user_id, [r.client_id for r in readings])
    await change_log.record(cur, user_id, "reading", [str(ids[r.client_id]) for r in readings], "upsert")
    await cur.executemany(
        "INSERT INTO outbox (event_id, topic, msg_key, payload) VALUES (%s, %s, %s, %s)",
        [_reading_event(user_id, region, topic, r, ids[r.client_id]) for r in readings],
    )
    return ids


def _reading_event(user_id: str, region: str, topic: str, reading: NewReading, reading_id: int) -> tuple[str, ...]:
    event = Event(
        type="reading.created",
        user_id=user_id,
        region=region,
        data={
            "reading_id": reading_id,
            "device_id": reading.device_id,
            "type": reading.type,
            "measured_at": reading.measured_at.isoformat() + "Z",
            "primary_value": reading.primary_value,
        },
    )
    return event.id, topic, user_id, event.model_dump_json()


async def touch_device(cur: aiomysql.Cursor, device_id: str, seen_at: datetime) -> None:
    """Remember when a device last delivered data (stats: active devices)."""
    await cur.execute(
        "UPDATE devices SET last_seen_at = GREATEST(COALESCE(last_seen_at, %s), %s) WHERE id = %s",
        (seen_at, seen_at, device_id),
    )
