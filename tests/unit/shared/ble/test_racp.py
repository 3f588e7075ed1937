"""Record Access Control Point 0x2A52: requests and both kinds of response, both directions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.datetime_fields import DateTime
from shared.ble.errors import BleDecodeError, InvalidValueError
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

from .strategies import ROUND_TRIP, date_times

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/
#     RecordAccessControlPointDataCallbackTest.java
NORDIC_RESPONSES = {
    bytes([6, 0, 1, 1]): RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.SUCCESS),
    bytes([6, 0, 12, 2]): RacpResponse(12, RacpResponseCode.OP_CODE_NOT_SUPPORTED),
    bytes([6, 0, 1, 3]): RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.INVALID_OPERATOR),
    bytes([6, 0, 2, 4]): RacpResponse(RacpOpCode.DELETE_STORED_RECORDS, RacpResponseCode.OPERATOR_NOT_SUPPORTED),
    bytes([6, 0, 1, 5]): RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.INVALID_OPERAND),
    bytes([6, 0, 1, 6]): RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, RacpResponseCode.NO_RECORDS_FOUND),
    bytes([6, 0, 3, 7]): RacpResponse(RacpOpCode.ABORT_OPERATION, RacpResponseCode.ABORT_UNSUCCESSFUL),
    bytes([6, 0, 2, 8]): RacpResponse(RacpOpCode.DELETE_STORED_RECORDS, RacpResponseCode.PROCEDURE_NOT_COMPLETED),
    bytes([6, 0, 2, 9]): RacpResponse(RacpOpCode.DELETE_STORED_RECORDS, RacpResponseCode.OPERAND_NOT_SUPPORTED),
    bytes([6, 0, 1, 10]): RacpResponse(RacpOpCode.REPORT_STORED_RECORDS, 10),  # reserved code, kept
    bytes([5, 0, 2, 1]): RacpNumberOfRecords(258),
}
NORDIC_COUNT_AS_U8 = bytes([5, 0, 1])
NORDIC_COUNT_AS_U32 = bytes([5, 0, 4, 3, 2, 1])
NORDIC_RESPONSE_WITH_OPERATOR = bytes([6, 1, 1])
# Nordic treats these as invalid responses; on this characteristic they are valid requests.
NORDIC_REQUEST_ALL = bytes([1, 1])
NORDIC_REQUEST_AT_LEAST_SEQUENCE_2 = bytes([1, 3, 1, 2, 0])

# shared/reference/ble-gatt.md §1.5 request bytes.
GUIDE_REQUESTS = {
    bytes([0x01, 0x01]): RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS),
    bytes([0x01, 0x05]): RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.FIRST_RECORD),
    bytes([0x01, 0x06]): RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.LAST_RECORD),
    bytes([0x01, 0x03, 0x01, 0x0A, 0x00]): RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.GREATER_THAN_OR_EQUAL,
        RacpFilterType.SEQUENCE_NUMBER,
        (10,),
    ),
    bytes([0x04, 0x01]): RacpRequest(RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS, RacpOperator.ALL_RECORDS),
    bytes([0x02, 0x01]): RacpRequest(RacpOpCode.DELETE_STORED_RECORDS, RacpOperator.ALL_RECORDS),
    bytes([0x03, 0x00]): RacpRequest(RacpOpCode.ABORT_OPERATION, RacpOperator.NULL),
}

# GLS RACP operand table: within range of user-facing times, two Date Time operands after filter type 0x02.
TIME_RANGE_REQUEST = (
    bytes([0x01, 0x04, 0x02]) + bytes(DateTime(2024, 1, 1, 0, 0, 0)) + bytes(DateTime(2024, 1, 31, 23, 59, 59))
)


@pytest.mark.parametrize(("frame", "expected"), NORDIC_RESPONSES.items())
def test_nordic_responses(frame: bytes, expected: object) -> None:
    assert decode_racp(frame) == expected
    assert bytes(decode_racp(frame)) == frame


@pytest.mark.parametrize(("frame", "expected"), GUIDE_REQUESTS.items())
def test_requests(frame: bytes, expected: RacpRequest) -> None:
    assert decode_racp(frame) == expected
    assert bytes(expected) == frame


def test_nordic_bytes_that_are_requests_here() -> None:
    assert decode_racp(NORDIC_REQUEST_ALL) == GUIDE_REQUESTS[bytes([0x01, 0x01])]
    assert decode_racp(NORDIC_REQUEST_AT_LEAST_SEQUENCE_2) == RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.GREATER_THAN_OR_EQUAL,
        RacpFilterType.SEQUENCE_NUMBER,
        (2,),
    )


def test_time_range_request() -> None:
    value = decode_racp(TIME_RANGE_REQUEST)
    assert value == RacpRequest(
        RacpOpCode.REPORT_STORED_RECORDS,
        RacpOperator.WITHIN_RANGE,
        RacpFilterType.USER_FACING_TIME,
        (DateTime(2024, 1, 1, 0, 0, 0), DateTime(2024, 1, 31, 23, 59, 59)),
    )
    assert value.to_json()["operand"][1]["iso"] == "2024-01-31T23:59:59"
    assert bytes(value) == TIME_RANGE_REQUEST


def test_json() -> None:
    assert decode_racp(bytes([6, 0, 12, 2])).to_json() == {
        "op_code": "response_code",
        "request_op_code": "reserved(12)",
        "response_code": "op_code_not_supported",
    }
    assert decode_racp(bytes([5, 0, 2, 1])).to_json() == {
        "op_code": "number_of_stored_records_response",
        "number_of_records": 258,
    }
    assert decode_racp(bytes([0x01, 0x03, 0x01, 0x0A, 0x00])).to_json() == {
        "op_code": "report_stored_records",
        "operator": "greater_than_or_equal",
        "filter_type": "sequence_number",
        "operand": [10],
    }


@pytest.mark.parametrize(
    ("frame", "field", "offset"),
    [
        (b"", "racp.op_code", 0),
        (NORDIC_COUNT_AS_U8, "racp.number_of_records", 2),
        (NORDIC_COUNT_AS_U32, "racp.trailing_bytes", 4),
        (NORDIC_RESPONSE_WITH_OPERATOR, "racp.operator", 1),
        (bytes([7, 0]), "racp.op_code", 0),
        (bytes([0, 1]), "racp.op_code", 0),
        (bytes([1, 7]), "racp.operator", 1),
        (bytes([1]), "racp.operator", 1),
        (bytes([1, 3, 3, 0x0A, 0x00]), "racp.filter_type", 2),
        (bytes([1, 3, 1, 0x0A]), "racp.operand.value", 3),
        (bytes([1, 4, 1, 0x0A, 0x00]), "racp.operand.maximum", 5),
        (bytes([1, 4, 1, 0x0A, 0x00, 0x05, 0x00]), "racp.operand", 3),  # minimum above maximum
        (bytes([1, 0]), "racp.operator", 1),  # Null operator outside Abort
        (bytes([3, 1]), "racp.operator", 1),  # Abort with a real operator
        (bytes([1, 1, 1, 0x0A, 0x00]), "racp.trailing_bytes", 2),  # "all records" takes no operand
        (bytes([1, 3, 2, 0xE8, 0x07, 13, 1, 0, 0, 0]), "racp.operand.value.month", 5),
    ],
)
def test_malformed_values_name_field_and_byte(frame: bytes, field: str, offset: int) -> None:
    with pytest.raises(BleDecodeError) as caught:
        decode_racp(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_constructor_refuses_a_response_op_code_as_a_request() -> None:
    with pytest.raises(InvalidValueError):
        RacpRequest(RacpOpCode.RESPONSE_CODE, RacpOperator.ALL_RECORDS)


@st.composite
def requests(draw: st.DrawFn) -> RacpRequest:
    op_code = draw(
        st.sampled_from(
            [
                RacpOpCode.REPORT_STORED_RECORDS,
                RacpOpCode.DELETE_STORED_RECORDS,
                RacpOpCode.REPORT_NUMBER_OF_STORED_RECORDS,
                RacpOpCode.ABORT_OPERATION,
            ]
        )
    )
    if op_code is RacpOpCode.ABORT_OPERATION:
        return RacpRequest(op_code, RacpOperator.NULL)
    operator = draw(st.sampled_from([op for op in RacpOperator if op is not RacpOperator.NULL]))
    count = {
        RacpOperator.LESS_THAN_OR_EQUAL: 1,
        RacpOperator.GREATER_THAN_OR_EQUAL: 1,
        RacpOperator.WITHIN_RANGE: 2,
    }.get(operator, 0)
    if not count:
        return RacpRequest(op_code, operator)
    if draw(st.booleans()):
        numbers = sorted(draw(st.lists(st.integers(0, 0xFFFF), min_size=count, max_size=count)))
        return RacpRequest(op_code, operator, RacpFilterType.SEQUENCE_NUMBER, tuple(numbers))
    times = sorted(
        draw(st.lists(date_times(), min_size=count, max_size=count)),
        key=lambda t: (t.year, t.month, t.day, t.hours, t.minutes, t.seconds),
    )
    return RacpRequest(op_code, operator, RacpFilterType.USER_FACING_TIME, tuple(times))


@ROUND_TRIP
@given(requests())
def test_requests_round_trip(value: RacpRequest) -> None:
    assert decode_racp(bytes(value)) == value


@ROUND_TRIP
@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF))
def test_responses_round_trip(request: int, code: int, count: int) -> None:
    for value in (RacpResponse(request, code), RacpNumberOfRecords(count)):
        frame = bytes(value)
        assert bytes(decode_racp(frame)) == frame
        assert decode_racp(frame) == value
