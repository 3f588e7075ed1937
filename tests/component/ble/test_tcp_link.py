"""The simulated link between processes: HCI over TCP to a controller in the fleet's link."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

from bleak import BleakClient, BleakScanner

from shared.ble.blood_pressure import BloodPressureMeasurement
from shared.ble.glucose import GlucoseMeasurement
from shared.ble.racp import RacpOpCode, RacpOperator, RacpRequest, RacpResponse, RacpResponseCode, decode_racp
from simulator.devices import GlucoseMeter, ReadingPlan
from simulator.radio import BumbleClient, BumbleScanner, LinkServer, close_central, local_link, resolve_radio_url

from .conftest import WAIT_S, DeviceStarter, Disconnections, Frames, uuid16

REPO = Path(__file__).resolve().parents[3]
SCENARIO = REPO / "simulator" / "scenarios" / "mixed-20.yaml"
REPORT_ALL = RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS)
FLEET_START_S = 20.0


async def test_tcp_loopback_link_and_fleet_going_away(radio: str, start: DeviceStarter) -> None:
    meter = await start(GlucoseMeter, "VS-GM-T", readings=ReadingPlan(count=5, seed=12))
    link_name = resolve_radio_url(radio).link_name
    assert link_name is not None
    async with LinkServer(local_link(link_name), "127.0.0.1", 0) as server:
        found = await BleakScanner.find_device_by_filter(
            lambda _d, ad: ad.local_name == "VS-GM-T", timeout=WAIT_S, backend=BumbleScanner.for_radio(server.url)
        )
        assert found is not None
        disconnected = Disconnections()
        client = BleakClient(found, disconnected_callback=disconnected, backend=BumbleClient, timeout=WAIT_S)
        await client.connect()
        measurements, responses = Frames(), Frames()
        await client.start_notify(uuid16(0x2A18), measurements)
        await client.start_notify(uuid16(0x2A52), responses)
        await client.write_gatt_char(uuid16(0x2A52), bytes(REPORT_ALL), response=True)
        assert decode_racp(await responses.next()) == RacpResponse(1, RacpResponseCode.SUCCESS)
        received = [GlucoseMeasurement.from_bytes(frame).to_json() for frame in measurements.drain()]
        assert received == [record["value"] for record in meter.ground_truth()["records"]]
    # The fleet side closed: bleak hears about it, the device is free for the next central.
    await disconnected.wait()
    assert not client.is_connected
    await close_central(resolve_radio_url(server.url))


async def test_fleet_process_serves_a_gateway_process(tmp_path: Path) -> None:
    truth_path = tmp_path / "truth.json"
    fleet = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from simulator.cli import app; app()",
        "fleet",
        "--scenario",
        str(SCENARIO),
        "--listen",
        "127.0.0.1:0",
        "--truth-out",
        str(truth_path),
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(FLEET_START_S):
            while not truth_path.exists():
                if fleet.returncode is not None:
                    assert fleet.stderr is not None
                    raise AssertionError(f"fleet exited {fleet.returncode}: {(await fleet.stderr.read()).decode()}")
                await asyncio.sleep(0.05)  # polling the file the fleet writes when it is ready
        truth = json.loads(truth_path.read_text())
        assert len(truth["devices"]) >= 20
        assert {device["kind"] for device in truth["devices"]} == {
            "blood_pressure",
            "weight_scale",
            "thermometer",
            "glucose_meter",
        }
        radio = truth["radio"]
        by_name = {device["name"]: device for device in truth["devices"]}

        cuff = by_name["VS-BPM-001"]
        found = await BleakScanner.find_device_by_filter(
            lambda _d, ad: ad.local_name == cuff["name"] and uuid16(0x1810) in ad.service_uuids,
            timeout=WAIT_S,
            backend=BumbleScanner.for_radio(radio),
        )
        assert found is not None and found.address == cuff["address"]
        frames = Frames()
        async with BleakClient(found, backend=BumbleClient, timeout=WAIT_S) as client:
            await client.start_notify(uuid16(0x2A35), frames)
            received = await frames.take(len(cuff["records"]))
        assert [BloodPressureMeasurement.from_bytes(f).to_json() for f in received] == [
            record["value"] for record in cuff["records"]
        ]

        meter = by_name["VS-GM-001"]
        measurements, responses = Frames(), Frames()
        gateway_client = BumbleClient.for_radio(radio)
        async with BleakClient(meter["address"], backend=gateway_client, timeout=WAIT_S) as client:
            await client.start_notify(uuid16(0x2A18), measurements)
            await client.start_notify(uuid16(0x2A52), responses)
            await client.write_gatt_char(uuid16(0x2A52), bytes(REPORT_ALL), response=True)
            assert decode_racp(await responses.next()) == RacpResponse(1, RacpResponseCode.SUCCESS)
        frames_hex = [frame.hex() for frame in measurements.drain()]
        assert frames_hex == [record["frame_hex"] for record in meter["records"]]
        await close_central(resolve_radio_url(radio))
    finally:
        if fleet.returncode is None:
            fleet.send_signal(signal.SIGTERM)
        async with asyncio.timeout(WAIT_S):
            await fleet.wait()
    assert fleet.returncode == 0
