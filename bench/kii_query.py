"""Benchmark: a Kii query returning 100 objects from a bucket of 100,000, through the edge.

One user's bucket is filled with 100,000 objects (multi-row INSERTs straight into kii_objects), then
the Kii JS SDK's typical query runs through nginx -> sync: a range clause on a body field, ordered
by ``_created`` descending, ``bestEffortLimit`` 100, walking pages with ``paginationKey``. Baseline,
same run: the SQL the translator generates for the same pages, executed directly with aiomysql (no
HTTP, auth, JSON encoding of results). Target: p99 under 50 ms.

    .venv/bin/python -m bench.kii_query [--objects 100000] [--queries 300] [--json]
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

from services.sync.kii.query_model import parse_query
from services.sync.kii.query_sql import ObjectScope, build_sql
from shared.db.connection import connect
from shared.settings import CommonSettings

APP = "vitalsync"
QUERY = {
    "bucketQuery": {
        "clause": {"type": "range", "field": "score", "lowerLimit": 100, "lowerIncluded": True},
        "orderBy": "_created",
        "descending": True,
    },
    "bestEffortLimit": 100,
}


async def seed(settings: CommonSettings, user_id: str, bucket: str, count: int) -> None:
    conn = await connect(settings)
    try:
        async with conn.cursor() as cur:
            now_ms = int(time.time() * 1000)
            for start in range(0, count, 2000):
                rows = [
                    (
                        APP,
                        "user",
                        user_id,
                        bucket,
                        f"obj-{i:07d}",
                        1,
                        user_id,
                        json.dumps({"score": i % 1000, "name": f"n{i}", "tags": ["a", "b"]}),
                        now_ms - count + i,
                        now_ms - count + i,
                    )
                    for i in range(start, min(start + 2000, count))
                ]
                await cur.executemany(
                    "INSERT INTO kii_objects (app_id, scope_type, scope_id, bucket, object_id, version, owner_id, "
                    "body, created_at, modified_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
    finally:
        conn.close()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000


async def main_async(objects: int, queries: int) -> dict[str, object]:
    settings = CommonSettings()
    edge = f"http://127.0.0.1:{settings.edge_port}"
    name = f"kq{uuid.uuid4().hex[:10]}"
    bucket = f"bench_{uuid.uuid4().hex[:8]}"
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{edge}/v1/auth/register",
            json={"login_name": name, "email": f"{name}@example.com", "password": "Bench-Kii-Query-1"},
        ) as response:
            user = await response.json()
        await seed(settings, user["user_id"], bucket, objects)
        url = f"{edge}/api/apps/{APP}/users/me/buckets/{bucket}/query"
        headers = {
            "Authorization": f"Bearer {user['access_token']}",
            "X-Kii-AppID": APP,
            "Content-Type": "application/vnd.kii.QueryRequest+json",
        }
        service: list[float] = []
        bodies: list[dict[str, object]] = []
        key = None
        for _ in range(queries):
            body = {**QUERY, **({"paginationKey": key} if key else {})}
            bodies.append(body)
            started = time.perf_counter()
            async with http.post(url, headers=headers, json=body) as response:
                result = await response.json()
            service.append(time.perf_counter() - started)
            assert response.status == 200 and len(result["results"]) == 100, result
            key = result.get("nextPaginationKey")
    scope = ObjectScope(APP, "user", user["user_id"], bucket)
    conn = await connect(settings)
    baseline: list[float] = []
    try:
        async with conn.cursor() as cur:
            for body in bodies:  # the same pages, in the same order
                sql, params = build_sql(parse_query(body), scope)
                started = time.perf_counter()
                await cur.execute(sql, params)
                rows = await cur.fetchall()
                baseline.append(time.perf_counter() - started)
                assert len(rows) == 101
    finally:
        conn.close()
    return {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}",
        "objects_in_bucket": objects,
        "queries": queries,
        "pages_walked": len(bodies),
        "service_p50_ms": round(statistics.median(service) * 1000, 2),
        "service_p99_ms": round(percentile(service, 0.99), 2),
        "sql_p50_ms": round(statistics.median(baseline) * 1000, 2),
        "sql_p99_ms": round(percentile(baseline, 0.99), 2),
        "service_over_sql_p50": round(statistics.median(service) / statistics.median(baseline), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.objects, args.queries)), indent=None if args.json else 2))


if __name__ == "__main__":
    main()
