"""Benchmark: `vitalsync stack up` cold and warm, and each service's idle RSS (issue: foundation).

Runs an isolated stack (own state dir and ports) so a running development stack is untouched.
Baselines measured in the same run:
- startup: a bare Kafka broker (the slowest component) started directly with `java kafka.Kafka` on
  a formatted store, until it accepts connections — the floor any launcher pays;
- RSS: a minimal aiohttp hello-world process, the floor of any aiohttp service.

    .venv/bin/python -m bench.stack_startup [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from infra.local.component import StackPaths
from infra.local.processes import port_open, wait_until
from infra.local.stack import Stack
from shared.settings import CommonSettings

PORTS = {
    "VITALSYNC_DB_PORT": "13306",
    "VITALSYNC_KAFKA_BOOTSTRAP": "127.0.0.1:19092",
    "VITALSYNC_KAFKA_CONTROLLER_PORT": "19093",
    "VITALSYNC_AWS_ENDPOINT_URL": "http://127.0.0.1:15000",
    "VITALSYNC_EDGE_PORT": "18080",
    "VITALSYNC_AUTH_PORT": "18081",
    "VITALSYNC_SYNC_PORT": "18082",
    "VITALSYNC_STATS_PORT": "18083",
    "VITALSYNC_RELAY_PORT": "18086",
}
IDLE_SETTLE_S = 5.0
HELLO = (
    "from aiohttp import web\n"
    "async def h(r): return web.Response(text='ok')\n"
    "app = web.Application(); app.router.add_get('/', h)\n"
    "web.run_app(app, host='127.0.0.1', port=18099, print=None)\n"
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def timed_up(stack: Stack) -> float:
    started = time.perf_counter()
    stack.up()
    return time.perf_counter() - started


def bare_kafka_start(stack: Stack) -> float:
    """Start the broker of the (stopped) bench stack directly and time until it accepts connections."""
    kafka = stack.component("kafka")
    argv, _ = kafka.command()
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: port_open(kafka.port) and kafka.ready(), 120), "bare kafka did not start"
        return time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(60)


def hello_rss() -> float:
    proc = subprocess.Popen([sys.executable, "-c", HELLO])
    try:
        assert wait_until(lambda: port_open(18099), 30)
        time.sleep(IDLE_SETTLE_S)
        return rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="vitalsync-bench-"))
    os.environ.update(PORTS)
    stack = Stack(CommonSettings(), StackPaths(state))
    # share the resolved Kafka jars: "cold" means packages and jars present, no state
    jars = StackPaths.from_env().data("kafka") / "libs"
    if jars.is_dir():
        shutil.copytree(jars, state / "kafka" / "libs")
    try:
        cold = timed_up(stack)
        time.sleep(IDLE_SETTLE_S)
        rss = {
            name: rss_mb(row.pid)
            for row in stack.status()
            if (name := row.name) in ("auth", "sync", "stats", "relay") and row.pid
        }
        stack.down()
        bare = bare_kafka_start(stack)
        warm = timed_up(stack)
        stack.down()
        baseline_rss = hello_rss()
    finally:
        stack.down()
        shutil.rmtree(state, ignore_errors=True)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "stack_up_cold_s": round(cold, 2),
        "stack_up_warm_s": round(warm, 2),
        "bare_kafka_start_s": round(bare, 2),
        "warm_over_bare_kafka": round(warm / bare, 2),
        "idle_rss_mb": {k: round(v, 1) for k, v in rss.items()},
        "aiohttp_hello_rss_mb": round(baseline_rss, 1),
        "rss_over_hello": {k: round(v / baseline_rss, 2) for k, v in rss.items()},
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
