"""BLE gateway end to end: simulator fleet (own process) -> gateway -> edge -> sync -> MariaDB.

Each test checks the database against the fleet's ground truth (``ground_truth.py``): every reading
the devices will deliver, minus special / error values and unknown time stamps, is stored exactly
once with its exact values and time (device clocks in Asia/Tokyo, stored in UTC). The faults: a
re-read from a fresh queue, kill -9 of the gateway mid-transfer, and sync stopped while collecting.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from infra.local.processes import stop_process
from infra.local.stack import Stack
from services.gateway.app import RunSummary, run_gateway
from services.gateway.config import resolve_zone
from services.gateway.metrics import GatewayMetrics
from tests.conftest import subprocess_env
from tests.e2e.conftest import FLEET_24, MIXED_20, REPO, Account, Fleet, gateway_settings, wait_for
from tests.e2e.ground_truth import compare, expected_readings, stored_readings

pytestmark = pytest.mark.integration

TOKYO = resolve_zone("Asia/Tokyo")
RUN_TIMEOUT_S = 90.0


def assert_exactly_once(stack: Stack, fleet: Fleet, account: Account) -> int:
    """Every expected reading is stored once with exact values; returns how many."""
    expected = expected_readings(fleet.truth, TOKYO)
    missing, unexpected, duplicated = compare(expected, stored_readings(stack.settings, account.user_id))
    assert not missing, f"{len(missing)} missing, e.g. {missing[:3]}"
    assert not unexpected, f"{len(unexpected)} unexpected, e.g. {unexpected[:3]}"
    assert not duplicated, f"duplicates: {duplicated[:3]}"
    return len(expected)


def queue_rows(state: Path) -> dict[str, int]:
    """Rows per status in a gateway's queue, read from another connection (WAL allows it)."""
    path = state / "queue.sqlite3"
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return dict(db.execute("SELECT status, COUNT(*) FROM readings GROUP BY status").fetchall())
    except sqlite3.OperationalError:  # the schema is being created
        return {}


async def metric(port: int, name: str) -> float | None:
    """One sample from the gateway's /metrics endpoint."""
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_mixed_fleet_every_reading_exactly_once(
    stack: Stack, start_fleet, account: Account, tmp_path: Path
) -> None:
    fleet = start_fleet(MIXED_20)
    settings = gateway_settings(stack, fleet, account, tmp_path / "gateway")
    metrics = GatewayMetrics()
    started: list[RunSummary] = []
    run = asyncio.create_task(run_gateway(settings, metrics=metrics, on_started=started.append))
    # /metrics is served while the gateway runs, and sees the whole fleet.
    await wait_for(lambda: started, 10, "the gateway to start")
    port = started[0].metrics_port
    assert port
    assert await wait_for(lambda: metric(port, "vitalsync_gateway_devices_seen"), 20, "devices on /metrics") >= 1
    summary = await asyncio.wait_for(run, RUN_TIMEOUT_S)

    assert summary.drained and summary.devices_seen == 20
    count = assert_exactly_once(stack, fleet, account)
    assert summary.queue == {"pending": 0, "sent": count, "rejected": 0, "unsendable": summary.queue["unsendable"]}

    # NaN frames and other non-readings are kept, flagged and explained, never uploaded as numbers.
    from services.gateway.queue import OfflineQueue

    async with OfflineQueue(settings.queue_path) as queue:
        problems = await queue.problems()
    reasons = {p["reason"].split(":")[0] for p in problems}
    assert reasons == {"special_value", "measurement_unsuccessful", "timestamp_unknown"}
    nan_cuff = [p for p in problems if p["device"]["name"] == "VS-BPM-D01"]
    assert nan_cuff and all(p["decoded"]["systolic"] == "NaN" and "body_movement" in p["flags"] for p in nan_cuff)
    assert {p["device"]["name"] for p in problems if p["reason"] == "timestamp_unknown"} == {"VS-WS-Y01"}
    # Pairing-required devices (VS-BPM-L01/L02, VS-GM-P01) delivered; the quirky scale too.
    stored = stored_readings(stack.settings, account.user_id)
    serials = {d["name"]: d["identity"]["serial"] for d in fleet.truth["devices"]}
    for name in ("VS-BPM-L01", "VS-BPM-L02", "VS-GM-P01", "VS-WS-Q01", "VS-GM-X01"):
        assert any(r.serial == serials[name] for r in stored), name
    assert metrics.registry.get_sample_value("vitalsync_gateway_pairings_total") >= 3

    # A phone reinstall: an empty queue re-reads every device; deterministic client ids -> duplicates only.
    again = await asyncio.wait_for(
        run_gateway(gateway_settings(stack, fleet, account, tmp_path / "fresh")), RUN_TIMEOUT_S
    )
    assert again.drained and again.queue["pending"] == 0
    assert assert_exactly_once(stack, fleet, account) == count


