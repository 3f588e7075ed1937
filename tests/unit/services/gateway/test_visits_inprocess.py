"""Device visits over an in-process Bumble link (no stack): RACP resume, pairing, quirks, scheduling.

Two real Bluetooth stacks per test, as in ``tests/component/ble``: simulated devices and the
gateway's bleak client on a link of their own (``sim://local/<test>``). The gateway is driven only
through its public pieces (Collector, DeviceSession with an injected connector); each test runs in
well under a second of simulated radio time and waits on conditions, never on sleeps.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice

from services.gateway.collector import Collector, CollectorSettings
from services.gateway.connect import DisconnectedCallback, bleak_connector
from services.gateway.metrics import GatewayMetrics
from services.gateway.profiles import BLOOD_GLUCOSE, BLOOD_PRESSURE, Profile, profile_for_services
from services.gateway.queue import OfflineQueue
from services.gateway.racp import report_request
from services.gateway.radio import Radio, open_radio
from services.gateway.session import DeviceSession, SessionTiming
from shared.ble.racp import RacpOperator
from simulator.devices import Behaviour, BloodPressureMonitor, GlucoseMeter, ReadingPlan, SimulatedDevice
from simulator.devices.records import glucose_readings

FAST = SessionTiming(first_record_s=1.0, record_idle_s=0.3, racp_idle_s=5.0)
WAIT_S = 10.0


@pytest.fixture
async def radio(request: pytest.FixtureRequest) -> AsyncIterator[Radio]:
    opened = open_radio("sim://local/gw-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name))
    yield opened
    await opened.close()


@pytest.fixture
async def start(radio: Radio) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    started: list[SimulatedDevice] = []

    async def starter(kind: type[SimulatedDevice], name: str, **kwargs: Any) -> Any:
        device = kind(name, link=radio.url, **kwargs)
        await device.start()
        started.append(device)
        return device

    yield starter
    for device in started:
        await device.stop()


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueue]:
    async with OfflineQueue(tmp_path / "queue.sqlite3") as opened:
        yield opened


async def find(radio: Radio, device: SimulatedDevice) -> tuple[BLEDevice, Profile]:
    """Scan with bleak's public API (simulator backend injected) for ``device``."""
    found = await BleakScanner.find_device_by_filter(
        lambda d, _ad: d.name == device.name, timeout=WAIT_S, backend=radio.scanner_backend
    )
    assert found is not None
    profile = profile_for_services([f"0000{device.service_uuid:04x}-0000-1000-8000-00805f9b34fb"])
    assert profile is not None
    return found, profile


def collector(radio: Radio, queue: OfflineQueue, **settings: Any) -> Collector:
    return Collector(
        queue,
        bleak_connector(radio.client_backend),
        dt.UTC,
        GatewayMetrics(),
        CollectorSettings(timing=FAST, **settings),
        scanner_backend=radio.scanner_backend,
    )


async def stored_sequences(queue: OfflineQueue) -> list[int]:
    rows = await queue._run(queue._fetchall, "SELECT sequence_number FROM readings ORDER BY id", ())
    return [row[0] for row in rows]


def test_report_request_operands() -> None:
    assert report_request(None).operator == RacpOperator.ALL_RECORDS
    assert report_request(0).operator == RacpOperator.ALL_RECORDS
    request = report_request(41)
    assert request.operator == RacpOperator.GREATER_THAN_OR_EQUAL and request.operand == (41,)
    assert bytes(request) == bytes.fromhex("0103012900")


async def test_second_visit_fetches_only_new_glucose_records(radio: Radio, start: Any, queue: OfflineQueue) -> None:
    meter = await start(GlucoseMeter, "VS-GM-A", readings=ReadingPlan(count=12, seed=5))
    ble_device, profile = await find(radio, meter)
    gateway = collector(radio, queue)
    first = await gateway.visit(ble_device, profile)
    assert (first.outcome, first.records, first.added) == ("complete", 12, 12)
    # Two new measurements on the meter (numbered 13 and 14), then a second visit.
    for reading in glucose_readings(ReadingPlan(count=2, seed=6, first_sequence_number=13)):
        meter.add_reading(reading)
    second = await gateway.visit(ble_device, profile)
    assert (second.outcome, second.records, second.added) == ("complete", 2, 2)
    third = await gateway.visit(ble_device, profile)
    assert (third.outcome, third.records) == ("complete", 0)
    assert await stored_sequences(queue) == list(range(1, 15))


