"""``vitalsync legacy seed|serve|export``: write a legacy dataset, serve its login API, play its Kafka export."""

from __future__ import annotations

import errno
import json
import tempfile
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import (
    HASH_KEY_FILE,
    MANIFEST_FILE,
    SNAPSHOT_FILE,
    USERS_FILE,
    WrittenDataset,
    write_dataset,
)
from simulator.legacy.partitioning import DEFAULT_PARTITIONS

app = typer.Typer(
    help="The legacy platform we migrate off (Kii Cloud): seed a dataset, serve its login API.",
    no_args_is_help=True,
    add_completion=False,
)

DEFAULT_PORT = 8090


@app.callback()
def legacy() -> None:
    """Stand-in for the legacy platform: deterministic datasets and its login API."""


def _fail(message: str) -> NoReturn:
    """One line on stderr and exit code 2 (bad arguments or an unusable directory)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _writable_directory(out: Path) -> None:
    """Create out if needed and prove a file can be written there, before any work is done."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        _fail(f"cannot write to {out}: {exc.strerror or exc}")


def _summary(written: WrittenDataset, elapsed_s: float) -> Table:
    counts = written.manifest["counts"]
    table = Table(title=f"legacy dataset in {written.directory} ({elapsed_s:.1f} s)", show_header=False)
    table.add_row("users", str(counts["users"]))
    table.add_row("things", str(counts["things"]))
    table.add_row("objects", str(counts["objects"]))
    for bucket, count in counts["buckets"].items():
        table.add_row(f"  bucket {bucket}", str(count))
    for scheme, count in counts["hash_schemes"].items():
        table.add_row(f"  hash {scheme}", str(count))
    for category, keys in written.manifest["edge_cases"].items():
        table.add_row(f"  edge case {category}", str(len(keys)))
    offsets = ", ".join(f"{p}:{o}" for p, o in written.manifest["snapshot"]["offsets"].items())
    table.add_row("snapshot offsets", offsets)
    return table


