"""Showing progress: a rich live panel on a terminal, a log line every few seconds elsewhere."""

from __future__ import annotations

import asyncio
import logging
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from services.gateway.metrics import Stats

logger = logging.getLogger(__name__)

LIVE_REFRESH_S = 0.5
LOG_EVERY_S = 5.0


def summary_table(stats: Stats, title: str = "VitalSync gateway") -> Table:
    """Devices seen, records received, what the queue holds and what sync has answered."""
    queue = stats.queue
    elapsed = time.monotonic() - stats.started
    table = Table(title=f"{title} ({elapsed:.0f} s)", show_header=False, min_width=48)
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("devices seen", str(stats.devices_seen))
    table.add_row("visiting now", str(stats.visiting))
    table.add_row("visits ok / not", f"{stats.visits_ok} / {stats.visits_failed}")
    table.add_row("records received", str(stats.records_received))
    table.add_row("pending upload", str(queue.get("pending", 0)))
    table.add_row("uploaded (new / duplicate)", f"{stats.uploaded} / {stats.duplicates}")
    table.add_row("rejected by sync", str(queue.get("rejected", 0)))
    table.add_row("unsendable (kept)", str(queue.get("unsendable", 0)))
    table.add_row("API", stats.api_state)
    if stats.last_error and stats.api_state != "ok":
        table.add_row("last error", stats.last_error[:80])
    return table


def summary_line(stats: Stats) -> str:
    """The same numbers on one line, for logs."""
    queue = stats.queue
    return (
        f"devices={stats.devices_seen} visiting={stats.visiting} visits_ok={stats.visits_ok} "
        f"records={stats.records_received} pending={queue.get('pending', 0)} sent={queue.get('sent', 0)} "
        f"rejected={queue.get('rejected', 0)} unsendable={queue.get('unsendable', 0)} api={stats.api_state}"
    )


async def show_progress(stats: Stats, mode: str, console: Console) -> None:
    """Until cancelled: a live panel (``live``), log lines (``log``), or nothing (``none``)."""
    if mode == "auto":
        mode = "live" if console.is_terminal else "log"
    if mode == "none":
        return
    if mode == "log":
        while True:
            await asyncio.sleep(LOG_EVERY_S)
            logger.info("progress %s", summary_line(stats))
    with Live(summary_table(stats), console=console, refresh_per_second=4, transient=False) as live:
        while True:
            await asyncio.sleep(LIVE_REFRESH_S)
            live.update(summary_table(stats))
