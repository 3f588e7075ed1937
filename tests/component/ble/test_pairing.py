"""Pairing-required devices: encrypted characteristics refused before pairing, allowed after."""

from __future__ import annotations

import pytest
from bleak.exc import BleakGATTProtocolError, BleakGATTProtocolErrorCode

from shared.ble.blood_pressure import BloodPressureMeasurement
from shared.ble.racp import RacpNumberOfRecords, RacpOpCode, RacpOperator, RacpRequest, decode_racp
from simulator.devices import Behaviour, BloodPressureMonitor, GlucoseMeter, ReadingPlan
from simulator.devices.blood_pressure import DEFAULT_FEATURES

from .conftest import DeviceStarter, Frames, client_for, uuid16

SECURE = Behaviour(pairing_required=True)
INSUFFICIENT_ENCRYPTION = BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION


async def test_encrypted_read_refused_before_pairing_and_allowed_after(radio: str, start: DeviceStarter) -> None:
    cuff = await start(BloodPressureMonitor, "VS-BPM-S", readings=ReadingPlan(count=3, seed=8), behaviour=SECURE)
    frames = Frames()
    async with await client_for(radio, cuff) as client:
        # Device Information stays open; the profile characteristics and their CCCDs do not.
        assert (await client.read_gatt_char(uuid16(0x2A29))).decode() == cuff.identity.manufacturer
        with pytest.raises(BleakGATTProtocolError) as read_refused:
            await client.read_gatt_char(uuid16(0x2A49))
        with pytest.raises(BleakGATTProtocolError) as subscribe_refused:
            await client.start_notify(uuid16(0x2A35), frames)
        with pytest.raises(BleakGATTProtocolError) as time_refused:
            await client.read_gatt_char(uuid16(0x2A2B))

        await client.pair()

        assert await client.read_gatt_char(uuid16(0x2A49)) == bytes(DEFAULT_FEATURES)
        await client.start_notify(uuid16(0x2A35), frames)
        received = await frames.take(3)
    for refused in (read_refused, subscribe_refused, time_refused):
        assert refused.value.code == INSUFFICIENT_ENCRYPTION
    truth = [record["value"] for record in cuff.ground_truth()["records"]]
    assert [BloodPressureMeasurement.from_bytes(frame).to_json() for frame in received] == truth


async def test_pair_on_connect_and_bond_reused_on_reconnect(radio: str, start: DeviceStarter) -> None:
    meter = await start(GlucoseMeter, "VS-GM-S", readings=ReadingPlan(count=4), behaviour=SECURE)
    async with await client_for(radio, meter, pair=True) as client:
        assert len(await client.read_gatt_char(uuid16(0x2A51))) == 2
    # A bonded central encrypts on reconnection without pairing again (as BlueZ does).
    responses = Frames()
    async with await client_for(radio, meter) as client:
        await client.start_notify(uuid16(0x2A52), responses)
        count = RacpRequest(RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS, RacpOperator.ALL_RECORDS)
        await client.write_gatt_char(uuid16(0x2A52), bytes(count), response=True)
        assert decode_racp(await responses.next()) == RacpNumberOfRecords(4)
        await client.unpair()
    assert not client.is_connected
    # Bond forgotten: refused again until the next pairing.
    async with await client_for(radio, meter) as client:
        with pytest.raises(BleakGATTProtocolError) as refused:
            await client.read_gatt_char(uuid16(0x2A51))
    assert refused.value.code == INSUFFICIENT_ENCRYPTION