async def test_interrupted_racp_transfer_resumes_by_sequence(radio: Radio, start: Any, queue: OfflineQueue) -> None:
    behaviour = Behaviour(disconnect_after_records=7)
    meter = await start(GlucoseMeter, "VS-GM-X", readings=ReadingPlan(count=16, seed=7), behaviour=behaviour)
    ble_device, profile = await find(radio, meter)
    gateway = collector(radio, queue)
    outcomes = []
    async with asyncio.timeout(WAIT_S * 2):
        while not outcomes or outcomes[-1].outcome != "complete":
            outcomes.append(await gateway.visit(ble_device, profile))
    assert [(o.outcome, o.added) for o in outcomes] == [
        ("transfer_interrupted", 7),
        ("transfer_interrupted", 7),
        ("complete", 2),
    ]
    assert await stored_sequences(queue) == list(range(1, 17))


async def test_pairing_on_demand_for_secured_devices(radio: Radio, start: Any, queue: OfflineQueue) -> None:
    secure = Behaviour(pairing_required=True)
    meter = await start(GlucoseMeter, "VS-GM-P", readings=ReadingPlan(count=5, seed=8), behaviour=secure)
    cuff = await start(BloodPressureMonitor, "VS-BPM-P", readings=ReadingPlan(count=4, seed=9), behaviour=secure)
    gateway = collector(radio, queue)
    for device in (meter, cuff):
        ble_device, profile = await find(radio, device)
        result = await gateway.visit(ble_device, profile)
        assert (result.outcome, result.added) == ("complete", len(device.store))
    # one pairing each, on the first refused operation
    assert gateway.metrics.registry.get_sample_value("vitalsync_gateway_pairings_total") == 2
    assert meter.clock.last_set is not None and cuff.clock.last_set is not None  # CTS is secured too


async def test_early_notification_does_not_move_the_racp_cursor(radio: Radio, start: Any, queue: OfflineQueue) -> None:
    quirky = Behaviour(early_notification=True)
    meter = await start(GlucoseMeter, "VS-GM-E", readings=ReadingPlan(count=6, seed=10), behaviour=quirky)
    ble_device, profile = await find(radio, meter)
    result = await collector(radio, queue).visit(ble_device, profile)
    # The newest record arrives unasked before the request, then again in the report: stored once.
    assert (result.outcome, result.records, result.added) == ("complete", 7, 6)
    device = await queue.device(next(iter(await _device_keys(queue))))
    assert device is not None and device.racp_next_sequence == 7


async def _device_keys(queue: OfflineQueue) -> list[str]:
    return [row[0] for row in await queue._run(queue._fetchall, "SELECT device_key FROM devices", ())]


async def test_session_takes_an_injected_connector(radio: Radio, start: Any) -> None:
    cuff = await start(BloodPressureMonitor, "VS-BPM-C", readings=ReadingPlan(count=3, seed=11))
    ble_device, _ = await find(radio, cuff)
    calls: list[str] = []
    inner = bleak_connector(radio.client_backend)

    async def counting(device: BLEDevice, disconnected: DisconnectedCallback) -> BleakClient:
        calls.append(device.address)
        return await inner(device, disconnected)

    frames: list[bytes] = []

    async def sink(record: Any) -> None:
        frames.append(record.frame)

    async with DeviceSession(ble_device, BLOOD_PRESSURE, connector=counting, timing=FAST) as session:
        identity = await session.read_identity()
        clock = await session.set_clock(dt.datetime(2026, 3, 1, 12, 0, 0))
        outcome = await session.collect_indications(sink)
    assert calls == [cuff.address]
    assert (identity.model, identity.serial, identity.firmware) == (cuff.identity.model, cuff.identity.serial, "1.4.2")
    assert clock.set and cuff.clock.last_set == dt.datetime(2026, 3, 1, 12, 0, 0)
    assert outcome.complete and frames == [record.frame for record in cuff.store.records]


async def test_collector_once_visits_every_device_and_stops(radio: Radio, start: Any, queue: OfflineQueue) -> None:
    devices = [
        await start(GlucoseMeter, f"VS-GM-{n}", readings=ReadingPlan(count=3, seed=20 + n)) for n in range(2)
    ] + [await start(BloodPressureMonitor, f"VS-BPM-{n}", readings=ReadingPlan(count=2, seed=30 + n)) for n in range(2)]
    gateway = collector(radio, queue, once=True, scan_s=0.5, max_concurrent=2)
    async with asyncio.timeout(WAIT_S * 2):
        await gateway.run(asyncio.Event())
    assert gateway.metrics.stats.devices_seen == 4
    assert all(schedule.complete for schedule in gateway.schedules.values())
    assert (await queue.counts())["pending"] + (await queue.counts())["unsendable"] == sum(
        len(d.store) for d in devices
    )
    assert BLOOD_GLUCOSE.kind in {row.kind for row in [await queue.device(k) for k in await _device_keys(queue)] if row}
