"""One write transaction per request, holding the owner's user lock (see shared/store/change_log)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiomysql

from shared.db.transactions import rollback_after
from shared.store.change_log import lock_user
from shared.web.errors import ApiError


@asynccontextmanager
async def user_transaction(pool: aiomysql.Pool, user_id: str) -> AsyncIterator[aiomysql.Cursor]:
    """Begin, lock the user, yield the cursor; commit on success, roll back on any error."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await conn.begin()
        try:
            if not await lock_user(cur, user_id):
                raise ApiError(403, "UNKNOWN_USER", "the token's user has no account here")
            yield cur
            await conn.commit()
        except BaseException:
            await rollback_after(conn)
            raise


@asynccontextmanager
async def read_only(pool: aiomysql.Pool) -> AsyncIterator[aiomysql.Cursor]:
    """A cursor for reads; the transaction ends right after (no snapshot held open in the pool)."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        try:
            yield cur
        finally:
            await conn.commit()
