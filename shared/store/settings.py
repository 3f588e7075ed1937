"""Device settings writes: versioned documents, optimistic concurrency by version."""

from __future__ import annotations

import json
from typing import Any

import aiomysql

from shared.events.envelope import Event
from shared.store import change_log
from shared.store.outbox import add_event


async def get_settings(
    cur: aiomysql.Cursor, device_id: str, *, for_update: bool = False
) -> tuple[int, dict[str, Any]] | None:
    """(version, document) of a device's settings, or None when never written."""
    lock = " FOR UPDATE" if for_update else ""
    await cur.execute(f"SELECT version, document FROM device_settings WHERE device_id = %s{lock}", (device_id,))  # noqa: S608
    found = await cur.fetchone()
    return (int(found[0]), json.loads(found[1])) if found else None


async def put_settings(
    cur: aiomysql.Cursor,
    user_id: str,
    device_id: str,
    document: dict[str, Any],
    version: int,
    region: str,
    topic: str,
) -> None:
    """Write ``document`` as ``version`` (the caller checked the previous version under lock)."""
    await cur.execute(
        "INSERT INTO device_settings (device_id, user_id, version, document) VALUES (%s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE version = VALUES(version), document = VALUES(document)",
        (device_id, user_id, version, json.dumps(document, separators=(",", ":"))),
    )
    await change_log.record(cur, user_id, "settings", [device_id], "upsert")
    await add_event(
        cur,
        Event(
            type="settings.changed", user_id=user_id, region=region, data={"device_id": device_id, "version": version}
        ),
        topic,
    )
