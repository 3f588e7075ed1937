"""``vitalsync stats run|list|verify|rebuild``: batch jobs, their runs, and the aggregates' check.

``stats run JOB`` is the unit the Step Functions ECS task runs on AWS (infra/aws/stats) and the local
scheduler runs in-process. Exit codes: 0 success (verify: no difference), 1 job failed (verify: differences
found), 2 bad usage or database unavailable, 3 job skipped because another run holds its lock.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import aiomysql
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.stats.config import StatsSettings
from services.stats.errors import StatsError
from services.stats.jobs import JOBS
from services.stats.runner import JobRun, last_runs, run_job
from services.stats.verify import reading_days, rebuild, verify
from shared.db.connection import DatabaseUnavailableError, connect

T = TypeVar("T")
app = typer.Typer(help="Stats: batch jobs, their runs, and the streaming aggregates' check.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DatabaseOption = typer.Option(None, "--database", help="Database name (default: VITALSYNC_DB_NAME).")
JsonOption = typer.Option(False, "--json", help="Print JSON for scripts.")
EXIT_FAILED, EXIT_USAGE, EXIT_SKIPPED = 1, 2, 3
DEFAULT_VERIFY_DAYS = 30


def _settings(database: str | None) -> StatsSettings:
    settings = StatsSettings()
    return settings.model_copy(update={"db_name": database}) if database else settings


async def _with_connection(settings: StatsSettings, work: Callable[[aiomysql.Connection], Awaitable[T]]) -> T:
    conn = await connect(settings)
    try:
        return await work(conn)
    finally:
        conn.close()


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine; known failures become one line on stderr and exit code 2."""
    try:
        return asyncio.run(coro)
    except (DatabaseUnavailableError, StatsError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


@app.command("run")
def run_command(
    job: str = typer.Argument(..., help=f"One of: {', '.join(JOBS)}."),
    as_json: bool = JsonOption,
    database: str | None = DatabaseOption,
) -> None:
    """Run one job now and record it in job_runs; exit 0 on success, 1 failed, 3 skipped (already running)."""
    if job not in JOBS:
        err.print(f"error: unknown job {job!r}; known jobs: {', '.join(JOBS)}", markup=False, highlight=False)
        raise typer.Exit(EXIT_USAGE)
    settings = _settings(database)

    async def work(conn: aiomysql.Connection) -> JobRun:
        return await run_job(conn, settings, job, triggered_by="cli")

    if as_json:
        run = _run(_with_connection(settings, work))
        typer.echo(json.dumps(run.as_json()))
    else:
        with err.status(f"running {job} on {settings.db_name}..."):
            run = _run(_with_connection(settings, work))
        colour = {"succeeded": "green", "failed": "red"}.get(run.status, "yellow")
        out.print(
            f"[bold]{job}[/] run {run.id}: [{colour}]{run.status}[/], {run.rows if run.rows is not None else '-'} rows "
            f"in {run.duration_ms} ms" + (f" - {run.error}" if run.error else "")
        )
    raise typer.Exit({"succeeded": 0, "skipped": EXIT_SKIPPED}.get(run.status, EXIT_FAILED))


@app.command("list")
def list_command(as_json: bool = JsonOption, database: str | None = DatabaseOption) -> None:
    """Jobs with their schedules and last runs."""
    settings = _settings(database)

    async def work(conn: aiomysql.Connection) -> dict[str, tuple[JobRun | None, JobRun | None]]:
        async with conn.cursor() as cur:
            return await last_runs(cur)

    runs = _run(_with_connection(settings, work))
    if as_json:
        jobs = [
            {
                "name": name,
                "description": job.description,
                "schedule": settings.stats_schedule.get(name),
                "last_run": latest.as_json() if latest else None,
                "last_success": success.as_json() if success else None,
            }
            for name, job in JOBS.items()
            for latest, success in [runs[name]]
        ]
        typer.echo(json.dumps({"jobs": jobs}))
        return
    table = Table(title=f"stats jobs ({settings.db_name})")
    for column in ("job", "schedule (UTC)", "last run", "status", "rows", "duration", "last success"):
        table.add_column(column)
    for name in JOBS:
        latest, success = runs[name]
        table.add_row(
            name,
            settings.stats_schedule.get(name, "-"),
            _when(latest.started_at) if latest else "never",
            latest.status if latest else "-",
            str(latest.rows) if latest and latest.rows is not None else "-",
            f"{latest.duration_ms} ms" if latest and latest.duration_ms is not None else "-",
            _when(success.finished_at) if success and success.finished_at else "never",
        )
    out.print(table)


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _window(since: str | None, until: str | None, days: int) -> tuple[date, date]:
    """Inclusive [from, to] as a half-open [from, to + 1 day)."""
    try:
        last = date.fromisoformat(until) if until else datetime.now(UTC).date()
        first = date.fromisoformat(since) if since else last - timedelta(days=days - 1)
    except ValueError:
        err.print("error: --from/--to must be dates (YYYY-MM-DD)")
        raise typer.Exit(EXIT_USAGE) from None
    if first > last:
        err.print("error: --from is after --to")
        raise typer.Exit(EXIT_USAGE)
    return first, last + timedelta(days=1)


@app.command("verify")
def verify_command(
    since: str | None = typer.Option(None, "--from", help="First UTC day (default: --days before --to)."),
    until: str | None = typer.Option(None, "--to", help="Last UTC day (default: today)."),
    days: int = typer.Option(DEFAULT_VERIFY_DAYS, "--days", min=1, help="Window length when --from is not given."),
    as_json: bool = JsonOption,
    database: str | None = DatabaseOption,
) -> None:
    """Recompute the streaming aggregates from the base tables; exit 1 listing every difference."""
    settings = _settings(database)
    first, end = _window(since, until, days)

    async def work(conn: aiomysql.Connection) -> Any:
        return await verify(conn, first, end)

    if as_json:
        report = _run(_with_connection(settings, work))
        typer.echo(json.dumps(report.as_json()))
    else:
        with err.status(f"recomputing {first} .. {end - timedelta(days=1)} from the base tables..."):
            report = _run(_with_connection(settings, work))
        if report.ok:
            out.print(
                f"[green]aggregates match[/] the base tables: {report.groups_checked} groups, {first} .. "
                f"{end - timedelta(days=1)}"
            )
        else:
            err.print(f"[red]{len(report.differences)} difference(s)[/] between the aggregates and the base tables:")
            for diff in report.differences:
                err.print(f"  {json.dumps(diff.as_json())}", markup=False, highlight=False)
    raise typer.Exit(0 if report.ok else EXIT_FAILED)


@app.command("rebuild")
def rebuild_command(
    since: str | None = typer.Option(None, "--from", help="First UTC day (default: --days before --to)."),
    until: str | None = typer.Option(None, "--to", help="Last UTC day (default: today)."),
    days: int = typer.Option(DEFAULT_VERIFY_DAYS, "--days", min=1, help="Window length when --from is not given."),
    all_days: bool = typer.Option(False, "--all", help="Every day that has readings."),
    database: str | None = DatabaseOption,
) -> None:
    """Overwrite the aggregates of a window with a recomputation from the base tables.

    For bootstrapping after a bulk load (which writes no events) or repairing a difference verify found.
    Stop the consumer first: events it applies to a day while that day is rebuilt would count twice.
    """
    settings = _settings(database)

    async def work(conn: aiomysql.Connection) -> int:
        if all_days:
            span = await reading_days(conn)
            if span is None:
                return 0
            first, end = span[0], span[1] + timedelta(days=1)
        else:
            first, end = _window(since, until, days)
        with Progress(
            TextColumn("rebuilding"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("users"),
            TimeElapsedColumn(),
            console=err,
        ) as progress:
            task = progress.add_task("", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            return await rebuild(conn, first, end, advance)

    users = _run(_with_connection(settings, work))
    out.print(f"rebuilt the aggregates from the readings of {users} user(s), and their devices' last seen")
