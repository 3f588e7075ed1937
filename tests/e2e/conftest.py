"""End-to-end fixtures: a simulator fleet in its own process, fresh sync accounts, gateway settings.

The fleet is started exactly as a tester would (``python -m vitalsync_cli sim fleet --scenario ...
--listen 127.0.0.1:<free port> --truth-out FILE``) and is ready when its ground-truth file appears
(written atomically). Every test gets its own fleet, account and queue directory, so tests are
independent. Each account talks to the edge from its own loopback address (127.x.y.z): auth
throttles failed logins per source address, and other suites' deliberate failures from 127.0.0.1
must not lock these tests out (nor theirs these).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from infra.local.stack import Stack
from services.gateway.config import GatewaySettings
from tests.conftest import free_port, subprocess_env
from tests.e2e.ground_truth import load_truth

REPO = Path(__file__).resolve().parents[2]
MIXED_20 = REPO / "simulator" / "scenarios" / "mixed-20.yaml"
FLEET_24 = Path(__file__).with_name("fleet-24.yaml")
PASSWORD = "Correct-Horse-42"
FLEET_START_S = 60.0


@dataclass
class Fleet:
    """A running fleet process: its radio URL and ground truth."""

    url: str
    truth: dict[str, Any]
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Account:
    """A fresh sync user and the loopback address it connects from."""

    login_name: str
    password: str
    user_id: str
    source_address: str


@pytest.fixture
def start_fleet(tmp_path: Path) -> Iterator[Callable[[Path], Fleet]]:
    """``start_fleet(scenario)``: a fleet process serving its link on a free port, stopped at teardown."""
    started: list[Fleet] = []

    def start(scenario: Path) -> Fleet:
        port = free_port()
        truth_path = tmp_path / f"truth-{port}.json"
        log = tmp_path / f"fleet-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "vitalsync_cli",
                    "sim",
                    "fleet",
                    "--scenario",
                    str(scenario),
                    "--listen",
                    f"127.0.0.1:{port}",
                    "--truth-out",
                    str(truth_path),
                ],
                cwd=REPO,
                env=subprocess_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + FLEET_START_S
        while not truth_path.exists():
            assert process.poll() is None, f"fleet exited: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "fleet did not write its ground truth in time"
            time.sleep(0.05)  # polling a file another process writes; bounded by the deadline above
        fleet = Fleet(f"sim://127.0.0.1:{port}", load_truth(truth_path), process, log)
        started.append(fleet)
        return fleet

    yield start
    for fleet in started:
        fleet.process.terminate()
        try:
            fleet.process.wait(10)
        except subprocess.TimeoutExpired:
            fleet.process.kill()
            fleet.process.wait(10)


def loopback_address() -> str:
    """A random 127.x.y.z other than 127.0.0.1 (the whole 127/8 is this machine on Linux)."""
    rng = random.SystemRandom()
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


@pytest.fixture
async def account(stack: Stack) -> AsyncIterator[Account]:
    """A newly registered user (through the edge), like a tester's demo account."""
    name = f"gw{uuid.uuid4().hex[:12]}"
    source = loopback_address()
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        body = {"login_name": name, "email": f"{name}@example.com", "password": PASSWORD}
        async with http.post(f"http://127.0.0.1:{stack.settings.edge_port}/v1/auth/register", json=body) as response:
            assert response.status == 201, await response.text()
            data = await response.json()
    yield Account(name, PASSWORD, data["user_id"], source)


def gateway_settings(stack: Stack, fleet: Fleet, account: Account, state: Path, **overrides: Any) -> GatewaySettings:
    """Settings of a test gateway: this fleet, the edge, this account, Tokyo time, fast timings."""
    values: dict[str, Any] = {
        "radio": fleet.url,
        "api_url": f"http://127.0.0.1:{stack.settings.edge_port}",
        "user": account.login_name,
        "password": account.password,
        "state_dir": state,
        "max_concurrent": 4,
        "once": True,
        "scan_s": 2.0,
        "first_record_s": 2.0,
        "record_idle_s": 0.5,
        "metrics_port": 0,
        "timezone": "Asia/Tokyo",
        "source_address": account.source_address,
        "progress": "none",
        "drain_timeout_s": 60.0,
    }
    values.update(overrides)
    return GatewaySettings(**values)


async def wait_for(condition: Callable[[], Any], within_s: float, what: str, every_s: float = 0.1) -> Any:
    """Poll ``condition`` (sync or async) until it returns something truthy; fail after ``within_s``."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out after {within_s} s waiting for {what}"
        await asyncio.sleep(every_s)
