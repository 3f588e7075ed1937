"""Assembling a gateway: queue, HTTP client, metrics server, radio, collector, uploader, progress.

:func:`run_gateway` opens each resource in order with an ``AsyncExitStack`` (the aiohttp
``cleanup_ctx`` habit: opened in order, closed in reverse, even when start-up fails half way).
Shutdown stops intake first (the collector: visits in flight are cancelled, what they received is
already on disk), then lets the uploader finish the batch in flight, then closes the clients. With
``once`` it returns when the collector is done and nothing is pending any more (or the drain times out).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich.console import Console

from services.gateway.api import Credentials, SyncApi, Tokens
from services.gateway.collector import Collector, CollectorSettings
from services.gateway.config import GatewaySettings
from services.gateway.connect import Connector, bleak_connector
from services.gateway.metrics import GatewayMetrics, metrics_server
from services.gateway.progress import show_progress, summary_line
from services.gateway.queue import OfflineQueue
from services.gateway.radio import open_radio
from services.gateway.session import SessionTiming
from services.gateway.uploader import Uploader

logger = logging.getLogger(__name__)

UPLOADER_STOP_TIMEOUT_S = 15.0
DRAIN_POLL_S = 0.5
COUNTS_EVERY_S = 1.0
SHUTDOWN_DRAIN_S = 5.0


@dataclass
class RunSummary:
    """What a run did (printed by the CLI, asserted by tests)."""

    queue: dict[str, int] = field(default_factory=dict)
    devices_seen: int = 0
    visits_ok: int = 0
    visits_failed: int = 0
    records_received: int = 0
    drained: bool = False
    metrics_port: int | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "queue": self.queue,
            "devices_seen": self.devices_seen,
            "visits_ok": self.visits_ok,
            "visits_failed": self.visits_failed,
            "records_received": self.records_received,
            "drained": self.drained,
        }


async def run_gateway(
    settings: GatewaySettings,
    stop: asyncio.Event | None = None,
    *,
    console: Console | None = None,
    connector: Connector | None = None,
    metrics: GatewayMetrics | None = None,
    on_started: Callable[[RunSummary], None] | None = None,
) -> RunSummary:
    """Run until ``stop`` is set (or, with ``settings.once``, until collected and drained)."""
    if settings.user is None or settings.password is None:
        raise ValueError("the gateway needs --user and --password (or VITALSYNC_GATEWAY_USER / _PASSWORD)")
    stop = stop or asyncio.Event()
    metrics = metrics or GatewayMetrics()
    radio = open_radio(settings.radio)
    summary = RunSummary()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(radio.close)
        queue = await stack.enter_async_context(OfflineQueue(settings.queue_path))
        metrics.queue_counts(await queue.counts())
        http_connector = (
            aiohttp.TCPConnector(local_addr=(settings.source_address, 0)) if settings.source_address else None
        )
        http = await stack.enter_async_context(aiohttp.ClientSession(connector=http_connector))
        if settings.metrics_port >= 0:
            summary.metrics_port = await stack.enter_async_context(
                metrics_server(metrics, settings.metrics_host, settings.metrics_port)
            )
            logger.info("metrics on http://%s:%d/metrics", settings.metrics_host, summary.metrics_port)
        tokens = Tokens(http, settings.api_url, Credentials(settings.user, settings.password.get_secret_value()))
        uploader = Uploader(queue, SyncApi(http, settings.api_url, tokens), metrics, settings.batch_size)
        collector = Collector(
            queue,
            connector or bleak_connector(radio.client_backend, settings.connect_attempts),
            settings.zone,
            metrics,
            CollectorSettings(
                max_concurrent=settings.max_concurrent,
                revisit_s=settings.revisit_s,
                once=settings.once,
                scan_s=settings.scan_s,
                seen_ttl_s=settings.seen_ttl_s,
                timing=SessionTiming(
                    first_record_s=settings.first_record_s,
                    record_idle_s=settings.record_idle_s,
                    racp_idle_s=settings.racp_idle_s,
                ),
            ),
            scanner_backend=radio.scanner_backend,
        )
        collecting = asyncio.Event()
        uploading = asyncio.Event()
        collector_task = asyncio.create_task(collector.run(collecting), name="gateway-collector")
        uploader_task = asyncio.create_task(uploader.run(uploading), name="gateway-uploader")
        counts_task = asyncio.create_task(_count_rows(queue, metrics), name="gateway-queue-counts")
        progress_task = asyncio.create_task(
            show_progress(metrics.stats, settings.progress, console or Console(stderr=True)), name="gateway-progress"
        )
        if on_started is not None:
            on_started(summary)
        logger.info("gateway started: radio %s, api %s, queue %s", radio.url, settings.api_url, settings.queue_path)
        try:
            summary.drained = await _supervise(settings, stop, queue, collector_task, uploader_task)
        finally:
            collecting.set()
            await _finish(collector_task, None)
            if not summary.drained and metrics.stats.api_state == "ok" and not uploader_task.done():
                # Stop intake first, then give what was just collected a short chance to go out.
                summary.drained = await _drain(queue, asyncio.Event(), SHUTDOWN_DRAIN_S, uploader_task)
            uploading.set()
            await _finish(uploader_task, UPLOADER_STOP_TIMEOUT_S)
            for task in (progress_task, counts_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            summary.queue = await queue.counts()
            metrics.queue_counts(summary.queue)
            stats = metrics.stats
            summary.devices_seen, summary.records_received = stats.devices_seen, stats.records_received
            summary.visits_ok, summary.visits_failed = stats.visits_ok, stats.visits_failed
            logger.info("gateway stopped: %s", summary_line(stats))
    return summary


async def _supervise(
    settings: GatewaySettings,
    stop: asyncio.Event,
    queue: OfflineQueue,
    collector_task: asyncio.Task[None],
    uploader_task: asyncio.Task[None],
) -> bool:
    """Wait for the stop signal, a crashed task, or (``once``) collection done and the queue drained."""
    stopper = asyncio.create_task(stop.wait())
    try:
        watched: set[asyncio.Future[Any]] = {stopper, collector_task, uploader_task}
        if settings.once:
            await asyncio.wait({stopper, collector_task, uploader_task}, return_when=asyncio.FIRST_COMPLETED)
            _raise_if_crashed(collector_task, uploader_task)
            if stop.is_set():
                return False
            return await _drain(queue, stop, settings.drain_timeout_s, uploader_task)
        await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        _raise_if_crashed(collector_task, uploader_task)
        return (await queue.counts())["pending"] == 0
    finally:
        stopper.cancel()


async def _drain(queue: OfflineQueue, stop: asyncio.Event, timeout_s: float, uploader_task: asyncio.Task[None]) -> bool:
    """Until nothing is pending (True), or ``timeout_s`` / stop / the uploader failing (False)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while not stop.is_set():
                if (await queue.counts())["pending"] == 0:
                    return True
                _raise_if_crashed(uploader_task)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(DRAIN_POLL_S):
                        await stop.wait()
    return (await queue.counts())["pending"] == 0


async def _count_rows(queue: OfflineQueue, metrics: GatewayMetrics) -> None:
    """Keep the queue gauges current (also while uploads fail and the uploader is backing off)."""
    while True:
        metrics.queue_counts(await queue.counts())
        await asyncio.sleep(COUNTS_EVERY_S)


def _raise_if_crashed(*tasks: asyncio.Task[None]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def _finish(task: asyncio.Task[None], timeout_s: float | None) -> None:
    """Wait for a task that was asked to stop; cancel it after ``timeout_s``."""
    if timeout_s is not None:
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await task
        except Exception:
            logger.exception("gateway task %s failed", task.get_name())
