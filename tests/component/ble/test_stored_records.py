"""Stored records indicated on subscription (BP, weight, thermometer): policies, knobs, quirks."""

from __future__ import annotations

import pytest
from bleak.exc import BleakError

from shared.ble.blood_pressure import BloodPressureMeasurement, IntermediateCuffPressure
from shared.ble.errors import BleDecodeError
from shared.ble.ieee11073 import SFloat, Special
from shared.ble.registry import decode
from shared.ble.temperature import TemperatureMeasurement, TemperatureTypeValue
from shared.ble.weight import MEASUREMENT_UNSUCCESSFUL, WeightMeasurement, WeightScaleFeature
from simulator.devices import (
    Behaviour,
    BloodPressureMonitor,
    Reading,
    ReadingPlan,
    SimulatedDevice,
    Thermometer,
    UploadPolicy,
    VendorQuirk,
    WeightScale,
)
from simulator.devices.blood_pressure import CUFF_RAMP_MMHG
from simulator.devices.blood_pressure import DEFAULT_FEATURES as BP_FEATURES
from simulator.devices.weight_scale import DEFAULT_FEATURES as WS_FEATURES

from .conftest import DeviceStarter, Disconnections, Frames, client_for, uuid16

PLAN = ReadingPlan(count=6, seed=7, user_ids=(1, 2), out_of_range_rate=0.3, error_rate=0.2)
MEASUREMENTS = {BloodPressureMonitor: 0x2A35, WeightScale: 0x2A9D, Thermometer: 0x2A1C}


def expected_values(device: SimulatedDevice) -> list[dict[str, object]]:
    """The decoded values of the records a collector receives on subscription (ground truth)."""
    truth = device.ground_truth()
    by_number = {record["sequence_number"]: record["value"] for record in truth["records"]}
    return [by_number[number] for number in truth["upload_sequence_numbers"]]


@pytest.mark.parametrize("kind", list(MEASUREMENTS), ids=lambda kind: kind.KIND)
async def test_all_stored_records_arrive_as_indications_matching_ground_truth(
    radio: str, start: DeviceStarter, kind: type[SimulatedDevice]
) -> None:
    device = await start(kind, f"VS-{kind.KIND[:6]}", readings=PLAN)
    expected = expected_values(device)
    assert len(expected) == PLAN.count
    frames = Frames()
    async with await client_for(radio, device) as client:
        measurement = uuid16(MEASUREMENTS[kind])
        characteristic = client.services.get_characteristic(measurement)
        assert characteristic is not None and characteristic.properties == ["indicate"]
        await client.start_notify(measurement, frames)
        received = await frames.take(PLAN.count)
    assert [decode(MEASUREMENTS[kind], frame).to_json() for frame in received] == expected
    assert [frame.hex() for frame in received] == [record["frame_hex"] for record in device.ground_truth()["records"]]
    assert len(device.store) == PLAN.count  # policy "all" keeps the records


async def test_feature_and_type_characteristics(radio: str, start: DeviceStarter) -> None:
    cuff = await start(BloodPressureMonitor, "VS-BPM-F")
    scale = await start(WeightScale, "VS-WS-F")
    thermometer = await start(Thermometer, "VS-HT-F")
    async with await client_for(radio, cuff) as client:
        assert await client.read_gatt_char(uuid16(0x2A49)) == bytes(BP_FEATURES)
    async with await client_for(radio, scale) as client:
        assert WeightScaleFeature.from_bytes(await client.read_gatt_char(uuid16(0x2A9E))) == WS_FEATURES
    async with await client_for(radio, thermometer) as client:
        value = TemperatureTypeValue.from_bytes(await client.read_gatt_char(uuid16(0x2A1D)))
        assert value.temperature_type == thermometer.temperature_type


async def test_latest_policy_sends_only_the_newest_record(radio: str, start: DeviceStarter) -> None:
    cuff = await start(
        BloodPressureMonitor, "VS-BPM-L", readings=PLAN, behaviour=Behaviour(upload_policy=UploadPolicy.LATEST)
    )
    expected = expected_values(cuff)
    assert expected == [cuff.ground_truth()["records"][-1]["value"]]
    frames = Frames()
    async with await client_for(radio, cuff) as client:
        await client.start_notify(uuid16(0x2A35), frames)
        received = await frames.take(1)
        await client.stop_notify(uuid16(0x2A35))
    assert [BloodPressureMeasurement.from_bytes(frame).to_json() for frame in received] == expected
    assert frames.drain() == []
    assert len(cuff.store) == PLAN.count


async def test_delete_after_download_empties_the_store(radio: str, start: DeviceStarter) -> None:
    scale = await start(
        WeightScale,
        "VS-WS-D",
        readings=PLAN,
        behaviour=Behaviour(upload_policy=UploadPolicy.DELETE_AFTER_DOWNLOAD, disconnect_after_upload=True),
    )
    expected = expected_values(scale)
    frames = Frames()
    disconnected = Disconnections()
    client = await client_for(radio, scale, disconnected_callback=disconnected)
    async with client:
        await client.start_notify(uuid16(0x2A9D), frames)
        received = await frames.take(PLAN.count)
        await disconnected.wait()  # the scale hangs up after its upload
    assert [WeightMeasurement.from_bytes(frame).to_json() for frame in received] == expected
    assert len(scale.store) == 0
    assert scale.ground_truth()["records"] == []
    # A second collector gets nothing (the records were erased) and is hung up on again.
    hung_up = Disconnections()
    async with await client_for(radio, scale, disconnected_callback=hung_up) as again:
        again_frames = Frames()
        await again.start_notify(uuid16(0x2A9D), again_frames)
        await hung_up.wait()
    assert again_frames.drain() == []


