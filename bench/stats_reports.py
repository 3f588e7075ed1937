"""Benchmark: reports API latency (p50/p99) of the stats service on a seeded dataset (issue 7).

The stats service runs as its own process (``python -m services.stats`` on a free port, consumer and
scheduler off) against a seeded database whose aggregates were built (``vitalsync stats rebuild``) and
whose jobs ran (``vitalsync stats run``); it trusts a benchmark-only token issuer whose JWKS this process
serves. Each report is requested in a closed loop, first one request at a time (latency), then at
concurrency 8 (throughput under load), with an operator token.

Baselines measured in the same run: ``GET /healthz`` of the same process (the HTTP floor: aiohttp,
middlewares, loopback) and the report's own SQL through one aiomysql connection (the database floor).

    .venv/bin/python -m bench.stats_reports --database vitalsync_bench [--requests 400] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ec

from services.stats.config import StatsSettings
from shared.db.connection import connect

ISSUER = "bench-stats-issuer"
KID = "bench-stats"
READY_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _summary(samples: list[float], elapsed_s: float) -> dict[str, float]:
    return {
        "p50_ms": round(_percentile(samples, 0.50) * 1000, 2),
        "p99_ms": round(_percentile(samples, 0.99) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
        "per_s": round(len(samples) / elapsed_s, 1),
    }


async def closed_loop(call: Callable[[], Awaitable[None]], requests: int, concurrency: int) -> dict[str, float]:
    samples: list[float] = []
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            await call()
            samples.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return _summary(samples, time.perf_counter() - started)


async def _jwks_server(key: ec.EllipticCurvePrivateKey) -> tuple[web.AppRunner, str]:
    public = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(key.public_key()))
    document = {"keys": [{**public, "kid": KID, "alg": "ES256", "use": "sig"}]}

    async def serve(request: web.Request) -> web.Response:
        return web.json_response(document)

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/.well-known/jwks.json"


def _token(key: ec.EllipticCurvePrivateKey) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "vitalsync", "sub": str(uuid.uuid4()), "iat": now, "exp": now + 3600}
    claims["roles"] = ["operator"]
    return jwt.encode(claims, key, algorithm="ES256", headers={"kid": KID})


async def _wait_ready(session: aiohttp.ClientSession, base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the stats service exited during start-up"
        try:
            async with session.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("the stats service did not become ready")


async def _latest_day(settings: StatsSettings) -> date:
    conn = await connect(settings)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT MAX(day) FROM stats_daily")
            (day,) = await cur.fetchone()
    finally:
        conn.close()
    assert day is not None, "stats_daily is empty: run `vitalsync stats rebuild` on the database first"
    return day


def _reports(last: date) -> dict[str, tuple[str, str, tuple[Any, ...]]]:
    """name -> (path, the report's SQL, its parameters)."""
    first = last - timedelta(days=29)
    span = f"from={first}&to={last}"
    latest = (
        "(SELECT MAX(id) FROM job_runs WHERE job = %s AND status = 'succeeded')"  # the route does this in one lookup
    )
    return {
        "readings-per-day 30 d, one region+type": (
            f"/v1/stats/readings-per-day?{span}&region=eu&type=blood_pressure",
            "SELECT day, region, model, reading_type, readings, active_devices, active_users FROM stats_daily "
            "WHERE day >= %s AND day <= %s AND region = 'eu' AND reading_type = 'blood_pressure' "
            "ORDER BY day, region, model, reading_type",
            (first, last),
        ),
        "readings-per-day 30 d, everything": (
            f"/v1/stats/readings-per-day?{span}",
            "SELECT day, region, model, reading_type, readings, active_devices, active_users FROM stats_daily "
            "WHERE day >= %s AND day <= %s ORDER BY day, region, model, reading_type",
            (first, last),
        ),
        "readings-per-day 30 d, everything, CSV": (f"/v1/stats/readings-per-day?{span}&format=csv", "", ()),
        "daily-active-users 30 d": (
            f"/v1/stats/daily-active-users?{span}",
            "SELECT day, region, readings, active_users FROM stats_daily_regions WHERE day >= %s AND day <= %s "
            "ORDER BY day, region",
            (first, last),
        ),
        "active-devices-by-model by=model": (
            "/v1/stats/active-devices-by-model?by=model",
            "SELECT model, CAST(SUM(active_devices) AS UNSIGNED) FROM stats_active_devices_by_model "
            f"WHERE run_id = {latest} GROUP BY model ORDER BY model",
            ("active-devices-by-model",),
        ),
        "active-devices-by-model (model x firmware x region)": (
            "/v1/stats/active-devices-by-model",
            "SELECT model, firmware, region, CAST(SUM(active_devices) AS UNSIGNED) FROM stats_active_devices_by_model "
            f"WHERE run_id = {latest} GROUP BY model, firmware, region ORDER BY model, firmware, region",
            ("active-devices-by-model",),
        ),
        "monthly-active-users": (
            "/v1/stats/monthly-active-users",
            f"SELECT month, region, active_users FROM stats_monthly_active_users WHERE run_id = {latest} "
            "ORDER BY month, region",
            ("monthly-active-users",),
        ),
        "jobs": ("/v1/stats/jobs", "", ()),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    settings = StatsSettings(db_name=args.database)
    key = ec.generate_private_key(ec.SECP256R1())
    jwks, jwks_url = await _jwks_server(key)
    port = _free_port()
    issuers = [{"issuer": ISSUER, "jwks_url": jwks_url, "audience": "vitalsync", "algorithms": ["ES256"]}]
    env = {
        **os.environ,
        "VITALSYNC_DB_NAME": args.database,
        "VITALSYNC_STATS_PORT": str(port),
        "VITALSYNC_STATS_CONSUMER_ENABLED": "false",
        "VITALSYNC_STATS_SCHEDULER_ENABLED": "false",
        "VITALSYNC_TRUSTED_ISSUERS": json.dumps(issuers),
        "VITALSYNC_LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, "-m", "services.stats"], env=env, stderr=subprocess.DEVNULL)  # noqa: ASYNC220
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {_token(key)}"}
    results: dict[str, Any] = {}
    loads = [os.getloadavg()[0]]
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
            await _wait_ready(session, base, process)
            conn = await connect(settings)
            try:

                async def healthz() -> None:
                    async with session.get(f"{base}/healthz") as response:
                        await response.read()

                results["healthz (HTTP floor)"] = {
                    "c1": await closed_loop(healthz, args.requests, 1),
                    "c8": await closed_loop(healthz, args.requests * 2, 8),
                }
                for name, (path, sql, params) in _reports(await _latest_day(settings)).items():
                    sizes: list[int] = []

                    async def report(path: str = path, sizes: list[int] = sizes) -> None:
                        async with session.get(base + path, headers=headers) as response:
                            body = await response.read()
                            assert response.status == 200, (response.status, body[:200])
                            sizes.append(len(body))

                    await closed_loop(report, 20, 1)  # warm-up (JWKS fetch, buffer pool)
                    entry: dict[str, Any] = {
                        "c1": await closed_loop(report, args.requests, 1),
                        "c8": await closed_loop(report, args.requests * 2, 8),
                        "body_bytes": sizes[-1],
                    }
                    if sql:

                        async def query(sql: str = sql, params: tuple[Any, ...] = params) -> None:
                            async with conn.cursor() as cur:
                                await cur.execute(sql, params)
                                await cur.fetchall()

                        entry["sql_c1"] = await closed_loop(query, args.requests, 1)
                        entry["rows"] = await _count(conn, sql, params)
                        entry["p99_vs_sql_p99"] = round(entry["c1"]["p99_ms"] / max(entry["sql_c1"]["p99_ms"], 0.01), 1)
                    results[name] = entry
            finally:
                conn.close()
    finally:
        process.terminate()
        process.wait(timeout=30)
        await jwks.cleanup()
    loads.append(os.getloadavg()[0])
    return {
        "date": date.today().isoformat(),
        "machine": f"{os.cpu_count()} cores {platform.machine()}",
        "load_average_1m": [round(x, 1) for x in loads],
        "database": args.database,
        "reports": results,
    }


async def _count(conn: Any, sql: str, params: tuple[Any, ...]) -> int:
    async with conn.cursor() as cur:
        await cur.execute(sql, params)
        return len(await cur.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="vitalsync_bench")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = asyncio.run(main_async(args))
    print(json.dumps(report) if args.json else json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
