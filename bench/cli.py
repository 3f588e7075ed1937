"""``vitalsync bench seed``: bulk test data for scale tests and the benchmarks in BENCHMARKS.md."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from bench.stats_seed import ChunkFiles, SeedResult, connect_for_load, default_plan, seed, table_sizes
from shared.db.connection import DatabaseUnavailableError, connect
from shared.db.migrations import MigrationError, migrate_database
from shared.settings import CommonSettings

app = typer.Typer(help="Benchmark data: seed users, devices and readings at bulk speed.", no_args_is_help=True)
err = Console(stderr=True)


@app.callback()
def root() -> None:
    """Benchmark data tools."""


async def _prepare(settings: CommonSettings, database: str, create: bool) -> None:
    """Create and migrate ``database`` when asked to; otherwise just check it exists."""
    if create:
        await migrate_database(settings, database)
        return
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
            (exists,) = await cur.fetchone()
    finally:
        admin.close()
    if not exists:
        raise typer.BadParameter(f"database {database} does not exist; add --create", param_hint="--database")


@app.command("seed")
def seed_command(
    users: int = typer.Option(..., "--users", min=1, help="Number of users."),
    seed_value: int = typer.Option(1, "--seed", help="Random seed: the same seed gives the same rows."),
    devices: int | None = typer.Option(None, "--devices", min=0, help="Number of devices (default 1.5 per user)."),
    readings: int | None = typer.Option(None, "--readings", min=0, help="Number of readings (default 10 per device)."),
    database: str | None = typer.Option(None, "--database", help="Database (default: VITALSYNC_DB_NAME)."),
    create: bool = typer.Option(False, "--create", help="Create and migrate the database if needed."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Generator processes (default: up to 2)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result (and table sizes) as JSON."),
) -> None:
    """Write realistic users, devices and readings (regions, model mix, firmware, usage) at bulk speed."""
    settings = CommonSettings()
    name = database or settings.db_name
    plan = default_plan(users, seed_value, devices, readings)

    async def run() -> tuple[SeedResult, dict[str, dict[str, int]]]:
        await _prepare(settings, name, create)
        with Progress(
            TextColumn("[bold]seeding[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("readings"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err,
            disable=as_json,
        ) as progress:
            task = progress.add_task(name, total=plan.readings)

            def advance(chunk: ChunkFiles) -> None:
                progress.update(task, advance=chunk.counts[2])

            result = await seed(settings, name, plan, workers=workers, on_chunk=advance)
        conn = await connect_for_load(settings, name)
        try:
            sizes = await table_sizes(conn, name)
        finally:
            conn.close()
        return result, sizes

    try:
        result, sizes = asyncio.run(run())
    except (DatabaseUnavailableError, MigrationError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    total_bytes = sum(t["data_bytes"] + t["index_bytes"] for t in sizes.values())
    if as_json:
        typer.echo(json.dumps({"database": name, **result.as_json(), "database_bytes": total_bytes, "tables": sizes}))
        return
    summary = result.as_json()
    err.print(
        f"seeded {name}: {result.users:,} users, {result.devices:,} devices, {result.readings:,} readings in "
        f"{summary['seconds']} s ({summary['readings_per_s']:,} readings/s, {result.method}); "
        f"database {total_bytes / 2**30:.2f} GiB"
    )
