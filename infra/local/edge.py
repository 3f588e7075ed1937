"""nginx from Debian packages as the local edge router (the ALB's path rules on AWS)."""

from __future__ import annotations

import getpass
import os
import urllib.request
from pathlib import Path

from infra.local.component import Component, apt_install, find_binary
from shared.settings import CommonSettings

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
        """The config for this machine: loopback only, state under .stack."""
        # nginx only honours `user` when its master runs as root: keep workers as the invoking user
        user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
        return render_edge_config(
            self.settings,
            user_directive=user,
            prefix=str(self.prefix),
            log_dir=str(self.paths.root / "logs"),
        )

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


COMPOSE_CONFIG = Path(__file__).resolve().parents[1] / "compose" / "nginx.conf"


def render_edge_config(
    settings: CommonSettings,
    *,
    user_directive: str = "",
    prefix: str = "/var/cache/nginx",
    log_dir: str = "/var/log/nginx",
    listen_host: str = "127.0.0.1",
    upstream_hosts: dict[str, str] | None = None,
) -> str:
    """Fill the template: the launcher and docker compose share one routing table."""
    hosts = upstream_hosts or {}
    values = {
        "user_directive": user_directive,
        "prefix": prefix,
        "log_dir": log_dir,
        "listen_host": listen_host,
        "edge_port": settings.edge_port,
        "auth_port": settings.auth_port,
        "sync_port": settings.sync_port,
        "stats_port": settings.stats_port,
        **{f"{name}_host": hosts.get(name, "127.0.0.1") for name in ("auth", "sync", "stats")},
    }
    text = TEMPLATE.read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", str(value))
    return text


def render_compose_config(settings: CommonSettings) -> str:
    """The edge config for docker compose: listen on all interfaces, upstreams by service name."""
    return render_edge_config(
        settings,
        listen_host="0.0.0.0",  # noqa: S104 - inside the compose network, published on loopback only
        upstream_hosts={"auth": "auth", "sync": "sync", "stats": "stats"},
    )
