"""Ending a transaction that failed, without hiding why it failed."""

from __future__ import annotations

import aiomysql
import pymysql


async def rollback_after(conn: aiomysql.Connection) -> None:
    """Roll back inside an ``except BaseException:`` that re-raises.

    A failure can leave the connection unable to roll back: a query cancelled mid-flight (Ctrl-C, a
    task cancelled at shutdown) makes aiomysql close it, and `rollback()` then raises InterfaceError,
    which would replace the cancellation or the real error. The server discards the open transaction of
    a closed connection anyway, so the connection is closed and the original exception goes on.
    """
    try:
        await conn.rollback()
    except (pymysql.err.Error, OSError):
        conn.close()
