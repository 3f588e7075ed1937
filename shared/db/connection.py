"""Single connections for command-line work (migrations, schema check), outside any service pool."""

from __future__ import annotations

import aiomysql
from pymysql.constants import CLIENT

from shared.settings import CommonSettings


class DatabaseUnavailableError(RuntimeError):
    """The configured server did not accept a connection; the message says where and how to fix it."""


async def connect(
    settings: CommonSettings, database: str | None = None, *, multi_statements: bool = False
) -> aiomysql.Connection:
    """Connect in UTC with autocommit; ``database=None`` uses the configured one, ``""`` none at all."""
    try:
        return await aiomysql.connect(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            password=settings.db_password.get_secret_value(),
            db=(settings.db_name if database is None else database) or None,
            charset="utf8mb4",
            autocommit=True,
            init_command="SET time_zone = '+00:00'",
            client_flag=CLIENT.MULTI_STATEMENTS if multi_statements else 0,
            connect_timeout=10,
        )
    except Exception as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to MySQL at {settings.db_host}:{settings.db_port} as {settings.db_user} "
            f"({type(exc).__name__}: {exc.args[-1] if exc.args else exc}); start it with "
            "`vitalsync stack up` or set VITALSYNC_DB_HOST/PORT/USER/PASSWORD"
        ) from exc
