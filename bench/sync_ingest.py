"""Benchmark: readings ingest through the edge (nginx -> sync) against a raw driver baseline.

The load generator is this process; auth, sync and nginx are the stack's own processes. Each of the
16 concurrent workers is its own user (one user's writes serialize on the user lock by design, see
shared/store/change_log.py), uploading batches of 50 or 200 new readings. Baseline, same run: the
same rows inserted with aiomysql ``executemany`` straight into ``readings`` (no HTTP, validation,
change_log or outbox).

    .venv/bin/python -m bench.sync_ingest [--seconds 20] [--rate 5000] [--json]

Without ``--rate`` the 16 users post in a closed loop (throughput ceiling); with it, batches are offered
at that rate (open loop) and latency counts from when each batch was due.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from typing import Any

import aiohttp

from shared.db.connection import connect
from shared.settings import CommonSettings

CONCURRENCY = 16
PASSWORD = "Bench-Ingest-Password-1"


def reading(client_id: str, n: int) -> dict[str, object]:
    return {
        "client_id": client_id,
        "type": "blood_pressure",
        "measured_at": f"2026-11-{1 + n % 25:02d}T{n % 24:02d}:{n % 60:02d}:00+09:00",
        "values": {"systolic": 110 + n % 40, "diastolic": 70 + n % 20, "pulse": 60 + n % 30, "unit": "mmHg"},
    }


async def make_user(http: aiohttp.ClientSession, edge: str) -> tuple[str, str, str]:
    name = f"bench{uuid.uuid4().hex[:12]}"
    async with http.post(
        f"{edge}/v1/auth/register", json={"login_name": name, "email": f"{name}@example.com", "password": PASSWORD}
    ) as response:
        body = await response.json()
    token = body["access_token"]
    async with http.post(
        f"{edge}/v1/devices",
        headers={"Authorization": f"Bearer {token}"},
        json={"kind": "blood_pressure", "model": "BP-7000", "serial": name},
    ) as response:
        device = await response.json()
    return body["user_id"], token, device["id"]


class Uploader:
    """Posts numbered batches of new readings for one user; counts what the service accepted."""

    def __init__(self, http: aiohttp.ClientSession, edge: str, token: str, device_id: str) -> None:
        self.http, self.edge, self.token, self.device_id = http, edge, token, device_id
        self.sent = 0
        self.accepted = 0

    async def post(self, batch_size: int) -> None:
        batch = [reading(f"b{self.sent + i}", self.sent + i) for i in range(batch_size)]
        self.sent += batch_size
        async with self.http.post(
            f"{self.edge}/v1/readings:batch",
            headers={"Authorization": f"Bearer {self.token}"},
            json={"device_id": self.device_id, "readings": batch},
        ) as response:
            body = await response.json()
        self.accepted += sum(1 for r in body["results"] if r["status"] == "accepted")


async def run_ingest(edge: str, batch_size: int, seconds: float, rate: float | None = None) -> dict[str, Any]:
    """Closed loop (each of 16 users posts again as soon as answered) or, with ``rate``, open loop.

    Open loop: a batch is due every ``batch_size / rate`` seconds whether or not earlier ones were
    answered; it waits for a free user (at most 16 in flight) and its latency counts from the moment it
    was due, so a slow service shows up in p99 instead of silently lowering the offered load.
    """
    latencies: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
        users = await asyncio.gather(*(make_user(http, edge) for _ in range(CONCURRENCY)))
        uploaders = [Uploader(http, edge, token, device) for _, token, device in users]
        started = time.perf_counter()
        deadline = started + seconds

        async def closed_loop(uploader: Uploader) -> None:
            while time.perf_counter() < deadline:
                sent_at = time.perf_counter()
                await uploader.post(batch_size)
                latencies.append(time.perf_counter() - sent_at)

        async def due(free: asyncio.Queue[Uploader], due_at: float) -> None:
            uploader = await free.get()
            await uploader.post(batch_size)
            latencies.append(time.perf_counter() - due_at)
            free.put_nowait(uploader)

        if rate is None:
            await asyncio.gather(*(closed_loop(u) for u in uploaders))
        else:
            free: asyncio.Queue[Uploader] = asyncio.Queue()
            for uploader in uploaders:
                free.put_nowait(uploader)
            interval = batch_size / rate
            pending = []
            for k in range(int(seconds / interval)):
                await asyncio.sleep(max(0.0, started + k * interval - time.perf_counter()))
                pending.append(asyncio.create_task(due(free, started + k * interval)))
            await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    accepted = sum(u.accepted for u in uploaders)
    latencies.sort()
    return {
        "batch_size": batch_size,
        "offered_per_s": rate or "closed loop",
        "requests": len(latencies),
        "readings_accepted": accepted,
        "readings_per_s": round(accepted / elapsed),
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 1),
    }


async def run_baseline(rows: int, batch_size: int) -> float:
    """Readings/s of aiomysql executemany into the same table, same row shape, one connection per worker."""
    settings = CommonSettings()
    async with aiohttp.ClientSession() as http:
        user_id, _, device_id = await make_user(http, f"http://127.0.0.1:{settings.edge_port}")
    per_worker = rows // CONCURRENCY

    async def worker(w: int) -> None:
        conn = await connect(settings)
        try:
            async with conn.cursor() as cur:
                for start in range(0, per_worker, batch_size):
                    values = [
                        (
                            user_id,
                            device_id,
                            "blood_pressure",
                            f"base-{w}-{start + i}",
                            f"2026-11-01 {i % 24:02d}:00:00",
                            120.0,
                            "mmHg",
                            json.dumps(reading("x", start + i)["values"]),
                            "api",
                        )
                        for i in range(batch_size)
                    ]
                    await conn.begin()
                    await cur.executemany(
                        "INSERT INTO readings (user_id, device_id, type, client_id, measured_at, primary_value, "
                        "original_unit, reading_values, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        values,
                    )
                    await conn.commit()
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
    return per_worker * CONCURRENCY / (time.perf_counter() - started)


async def main_async(seconds: float, rate: float | None) -> dict[str, object]:
    settings = CommonSettings()
    edge = f"http://127.0.0.1:{settings.edge_port}"
    results = []
    for batch_size in (50, 200):
        service = await run_ingest(edge, batch_size, seconds, rate)
        baseline = await run_baseline(min(int(service["readings_accepted"]), 200_000), batch_size)
        service["executemany_baseline_per_s"] = round(baseline)
        service["service_over_baseline"] = round(service["readings_per_s"] / baseline, 3)
        results.append(service)
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "concurrency": CONCURRENCY,
        "seconds_per_run": seconds,
        "runs": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, help="offer this many readings/s (open loop) instead of closed loop")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.seconds, args.rate)), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
