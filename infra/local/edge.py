"""nginx from Debian packages as the local edge router (the ALB's path rules on AWS)."""

from __future__ import annotations

import getpass
import os
import urllib.request
from pathlib import Path

from infra.local.component import Component, apt_install, find_binary

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf"


class Edge(Component):
    name = "nginx"
    external_key = "edge"
    startup_timeout_s = 15.0

    @property
    def port(self) -> int:
        return self.settings.edge_port

    @property
    def port_env(self) -> str:
        return "VITALSYNC_EDGE_PORT"

    @property
    def marker(self) -> str:  # type: ignore[override]
        # nginx rewrites its title and cuts the tail of argv, so the marker must come early: -p PREFIX
        return str(self.prefix)

    @property
    def prefix(self) -> Path:
        return self.paths.data("nginx")

    def install(self) -> None:
        if not find_binary(("nginx",)):
            apt_install(["nginx"], "nginx (the edge router)")

    def prepare(self) -> None:
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "tmp" / sub).mkdir(parents=True, exist_ok=True)
        (self.prefix / "nginx.conf").write_text(self.render())

    def render(self) -> str:
        """The config with ports and paths filled in (also used by tests to check routing rules)."""
        # nginx only honours `user` when its master runs as root: keep workers as the invoking user
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        values = {
            "user_directive": user,
            "prefix": str(self.prefix),
            "log_dir": str(self.paths.root / "logs"),
            "edge_port": self.settings.edge_port,
            "auth_port": self.settings.auth_port,
            "sync_port": self.settings.sync_port,
            "stats_port": self.settings.stats_port,
        }
        text = TEMPLATE.read_text()
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", str(value))
        return text

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        return [
            str(find_binary(("nginx",))),
            "-p",
            str(self.prefix),
            "-c",
            str(self.prefix / "nginx.conf"),
            "-g",
            "daemon off;",
        ], None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/nginx-health", timeout=2) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False
