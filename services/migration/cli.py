"""``vitalsync migrate snapshot|follow|work|requeue|status`` and ``vitalsync cutover check`` (DESIGN section 11)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import aiomysql
import typer
from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.migration.config import MigrationSettings
from services.migration.errors import MetricsPortError, MigrationError
from services.migration.processing import ProcessContext
from services.migration.queue import WorkQueue, open_queue
from services.migration.writes import EventTarget
from shared.db.connection import DatabaseUnavailableError, checked_pool
from shared.legacy.transform import default_mapping, load_mapping
from shared.legacy.transform.errors import MappingError

T = TypeVar("T")
app = typer.Typer(help="Migration off the legacy platform.", no_args_is_help=True, add_completion=False)
cutover_app = typer.Typer(help="Cut-over readiness gate.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)
log = logging.getLogger(__name__)


@app.callback()
def migrate() -> None:
    """Snapshot load, change capture (master and workers), status."""


@cutover_app.callback()
def cutover() -> None:
    """Cut-over readiness gate."""


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _run(coro: Awaitable[T]) -> T:
    """Run a coroutine; known failures become one line on stderr and exit code 2 (a taken port: 1)."""
    try:
        return asyncio.run(coro)  # type: ignore[arg-type]
    except MetricsPortError as error:
        _fail(str(error), 1)
    except (DatabaseUnavailableError, MigrationError, MappingError) as error:
        _fail(str(error))
    except OSError as error:
        _fail(f"cannot reach a dependency ({error}); start the stack with `vitalsync stack up`")


def _context(settings: MigrationSettings) -> ProcessContext:
    mapping = load_mapping(settings.migration_mapping_file) if settings.migration_mapping_file else default_mapping()
    return ProcessContext(mapping, EventTarget(settings.region, settings.events_topic))


@asynccontextmanager
async def _pool(settings: MigrationSettings, *, local_infile: bool = False) -> AsyncIterator[aiomysql.Pool]:
    # the migration's SQL has no LIKE and passes flat parameters: quotes doubled, not translated
    pool = await checked_pool(settings, no_backslash_escapes=True, local_infile=local_infile)
    try:
        yield pool
    finally:
        pool.close()
        await pool.wait_closed()


@app.command("snapshot")
def snapshot_command(
    file: Annotated[Path, typer.Argument(help="The snapshot file (snapshot.jsonl.gz) with its header line.")],
    chunk: Annotated[int | None, typer.Option("--chunk", help="Records per transaction and checkpoint.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load a snapshot into the raw and processed schema; a second run resumes after the last checkpoint."""
    if not file.is_file():
        _fail(f"{file} does not exist or is not a file")
    from services.migration.inserts import STATEMENTS, Inserter, LocalInfileInserter
    from services.migration.snapshot import load_snapshot

    settings = MigrationSettings()
    chunk_size = chunk or settings.migration_snapshot_chunk
    if chunk_size < 1:
        _fail("--chunk must be at least 1")

    received: list[int] = []  # the signal that asked the load to stop

    async def run() -> Any:
        stop = _stop_on_signals(received)
        load_data = settings.migration_snapshot_load_data
        with LocalInfileInserter() if load_data else nullcontext(STATEMENTS) as inserter:
            return await load(inserter, load_data, stop)

    async def load(inserter: Inserter, load_data: bool, stop: asyncio.Event) -> Any:
        async with _pool(settings, local_infile=load_data) as pool:
            with Progress(
                TextColumn("loading snapshot"),
                BarColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[records]} records"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task("snapshot", total=file.stat().st_size, records=0)
                return await load_snapshot(
                    pool,
                    file,
                    _context(settings),
                    chunk_size=chunk_size,
                    progress=lambda done, read: progress.update(task, completed=read, records=done),
                    inserter=inserter,
                    stop=stop,
                    settings=settings if settings.migration_snapshot_preparer else None,
                )

    try:
        report = _run(run())
    except KeyboardInterrupt:  # a second Ctrl-C: the chunk in hand is rolled back, the checkpoints stay
        console.print("aborted: run the same command again to resume after the last committed chunk")
        raise typer.Exit(130) from None
    if report.stopped:
        if as_json:
            typer.echo(json.dumps(report.to_json()))
        console.print(
            f"stopped: {report.records_done} records are committed; run the same command again to resume from there"
        )
        raise typer.Exit(128 + received[0])
    if as_json:
        typer.echo(json.dumps(report.to_json()))
        return
    if report.already_loaded:
        console.print(f"snapshot already loaded ({report.records_done} records)")
        return
    console.print(
        f"loaded {report.records_done} records (resumed at {report.resumed_at}): {report.rows} migrated, "
        f"{report.failed} failed, {report.ignored} ignored, {report.skipped} already newer"
    )
    for pattern, count in sorted(report.failures.items()):
        console.print(f"  {pattern}: {count}")


def _stop_on_signals(received: list[int]) -> asyncio.Event:
    """An event the first SIGINT or SIGTERM sets (its number goes to received). The handlers then go, so
    a second Ctrl-C aborts at once."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        received.append(signum)
        stop.set()
        for each in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(each)
        console.print(f"{signal.Signals(signum).name}: stopping after the chunk in hand (Ctrl-C again to abort)")

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    return stop


MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Port of /metrics, /healthz and /readyz (0: any free port, logged). Give each process on a host its own.",
    ),
]
Build = Callable[[MigrationSettings, aiomysql.Pool, WorkQueue, CollectorRegistry], Any]


def _serve(name: str, settings: MigrationSettings, port: int, build: Build) -> None:
    """Run a master or worker with its metrics endpoint until SIGTERM/SIGINT, then let it finish the batch in hand."""
    from services.migration.endpoint import serve_endpoint
    from shared.logging import configure_logging

    configure_logging(name, settings.log_level)

    async def run() -> None:
        async with serve_endpoint(name, settings, port) as endpoint, open_queue(settings) as queue:
            runner = build(settings, endpoint.pool, queue, endpoint.registry)
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, runner.stop)
            log.info("%s started", name)
            await runner.run()
            log.info("%s stopped", name)

    _run(run())


@app.command("follow")
def follow_command(metrics_port: MetricsPortOption = None) -> None:
    """The master: export topic -> raw rows + SQS FIFO messages, from the snapshot's offsets (SIGTERM stops)."""
    from services.migration.master import Master

    settings = MigrationSettings()
    _serve(
        "migration-master",
        settings,
        settings.migration_master_port if metrics_port is None else metrics_port,
        lambda settings, pool, queue, registry: Master(settings, pool, queue, registry),
    )