@app.command("seed")
def seed_command(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the dataset files into.")],
    users: Annotated[int, typer.Option("--users", help="Number of legacy users (at least 1).")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same files.")] = 1,
    partitions: Annotated[
        int, typer.Option("--partitions", help="Partitions of the export topic.")
    ] = DEFAULT_PARTITIONS,
    json_output: Annotated[bool, typer.Option("--json", help="Print the manifest counts as JSON.")] = False,
) -> None:
    """Generate a deterministic legacy dataset: users.jsonl, passwords.json, hash.key, things.jsonl,
    snapshot.jsonl.gz, manifest.json."""
    if users < 1:
        _fail(f"--users must be at least 1 (got {users})")
    if partitions < 1:
        _fail(f"--partitions must be at least 1 (got {partitions})")
    _writable_directory(out)
    started = time.perf_counter()
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        user_task = progress.add_task("hashing users", total=users)
        dataset = generate_dataset(users, seed, progress=lambda n: progress.advance(user_task, n))
        record_task = progress.add_task("writing snapshot", total=len(dataset.objects))
        try:
            written = write_dataset(
                dataset, out, partitions=partitions, progress=lambda n: progress.advance(record_task, n)
            )
        except OSError as exc:
            _fail(f"cannot write to {out}: {exc.strerror or exc}")
    elapsed_s = time.perf_counter() - started
    if json_output:
        typer.echo(json.dumps({"directory": str(out), "elapsed_s": round(elapsed_s, 3), **written.manifest["counts"]}))
    else:
        Console().print(_summary(written, elapsed_s))


@app.command("serve")
def serve_command(
    directory: Annotated[Path, typer.Option("--dir", help="A dataset directory written by `legacy seed`.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = DEFAULT_PORT,
    latency_ms: Annotated[int, typer.Option("--latency-ms", help="Delay added to every login.")] = 0,
    failure_rate: Annotated[float, typer.Option("--failure-rate", help="Share of logins answered 503 (0 to 1).")] = 0.0,
    down: Annotated[bool, typer.Option("--down", help="Answer every login 503.")] = False,
) -> None:
    """Serve the legacy login API (POST /api/oauth2/token) for the dataset's users."""
    if latency_ms < 0:
        _fail(f"--latency-ms must not be negative (got {latency_ms})")
    if not 0.0 <= failure_rate <= 1.0:
        _fail(f"--failure-rate must be between 0 and 1 (got {failure_rate})")
    if not 0 < port < 65536:
        _fail(f"--port must be between 1 and 65535 (got {port})")
    missing = [name for name in (USERS_FILE, HASH_KEY_FILE, MANIFEST_FILE) if not (directory / name).is_file()]
    if missing:
        _fail(f"{directory} is not a legacy dataset (missing {', '.join(missing)}); run `legacy seed` first")
    # Imported here: aiohttp and the logging setup are only needed by this command.
    from aiohttp import web

    from shared.logging import configure_logging
    from simulator.legacy.login_server import create_legacy_login_app

    configure_logging("legacy-emulator")
    try:
        web.run_app(
            create_legacy_login_app(directory, latency_ms=latency_ms, failure_rate=failure_rate, down=down),
            host=host,
            port=port,
        )
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is already in use (another `legacy serve`?): pass --port with a free one")
        _fail(f"cannot listen on {host}:{port} ({error.strerror or error}); pass --host and --port that this host has")


@app.command("export")
def export_command(
    directory: Annotated[Path, typer.Option("--dir", help="A dataset directory written by `legacy seed`.")],
    changes: Annotated[int, typer.Option("--changes", help="Change records to produce after the snapshot.")] = 0,
    rate: Annotated[
        float, typer.Option("--rate", help="Changes per second (0: as fast as the broker takes them).")
    ] = 0.0,
    changes_seed: Annotated[int, typer.Option("--changes-seed", help="Seed of the change stream.")] = 1,
    topic: Annotated[str | None, typer.Option("--topic", help="Export topic (default: the snapshot header's).")] = None,
    bootstrap: Annotated[
        str | None, typer.Option("--bootstrap", help="Kafka bootstrap servers (default: VITALSYNC_KAFKA_BOOTSTRAP).")
    ] = None,
    snapshot: Annotated[
        bool,
        typer.Option("--snapshot/--no-snapshot", help="Produce the snapshot's records first (then fix its header)."),
    ] = True,
    json_output: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Produce the snapshot to the export topic (header rewritten with the real offsets), then the changes."""
    if changes < 0 or rate < 0:
        _fail("--changes and --rate must not be negative")
    missing = [name for name in (MANIFEST_FILE, SNAPSHOT_FILE) if not (directory / name).is_file()]
    if missing:
        _fail(f"{directory} is not a legacy dataset (missing {', '.join(missing)}); run `legacy seed` first")
    import asyncio

    from shared.settings import CommonSettings
    from simulator.legacy.changes import generate_changes
    from simulator.legacy.dataset import DatasetMismatchError, load_dataset
    from simulator.legacy.export_stream import ExportError, export

    try:
        dataset = load_dataset(directory)
    except DatasetMismatchError as exc:
        _fail(str(exc))
    servers = bootstrap or CommonSettings().kafka_bootstrap
    with Progress(
        TextColumn("producing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("export", total=(len(dataset.objects) if snapshot else 0) + changes)
        try:
            result = asyncio.run(
                export(
                    directory,
                    generate_changes(dataset, changes, changes_seed),
                    bootstrap=servers,
                    topic=topic,
                    rate=rate,
                    produce_snapshot=snapshot,
                    progress=lambda n: progress.advance(task, n),
                )
            )
        except (ExportError, OSError) as exc:
            _fail(str(exc))
    summary = {
        "snapshot_records": result.snapshot_records,
        "changes": result.changes,
        "offsets": {str(p): o for p, o in sorted(result.offsets.items())},
        "elapsed_s": round(result.elapsed_s, 3),
    }
    if json_output:
        typer.echo(json.dumps(summary))
    else:
        Console().print(
            f"produced {result.snapshot_records} snapshot records and {result.changes} changes in "
            f"{result.elapsed_s:.1f} s; snapshot offsets {summary['offsets']}"
        )
