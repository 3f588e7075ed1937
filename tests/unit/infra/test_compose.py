"""docker-compose.yml and the launcher declare the same system: services, ports, environment, routing.

No Docker engine runs here, so the compose file is parsed and checked against the launcher's own
component list; a component added to one and not the other fails this test.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from infra.local.component import REPO_ROOT, StackPaths
from infra.local.edge import COMPOSE_CONFIG, render_compose_config
from infra.local.stack import Stack
from shared.settings import CommonSettings

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
ONE_SHOT = {"provision"}


def _stack() -> Stack:
    return Stack(CommonSettings.model_construct(), StackPaths(Path("/nonexistent")))


def test_same_components() -> None:
    declared = {c.compose_service for c in _stack().components}
    assert set(COMPOSE["services"]) - ONE_SHOT == declared


def test_same_published_ports() -> None:
    defaults = CommonSettings.model_construct()
    for component in Stack(defaults, StackPaths(Path("/nonexistent"))).components:
        ports = COMPOSE["services"][component.compose_service]["ports"]
        assert ports == [f"127.0.0.1:{component.port}:{component.port}"], component.name


def test_every_environment_name_is_a_real_setting() -> None:
    settings = {f"VITALSYNC_{name.upper()}" for name in CommonSettings.model_fields}
    launcher_only = {"VITALSYNC_STACK_DIR"}
    for name, service in COMPOSE["services"].items():
        for key in service.get("environment", {}):
            if key.startswith("VITALSYNC_"):
                assert key in settings | launcher_only, f"{name}: {key} is not a setting"


def test_service_port_variables_match_the_launcher() -> None:
    env = COMPOSE["x-service-env"]
    for component in _stack().components:
        if component.port_env.endswith("_PORT") and component.port_env in env:
            assert int(env[component.port_env]) == component.port, component.port_env


def test_every_long_running_service_has_a_healthcheck_and_ordered_start() -> None:
    for name, service in COMPOSE["services"].items():
        if name in ONE_SHOT:
            assert service["depends_on"] == {c: {"condition": "service_healthy"} for c in ("mysql", "kafka", "moto")}
            continue
        assert "healthcheck" in service, name
    for name in ("auth", "sync", "stats", "relay"):
        assert COMPOSE["services"][name]["command"] == ["python", "-m", f"services.{name}"]
        assert COMPOSE["services"][name]["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}


def test_compose_edge_config_is_the_rendered_template() -> None:
    assert COMPOSE_CONFIG.read_text() == render_compose_config(CommonSettings.model_construct())
