"""Helpers the gateway benchmarks share: fleet processes, scenarios, accounts, process memory."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "Correct-Horse-42"
KINDS = ("blood_pressure", "weight_scale", "thermometer", "glucose_meter")


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def loopback_address() -> str:
    """A random 127.x.y.z (auth throttles per source address; stay clear of 127.0.0.1)."""
    rng = random.SystemRandom()
    return f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def mixed_scenario(devices: int, records: int, error_rate: float = 0.0, **behaviour: Any) -> Path:
    """A scenario file with ``devices`` split evenly over the four kinds, ``records`` each."""
    groups = []
    for index, kind in enumerate(KINDS):
        count = devices // len(KINDS) + (1 if index < devices % len(KINDS) else 0)
        if count:
            groups.append({"kind": kind, "count": count, "records": records, "error_rate": error_rate})
    data = {"seed": 77, "end": "2025-06-01T09:00:00", "devices": groups}
    if behaviour:
        data["defaults"] = {"behaviour": behaviour}
    handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, prefix="bench-fleet-")
    with handle:
        yaml.safe_dump(data, handle)
    return Path(handle.name)


@dataclass
class FleetProcess:
    """A ``vitalsync sim fleet`` process and its ground truth."""

    process: subprocess.Popen[bytes]
    url: str
    truth: dict[str, Any]
    started_s: float

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def start_fleet(scenario: Path, within_s: float = 120.0) -> FleetProcess:
    """Start a fleet on a free port; return once its ground truth is written (it is then serving)."""
    port = free_port()
    truth_path = Path(tempfile.mkdtemp(prefix="bench-truth-")) / "truth.json"
    began = time.monotonic()
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = began + within_s
    while not truth_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"fleet for {scenario} did not start")
        time.sleep(0.05)
    truth = json.loads(truth_path.read_text())
    return FleetProcess(process, f"sim://127.0.0.1:{port}", truth, time.monotonic() - began)


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a live process from /proc (VmRSS now, VmHWM peak), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not found for {pid}")


async def register(edge: str, source: str) -> dict[str, Any]:
    """A fresh user through the edge; returns the register response plus login name and password."""
    name = f"bench{uuid.uuid4().hex[:12]}"
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0))) as http,
        http.post(
            f"{edge}/v1/auth/register", json={"login_name": name, "email": f"{name}@example.com", "password": PASSWORD}
        ) as response,
    ):
        assert response.status == 201, await response.text()
        return {**(await response.json()), "login_name": name, "password": PASSWORD}


def machine() -> str:
    """Cores and architecture, for the results table."""
    import platform

    return f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"