async def test_kill_9_mid_transfer_then_restart(stack: Stack, start_fleet, account: Account, tmp_path: Path) -> None:
    fleet = start_fleet(FLEET_24)
    state = tmp_path / "gateway"
    expected_total = sum(len(d["records"]) for d in fleet.truth["devices"])

    def gateway_process(log: Path) -> subprocess.Popen[bytes]:
        settings = gateway_settings(stack, fleet, account, state)
        command = [sys.executable, "-m", "services.gateway", "run", "--once", "--progress", "log", "--json"]
        env = subprocess_env(
            VITALSYNC_GATEWAY_RADIO=settings.radio,
            VITALSYNC_GATEWAY_API_URL=settings.api_url,
            VITALSYNC_GATEWAY_USER=account.login_name,
            VITALSYNC_GATEWAY_PASSWORD=account.password,
            VITALSYNC_GATEWAY_STATE_DIR=str(state),
            VITALSYNC_GATEWAY_TIMEZONE="Asia/Tokyo",
            VITALSYNC_GATEWAY_SOURCE_ADDRESS=account.source_address,
            VITALSYNC_GATEWAY_METRICS_PORT="0",
            VITALSYNC_GATEWAY_SCAN_S="2",
            VITALSYNC_GATEWAY_RECORD_IDLE_S="0.5",
            VITALSYNC_GATEWAY_FIRST_RECORD_S="2",
        )
        with log.open("wb") as out:
            return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=out)

    first = gateway_process(tmp_path / "gateway-1.log")
    try:
        # Kill once a good part, but not all, of the records is on disk: transfers are in flight.
        def partly_collected() -> bool:
            assert first.poll() is None, (tmp_path / "gateway-1.log").read_text()[-3000:]
            return sum(queue_rows(state).values()) >= expected_total // 3

        await wait_for(partly_collected, 60, "a third of the records in the queue")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = queue_rows(state)
    assert sum(at_kill.values()) < expected_total, "the kill came after the transfer: make the fleet slower"

    second = gateway_process(tmp_path / "gateway-2.log")
    try:
        out, _ = await asyncio.to_thread(second.communicate, timeout=RUN_TIMEOUT_S)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, (tmp_path / "gateway-2.log").read_text()[-3000:]
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert summary["drained"] and summary["queue"]["pending"] == 0
    count = assert_exactly_once(stack, fleet, account)
    assert summary["queue"]["sent"] == count


async def test_sync_down_queue_waits_then_drains(stack: Stack, start_fleet, account: Account, tmp_path: Path) -> None:
    fleet = start_fleet(FLEET_24)
    sendable = len(expected_readings(fleet.truth, TOKYO))
    settings = gateway_settings(stack, fleet, account, tmp_path / "gateway", drain_timeout_s=120.0)
    metrics = GatewayMetrics()
    sync = stack.component("sync")
    assert stop_process(stack.paths.pid("sync"), sync.stop_timeout_s)
    run: asyncio.Task[RunSummary] | None = None
    try:
        run = asyncio.create_task(run_gateway(settings, metrics=metrics))
        # Uploads fail at the edge while the gateway keeps collecting everything into the queue.
        await wait_for(lambda: metrics.stats.api_errors >= 1, 30, "a failed upload")
        assert metrics.stats.uploaded == 0

        def collected() -> bool:
            rows = queue_rows(settings.state_dir)
            return rows.get("pending", 0) + rows.get("sent", 0) >= sendable

        await wait_for(collected, 60, "every reading in the queue")
        # On a shared machine another suite's `stack up` may revive sync early; then fewer stay pending.
        pending_while_down = queue_rows(settings.state_dir).get("pending", 0)
        assert not run.done()
    finally:
        await asyncio.to_thread(stack.up)  # sync comes back (also when an assertion above failed)
    assert run is not None
    summary = await asyncio.wait_for(run, RUN_TIMEOUT_S + 30)
    assert summary.drained and summary.queue["pending"] == 0, f"{pending_while_down} were pending while sync was down"
    assert assert_exactly_once(stack, fleet, account) == sendable == summary.queue["sent"]
