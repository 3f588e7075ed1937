"""The VitalSync services (auth, sync, stats, outbox relay) as local processes: ``python -m services.<name>``."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

from infra.local.component import Component, StackPaths
from infra.local.mariadb import MariaDB
from shared.settings import CommonSettings


class Service(Component):
    """One aiohttp service; ready when its /readyz says so (database and Kafka reachable)."""

    startup_timeout_s = 30.0
    stop_timeout_s = 35.0  # above the services' graceful shutdown timeout

    def __init__(self, service: str, settings: CommonSettings, paths: StackPaths) -> None:
        self.name = service
        self.external_key = service
        super().__init__(settings, paths)

    @property
    def port(self) -> int:
        return int(getattr(self.settings, f"{self.name}_port"))

    @property
    def port_env(self) -> str:
        return f"VITALSYNC_{self.name.upper()}_PORT"

    def command(self) -> tuple[list[str], dict[str, str] | None]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # moto assigns the Cognito ids at start-up: hand them to the services so they accept its tokens
        resources = self.paths.root / "aws.json"
        if resources.is_file():
            cognito = json.loads(resources.read_text()).get("cognito", {})
            env.setdefault("VITALSYNC_COGNITO_USER_POOL_ID", cognito.get("user_pool_id", ""))
            env.setdefault("VITALSYNC_COGNITO_CLIENT_ID", cognito.get("app_client_id", ""))
        for key, value in MariaDB(self.settings, self.paths).client_env().items():
            env.setdefault(key, value)
        return [sys.executable, "-m", f"services.{self.name}"], env

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as resp:
                return bool(json.load(resp).get("ready"))
        except (OSError, ValueError, urllib.error.HTTPError):
            return False


SERVICE_NAMES = ("auth", "sync", "stats", "relay")
