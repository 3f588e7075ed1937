"""Benchmark: change-capture lag, Kafka produce -> processed row committed, with one master and two workers.

Per rate (default 1,000 and 5,000 changes/s): a scratch database, export topic and SQS FIFO queues (moto)
are created; a legacy dataset's users are imported and its snapshot exported and loaded; then the master
(`migrate follow`) and two workers (`migrate work`) run as subprocesses while --seconds of changes are
produced at the rate. Lag per object = processed_at (set in the worker's transaction) minus the Kafka
record timestamp of the version it applied (raw_kii_objects.source_timestamp_ms); p50/p99 over all
changed objects. to_raw is the master's share: Kafka timestamp -> its raw upsert (received_at). RSS: the
peak VmRSS of each process, sampled every 0.5 s. Target: p99 under 1 s at
1,000/s. Scratch resources are deleted afterwards.

    .venv/bin/python -m bench.migration_lag [--rates 1000,5000] [--seconds 10] [--lanes 0] [--batch-window-ms 0]
        [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.local.component import StackPaths
from infra.local.mariadb import MariaDB
from shared.db.connection import connect
from shared.db.migrations import migrate
from shared.settings import CommonSettings
from simulator.legacy.changes import generate_changes
from simulator.legacy.dataset import generate_dataset
from simulator.legacy.export_format import write_dataset
from simulator.legacy.export_stream import export

PARTITIONS = 6
ROOT = Path(__file__).resolve().parents[1]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cli(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "vitalsync_cli", *args], env=env, cwd=ROOT, check=True, capture_output=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spawn(command: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vitalsync_cli", "migrate", command, "--metrics-port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return str(response.read().decode())
    except OSError:
        return None


async def _until_running(ports: dict[str, int], timeout_s: float = 60) -> None:
    """Wait until every process answers /readyz and the master has fetched from the topic (its lag gauge
    is set after its first fetch): changes produced earlier would wait for start-up, not for the pipeline."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready = all(_get(f"http://127.0.0.1:{port}/readyz") is not None for port in ports.values())
        metrics = _get(f"http://127.0.0.1:{ports['master']}/metrics") or ""
        if ready and "migration_kafka_lag{" in metrics:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"master and workers not running after {timeout_s:g}s")


async def _scalar(settings: CommonSettings, db: str, sql: str) -> int:
    conn = await connect(settings, db)
    async with conn.cursor() as cur:
        await cur.execute(sql)
        value = int((await cur.fetchone())[0])
    conn.close()
    return value


def _percentiles(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=100) if len(values) > 1 else values * 99


