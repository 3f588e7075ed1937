"""``vitalsync validate``: compare the legacy final state with the new database; exit 0 pass, 1 fail, 2 error.

One command (mounted by the root CLI as ``validate``); the outputs land in ``--out``: report.json,
report.html and failed-keys.csv (services/validation/README.md).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.validation.errors import ValidatorError
from services.validation.offsets import parse_offsets
from services.validation.report import Report
from services.validation.validator import AUTO, ValidateOptions, validate
from shared.db.connection import DatabaseUnavailableError
from shared.legacy.transform import MappingError
from shared.settings import CommonSettings

EXIT_PASS, EXIT_FAIL, EXIT_ERROR = 0, 1, 2

app = typer.Typer(add_completion=False, rich_markup_mode=None)
console = Console(stderr=True)


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(EXIT_ERROR)


def _summary(report: Report, out: Path) -> Table:
    table = Table(title=f"validation: {report.verdict.upper()} ({report.duration_s:.1f} s)")
    for name in ("type", "legacy", "failed", "expected", "new DB", "missing", "extra", "differing"):
        table.add_column(name, justify="left" if name == "type" else "right")
    for row in report.per_type:
        table.add_row(
            row.type,
            f"{row.legacy_objects:,}",
            f"{row.legacy_failed:,}",
            f"{row.expected_rows:,}",
            f"{row.target_rows:,}",
            f"{row.missing:,}",
            f"{row.extra:,}",
            f"{row.mismatched:,}",
        )
    for pattern in report.patterns:
        table.add_row(f"  {pattern.pattern}", "", "", "", "", "", "", f"{pattern.count:,} {pattern.status}")
    table.caption = f"{out}/report.html · report.json · failed-keys.csv"
    return table


@app.command("validate")
def validate_command(
    legacy: Annotated[
        Path, typer.Option("--legacy", help="Legacy export directory: snapshot.jsonl.gz, changes.jsonl(.gz).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for report.json, report.html, failed-keys.csv.")],
    upto_offsets: Annotated[
        str | None,
        typer.Option("--upto-offsets", help="PARTITION:OFFSET,...: apply change records below these offsets only."),
    ] = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Verdict rules YAML (default: the packaged rules).")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", help="Database name (default VITALSYNC_DB_NAME).")
    ] = None,
    kafka_topic: Annotated[
        str | None,
        typer.Option(
            "--kafka-topic",
            help="Read the changes from this topic (from the snapshot's offsets up to --upto-offsets or the "
            "current end) instead of DIR/changes.jsonl(.gz).",
        ),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Bucket mapping YAML (default: the old app's).")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Transform processes (0: one per core, 1 for small inputs).")
    ] = 0,
    json_encoding: Annotated[
        str,
        typer.Option("--json-encoding", help="How stored JSON is hashed: auto (probe the table) or an encoding name."),
    ] = AUTO,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json to stdout instead of a table.")] = False,
) -> None:
    """Validate the migration: counts, segment checksums, field diffs, failures by pattern (issue 9)."""
    if not legacy.is_dir():
        _fail(f"--legacy {legacy} is not a directory")
    try:
        options = ValidateOptions(
            legacy_dir=legacy,
            out_dir=out,
            settings=CommonSettings(),
            database=database,
            upto_offsets=parse_offsets(upto_offsets),
            rules_path=rules,
            mapping_path=str(mapping) if mapping else None,
            workers=workers,
            json_encoding=json_encoding,
            kafka_topic=kafka_topic,
        )
        with Progress(
            SpinnerColumn(),
            TextColumn("legacy objects transformed: {task.completed:,.0f}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=as_json,
        ) as progress:
            task = progress.add_task("validate", total=None)
            report = asyncio.run(validate(options, lambda n: progress.advance(task, n)))
    except (ValidatorError, MappingError, DatabaseUnavailableError, OSError) as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        Console().print(_summary(report, out))
        for reason in report.verdict_reasons:
            console.print(f"[red]✗[/red] {reason}", highlight=False)
    raise typer.Exit(EXIT_PASS if report.verdict == "pass" else EXIT_FAIL)
