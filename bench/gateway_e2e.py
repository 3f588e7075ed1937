"""Benchmark: one gateway process, fleet -> gateway -> edge -> sync, until every reading is accepted.

For each fleet (the mixed-20 scenario, and the issue's 50 devices x 100 records of mixed kinds) a
fleet process and a gateway process (``python -m services.gateway run --once``) are started; the
wall time runs from the gateway's start until it exits with its queue drained (every sendable
reading accepted by sync, checked against the database). Reported: devices/s, readings/s and the
gateway's peak RSS (``wait4``). Baseline, same run: the same readings POSTed straight to
``/v1/readings:batch`` through the edge in batches of 500 (no BLE, no queue), for a second user.

    .venv/bin/python -m bench.gateway_e2e [--json] [--max-concurrent N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import pymysql

from bench.gateway_common import REPO, loopback_address, machine, mixed_scenario, register, start_fleet
from infra.local.stack import Stack

MIXED_20 = REPO / "simulator" / "scenarios" / "mixed-20.yaml"


def run_gateway(stack: Stack, url: str, account: dict[str, Any], source: str, max_concurrent: int) -> dict[str, Any]:
    """Run a gateway process to completion; returns its summary, wall time and peak RSS."""
    state = Path(tempfile.mkdtemp(prefix="bench-gateway-"))
    env = {
        **os.environ,
        "VITALSYNC_GATEWAY_RADIO": url,
        "VITALSYNC_GATEWAY_API_URL": f"http://127.0.0.1:{stack.settings.edge_port}",
        "VITALSYNC_GATEWAY_USER": account["login_name"],
        "VITALSYNC_GATEWAY_PASSWORD": account["password"],
        "VITALSYNC_GATEWAY_STATE_DIR": str(state),
        "VITALSYNC_GATEWAY_TIMEZONE": "UTC",
        "VITALSYNC_GATEWAY_SOURCE_ADDRESS": source,
        "VITALSYNC_GATEWAY_METRICS_PORT": "-1",
        "VITALSYNC_GATEWAY_SCAN_S": "2",
        "VITALSYNC_GATEWAY_RECORD_IDLE_S": "0.5",
        "VITALSYNC_GATEWAY_MAX_CONCURRENT": str(max_concurrent),
    }
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "services.gateway", "run", "--once", "--json", "--progress", "none"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, f"gateway exited {process.returncode}"
    summary = json.loads(output.decode().strip().splitlines()[-1])
    return {"summary": summary, "wall_s": wall, "rss_mb": usage.ru_maxrss / 1024, "queue": state / "queue.sqlite3"}


def stored_count(stack: Stack, user_id: str) -> int:
    settings = stack.settings
    connection = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        database=settings.db_name,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM readings WHERE user_id = %s", (user_id,))
            return int(cursor.fetchone()[0])
    finally:
        connection.close()


async def baseline_upload(edge: str, queue_path: Path, source: str) -> dict[str, Any]:
    """POST the gateway's sent readings (new client ids) straight to sync, batches of 500, one user."""
    with sqlite3.connect(queue_path) as db:
        devices = db.execute("SELECT device_key, kind, model, serial FROM devices").fetchall()
        rows = db.execute("SELECT device_key, payload FROM readings WHERE status = 'sent' ORDER BY id").fetchall()
    account = await register(edge, source)
    headers = {"Authorization": f"Bearer {account['access_token']}"}
    by_device: dict[str, list[dict[str, Any]]] = {}
    for key, payload in rows:
        reading = json.loads(payload)
        reading["client_id"] = "base." + reading["client_id"]
        by_device.setdefault(key, []).append(reading)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)), headers=headers) as http:
        began = time.monotonic()
        accepted = 0
        for key, kind, model, serial in devices:
            async with http.post(f"{edge}/v1/devices", json={"kind": kind, "model": model, "serial": serial}) as r:
                device_id = (await r.json())["id"]
            readings = by_device.get(key, [])
            for start in range(0, len(readings), 500):
                body = {"device_id": device_id, "readings": readings[start : start + 500]}
                async with http.post(f"{edge}/v1/readings:batch", json=body) as response:
                    results = (await response.json())["results"]
                accepted += sum(1 for result in results if result["status"] == "accepted")
        return {"readings": accepted, "wall_s": time.monotonic() - began}


async def bench_fleet(stack: Stack, name: str, scenario: Path, max_concurrent: int) -> dict[str, Any]:
    edge = f"http://127.0.0.1:{stack.settings.edge_port}"
    source = loopback_address()
    fleet = start_fleet(scenario)
    try:
        account = await register(edge, source)
        result = await asyncio.to_thread(run_gateway, stack, fleet.url, account, source, max_concurrent)
    finally:
        fleet.stop()
    summary = result["summary"]
    stored = stored_count(stack, account["user_id"])
    assert summary["drained"] and stored == summary["queue"]["sent"], (stored, summary)
    base = await baseline_upload(edge, result["queue"], source)
    devices = len(fleet.truth["devices"])
    return {
        "fleet": name,
        "devices": devices,
        "records_on_devices": sum(len(d["records"]) for d in fleet.truth["devices"]),
        "readings_stored": stored,
        "unsendable_kept": summary["queue"]["unsendable"],
        "max_concurrent": max_concurrent,
        "wall_s": round(result["wall_s"], 2),
        "devices_per_s": round(devices / result["wall_s"], 2),
        "readings_per_s": round(stored / result["wall_s"], 1),
        "gateway_peak_rss_mb": round(result["rss_mb"], 1),
        "baseline_direct_upload_s": round(base["wall_s"], 2),
        "baseline_readings_per_s": round(base["readings"] / base["wall_s"], 1),
        "e2e_over_baseline_time": round(result["wall_s"] / base["wall_s"], 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--max-concurrent", type=int, default=4)
    args = parser.parse_args()
    stack = Stack()
    await asyncio.to_thread(stack.up)
    fleets = [("mixed-20", MIXED_20), ("mixed-50x100", mixed_scenario(50, 100))]
    results = [await bench_fleet(stack, name, path, args.max_concurrent) for name, path in fleets]
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "results": results}
    print(json.dumps(report, indent=None if args.json else 2))


if __name__ == "__main__":
    asyncio.run(main())
