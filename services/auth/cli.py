"""``vitalsync users import FILE``: bring legacy users over with their legacy password hashes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.auth.config import AuthSettings
from services.auth.providers.factory import build_provider
from services.auth.sealing import Sealer
from services.auth.user_import import ImportReport, import_users
from shared.db.connection import DatabaseUnavailableError, checked_pool

app = typer.Typer(help="Users: import from the legacy platform.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def users() -> None:
    """Users: import from the legacy platform."""


@app.command("import")
def import_command(
    file: Path = typer.Argument(..., help="JSONL export: one legacy user per line."),
    hash_key_file: Path | None = typer.Option(
        None, "--hash-key-file", help="The legacy platform's hash key (for hmac-sha256 users); checked, not stored."
    ),
    report_file: Path | None = typer.Option(
        None, "--report", help="Where rejected lines go (default FILE.rejected.jsonl)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Create or update users without a password; their first login migrates the legacy password."""
    if not file.is_file():
        _fail(f"{file} does not exist or is not a file; pass the legacy users JSONL export")
    if hash_key_file is not None and (not hash_key_file.is_file() or not hash_key_file.read_bytes()):
        _fail(f"{hash_key_file} is missing or empty; pass the hash key file the legacy platform gave you")
    settings = AuthSettings()
    lines = file.read_text(encoding="utf-8", errors="replace").splitlines()
    try:
        report = asyncio.run(_run(settings, lines))
    except DatabaseUnavailableError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot reach the database ({exc}); start it with `vitalsync stack up` or set VITALSYNC_DB_*")
    report_path = report_file or file.with_name(file.name + ".rejected.jsonl")
    report_path.write_text("".join(json.dumps(r) + "\n" for r in report.rejected), encoding="utf-8")
    summary = {
        "created": report.created,
        "updated": report.updated,
        "rejected": len(report.rejected),
        "report": str(report_path),
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(
            f"imported {report.created} new, updated {report.updated}, rejected {len(report.rejected)} "
            f"(reasons in {report_path})"
        )
        if hash_key_file is None:
            console.print("note: hmac-sha256 users verify only when the service has VITALSYNC_LEGACY_HASH_KEY_FILE")


async def _run(settings: AuthSettings, lines: list[str]) -> ImportReport:
    pool = await checked_pool(settings)
    try:
        provider, _ = await build_provider(settings, pool, Sealer(settings.auth_secret.get_secret_value()))
        try:
            with Progress(
                TextColumn("importing users"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as progress:
                task = progress.add_task("import", total=len(lines))
                return await import_users(
                    iter(enumerate(lines, start=1)),
                    pool,
                    provider,
                    settings.region,
                    on_line=lambda: progress.advance(task),
                )
        finally:
            await provider.close()
    finally:
        pool.close()
        await pool.wait_closed()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)
