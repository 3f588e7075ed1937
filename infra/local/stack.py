"""Bring the local stack up and down in dependency order, idempotently, rolling back on failure.

Phases start together and are awaited together (MariaDB, Kafka and moto boot in parallel), then
provisioned; services come after their infrastructure and the edge comes last. ``up`` reuses
whatever of ours already runs; ``down`` stops only processes whose pid files we wrote.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from infra.local.component import REPO_ROOT, Component, StackPaths
from infra.local.edge import Edge
from infra.local.errors import StackError
from infra.local.kafka_broker import KafkaBroker
from infra.local.mariadb import MariaDB
from infra.local.moto_server import MotoServer
from infra.local.processes import (
    last_error_line,
    port_open,
    running_pid,
    start_process,
    stop_process,
    wait_until,
)
from infra.local.services import SERVICE_NAMES, Service
from shared.settings import CommonSettings

Progress = Callable[[str, str], None]  # (component name, what is happening)


@dataclass
class ComponentStatus:
    """One row of ``vitalsync stack status``."""

    name: str
    state: str  # running | stopped | external
    pid: int | None
    port: int
    ready: bool


class Stack:
    """The declared components, in start order by phase."""

    def __init__(self, settings: CommonSettings | None = None, paths: StackPaths | None = None) -> None:
        self.settings = settings or CommonSettings()
        self.paths = paths or StackPaths.from_env()
        s, p = self.settings, self.paths
        self.phases: list[list[Component]] = [
            [MariaDB(s, p), KafkaBroker(s, p), MotoServer(s, p)],
            [Service(name, s, p) for name in SERVICE_NAMES],
            [Edge(s, p)],
        ]

    @property
    def components(self) -> list[Component]:
        return [c for phase in self.phases for c in phase]

    def component(self, name: str) -> Component:
        for component in self.components:
            if component.name == name:
                return component
        raise StackError(f"unknown component {name!r}; choose one of {', '.join(self.names())}")

    def names(self) -> list[str]:
        return [c.name for c in self.components]

    def up(self, on_progress: Progress = lambda name, message: None) -> list[str]:
        """Start what is not running; return the names started now. On failure stop those again."""
        self.paths.ensure()
        started: list[Component] = []
        try:
            for phase in self.phases:
                launched = []
                for component in phase:
                    if self._launch(component, on_progress):
                        started.append(component)
                        launched.append(component)
                for component in phase:
                    self._await_ready(component, on_progress)
                    if not component.external:
                        component.provision()
                    if component.name == "mariadb":
                        self._migrate(on_progress)
        except BaseException:
            for component in reversed(started):
                stop_process(self.paths.pid(component.name), component.stop_timeout_s)
            raise
        return [c.name for c in started]

    def _launch(self, component: Component, on_progress: Progress) -> bool:
        """Start ``component`` unless it is external or already ours; True when started now."""
        if component.external:
            on_progress(component.name, "external")
            return False
        pid_file = self.paths.pid(component.name)
        if running_pid(pid_file) is not None:
            on_progress(component.name, "already running")
            return False
        if port_open(component.port):
            raise StackError(
                f"{component.name}: port {component.port} is in use by another process; stop it or set "
                f"{component.port_env} to a free port"
            )
        on_progress(component.name, "installing")
        component.install()
        component.prepare()
        argv, env = component.command()
        log = self.paths.log(component.name)
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle:
            handle.write(f"\n--- started by vitalsync stack up at {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n")
        start_process(argv, log, pid_file, env=env, cwd=REPO_ROOT)
        on_progress(component.name, "starting")
        return True

    def _await_ready(self, component: Component, on_progress: Progress) -> None:
        pid_file = self.paths.pid(component.name)

        def ready_or_dead() -> bool:
            return component.ready() or (not component.external and running_pid(pid_file) is None)

        if not wait_until(ready_or_dead, component.startup_timeout_s) or not component.ready():
            died = not component.external and running_pid(pid_file) is None
            what = "exited during start-up" if died else f"not ready after {component.startup_timeout_s:g}s"
            cause = last_error_line(self.paths.log(component.name)) if not component.external else "no answer"
            raise StackError(f"{component.name} {what}: {cause}; {component.failure_hint()}")
        on_progress(component.name, "ready")

    def _migrate(self, on_progress: Progress) -> None:
        """Apply pending migrations, so the services start against the declared schema."""
        import asyncio

        from shared.db.connection import DatabaseUnavailableError
        from shared.db.migrations import MigrationError, migrate_database

        try:
            applied = len(asyncio.run(migrate_database(self.settings)))
        except (DatabaseUnavailableError, MigrationError, ValueError) as error:
            raise StackError(f"cannot migrate database {self.settings.db_name}: {error}") from None
        on_progress("mariadb", f"schema up to date ({applied} migration(s) applied)")

    def provision(self, on_progress: Progress = lambda name, message: None) -> None:
        """Declare schema, topics and AWS resources on already running (e.g. external) components."""
        for component in self.phases[0]:
            self._await_ready(component, on_progress)
        self._migrate(on_progress)
        for component in self.phases[0]:
            if not isinstance(component, MariaDB):  # its provisioning needs the local root socket
                component.provision()
                on_progress(component.name, "provisioned")

    def down(self) -> list[str]:
        """Stop the components this stack started, edge first; return the names stopped."""
        stopped = []
        for component in reversed(self.components):
            if stop_process(self.paths.pid(component.name), component.stop_timeout_s):
                stopped.append(component.name)
        return stopped

    def status(self) -> list[ComponentStatus]:
        """Each component's state, pid, port and readiness."""
        rows = []
        for component in self.components:
            pid = running_pid(self.paths.pid(component.name))
            state = "external" if component.external else ("running" if pid else "stopped")
            ready = component.ready() if (pid or component.external) else False
            rows.append(ComponentStatus(component.name, state, pid, component.port, ready))
        return rows


def status_as_dicts(rows: list[ComponentStatus]) -> list[dict[str, object]]:
    """Rows for ``--json``."""
    return [asdict(r) for r in rows]
