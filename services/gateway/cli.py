"""``vitalsync gateway``: run the BLE gateway, list nearby health devices, report the queue.

``run`` collects from devices and uploads to sync until Ctrl-C (or, with ``--once``, until every
device seen has been visited and the queue is drained). ``scan`` lists health devices in range (for
testers pairing real devices). ``report`` prints what the offline queue holds, including the
readings kept as unsendable or rejected, with their reasons and raw frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from services.gateway.config import DEFAULT_STATE_DIR, QUEUE_FILE, ConfigFileError, GatewaySettings, load_settings
from services.gateway.errors import GatewayError
from services.gateway.profiles import HEALTH_SERVICE_UUIDS, profile_for_services
from services.gateway.radio import RadioError, open_radio
from shared.logging import configure_logging

app = typer.Typer(help="BLE gateway: collect from health devices, queue offline, upload to sync.", no_args_is_help=True)
console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

RadioOption = Annotated[
    str | None, typer.Option("--radio", help="'bluez' (real adapter) or a simulator URL such as sim://127.0.0.1:8765.")
]
StateOption = Annotated[
    Path | None, typer.Option("--state", help=f"Directory of the offline queue (default {DEFAULT_STATE_DIR}).")
]


@app.command()
def run(
    radio: RadioOption = None,
    api: Annotated[str | None, typer.Option("--api", help="Edge URL, e.g. http://127.0.0.1:8080.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Login name or email of the sync account.")] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", help="Password (prefer VITALSYNC_GATEWAY_PASSWORD: options show in ps)."),
    ] = None,
    state: StateOption = None,
    max_concurrent: Annotated[int | None, typer.Option("--max-concurrent", help="Devices visited at once.")] = None,
    once: Annotated[bool, typer.Option("--once", help="Visit every device seen once, drain the queue, exit.")] = False,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Port of /metrics (0: any free port, -1: off).")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option("--timezone", help="Zone of device clocks, e.g. Europe/Berlin (default: this machine's)."),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", exists=True, dir_okay=False, help="YAML file with the same settings.")
    ] = None,
    progress: Annotated[str | None, typer.Option("--progress", help="auto | live | log | none.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout at the end.")] = False,
) -> None:
    """Collect from BLE health devices and upload their readings to sync."""
    from services.gateway.app import run_gateway

    overrides: dict[str, Any] = {
        "radio": radio,
        "api_url": api,
        "user": user,
        "password": password,
        "state_dir": state,
        "max_concurrent": max_concurrent,
        "once": once or None,
        "metrics_port": metrics_port,
        "timezone": timezone,
        "progress": progress,
    }
    try:
        settings = load_settings(config, overrides)
        open_radio(settings.radio)
    except (ConfigFileError, ValidationError, RadioError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    if settings.user is None or settings.password is None:
        console.print("[red]error:[/red] give --user and --password (or VITALSYNC_GATEWAY_USER / _PASSWORD)")
        raise typer.Exit(2)
    _configure_logging(settings)

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        return await run_gateway(settings, stop, console=console)

    try:
        summary = asyncio.run(main())
    except GatewayError as error:
        console.print(f"[red]error:[/red] {error}\n{error.advice}")
        raise typer.Exit(1) from error
    if json_output:
        sys.stdout.write(json.dumps(summary.to_json()) + "\n")
    if settings.once and not summary.drained:
        console.print("[yellow]readings still pending upload; they stay queued for the next run[/yellow]")
        raise typer.Exit(1)


@app.command()
def scan(
    radio: RadioOption = None,
    seconds: Annotated[float, typer.Option("--seconds", help="How long to listen.")] = 10.0,
    json_output: Annotated[bool, typer.Option("--json", help="JSON lines instead of a table.")] = False,
) -> None:
    """List BLE health devices in range (blood pressure, scale, thermometer, glucose)."""
    from bleak import BleakScanner

    try:
        chosen = open_radio(radio or GatewaySettings().radio)
    except RadioError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error

    async def listen() -> list[dict[str, Any]]:
        try:
            found = await BleakScanner.discover(
                timeout=seconds,
                return_adv=True,
                service_uuids=list(HEALTH_SERVICE_UUIDS),
                backend=chosen.scanner_backend,
            )
        finally:
            await chosen.close()
        rows = []
        for device, advertisement in found.values():
            profile = profile_for_services(advertisement.service_uuids)
            if profile is not None:
                rows.append(
                    {"address": device.address, "name": device.name, "kind": profile.kind, "rssi": advertisement.rssi}
                )
        return sorted(rows, key=lambda row: (row["kind"], row["name"] or ""))

    rows = asyncio.run(listen())
    if json_output:
        for row in rows:
            sys.stdout.write(json.dumps(row) + "\n")
        return
    table = Table("address", "name", "kind", "rssi", title=f"{len(rows)} health device(s)")
    for row in rows:
        table.add_row(row["address"], row["name"] or "-", row["kind"], str(row["rssi"]))
    Console().print(table)


@app.command()
def report(
    state: StateOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
) -> None:
    """What the offline queue holds: counts, and every unsendable or rejected reading with its reason."""
    from services.gateway.queue import OfflineQueue

    path = (state or GatewaySettings().state_dir) / QUEUE_FILE
    if not path.exists():
        console.print(f"[red]error:[/red] no queue at {path}")
        raise typer.Exit(2)

    async def read() -> tuple[dict[str, int], list[dict[str, Any]]]:
        async with OfflineQueue(path) as queue:
            return await queue.counts(), await queue.problems()

    counts, problems = asyncio.run(read())
    if json_output:
        sys.stdout.write(json.dumps({"queue": counts, "problems": problems}, indent=2) + "\n")
        return
    out = Console()
    totals = Table("status", "rows", title=str(path))
    for status, count in counts.items():
        totals.add_row(status, str(count))
    out.print(totals)
    table = Table("device", "status", "measured at", "reason", "flags", title="kept, not uploaded (--json: frames)")
    for row in problems:
        device = row["device"]
        table.add_row(
            device["name"] or device["serial"],
            row["status"],
            row["measured_at"] or "-",
            row["reason"] or "",
            ", ".join(row["flags"]),
        )
    out.print(table)


@app.command()
def frames(
    state: StateOption = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Advertised name or serial number (default: every device).")
    ] = None,
) -> None:
    """Print the raw frames the gateway received, one hex frame per line (``sim replay --frames`` format).

    Each line is a measurement exactly as the device sent it; pipe one into ``vitalsync ble decode
    --char UUID HEX`` or save the output as a replay file for ``vitalsync sim replay``.
    """
    from services.gateway.profiles import profile_for_kind
    from services.gateway.queue import OfflineQueue

    path = (state or GatewaySettings().state_dir) / QUEUE_FILE
    if not path.exists():
        console.print(f"[red]error:[/red] no queue at {path}")
        raise typer.Exit(2)

    async def read() -> list[dict[str, Any]]:
        async with OfflineQueue(path) as queue:
            return await queue.frames(device)

    rows = asyncio.run(read())
    current = None
    for row in rows:
        owner = (row["name"], row["serial"])
        if owner != current:
            current = owner
            uuid = profile_for_kind(row["kind"]).measurement
            sys.stdout.write(f"# {row['name'] or '-'} {row['model']} {row['serial']}: {row['kind']}, char {uuid:04x}\n")
        sys.stdout.write(f"{row['frame_hex']}  # {row['measured_at'] or row['reason'] or ''}\n")


def _configure_logging(settings: GatewaySettings) -> None:
    """JSON lines on stderr, or rich log lines above the live panel when that is shown on a terminal."""
    live = settings.progress == "live" or (settings.progress == "auto" and console.is_terminal)
    if live:
        handler = RichHandler(console=console, show_path=False, rich_tracebacks=False)
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(settings.log_level.upper())
    else:
        configure_logging("gateway", settings.log_level)
    # Bumble and bleak are chatty at INFO; their warnings still show.
    for name in ("bumble", "bleak", "bleak_retry_connector"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
