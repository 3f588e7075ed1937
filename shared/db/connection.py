"""Database access for command-line work (migrations, schema check, imports, the migration's commands),
outside any service: a failure to connect becomes one `DatabaseUnavailableError` naming its cause and fix."""

from __future__ import annotations

from typing import Any

import aiomysql
import pymysql
from pymysql.constants import CLIENT, ER

from shared.db.pool import create_pool
from shared.settings import CommonSettings


class DatabaseUnavailableError(RuntimeError):
    """The configured server did not accept a connection; the message says where and how to fix it."""


def unavailable(settings: CommonSettings, database: str, error: BaseException) -> DatabaseUnavailableError:
    """The error to show for a failed connection: the server's refusal (user, password, database) named
    as such, since "start the stack" would send the user after the wrong fault."""
    where = f"MySQL at {settings.db_host}:{settings.db_port}"
    code = error.args[0] if isinstance(error, pymysql.err.MySQLError) and error.args else None
    detail = error.args[-1] if error.args else str(error)
    reason = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    if code == ER.BAD_DB_ERROR:
        return DatabaseUnavailableError(
            f"database {database!r} does not exist on {where}: `vitalsync db migrate --database {database}` "
            "creates it (as a user allowed to) and applies the migrations, or set VITALSYNC_DB_NAME to an existing one"
        )
    if code == ER.DBACCESS_DENIED_ERROR:
        return DatabaseUnavailableError(
            f"{where} does not let user {settings.db_user} use database {database!r}, or it does not exist "
            f"({reason}): create it and grant it (GRANT ALL ON `{database}`.* TO '{settings.db_user}'), or set "
            "VITALSYNC_DB_NAME to a database the user may use"
        )
    if code == ER.ACCESS_DENIED_ERROR:
        return DatabaseUnavailableError(
            f"{where} refused user {settings.db_user} (wrong user or password): set VITALSYNC_DB_USER and "
            "VITALSYNC_DB_PASSWORD"
        )
    return DatabaseUnavailableError(
        f"cannot connect to {where} as {settings.db_user} ({reason}); start it with "
        "`vitalsync stack up` or set VITALSYNC_DB_HOST/PORT/USER/PASSWORD"
    )


async def connect(
    settings: CommonSettings, database: str | None = None, *, multi_statements: bool = False
) -> aiomysql.Connection:
    """Connect in UTC with autocommit; ``database=None`` uses the configured one, ``""`` none at all."""
    name = settings.db_name if database is None else database
    try:
        return await aiomysql.connect(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            password=settings.db_password.get_secret_value(),
            db=name or None,
            charset="utf8mb4",
            autocommit=True,
            init_command="SET time_zone = '+00:00'",
            client_flag=CLIENT.MULTI_STATEMENTS if multi_statements else 0,
            connect_timeout=10,
        )
    except Exception as exc:
        raise unavailable(settings, name, exc) from exc


async def checked_pool(settings: CommonSettings, **options: Any) -> aiomysql.Pool:
    """`create_pool(settings, **options)`, with one connection opened first. The services' pool is lazy
    (a service starts and reports unready while the database is down); a command would otherwise meet a
    refused or missing database at its first query, as a driver traceback."""
    pool = await create_pool(settings, **options)
    try:
        async with pool.acquire():
            pass
    except (pymysql.err.MySQLError, OSError, TimeoutError) as exc:
        pool.close()
        await pool.wait_closed()
        raise unavailable(settings, settings.db_name, exc) from exc
    return pool
