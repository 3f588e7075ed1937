"""``vitalsync db migrate|check``: apply migrations, and guard against schema drift."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from typing import Any, TypeVar

import typer

from shared.db.connection import DatabaseUnavailableError, connect
from shared.db.migrations import MigrationError, migrate_database
from shared.db.schema_check import check_schema
from shared.settings import CommonSettings

T = TypeVar("T")
app = typer.Typer(help="Database schema: migrations and drift check.", no_args_is_help=True)

DatabaseOption = typer.Option(None, "--database", help="Database name (default: VITALSYNC_DB_NAME).")


@app.command("migrate")
def migrate_command(database: str | None = DatabaseOption) -> None:
    """Apply pending migrations from infra/db/migrations, creating the database if needed (safe to run again)."""

    async def run() -> list[str]:
        return [f"{m.version:04d}_{m.name}" for m in await migrate_database(CommonSettings(), database)]

    applied = _run(run())
    typer.echo(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))


@app.command("check")
def check_command(
    database: str | None = DatabaseOption,
    as_json: bool = typer.Option(False, "--json", help="Print {'ok', 'drifts'} as JSON."),
) -> None:
    """Compare the live schema with the declared one; exit 1 listing every drift."""
    settings = CommonSettings()
    name = database or settings.db_name

    async def run() -> list[str]:
        conn = await connect(settings, name, multi_statements=True)
        try:
            return await check_schema(conn, name)
        finally:
            conn.close()

    drifts = _run(run())
    if as_json:
        typer.echo(json.dumps({"database": name, "ok": not drifts, "drifts": drifts}))
    elif drifts:
        typer.echo(f"schema drift in {name}: {len(drifts)} difference(s)", err=True)
        for line in drifts:
            typer.echo(f"  {line}", err=True)
    else:
        typer.echo(f"schema of {name} matches the migrations")
    raise typer.Exit(1 if drifts else 0)


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; known failures become one line on stderr and exit code 2."""
    try:
        return asyncio.run(coro)
    except (DatabaseUnavailableError, MigrationError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
