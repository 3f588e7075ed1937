"""What every locally launched component has in common: files under ``.stack``, a port, a pid.

A component subclass says how to install, prepare, start, probe and provision itself; the
orchestration (order, idempotence, rollback) lives in :mod:`infra.local.stack`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from infra.local.errors import StackError
from shared.settings import CommonSettings

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackPaths:
    """The launcher's state directory (git-ignored): data, logs and pid files."""

    root: Path

    @classmethod
    def from_env(cls) -> StackPaths:
        return cls(Path(os.environ.get("VITALSYNC_STACK_DIR", REPO_ROOT / ".stack")).resolve())

    def data(self, name: str) -> Path:
        return self.root / name

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def pid(self, name: str) -> Path:
        return self.root / "run" / f"{name}.pid"

    def ensure(self) -> None:
        """Create the directories, or fail with the path and the fix when they cannot be written."""
        for sub in ("logs", "run"):
            try:
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StackError(
                    f"cannot create {self.root / sub} ({exc.strerror}); make it writable or set "
                    "VITALSYNC_STACK_DIR to a writable directory"
                ) from exc


class Component:
    """Base class; subclasses override the hooks they need."""

    name: str = ""
    #: the key of this component in VITALSYNC_STACK_EXTERNAL
    external_key: str = ""
    #: its service name in docker-compose.yml (the two must not drift apart)
    compose_service: str = ""
    startup_timeout_s: float = 60.0
    stop_timeout_s: float = 20.0

    def __init__(self, settings: CommonSettings, paths: StackPaths) -> None:
        self.settings = settings
        self.paths = paths
        self.compose_service = self.compose_service or self.name

    @property
    def port(self) -> int:
        raise NotImplementedError

    @property
    def port_env(self) -> str:
        """The environment variable that moves this component's port."""
        raise NotImplementedError

    @property
    def external(self) -> bool:
        """True when VITALSYNC_STACK_EXTERNAL names this component: use it, never start or stop it."""
        listed = os.environ.get("VITALSYNC_STACK_EXTERNAL", "")
        return self.external_key in {part.strip() for part in listed.split(",")}

    def install(self) -> None:
        """Make the binaries available (apt, Maven, pip) or raise StackError naming the fix."""

    def prepare(self) -> None:
        """Create data directories and config files before the process starts."""

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        """The argv and environment (None: inherit) of the process."""
        raise NotImplementedError

    def ready(self) -> bool:
        """A quick probe: True when the component serves requests."""
        raise NotImplementedError

    def provision(self) -> None:
        """Idempotent set-up once ready: users, topics, queues."""

    def failure_hint(self) -> str:
        """What to tell the user when the process exits or never becomes ready."""
        return f"see {self.paths.log(self.name)}"


def find_binary(names: tuple[str, ...], extra_dirs: tuple[str, ...] = ("/usr/sbin", "/usr/bin")) -> str | None:
    """The first of ``names`` on PATH or in ``extra_dirs`` (Debian puts daemons in /usr/sbin)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), *extra_dirs])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    return None


def apt_install(packages: list[str], why: str) -> None:
    """Install Debian packages when running as root; otherwise say exactly what to run."""
    command = f"apt-get install -y {' '.join(packages)}"
    apt = shutil.which("apt-get")
    if os.geteuid() != 0 or apt is None:
        raise StackError(f"{why}: not installed; run `sudo {command}` (or point VITALSYNC_* at an external one)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for attempt in ("install", "update-then-install"):
        if attempt == "update-then-install":
            subprocess.run([apt, "update", "-q"], env=env, capture_output=True, check=False)  # noqa: S603
        result = subprocess.run(  # noqa: S603
            [apt, "install", "-y", "-q", *packages],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0:
            return
    tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
    raise StackError(f"{why}: `{command}` failed ({tail[0]}); check the package sources and retry")
