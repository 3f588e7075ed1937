"""`vitalsync stack demo`: the whole chain on one machine, for a newcomer's first five minutes.

Brings the stack up, registers (or reuses) a demo user, starts a fleet of 20 simulated BLE devices in
its own process, runs one gateway collection round with its live panel, then prints what arrived
and where to look. Glue only: everything it does goes through the public command line and HTTP API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

from infra.local.component import REPO_ROOT
from infra.local.errors import StackError
from infra.local.processes import port_open, wait_until
from infra.local.stack import Stack

DEMO_USER = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "Blood-Pressure-Monday-42"  # noqa: S105 - the local demo account, documented in the README
SCENARIO = REPO_ROOT / "simulator" / "scenarios" / "mixed-20.yaml"
FLEET_PORT = int(os.environ.get("VITALSYNC_DEMO_FLEET_PORT", "8765"))


def _post(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local edge URL
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


def _get(url: str, token: str) -> dict[str, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - local edge URL
        return dict(json.load(response))


def demo_token(edge: str) -> str:
    """Log the demo user in, registering it the first time."""
    status, body = _post(
        f"{edge}/v1/auth/token", {"grant_type": "password", "username": DEMO_USER, "password": DEMO_PASSWORD}
    )
    if status == 200:
        return str(body["access_token"])
    status, body = _post(
        f"{edge}/v1/auth/register", {"login_name": DEMO_USER, "email": DEMO_EMAIL, "password": DEMO_PASSWORD}
    )
    if status != 201:
        raise StackError(f"cannot log in or register the demo user ({body.get('error', body)})")
    return str(body["access_token"])


def run_demo(stack: Stack, say: Any) -> dict[str, int]:
    """Run the demo; returns readings per type now stored for the demo user."""
    stack.up(lambda name, message: None)
    edge = f"http://127.0.0.1:{stack.settings.edge_port}"
    token = demo_token(edge)
    if port_open(FLEET_PORT):
        raise StackError(f"port {FLEET_PORT} is in use; set VITALSYNC_DEMO_FLEET_PORT to a free port")
    demo_dir = stack.paths.root / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    say(f"starting 20 simulated devices ({SCENARIO.name}) on sim://127.0.0.1:{FLEET_PORT}")
    with open(stack.paths.log("demo-fleet"), "ab") as fleet_log:
        fleet = subprocess.Popen(  # noqa: S603 - our own CLI
            [
                sys.executable,
                "-m",
                "vitalsync_cli",
                "sim",
                "fleet",
                "--scenario",
                str(SCENARIO),
                "--listen",
                f"127.0.0.1:{FLEET_PORT}",
                "--truth-out",
                str(demo_dir / "truth.json"),
            ],
            stdout=fleet_log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )
    try:
        if not wait_until(lambda: port_open(FLEET_PORT) or fleet.poll() is not None, 60) or fleet.poll() is not None:
            raise StackError(f"the simulator fleet did not start; see {stack.paths.log('demo-fleet')}")
        say("collecting with the gateway (one round: visit every device, upload, exit)")
        env = {**os.environ, "VITALSYNC_GATEWAY_PASSWORD": DEMO_PASSWORD}
        gateway = subprocess.run(  # noqa: S603 - our own CLI
            [
                sys.executable,
                "-m",
                "vitalsync_cli",
                "gateway",
                "run",
                "--radio",
                f"sim://127.0.0.1:{FLEET_PORT}",
                "--api",
                edge,
                "--user",
                DEMO_USER,
                "--state",
                str(demo_dir / "gateway"),
                "--once",
                "--metrics-port",
                "-1",
            ],
            env=env,
            cwd=REPO_ROOT,
            check=False,
        )
        if gateway.returncode != 0:
            raise StackError(f"the gateway exited with {gateway.returncode}; see its output above")
    finally:
        fleet.terminate()
        fleet.wait(30)
    counts: Counter[str] = Counter()
    cursor = None
    while True:
        page = _get(f"{edge}/v1/readings?limit=1000" + (f"&cursor={cursor}" if cursor else ""), token)
        counts.update(r["type"] for r in page["readings"])
        cursor = page["next_cursor"]
        if cursor is None:
            return dict(counts)
