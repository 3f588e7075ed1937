"""Transactional outbox writes (DESIGN section 8): an event row commits with the change it announces.

The caller passes its open transaction's cursor, so the event exists if and only if the change does;
a relay publishes unsent rows to Kafka later.
"""

from __future__ import annotations

import aiomysql

from shared.events.envelope import Event


async def add_event(cur: aiomysql.Cursor, event: Event, topic: str) -> None:
    """Queue ``event`` for publishing to ``topic`` inside the caller's transaction."""
    await cur.execute(
        "INSERT INTO outbox (event_id, topic, msg_key, payload) VALUES (%s, %s, %s, %s)",
        (event.id, topic, event.user_id, event.model_dump_json()),
    )
