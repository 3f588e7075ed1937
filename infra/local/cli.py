"""``vitalsync stack up|down|status|logs``: the local stack without Docker."""

from __future__ import annotations

import json
import subprocess

import typer
from rich.console import Console
from rich.table import Table

from infra.local.edge import Edge, render_compose_config
from infra.local.errors import StackError
from infra.local.stack import Stack, status_as_dicts

app = typer.Typer(help="Local stack without Docker: MariaDB, Kafka, moto, nginx, services.", no_args_is_help=True)
console = Console(stderr=True)


def _fail(exc: StackError) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@app.command()
def up() -> None:
    """Install what is missing, start everything and wait until each part is ready."""
    stack = Stack()
    try:
        with console.status("starting the stack...") as spinner:

            def progress(name: str, message: str) -> None:
                spinner.update(f"{name}: {message}")
                if message in ("ready", "external", "already running") or message.startswith("schema"):
                    console.print(f"  {name:8} {message}")

            stack.up(progress)
    except StackError as exc:
        raise _fail(exc) from None
    console.print(
        f"stack is up: edge on http://127.0.0.1:{stack.settings.edge_port}  "
        f"(status: vitalsync stack status, logs in {stack.paths.root / 'logs'})"
    )


@app.command()
def demo() -> None:
    """Stack up, 20 simulated BLE devices, one gateway round for a demo user, then what arrived."""
    from infra.local.demo import DEMO_PASSWORD, DEMO_USER, run_demo

    stack = Stack()
    try:
        counts = run_demo(stack, lambda message: console.print(f"[bold]demo:[/bold] {message}"))
    except StackError as exc:
        raise _fail(exc) from None
    edge = f"http://127.0.0.1:{stack.settings.edge_port}"
    console.print(
        f"readings stored for user '{DEMO_USER}': " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    console.print(
        f"look around: log in with {DEMO_USER} / {DEMO_PASSWORD} at {edge}/v1/auth/token, then GET {edge}/v1/readings "
        f"and {edge}/v1/sync/changes; API docs at http://127.0.0.1:{stack.settings.auth_port}/openapi.json and "
        f"http://127.0.0.1:{stack.settings.sync_port}/openapi.json; logs in {stack.paths.root / 'logs'}; "
        f"gateway queue: vitalsync gateway report --state {stack.paths.root / 'demo' / 'gateway'}"
    )


@app.command()
def provision() -> None:
    """Apply migrations, create topics and AWS resources on running (possibly external) services."""
    try:
        Stack().provision(lambda name, message: console.print(f"  {name:8} {message}"))
    except StackError as exc:
        raise _fail(exc) from None


@app.command("render-edge")
def render_edge(
    compose: bool = typer.Option(False, "--compose", help="Render for docker compose (service hostnames)."),
) -> None:
    """Print the nginx edge config rendered from infra/local/nginx.conf."""
    stack = Stack()
    edge = stack.component("nginx")
    assert isinstance(edge, Edge)
    typer.echo(render_compose_config(stack.settings) if compose else edge.render(), nl=False)


@app.command()
def down() -> None:
    """Stop what `stack up` started (and nothing else)."""
    stopped = Stack().down()
    console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show each component: state, pid, port, readiness. Exit 1 when any is not ready."""
    rows = Stack().status()
    if as_json:
        typer.echo(json.dumps(status_as_dicts(rows)))
    else:
        table = Table("component", "state", "pid", "port", "ready")
        for r in rows:
            table.add_row(r.name, r.state, str(r.pid or "-"), str(r.port), "yes" if r.ready else "no")
        Console().print(table)
    raise typer.Exit(0 if all(r.ready for r in rows) else 1)


@app.command()
def logs(
    name: str = typer.Argument(..., help="Component: mariadb, kafka, moto, auth, sync, stats, relay, nginx."),
    lines: int = typer.Option(100, "-n", "--lines", help="How many lines from the end."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Keep printing new lines."),
) -> None:
    """Print a component's log."""
    stack = Stack()
    try:
        stack.component(name)
    except StackError as exc:
        raise _fail(exc) from None
    path = stack.paths.log(name)
    if not path.is_file():
        raise _fail(StackError(f"no log for {name} yet at {path}; start it with `vitalsync stack up`"))
    subprocess.run(["tail", "-n", str(lines), *(["-f"] if follow else []), str(path)], check=False)  # noqa: S603, S607
