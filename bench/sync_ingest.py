"""Benchmark: readings ingest through the edge (nginx -> sync) against a raw driver baseline.

The load generator is this process; auth, sync and nginx are the stack's own processes. Each of the
16 concurrent workers is its own user (one user's writes serialize on the user lock by design, see
shared/store/change_log.py), uploading batches of 50 or 200 new readings. Baseline, same run: the
same rows inserted with aiomysql ``executemany`` straight into ``readings`` (no HTTP, validation,
change_log or outbox).

    .venv/bin/python -m bench.sync_ingest [--seconds 20] [--json]
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


async def run_ingest(edge: str, batch_size: int, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    accepted = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as http:
        users = await asyncio.gather(*(make_user(http, edge) for _ in range(CONCURRENCY)))
        deadline = time.perf_counter() + seconds

        async def worker(token: str, device_id: str) -> None:
            nonlocal accepted
            n = 0
            while time.perf_counter() < deadline:
                batch = [reading(f"b{n + i}", n + i) for i in range(batch_size)]
                n += batch_size
                started = time.perf_counter()
                async with http.post(
                    f"{edge}/v1/readings:batch",
                    headers={"Authorization": f"Bearer {token}"},
                    json={"device_id": device_id, "readings": batch},
                ) as response:
                    body = await response.json()
                latencies.append(time.perf_counter() - started)
                accepted += sum(1 for r in body["results"] if r["status"] == "accepted")

        started = time.perf_counter()
        await asyncio.gather(*(worker(token, device) for _, token, device in users))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "batch_size": batch_size,
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


async def main_async(seconds: float) -> dict[str, object]:
    settings = CommonSettings()
    edge = f"http://127.0.0.1:{settings.edge_port}"
    results = []
    for batch_size in (50, 200):
        service = await run_ingest(edge, batch_size, seconds)
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
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.seconds)), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
