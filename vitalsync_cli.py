"""The ``vitalsync`` command: a thin root that mounts each package's own subcommands lazily.

Each package owns its commands (``shared/db/cli.py``, ``infra/local/cli.py``, ...); this module
only knows where they live, and imports one only when it is invoked, so ``vitalsync --help`` stays
fast even though some packages (Bumble, aiobotocore) are slow to import (DESIGN section 11).
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup

# command name -> ("module:attribute" of a typer.Typer, one-line help shown by `vitalsync --help`)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "stack": ("infra.local.cli:app", "Local stack without Docker: MariaDB, Kafka, moto, nginx, services."),
    "db": ("shared.db.cli:app", "Database schema: migrations and drift check."),
    "ble": ("shared.ble.cli:app", "Bluetooth GATT tools: decode captured frames."),
    "users": ("services.auth.cli:app", "Users: import from the legacy platform."),
    "sim": ("simulator.cli:app", "BLE device simulator: run a fleet from a scenario, replay captured frames."),
    "legacy": ("simulator.legacy.cli:app", "Legacy platform emulator: seed a dataset, serve its login API."),
    "migrate": ("services.migration.cli:app", "Migration: snapshot load, change capture (follow/work), status."),
    "cutover": ("services.migration.cli:cutover_app", "Cut-over readiness gate: lag, queues, validation verdict."),
    "validate": ("services.validation.cli:app", "Validate the migration: counts, checksums, diffs, failure patterns."),
    "stats": ("services.stats.cli:app", "Stats: run batch jobs, list their runs, verify the streaming aggregates."),
    "bench": ("bench.cli:app", "Benchmark data: seed users, devices and readings at bulk speed."),
    "gateway": ("services.gateway.cli:app", "BLE gateway: collect from health devices, queue offline, upload to sync."),
}


class LazyGroup(TyperGroup):
    """A typer group that imports a subcommand's module only when that subcommand runs."""

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in SUBCOMMANDS:
            return None
        module_name, attr = SUBCOMMANDS[cmd_name][0].split(":")
        return typer.main.get_command(getattr(importlib.import_module(module_name), attr))

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """List subcommands from the table, without importing them."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][1]) for name in sorted(SUBCOMMANDS)])


app = typer.Typer(cls=LazyGroup, no_args_is_help=True, add_completion=False, rich_markup_mode=None)


@app.callback()
def root() -> None:
    """VitalSync: backend, migration toolkit and BLE simulator for connected health devices."""


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