async def test_device_disconnect_mid_transfer_reaches_bleaks_callback(radio: str, start: DeviceStarter) -> None:
    cuff = await start(
        BloodPressureMonitor,
        "VS-BPM-X",
        readings=ReadingPlan(count=8, seed=3),
        behaviour=Behaviour(disconnect_after_records=3),
    )
    frames = Frames()
    disconnected = Disconnections()
    client = await client_for(radio, cuff, disconnected_callback=disconnected)
    await client.connect()
    await client.start_notify(uuid16(0x2A35), frames)
    await disconnected.wait()
    assert disconnected.count == 1
    assert not client.is_connected
    assert len(await frames.take(3)) == 3
    assert frames.drain() == []
    with pytest.raises(BleakError):
        await client.read_gatt_char(uuid16(0x2A49))
    await client.disconnect()  # harmless when the device already hung up


async def test_error_values_arrive_as_specials(radio: str, start: DeviceStarter) -> None:
    errors_only = ReadingPlan(count=3, seed=5, error_rate=1.0)
    cuff = await start(BloodPressureMonitor, "VS-BPM-N", readings=errors_only)
    thermometer = await start(Thermometer, "VS-HT-N", readings=errors_only)
    scale = await start(WeightScale, "VS-WS-N", readings=errors_only)
    received = {}
    for device, uuid in ((cuff, 0x2A35), (thermometer, 0x2A1C), (scale, 0x2A9D)):
        frames = Frames()
        async with await client_for(radio, device) as client:
            await client.start_notify(uuid16(uuid), frames)
            received[uuid] = await frames.take(3)
    for frame in received[0x2A35]:
        value = BloodPressureMeasurement.from_bytes(frame)
        assert value.systolic is Special.NAN and value.diastolic is Special.NAN
        assert value.pulse_rate is Special.NAN
        assert frame[1:3] == b"\xff\x07"  # NaN on the wire, never the number 2047
    assert all(TemperatureMeasurement.from_bytes(f).temperature is Special.NAN for f in received[0x2A1C])
    assert all(WeightMeasurement.from_bytes(f).weight_raw is MEASUREMENT_UNSUCCESSFUL for f in received[0x2A9D])


async def test_notification_before_the_cccd_write_response(radio: str, start: DeviceStarter) -> None:
    thermometer = await start(
        Thermometer, "VS-HT-E", readings=ReadingPlan(count=4, seed=9), behaviour=Behaviour(early_notification=True)
    )
    expected = expected_values(thermometer)
    frames = Frames()
    async with await client_for(radio, thermometer) as client:
        await client.start_notify(uuid16(0x2A1C), frames)
        # The first record came before the Write Response, so it is there when start_notify returns.
        assert not frames.queue.empty()
        received = await frames.take(4)
    assert [TemperatureMeasurement.from_bytes(frame).to_json() for frame in received] == expected


async def test_vendor_quirk_reserved_flag_bit(radio: str, start: DeviceStarter) -> None:
    scale = await start(
        WeightScale,
        "VS-WS-Q",
        readings=ReadingPlan(count=2, seed=4),
        behaviour=Behaviour(vendor_quirk=VendorQuirk.RESERVED_FLAG_BIT),
    )
    truth = scale.ground_truth()["records"]
    frames = Frames()
    async with await client_for(radio, scale) as client:
        await client.start_notify(uuid16(0x2A9D), frames)
        received = await frames.take(2)
    assert [frame.hex() for frame in received] == [record["frame_hex"] for record in truth]
    for frame in received:
        assert frame[0] & 0x80
        with pytest.raises(BleDecodeError) as caught:
            WeightMeasurement.from_bytes(frame)
        assert caught.value.field == "weight.flags"


async def test_vendor_quirk_year_zero_time_stamps(radio: str, start: DeviceStarter) -> None:
    cuff = await start(
        BloodPressureMonitor,
        "VS-BPM-Y",
        readings=ReadingPlan(count=2, seed=4),
        behaviour=Behaviour(vendor_quirk=VendorQuirk.YEAR_ZERO_TIMESTAMP),
    )
    frames = Frames()
    async with await client_for(radio, cuff) as client:
        await client.start_notify(uuid16(0x2A35), frames)
        received = [BloodPressureMeasurement.from_bytes(frame) for frame in await frames.take(2)]
    assert all(value.time_stamp is not None and value.time_stamp.year == 0 for value in received)
    assert [value.to_json() for value in received] == expected_values(cuff)


async def test_live_measurement_with_intermediate_cuff_pressure(radio: str, start: DeviceStarter) -> None:
    cuff = await start(BloodPressureMonitor, "VS-BPM-I", intermediate_cuff_pressure=True)
    live = BloodPressureMonitor.generate(ReadingPlan(count=1, seed=11))[0]
    cuff_frames, measurements = Frames(), Frames()
    async with await client_for(radio, cuff) as client:
        await client.start_notify(uuid16(0x2A36), cuff_frames)
        await client.start_notify(uuid16(0x2A35), measurements)
        record = await cuff.measure(Reading(live.measurement))
        pressures = [IntermediateCuffPressure.from_bytes(f) for f in await cuff_frames.take(len(CUFF_RAMP_MMHG))]
        final = BloodPressureMeasurement.from_bytes(await measurements.next())
    assert [p.cuff_pressure for p in pressures] == [SFloat(mmhg, 0) for mmhg in CUFF_RAMP_MMHG]
    assert all(p.unused_diastolic is Special.NAN for p in pressures)
    assert final == live.measurement
    assert record.sequence_number == 1
