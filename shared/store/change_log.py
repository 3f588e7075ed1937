"""The delta-sync feed (DESIGN section 5): one row per change, its id is the sync cursor.

Ordering guarantee: every write transaction first locks the owner's ``users`` row
(:func:`lock_user`). Two transactions of one user therefore insert their change_log rows one after
the other, each after the previous one committed, so within a user ids are assigned in commit
order and a reader that saw id N has already seen every smaller id of that user. Without the lock,
auto-increment ids are handed out at insert time and a slower transaction could commit a smaller id
after a reader had moved past it.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiomysql

ENTITIES = ("device", "reading", "settings")


async def lock_user(cur: aiomysql.Cursor, user_id: str) -> bool:
    """Serialize this user's writes for the rest of the transaction; False when the user is unknown."""
    await cur.execute("SELECT id FROM users WHERE id = %s FOR UPDATE", (user_id,))
    return await cur.fetchone() is not None


async def record(cur: aiomysql.Cursor, user_id: str, entity: str, entity_ids: Sequence[str], op: str) -> None:
    """Append one change per id, in the caller's transaction (after :func:`lock_user`)."""
    if entity_ids:
        await cur.executemany(
            "INSERT INTO change_log (user_id, entity, entity_id, op) VALUES (%s, %s, %s, %s)",
            [(user_id, entity, entity_id, op) for entity_id in entity_ids],
        )
