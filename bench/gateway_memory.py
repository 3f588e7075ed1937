"""Benchmark: resident memory of a simulator fleet process with 100 devices (target under 300 MB).

A ``vitalsync sim fleet`` process runs 100 devices (25 of each kind, 20 stored records each, all
advertising on one TCP-served link); its RSS is read from /proc once it has written its ground truth
and again after a settling period (advertising running). Baseline, same run: an idle Python process
that has imported Bumble (device, controller, link, transports) and the simulator package.

    .venv/bin/python -m bench.gateway_memory [--json] [--devices N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from bench.gateway_common import REPO, machine, mixed_scenario, rss_mb, start_fleet

SETTLE_S = 5.0
BASELINE = (
    "import sys, bumble.device, bumble.controller, bumble.link, bumble.transport, simulator.devices;"
    "sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()"
)


def baseline_rss() -> float:
    """RSS of an idle Python process with Bumble and the simulator imported."""
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        assert process.stdout.readline().strip() == b"ready"
        return rss_mb(process.pid)
    finally:
        process.stdin.close()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--devices", type=int, default=100)
    args = parser.parse_args()
    base = baseline_rss()
    fleet = start_fleet(mixed_scenario(args.devices, 20))
    try:
        at_start = rss_mb(fleet.process.pid)
        time.sleep(SETTLE_S)  # advertising for a while: the steady state, not a condition to wait for
        settled = rss_mb(fleet.process.pid)
        peak = rss_mb(fleet.process.pid, "VmHWM")
    finally:
        fleet.stop()
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "devices": len(fleet.truth["devices"]),
        "fleet_start_s": round(fleet.started_s, 2),
        "fleet_rss_mb_at_start": round(at_start, 1),
        "fleet_rss_mb_settled": round(settled, 1),
        "fleet_peak_rss_mb": round(peak, 1),
        "baseline_bumble_idle_rss_mb": round(base, 1),
        "fleet_over_baseline": round(settled / base, 2),
        "per_device_mb": round((settled - base) / len(fleet.truth["devices"]), 2),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