@app.command("work")
def work_command(metrics_port: MetricsPortOption = None) -> None:
    """A worker: SQS messages -> processed rows (run several; SIGTERM stops after the batch in hand)."""
    from services.migration.worker import Worker

    settings = MigrationSettings()
    _serve(
        "migration-worker",
        settings,
        settings.migration_worker_port if metrics_port is None else metrics_port,
        lambda settings, pool, queue, registry: Worker(settings, pool, queue, _context(settings), registry),
    )


@app.command("requeue")
def requeue_command(
    patterns: Annotated[
        list[str] | None,
        typer.Option("--pattern", help="Failure pattern code, e.g. ORPHAN_OWNER; repeat for several (default: all)."),
    ] = None,
    bucket: Annotated[str | None, typer.Option("--bucket", help="Only failures of this legacy bucket.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be requeued; send nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Send failed objects to the workers again once the cause is fixed (e.g. after a late `users import`)."""
    from services.migration.requeue import KNOWN_PATTERNS, select_requeue

    settings = MigrationSettings()
    codes = [pattern.upper() for pattern in patterns or []]
    unknown = [code for code in codes if code not in KNOWN_PATTERNS]
    if unknown:
        _fail(f"unknown failure pattern {', '.join(unknown)}: use one of {', '.join(KNOWN_PATTERNS)}")

    async def run() -> Any:
        async with _pool(settings) as pool:
            plan = await select_requeue(
                pool,
                _context(settings).mapping,
                codes,
                bucket,
                settings.migration_records_per_message,
                settings.migration_group_lanes,
            )
        if plan.messages and not dry_run:
            async with open_queue(settings) as queue:
                await queue.send(plan.messages)
        return plan

    plan = _run(run())
    if as_json:
        typer.echo(json.dumps(plan.to_json(dry_run=dry_run)))
        return
    verb = "would requeue" if dry_run else "requeued"
    console.print(f"{verb} {plan.records} failed object(s) in {len(plan.messages)} message(s)")
    for pattern, count in plan.requeued.items():
        console.print(f"  {pattern}: {count}")
    for pattern, count in plan.without_raw.items():
        console.print(f"  {pattern}: {count} without a raw row (nothing stored to process again; not requeued)")


def _status_table(data: dict[str, Any]) -> Table:
    table = Table(title=f"migration status ({data['region']}, topic {data['topic']})", show_header=False)
    if not data["change_capture_started"]:
        table.add_row("change capture", "not started: load the snapshot first (`vitalsync migrate snapshot FILE`)")
    for partition, entry in data["lag"].items():
        table.add_row(
            f"partition {partition}", f"lag {entry['lag']} (end {entry['end']}, committed {entry['committed']})"
        )
    for name in ("queue", "dlq"):
        depth = data[name]
        table.add_row(name, "n/a" if depth is None else f"{depth['visible']} visible, {depth['in_flight']} in flight")
    table.add_row("raw pending", str(data["pending"]))
    for bucket, counts in sorted(data["raw"].items()):
        table.add_row(f"raw {bucket}", ", ".join(f"{k} {v}" for k, v in counts.items()))
    for name, count in data["processed"].items():
        table.add_row(f"processed {name}", str(count))
    for pattern, count in data["failures"].items():
        table.add_row(f"failures {pattern}", str(count))
    return table


async def _read_status(settings: MigrationSettings) -> Any:
    from services.migration.status import read_status

    async with _pool(settings) as pool, open_queue(settings) as queue:
        return await read_status(settings, pool, queue)


@app.command("status")
def status_command(as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False) -> None:
    """Lag per partition, queue and DLQ depth, counts per bucket and type, failures per pattern."""
    data = _run(_read_status(MigrationSettings())).to_json()
    if as_json:
        typer.echo(json.dumps(data))
    else:
        Console().print(_status_table(data))


@cutover_app.command("check")
def check_command(
    report: Annotated[
        Path | None, typer.Option("--report", help="The validation report (report.json) whose verdict must pass.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print {ready, blockers, status} as JSON.")] = False,
) -> None:
    """Exit 0 only when lag is 0, the queues are drained, everything is processed, the schema matches the
    migrations and validation passed."""
    from services.migration.status import cutover_blockers, schema_blockers

    settings = MigrationSettings()
    status = _run(_read_status(settings))
    blockers = cutover_blockers(status, report, settings.db_name, _run(schema_blockers(settings)))
    if as_json:
        typer.echo(
            json.dumps(
                {"region": settings.region, "ready": not blockers, "blockers": blockers, "status": status.to_json()}
            )
        )
    elif blockers:
        typer.echo(f"region {settings.region}: not ready to cut over ({len(blockers)} blocker(s))")
        for blocker in blockers:
            typer.echo(f"  - {blocker}")
    else:
        typer.echo(f"region {settings.region}: ready to cut over")
    raise typer.Exit(0 if not blockers else 1)
