"""Glucose meter: every RACP procedure and error, driven through bleak's public API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from bleak import BleakClient
from bleak.exc import BleakGATTProtocolError, BleakGATTProtocolErrorCode

from shared.ble.datetime_fields import DateTime
from shared.ble.glucose import GlucoseMeasurement
from shared.ble.glucose_context import GlucoseMeasurementContext
from shared.ble.racp import (
    RacpFilterType,
    RacpNumberOfRecords,
    RacpOpCode,
    RacpOperator,
    RacpRequest,
    RacpResponse,
    RacpResponseCode,
    decode_racp,
)
from simulator.devices import Behaviour, GlucoseMeter, ReadingPlan

from .conftest import DeviceStarter, Disconnections, Frames, client_for, uuid16

MEASUREMENT, CONTEXT, RACP = uuid16(0x2A18), uuid16(0x2A34), uuid16(0x2A52)
RECORDS = 12
FIRST_SEQUENCE = 40
PLAN = ReadingPlan(count=RECORDS, seed=21, first_sequence_number=FIRST_SEQUENCE, error_rate=0.1)

REPORT_ALL = RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS)
COUNT_ALL = RacpRequest(RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS, RacpOperator.ALL_RECORDS)
ABORT = RacpRequest(RacpOpCode.ABORT_OPERATION, RacpOperator.NULL)


def at_least(sequence_number: int, op_code: RacpOpCode = RacpOpCode.REPORT_STORED_RECORDS) -> RacpRequest:
    """``op_code`` for the records numbered ``sequence_number`` and later."""
    return RacpRequest(op_code, RacpOperator.GREATER_THAN_OR_EQUAL, RacpFilterType.SEQUENCE_NUMBER, (sequence_number,))


@dataclass
class Collector:
    """A connected collector with notifications on 0x2A18/0x2A34 and indications on the RACP."""

    client: BleakClient
    meter: GlucoseMeter
    measurements: Frames
    contexts: Frames
    responses: Frames

    async def request(self, request: RacpRequest | bytes) -> object:
        """Write a request and return the decoded RACP response that ends it."""
        await self.client.write_gatt_char(RACP, bytes(request), response=True)
        return decode_racp(await self.responses.next())

    def records(self) -> list[GlucoseMeasurement]:
        """The measurements notified so far."""
        return [GlucoseMeasurement.from_bytes(frame) for frame in self.measurements.drain()]


async def subscribe(client: BleakClient, meter: GlucoseMeter) -> Collector:
    collector = Collector(client, meter, Frames(), Frames(), Frames())
    await client.start_notify(MEASUREMENT, collector.measurements)
    await client.start_notify(CONTEXT, collector.contexts)
    await client.start_notify(RACP, collector.responses)
    return collector


@pytest.fixture
async def collector(radio: str, start: DeviceStarter) -> AsyncIterator[Collector]:
    meter = await start(GlucoseMeter, "VS-GM-R", readings=PLAN)
    async with await client_for(radio, meter) as client:
        yield await subscribe(client, meter)


def truth_numbers(meter: GlucoseMeter) -> list[int]:
    return [record["sequence_number"] for record in meter.ground_truth()["records"]]


async def test_report_all_records_then_success(collector: Collector) -> None:
    truth = collector.meter.ground_truth()["records"]
    response = await collector.request(REPORT_ALL)
    assert response == RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS)
    records = collector.records()
    assert [record.to_json() for record in records] == [record["value"] for record in truth]
    assert [record.sequence_number for record in records] == list(range(FIRST_SEQUENCE, FIRST_SEQUENCE + RECORDS))
    contexts = [GlucoseMeasurementContext.from_bytes(frame) for frame in collector.contexts.drain()]
    assert [context.to_json() for context in contexts] == [record["context"] for record in truth if record["context"]]
    assert {context.sequence_number for context in contexts} == {
        r.sequence_number for r in records if r.context_follows
    }


async def test_report_greater_or_equal_sequence_number_sends_only_new_records(collector: Collector) -> None:
    newest_known = FIRST_SEQUENCE + 8
    response = await collector.request(at_least(newest_known + 1))
    assert response == RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS)
    assert [record.sequence_number for record in collector.records()] == [
        n for n in truth_numbers(collector.meter) if n > newest_known
    ]


async def test_report_first_and_last_record(collector: Collector) -> None:
    numbers = truth_numbers(collector.meter)
    await collector.request(RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.FIRST_RECORD))
    assert [record.sequence_number for record in collector.records()] == numbers[:1]
    await collector.request(RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.LAST_RECORD))
    assert [record.sequence_number for record in collector.records()] == numbers[-1:]


async def test_report_within_range_and_less_or_equal(collector: Collector) -> None:
    within = RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.WITHIN_RANGE,
        RacpFilterType.SEQUENCE_NUMBER,
        (FIRST_SEQUENCE + 2, FIRST_SEQUENCE + 4),
    )
    await collector.request(within)
    assert [r.sequence_number for r in collector.records()] == [FIRST_SEQUENCE + n for n in (2, 3, 4)]
    at_most = RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.LESS_THAN_OR_EQUAL,
        RacpFilterType.SEQUENCE_NUMBER,
        (FIRST_SEQUENCE + 1,),
    )
    await collector.request(at_most)
    assert [r.sequence_number for r in collector.records()] == [FIRST_SEQUENCE, FIRST_SEQUENCE + 1]


async def test_number_of_stored_records(collector: Collector) -> None:
    assert await collector.request(COUNT_ALL) == RacpNumberOfRecords(RECORDS)
    counted = at_least(FIRST_SEQUENCE + 10, RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS)
    assert await collector.request(counted) == RacpNumberOfRecords(2)
    assert collector.records() == []


async def test_delete_stored_records(collector: Collector) -> None:
    older = RacpRequest(
        RacpOpCode.DELETE_STORED_RECORDS,
        RacpOperator.LESS_THAN_OR_EQUAL,
        RacpFilterType.SEQUENCE_NUMBER,
        (FIRST_SEQUENCE + 4,),
    )
    assert await collector.request(older) == RacpResponse(RacpOpCode.DELETE_STORED_RECORDS, RacpResponseCode.SUCCESS)
    assert truth_numbers(collector.meter) == list(range(FIRST_SEQUENCE + 5, FIRST_SEQUENCE + RECORDS))
    delete_all = RacpRequest(RacpOpCode.DELETE_STORED_RECORDS, RacpOperator.ALL_RECORDS)
    assert await collector.request(delete_all) == RacpResponse(
        RacpOpCode.DELETE_STORED_RECORDS, RacpResponseCode.SUCCESS
    )
    assert await collector.request(COUNT_ALL) == RacpNumberOfRecords(0)
    assert await collector.request(REPORT_ALL) == RacpResponse(
        RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.NO_RECORDS_FOUND
    )
    assert len(collector.meter.store) == 0


async def test_no_records_found(collector: Collector) -> None:
    response = await collector.request(at_least(FIRST_SEQUENCE + RECORDS))
    assert response == RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.NO_RECORDS_FOUND)
    assert collector.records() == []


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        pytest.param("0107", RacpResponse(1, RacpResponseCode.INVALID_OPERATOR), id="unknown-operator"),
        pytest.param("0100", RacpResponse(1, RacpResponseCode.INVALID_OPERATOR), id="null-operator-on-report"),
        pytest.param("0301", RacpResponse(3, RacpResponseCode.INVALID_OPERATOR), id="abort-with-operator"),
        pytest.param("010301", RacpResponse(1, RacpResponseCode.INVALID_OPERAND), id="missing-operand"),
        pytest.param("01010100", RacpResponse(1, RacpResponseCode.INVALID_OPERAND), id="operand-on-all"),
        pytest.param("0104013200 2800", RacpResponse(1, RacpResponseCode.INVALID_OPERAND), id="range-upside-down"),
        pytest.param("0103070100", RacpResponse(1, RacpResponseCode.OPERAND_NOT_SUPPORTED), id="unknown-filter"),
        pytest.param("0901", RacpResponse(9, RacpResponseCode.OP_CODE_NOT_SUPPORTED), id="unknown-op-code"),
    ],
)
async def test_error_response_codes(collector: Collector, request_bytes: str, expected: RacpResponse) -> None:
    assert await collector.request(bytes.fromhex(request_bytes.replace(" ", ""))) == expected
    assert collector.records() == []


async def test_user_facing_time_filter_is_operand_not_supported(collector: Collector) -> None:
    by_time = RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.GREATER_THAN_OR_EQUAL,
        RacpFilterType.USER_FACING_TIME,
        (DateTime(2025, 1, 10, 0, 0, 0),),
    )
    response = await collector.request(by_time)
    assert response == RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.OPERAND_NOT_SUPPORTED)


async def test_abort_mid_transfer_and_procedure_already_in_progress(radio: str, start: DeviceStarter) -> None:
    meter = await start(
        GlucoseMeter,
        "VS-GM-A",
        readings=ReadingPlan(count=200, seed=2),
        behaviour=Behaviour(record_interval_s=0.005),
    )
    async with await client_for(radio, meter) as client:
        collector = await subscribe(client, meter)
        await client.write_gatt_char(RACP, bytes(REPORT_ALL), response=True)
        first = await collector.measurements.take(3)
        with pytest.raises(BleakGATTProtocolError) as busy:
            await client.write_gatt_char(RACP, bytes(COUNT_ALL), response=True)
        assert busy.value.code == BleakGATTProtocolErrorCode.PROCEDURE_ALREADY_IN_PROGRESS
        await client.write_gatt_char(RACP, bytes(ABORT), response=True)
        response = decode_racp(await collector.responses.next())
        assert response == RacpResponse(RacpOpCode.ABORT_OPERATION, RacpResponseCode.SUCCESS)
        received = len(first) + len(collector.measurements.drain())
        assert 3 <= received < 200
        # The aborted report never ends with its own response, and the meter takes requests again.
        assert await collector.request(COUNT_ALL) == RacpNumberOfRecords(200)
        assert collector.responses.drain() == []
        assert collector.measurements.drain() == []


async def test_cccd_improperly_configured(radio: str, start: DeviceStarter) -> None:
    meter = await start(GlucoseMeter, "VS-GM-C", readings=PLAN)
    async with await client_for(radio, meter) as client:
        with pytest.raises(BleakGATTProtocolError) as no_indications:
            await client.write_gatt_char(RACP, bytes(COUNT_ALL), response=True)
        responses = Frames()
        await client.start_notify(RACP, responses)
        with pytest.raises(BleakGATTProtocolError) as no_notifications:
            await client.write_gatt_char(RACP, bytes(REPORT_ALL), response=True)
        # Counting needs only the RACP indications.
        await client.write_gatt_char(RACP, bytes(COUNT_ALL), response=True)
        assert decode_racp(await responses.next()) == RacpNumberOfRecords(RECORDS)
    assert no_indications.value.code == BleakGATTProtocolErrorCode.CCCD_IMPROPERLY_CONFIGURED
    assert no_notifications.value.code == 0xFD


async def test_disconnect_mid_racp_transfer(radio: str, start: DeviceStarter) -> None:
    meter = await start(GlucoseMeter, "VS-GM-X", readings=PLAN, behaviour=Behaviour(disconnect_after_records=5))
    disconnected = Disconnections()
    client = await client_for(radio, meter, disconnected_callback=disconnected)
    await client.connect()
    collector = await subscribe(client, meter)
    await client.write_gatt_char(RACP, bytes(REPORT_ALL), response=True)
    await disconnected.wait()
    assert len(await collector.measurements.take(5)) == 5
    assert collector.responses.drain() == []
    assert not client.is_connected


async def test_early_notification_quirk_on_subscription(radio: str, start: DeviceStarter) -> None:
    meter = await start(GlucoseMeter, "VS-GM-E", readings=PLAN, behaviour=Behaviour(early_notification=True))
    frames = Frames()
    async with await client_for(radio, meter) as client:
        await client.start_notify(MEASUREMENT, frames)
        # Sent inside the CCCD write, before its response: already delivered when start_notify returns.
        assert frames.drain() == [meter.store.records[-1].frame]
