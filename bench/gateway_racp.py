"""Benchmark: one bleak client fetching 1,000 stored glucose records over RACP on the simulated link.

The gateway's own session code (``DeviceSession.collect_racp``, bleak public API, Bumble backend
injected) fetches every record of a meter holding 1,000 readings (about 60 % with a Measurement
Context, so ~1,600 notifications), in-process (``sim://local``) and over TCP (a fleet process,
``sim://127.0.0.1:PORT``). Connect time is reported apart from the transfer. Baseline, same run:
decoding the same received frames with ``shared.ble`` alone (no radio); the ratio is what the
simulated radio costs per record over decoding.

    .venv/bin/python -m bench.gateway_racp [--json] [--records N] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

import yaml
from bleak import BleakScanner

from bench.gateway_common import machine, start_fleet
from services.gateway.connect import bleak_connector
from services.gateway.profiles import BLOOD_GLUCOSE
from services.gateway.radio import open_radio
from services.gateway.session import DeviceSession
from services.gateway.transfer import ReceivedRecord
from shared.ble.glucose import GlucoseMeasurement
from shared.ble.glucose_context import GlucoseMeasurementContext
from simulator.devices import GlucoseMeter, ReadingPlan

METER = "VS-GM-BENCH"


async def fetch(url: str, repeat: int) -> dict[str, Any]:
    """Best-of-``repeat`` connect and full-RACP-fetch times on ``url``; returns them and the frames."""
    radio = open_radio(url)
    try:
        device = await BleakScanner.find_device_by_filter(
            lambda d, _ad: d.name == METER, timeout=20, backend=radio.scanner_backend
        )
        assert device is not None, f"{METER} not found on {url}"
        connects, transfers = [], []
        frames: list[ReceivedRecord] = []
        for _ in range(repeat):
            frames = []

            async def sink(record: ReceivedRecord, into: list[ReceivedRecord] = frames) -> None:
                into.append(record)

            began = time.perf_counter()
            async with DeviceSession(device, BLOOD_GLUCOSE, connector=bleak_connector(radio.client_backend)) as session:
                connected = time.perf_counter()
                outcome = await session.collect_racp(None, sink)
                done = time.perf_counter()
            assert outcome.complete, outcome
            connects.append(connected - began)
            transfers.append(done - connected)
        return {"connect_s": min(connects), "transfer_s": min(transfers), "frames": frames}
    finally:
        await radio.close()


def decode_baseline(frames: list[ReceivedRecord], repeat: int) -> float:
    """Best time to decode the same measurement and context frames with shared.ble alone."""

    def decode_all() -> None:
        for record in frames:
            GlucoseMeasurement.from_bytes(record.frame)
            if record.context_frame is not None:
                GlucoseMeasurementContext.from_bytes(record.context_frame)

    return min(timeit.repeat(decode_all, number=1, repeat=max(repeat, 5)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    # In-process: the meter and the client's central share this event loop and one LocalLink.
    local_url = "sim://local/bench-racp"
    meter = GlucoseMeter(METER, readings=ReadingPlan(count=args.records, seed=3), link=local_url)
    await meter.start()
    try:
        local = await fetch(local_url, args.repeat)
    finally:
        await meter.stop()

    # TCP: the same meter in a fleet process; this process is the gateway.
    scenario = Path(tempfile.mkdtemp(prefix="bench-racp-")) / "one-meter.yaml"
    scenario.write_text(
        yaml.safe_dump(
            {
                "seed": 3,
                "end": "2025-06-01T09:00:00",
                "devices": [
                    {"kind": "glucose_meter", "count": 1, "name": METER, "records": args.records, "error_rate": 0.0}
                ],
            }
        )
    )
    fleet = start_fleet(scenario)
    try:
        tcp = await fetch(fleet.url, args.repeat)
    finally:
        fleet.stop()

    frames = local["frames"]
    assert len(frames) == args.records and len(tcp["frames"]) == args.records
    contexts = sum(1 for record in frames if record.context_frame is not None)
    baseline = decode_baseline(frames, args.repeat)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine(),
        "records": args.records,
        "context_frames": contexts,
        "in_process_connect_s": round(local["connect_s"], 3),
        "in_process_transfer_s": round(local["transfer_s"], 3),
        "in_process_records_per_s": round(args.records / local["transfer_s"]),
        "tcp_connect_s": round(tcp["connect_s"], 3),
        "tcp_transfer_s": round(tcp["transfer_s"], 3),
        "tcp_records_per_s": round(args.records / tcp["transfer_s"]),
        "decode_only_baseline_s": round(baseline, 4),
        "in_process_over_baseline": round(local["transfer_s"] / baseline, 1),
        "tcp_over_baseline": round(tcp["transfer_s"] / baseline, 1),
    }
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    asyncio.run(main())
