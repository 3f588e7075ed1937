"""``vitalsync sim``: run simulated BLE health devices for a gateway in another process.

``fleet`` runs the devices of a scenario on a link served over TCP and writes their ground truth;
``replay`` runs one device that plays back captured frames. A gateway reaches either with
``--radio sim://HOST:PORT`` (bleak backend :mod:`simulator.radio`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from bumble.link import LocalLink
from rich.console import Console
from rich.table import Table

from shared.ble.errors import UnknownCharacteristicError
from shared.ble.registry import parse_uuid
from simulator.devices.base import SimulatedDevice
from simulator.devices.behaviours import Behaviour
from simulator.devices.fleet import Scenario, ScenarioError
from simulator.devices.replay import ReplayDevice, parse_frames
from simulator.radio.link import LinkServer
from simulator.radio.url import RADIO_URL_ENV

app = typer.Typer(
    help="Simulated BLE health devices (Bumble) that a gateway reaches over a TCP-served virtual link.",
    no_args_is_help=True,
)
# Human-readable output goes to stderr so that stdout can carry the ground-truth JSON.
console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)

ListenOption = Annotated[
    str, typer.Option("--listen", help="HOST:PORT to serve the simulated link on; port 0 picks a free port.")
]
DurationOption = Annotated[
    float | None, typer.Option("--duration", help="Stop after this many seconds (default: run until Ctrl-C).")
]


def _host_port(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise typer.BadParameter(f"expected HOST:PORT, got {listen!r}", param_hint="--listen")
    return host or "127.0.0.1", int(port)


@app.command()
def fleet(
    scenario: Annotated[
        Path, typer.Option("--scenario", exists=True, dir_okay=False, help="Scenario YAML (kinds, counts, seed).")
    ],
    listen: ListenOption = "127.0.0.1:8765",
    truth_out: Annotated[
        Path | None, typer.Option("--truth-out", help="Write the ground truth JSON here (default: stdout).")
    ] = None,
    duration: DurationOption = None,
) -> None:
    """Run the devices of a scenario and print how a gateway connects to them."""
    try:
        parsed = Scenario.load(scenario)
    except (ScenarioError, OSError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    asyncio.run(_serve(parsed.build, _host_port(listen), truth_out, duration, scenario))


@app.command()
def replay(
    char: Annotated[str, typer.Option("--char", help="Characteristic UUID, e.g. 2a35 or the 128-bit form.")],
    frames: Annotated[
        Path, typer.Option("--frames", exists=True, dir_okay=False, help="One hex frame per line, # comments.")
    ],
    listen: ListenOption = "127.0.0.1:8765",
    name: Annotated[str, typer.Option("--name", help="Advertised local name.")] = "VS-REPLAY",
    service: Annotated[
        str | None, typer.Option("--service", help="Service UUID (default: the SIG service owning --char).")
    ] = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between frames.")] = 0.0,
    pairing_required: Annotated[bool, typer.Option("--pairing-required", help="Require an encrypted link.")] = False,
    truth_out: Annotated[Path | None, typer.Option("--truth-out", help="Write the ground truth JSON here.")] = None,
    duration: DurationOption = None,
) -> None:
    """Run one device that sends captured frames on one characteristic when a collector subscribes."""
    try:
        characteristic = parse_uuid(char)
        service_uuid = parse_uuid(service) if service else None
        captured = parse_frames(frames.read_text(encoding="utf-8"))
    except (UnknownCharacteristicError, ValueError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    behaviour = Behaviour(record_interval_s=interval, pairing_required=pairing_required)

    def build(link: LocalLink) -> list[SimulatedDevice]:
        return [
            ReplayDevice(
                name,
                characteristic=characteristic,
                frames=captured,
                service=service_uuid,
                behaviour=behaviour,
                link=link,
            )
        ]

    asyncio.run(_serve(build, _host_port(listen), truth_out, duration, frames))


async def _serve(
    build: Callable[[LocalLink], list[SimulatedDevice]],
    listen: tuple[str, int],
    truth_out: Path | None,
    duration: float | None,
    source: Path,
) -> None:
    link = LocalLink()
    devices: list[SimulatedDevice] = build(link)
    async with LinkServer(link, *listen) as server, contextlib.AsyncExitStack() as stack:
        for device in devices:
            await stack.enter_async_context(device)
        truth = {
            "radio": server.url,
            "source": str(source),
            "started_at": dt.datetime.now().isoformat(timespec="seconds"),
            "devices": [device.ground_truth() for device in devices],
        }
        _announce(server.url, devices, truth_out)
        text = json.dumps(truth, indent=2)
        if truth_out is None:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        else:
            # Write then rename, so a watcher never reads half a file.
            partial = truth_out.with_name(truth_out.name + ".partial")
            partial.write_text(text + "\n", encoding="utf-8")
            partial.replace(truth_out)
        await _until_stopped(duration)


def _announce(url: str, devices: list[SimulatedDevice], truth_out: Path | None) -> None:
    table = Table("name", "kind", "address", "records", "upload", "pairing", title=f"{len(devices)} devices")
    for device in devices:
        behaviour = device.behaviour
        table.add_row(
            device.name,
            device.KIND,
            device.address,
            str(len(device.store)),
            behaviour.upload_policy.value,
            "required" if behaviour.pairing_required else "-",
        )
    console.print(table)
    console.print(f"Simulated radio: [bold]{url}[/bold]")
    console.print(f"Connect a gateway with [bold]--radio {url}[/bold] (or {RADIO_URL_ENV}={url}).")
    console.print(f"Ground truth: {truth_out if truth_out else 'stdout'}. Stop with Ctrl-C.")


async def _until_stopped(duration: float | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration):
            await stop.wait()
