"""Scanning, connecting, service discovery, Device Information, Battery and Current Time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

from shared.ble.datetime_fields import CurrentTime
from simulator.devices import (
    Behaviour,
    BloodPressureMonitor,
    DeviceClock,
    GlucoseMeter,
    ReadingPlan,
    SimulatedDevice,
    Thermometer,
    WeightScale,
)
from simulator.devices.base import TEST_COMPANY_ID
from simulator.radio import BumbleClient, BumbleScanner

from .conftest import WAIT_S, DeviceStarter, Disconnections, client_for, find, uuid16

KINDS: list[tuple[type[SimulatedDevice], str, int]] = [
    (BloodPressureMonitor, "VS-BPM-0001", 0x1810),
    (WeightScale, "VS-WS-0001", 0x181D),
    (Thermometer, "VS-HT-0001", 0x1809),
    (GlucoseMeter, "VS-GM-0001", 0x1808),
]
MANUFACTURER_NAME = uuid16(0x2A29)
CURRENT_TIME = uuid16(0x2A2B)


def into(
    queue: asyncio.Queue[tuple[BLEDevice, AdvertisementData]],
) -> Callable[[BLEDevice, AdvertisementData], None]:
    """A detection callback that queues what the scanner reports."""
    return lambda device, advertisement: queue.put_nowait((device, advertisement))


async def test_scan_finds_each_kind_by_service_uuid_and_name(radio: str, start: DeviceStarter) -> None:
    devices = [await start(kind, name, readings=ReadingPlan(count=2)) for kind, name, _ in KINDS]
    for device, (_, name, service) in zip(devices, KINDS, strict=True):
        seen: asyncio.Queue[tuple[BLEDevice, AdvertisementData]] = asyncio.Queue()
        scanner = BleakScanner(into(seen), [uuid16(service)], backend=BumbleScanner, radio=radio)
        async with scanner, asyncio.timeout(WAIT_S):
            found, advertisement = await seen.get()
        # The service filter let only this kind through, with everything the device advertises.
        assert (found.address, found.name) == (device.address, name)
        assert advertisement.local_name == name
        assert advertisement.service_uuids == [uuid16(service)]
        assert advertisement.manufacturer_data == {TEST_COMPANY_ID: b"VS"}
        assert isinstance(advertisement.rssi, int)
        assert scanner.backend_id == "BumbleScanner"


async def test_connect_discovers_services_with_properties_and_descriptors(radio: str, start: DeviceStarter) -> None:
    glucose = await start(GlucoseMeter, "VS-GM-0002", readings=ReadingPlan(count=2))
    async with await client_for(radio, glucose) as client:
        assert client.is_connected
        assert client.mtu_size == 247
        services = {service.uuid for service in client.services}
        assert {uuid16(0x1808), uuid16(0x180A), uuid16(0x180F), uuid16(0x1805)} <= services
        racp = client.services.get_characteristic(uuid16(0x2A52))
        assert racp is not None
        assert sorted(racp.properties) == ["indicate", "write"]
        assert [descriptor.uuid for descriptor in racp.descriptors] == [uuid16(0x2902)]
        measurement = client.services.get_characteristic(uuid16(0x2A18))
        assert measurement is not None and measurement.properties == ["notify"]
        assert measurement.max_write_without_response_size == 244
    assert not client.is_connected


async def test_device_information_and_battery(radio: str, start: DeviceStarter) -> None:
    scale = await start(WeightScale, "VS-WS-0002", readings=ReadingPlan(count=1))
    async with await client_for(radio, scale) as client:
        strings = {
            uuid: (await client.read_gatt_char(uuid16(uuid))).decode()
            for uuid in (0x2A29, 0x2A24, 0x2A25, 0x2A26, 0x2A27, 0x2A28)
        }
        assert await client.read_gatt_char(uuid16(0x2A19)) == bytes([scale.battery_level])
    identity = scale.identity
    assert strings == {
        0x2A29: identity.manufacturer,
        0x2A24: identity.model,
        0x2A25: identity.serial,
        0x2A26: identity.firmware,
        0x2A27: identity.hardware,
        0x2A28: identity.software,
    }


async def test_current_time_write_sets_the_device_clock(radio: str, start: DeviceStarter) -> None:
    ticks = [1000.0]
    clock = DeviceClock(dt.datetime(2001, 1, 1), drift_ppm=100_000, monotonic=lambda: ticks[0])
    cuff = await start(BloodPressureMonitor, "VS-BPM-0002", clock=clock)
    async with await client_for(radio, cuff) as client:
        ticks[0] += 10  # 10 s at +10 %: the drifting clock shows 11 s
        shown = CurrentTime.from_bytes(await client.read_gatt_char(CURRENT_TIME))
        assert shown.date_time.to_datetime() == dt.datetime(2001, 1, 1, 0, 0, 11)

        moment = dt.datetime(2025, 3, 4, 5, 6, 7)
        await client.write_gatt_char(CURRENT_TIME, bytes(CurrentTime.from_datetime(moment)), response=True)
        assert cuff.clock.last_set == moment
        shown = CurrentTime.from_bytes(await client.read_gatt_char(CURRENT_TIME))
        assert shown.date_time.to_datetime() == moment
        assert shown.day_of_week == moment.isoweekday()
    assert cuff.ground_truth()["clock"]["last_set"] == "2025-03-04T05:06:07"


async def test_current_time_write_rejected_with_0x80(radio: str, start: DeviceStarter) -> None:
    cuff = await start(BloodPressureMonitor, "VS-BPM-0003", behaviour=Behaviour(reject_time_writes=True))
    async with await client_for(radio, cuff) as client:
        value = bytes(CurrentTime.from_datetime(dt.datetime(2025, 3, 4, 5, 6, 7)))
        with pytest.raises(BleakGATTProtocolError) as caught:
            await client.write_gatt_char(CURRENT_TIME, value, response=True)
    assert isinstance(caught.value, BleakError)
    assert caught.value.code == 0x80
    assert cuff.clock.last_set is None


async def test_malformed_current_time_write_is_refused(radio: str, start: DeviceStarter) -> None:
    cuff = await start(BloodPressureMonitor, "VS-BPM-0004")
    async with await client_for(radio, cuff) as client:
        with pytest.raises(BleakGATTProtocolError) as short:
            await client.write_gatt_char(CURRENT_TIME, b"\xe9\x07\x03", response=True)
        month_13 = bytes.fromhex("e9070d0105060701 0000".replace(" ", ""))
        with pytest.raises(BleakGATTProtocolError) as invalid:
            await client.write_gatt_char(CURRENT_TIME, month_13, response=True)
    assert short.value.code == BleakGATTProtocolErrorCode.INVALID_ATTRIBUTE_VALUE_LENGTH
    assert invalid.value.code == BleakGATTProtocolErrorCode.OUT_OF_RANGE


async def test_write_without_response_reaches_the_device(radio: str, start: DeviceStarter) -> None:
    thermometer = await start(Thermometer, "VS-HT-0002")
    async with await client_for(radio, thermometer) as client:
        interval = uuid16(0x2A21)
        await client.write_gatt_char(interval, (30).to_bytes(2, "little"), response=True)
        assert await client.read_gatt_char(interval) == (30).to_bytes(2, "little")
        with pytest.raises(BleakGATTProtocolError) as caught:
            await client.write_gatt_char(interval, (7200).to_bytes(2, "little"), response=True)
        assert caught.value.code == BleakGATTProtocolErrorCode.OUT_OF_RANGE
        local_time = uuid16(0x2A0F)
        await client.write_gatt_char(local_time, bytes([8, 4]), response=False)
        # A Write Command has no answer; the next read on the same bearer comes after it.
        assert await client.read_gatt_char(local_time) == bytes([8, 4])
    assert thermometer.measurement_interval_s == 30


async def test_clients_connect_concurrently_and_disconnect_without_callback(radio: str, start: DeviceStarter) -> None:
    devices = [await start(kind, f"{name}-C", readings=ReadingPlan(count=1)) for kind, name, _ in KINDS]
    found = [await find(radio, device) for device in devices]
    disconnections = Disconnections()
    clients = [
        BleakClient(ble_device, disconnected_callback=disconnections, backend=BumbleClient, timeout=WAIT_S)
        for ble_device in found
    ]
    await asyncio.gather(*(client.connect() for client in clients))
    names = await asyncio.gather(*(client.read_gatt_char(uuid16(0x2A00)) for client in clients))
    assert [name.decode() for name in names] == [device.name for device in devices]
    await asyncio.gather(*(client.disconnect() for client in clients))
    assert not any(client.is_connected for client in clients)
    assert disconnections.count == 0  # bleak reports unsolicited disconnections only


async def test_connect_to_an_absent_device_times_out(radio: str) -> None:
    client = BleakClient("C0:5E:53:FF:FF:FE", backend=BumbleClient, timeout=0.3, radio=radio)
    with pytest.raises(TimeoutError):
        await client.connect()
    assert not client.is_connected


async def test_service_filter_limits_discovery(radio: str, start: DeviceStarter) -> None:
    meter = await start(GlucoseMeter, "VS-GM-0003", readings=ReadingPlan(count=1))
    async with await client_for(radio, meter, services=[uuid16(0x1808), "180f"]) as client:
        assert sorted(service.uuid for service in client.services) == [uuid16(0x1808), uuid16(0x180F)]
