"""Prometheus metrics per process: HTTP counters/latency, served on ``/metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class HttpMetrics:
    """One registry per app (not the global default) so tests can build many apps in one process."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        self.service = service
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests handled",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["service", "route"],
            buckets=_LATENCY_BUCKETS_S,
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Record one finished request under its route template (never the raw path: bounded labels)."""
        self.requests.labels(self.service, method, route, str(status)).inc()
        self.latency.labels(self.service, route).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        """Exposition body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
