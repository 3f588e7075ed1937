"""What the gateway counts: Prometheus metrics on ``/metrics`` and the same numbers for the live view.

Each gateway has its own :class:`~prometheus_client.CollectorRegistry` (no import-time globals), so
several gateways can run in one process (tests, benchmarks). :func:`metrics_server` serves it with
aiohttp (``GET /metrics``, ``GET /healthz``) on a configurable host and port.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_PREFIX = "vitalsync_gateway"


@dataclass
class Stats:
    """Plain numbers for the progress display (the Prometheus metrics carry the same and more)."""

    started: float = field(default_factory=time.monotonic)
    devices_seen: int = 0
    visiting: int = 0
    visits_ok: int = 0
    visits_failed: int = 0
    records_received: int = 0
    queue: dict[str, int] = field(default_factory=dict)
    uploaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    api_errors: int = 0
    api_state: str = "starting"
    last_error: str = ""


class GatewayMetrics:
    """The gateway's Prometheus metrics and :class:`Stats`, updated together."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stats = Stats()
        registry = self.registry
        self.devices_seen = Gauge(f"{_PREFIX}_devices_seen", "Health devices seen advertising", registry=registry)
        self.visits_in_progress = Gauge(f"{_PREFIX}_visits_in_progress", "Devices connected now", registry=registry)
        self.visits = Counter(f"{_PREFIX}_visits", "Device visits by outcome", ["kind", "outcome"], registry=registry)
        self.visit_seconds = Histogram(
            f"{_PREFIX}_visit_seconds",
            "Connect-to-disconnect time of a visit",
            ["kind"],
            buckets=(0.5, 1, 2, 5, 10, 20, 40, 80),
            registry=registry,
        )
        self.records = Counter(
            f"{_PREFIX}_records_received", "Records received from devices", ["kind"], registry=registry
        )
        self.pairings = Counter(f"{_PREFIX}_pairings", "Pairings done on demand", registry=registry)
        self.queue_rows = Gauge(f"{_PREFIX}_queue_rows", "Rows in the offline queue", ["status"], registry=registry)
        self.uploaded = Counter(
            f"{_PREFIX}_readings_uploaded", "Per-item upload results from sync", ["result"], registry=registry
        )
        self.upload_seconds = Histogram(
            f"{_PREFIX}_upload_batch_seconds",
            "Time of one readings:batch request",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.api_errors = Counter(
            f"{_PREFIX}_api_errors", "API failures by retry family", ["family"], registry=registry
        )

    def seen(self, count: int) -> None:
        """How many devices have been seen so far."""
        self.stats.devices_seen = count
        self.devices_seen.set(count)

    def visit_started(self) -> None:
        self.stats.visiting += 1
        self.visits_in_progress.inc()

    def visit_ended(self, kind: str, outcome: str, seconds: float) -> None:
        """A visit finished with ``outcome`` (complete, interrupted, or a retry family name)."""
        self.stats.visiting -= 1
        self.visits_in_progress.dec()
        if outcome == "complete":
            self.stats.visits_ok += 1
        else:
            self.stats.visits_failed += 1
        self.visits.labels(kind, outcome).inc()
        self.visit_seconds.labels(kind).observe(seconds)

    def record_received(self, kind: str) -> None:
        self.stats.records_received += 1
        self.records.labels(kind).inc()

    def queue_counts(self, counts: dict[str, int]) -> None:
        """Rows per status in the queue."""
        self.stats.queue = dict(counts)
        for status, count in counts.items():
            self.queue_rows.labels(status).set(count)

    def upload_results(self, accepted: int, duplicate: int, rejected: int, seconds: float) -> None:
        self.stats.uploaded += accepted
        self.stats.duplicates += duplicate
        self.stats.rejected += rejected
        self.stats.api_state = "ok"
        for result, count in (("accepted", accepted), ("duplicate", duplicate), ("rejected", rejected)):
            if count:
                self.uploaded.labels(result).inc(count)
        self.upload_seconds.observe(seconds)

    def api_error(self, family: str, message: str) -> None:
        self.stats.api_errors += 1
        self.stats.api_state = family
        self.stats.last_error = message
        self.api_errors.labels(family).inc()


@asynccontextmanager
async def metrics_server(metrics: GatewayMetrics, host: str, port: int) -> AsyncIterator[int]:
    """Serve ``/metrics`` and ``/healthz`` on ``host:port`` (0 picks a port); yields the bound port."""

    async def expose(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/metrics", expose)
    app.router.add_get("/healthz", health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        addresses = runner.addresses
        yield int(addresses[0][1]) if addresses else port
    finally:
        await runner.cleanup()