async def run_rate(
    settings: CommonSettings, rate: int, seconds: float, users: int, lanes: int, window_ms: int
) -> dict[str, Any]:
    """One rate; returns lag percentiles and peak RSS per process."""
    db, topic = f"vitalsync_bench_{uuid.uuid4().hex[:8]}", f"bench-lag-{uuid.uuid4().hex[:8]}"
    sqs = boto3.client(
        "sqs",
        endpoint_url=settings.aws_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    admin = await connect(settings, "")
    async with admin.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{db}`")
    conn = await connect(settings, db, multi_statements=True)
    await migrate(conn)
    conn.close()
    kafka = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await kafka.start()
    await kafka.create_topics([NewTopic(topic, PARTITIONS, 1)])
    dlq = sqs.create_queue(QueueName=f"{topic}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(
        QueueName=f"{topic}.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    env = {
        # like the stack's services, over our MariaDB's socket file when the stack is the local one
        **MariaDB(settings, StackPaths.from_env()).client_env(),
        **os.environ,
        "VITALSYNC_DB_NAME": db,
        "VITALSYNC_MIGRATION_TOPIC": topic,
        "VITALSYNC_MIGRATION_QUEUE_URL": url,
        "VITALSYNC_MIGRATION_DLQ_URL": dlq,
        "VITALSYNC_MIGRATION_CONSUMER_GROUP": f"bench-{topic}",
        "VITALSYNC_LOG_LEVEL": "WARNING",
        "VITALSYNC_MIGRATION_POLL_MAX_RECORDS": "2000",
        "VITALSYNC_MIGRATION_GROUP_LANES": str(lanes),
        "VITALSYNC_MIGRATION_BATCH_WINDOW_MS": str(window_ms),
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    peaks: dict[str, int] = {}
    directory = Path(tempfile.mkdtemp(prefix="bench-lag-"))
    try:
        dataset = generate_dataset(users, 12)
        write_dataset(dataset, directory)
        _cli(["users", "import", str(directory / "users.jsonl")], env)
        await export(directory, [], bootstrap=settings.kafka_bootstrap, topic=topic)
        _cli(["migrate", "snapshot", str(directory / "snapshot.jsonl.gz")], env)
        # two workers and a master on one host: each its own free metrics port
        ports = {name: _free_port() for name in ("master", "worker-1", "worker-2")}
        for name, command in (("master", "follow"), ("worker-1", "work"), ("worker-2", "work")):
            processes[name] = _spawn(command, env, ports[name])
        await _until_running(ports)
        count = int(rate * seconds)
        stop = asyncio.Event()

        async def sample() -> None:
            while not stop.is_set():
                for name, process in processes.items():
                    peaks[name] = max(peaks.get(name, 0), _rss_kb(process.pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        result = await export(
            directory,
            generate_changes(dataset, count, 7),
            bootstrap=settings.kafka_bootstrap,
            topic=topic,
            rate=rate,
            produce_snapshot=False,
        )
        produced_s = time.monotonic() - started
        total = len(dataset.objects) + result.changes
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            offsets = await _scalar(settings, db, "SELECT COALESCE(SUM(next_offset), 0) FROM migration_offsets")
            pending = await _scalar(
                settings,
                db,
                "SELECT COUNT(*) FROM raw_kii_objects WHERE applied_version IS NULL OR applied_version < version",
            )
            if offsets >= total and pending == 0:
                break
            await asyncio.sleep(0.5)
        drained_s = time.monotonic() - started
        stop.set()
        await sampler
        conn = await connect(settings, db)
        async with conn.cursor() as cur:
            await cur.execute(
                "SELECT TIMESTAMPDIFF(MICROSECOND, FROM_UNIXTIME(source_timestamp_ms / 1000), processed_at) / 1000, "
                "TIMESTAMPDIFF(MICROSECOND, FROM_UNIXTIME(source_timestamp_ms / 1000), received_at) / 1000 "
                "FROM raw_kii_objects WHERE source_timestamp_ms IS NOT NULL"
            )
            rows = await cur.fetchall()
        conn.close()
        lags = sorted(float(total) for total, _ in rows)
        # the master's share: Kafka timestamp -> raw upsert (received_at); the rest is SQS and the worker
        master = sorted(float(upserted) for _, upserted in rows)
        quantiles = _percentiles(lags)
        master_quantiles = _percentiles(master)
        return {
            "rate": rate,
            "lanes": lanes,
            "batch_window_ms": window_ms,
            "changes": result.changes,
            "produced_rate": round(result.changes / produced_s),
            "drain_s": round(drained_s, 1),
            "throughput": round(result.changes / drained_s),
            "lag_ms_p50": round(quantiles[49]),
            "lag_ms_p99": round(quantiles[98]),
            "lag_ms_max": round(lags[-1]),
            "to_raw_ms_p50": round(master_quantiles[49]),
            "to_raw_ms_p99": round(master_quantiles[98]),
            "objects_measured": len(lags),
            "peak_rss_mb": {k: round(v / 1024) for k, v in peaks.items()},
        }
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=60)
        await kafka.delete_topics([topic])
        await kafka.close()
        for queue in (url, dlq):
            sqs.delete_queue(QueueUrl=queue)
        async with admin.cursor() as cur:
            await cur.execute(f"DROP DATABASE IF EXISTS `{db}`")
        admin.close()
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="1000,5000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--lanes", type=int, default=0, help="VITALSYNC_MIGRATION_GROUP_LANES (0: a group per owner)")
    parser.add_argument(
        "--batch-window-ms", type=int, default=0, help="VITALSYNC_MIGRATION_BATCH_WINDOW_MS (0: one poll per batch)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    settings = CommonSettings()
    rates = [int(rate) for rate in args.rates.split(",")]
    results = [
        asyncio.run(run_rate(settings, rate, args.seconds, args.users, args.lanes, args.batch_window_ms))
        for rate in rates
    ]
    out = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "results": results,
    }
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
