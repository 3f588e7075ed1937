"""The aiomysql pool every service uses, owned by an aiohttp cleanup context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import aiomysql
from aiohttp import web

from shared.settings import CommonSettings

DB_POOL = web.AppKey("db_pool", aiomysql.Pool)
_POOL_RECYCLE_S = 300  # below MySQL's wait_timeout, so the pool never hands out a server-closed socket


async def create_pool(
    settings: CommonSettings, *, no_backslash_escapes: bool = False, local_infile: bool = False
) -> aiomysql.Pool:
    """A lazy pool (minsize 0): a service starts and reports unready while the database is down.

    no_backslash_escapes adds NO_BACKSLASH_ESCAPES to the session's sql_mode. The driver then quotes a
    string parameter by doubling its single quotes (one str.replace) instead of translating it character
    by character: for bulk writers of JSON text (the migration) that was a sixth of their CPU. Only for
    code whose SQL text has no backslash escapes of its own (a LIKE pattern's default escape is one)
    and which passes flat parameters (a tuple parameter's strings are still escaped the backslash way).

    local_infile lets the connections send files for LOAD DATA LOCAL INFILE, which also lets the server
    ask for any file the process can read: only for a bulk loader talking to our own database.
    """
    init_command = "SET time_zone = '+00:00'"  # DATETIME columns hold UTC everywhere
    if no_backslash_escapes:
        init_command += ", sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')"
    return await aiomysql.create_pool(
        host=settings.db_host,
        port=settings.db_port,
        unix_socket=settings.db_unix_socket,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        db=settings.db_name,
        minsize=0,
        maxsize=settings.db_pool_max,
        autocommit=False,
        charset="utf8mb4",
        pool_recycle=_POOL_RECYCLE_S,
        connect_timeout=settings.ready_timeout_s,
        init_command=init_command,
        local_infile=local_infile,
    )


def pool_context(settings: CommonSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    """Cleanup-ctx factory: open the pool, store it under DB_POOL, close it after in-flight work."""

    async def _ctx(app: web.Application) -> AsyncIterator[None]:
        pool = await create_pool(settings)
        app[DB_POOL] = pool
        yield
        pool.close()
        await pool.wait_closed()

    return _ctx
