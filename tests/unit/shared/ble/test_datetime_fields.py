"""Date Time, Day Date Time, Current Time and Local Time Information."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.datetime_fields import (
    AdjustReason,
    CurrentTime,
    DateTime,
    DayDateTime,
    DayOfWeek,
    DstOffset,
    LocalTimeInformation,
)
from shared.ble.errors import BleDecodeError, InvalidValueError

from .strategies import ROUND_TRIP, date_times

# NordicSemiconductor/Android-BLE-Common-Library
# ble-common/src/test/java/no/nordicsemi/android/ble/common/callback/DateTimeDataCallbackTest.java
NORDIC_DATE_TIME_TODAY = bytes([0xE2, 0x07, 4, 17, 15, 51, 0])
NORDIC_DATE_TIME_DATE_UNKNOWN = bytes([0x00, 0x00, 0, 0, 18, 26, 32])
NORDIC_DATE_TIME_TOO_SHORT = bytes([0xE2, 0x07, 4, 17, 15, 51])

# StanfordSpezi/SpeziBluetooth Tests/SpeziBluetoothServicesTests/CurrentTimeTests.swift (nowTestTime):
# 2024-06-06 12:04:44, Thursday, fractions256 128; bytes laid out per GATT Specification Supplement v8 §3.62.
SPEZI_CURRENT_TIME = bytes([0xE8, 0x07, 6, 6, 12, 4, 44, 4, 128, 0x00])

# Nordic .../callback/TimeZoneDataCallbackTest.java and DSTOffsetDataCallbackTest.java (one byte each),
# combined into Local Time Information (time zone s8 | DST offset u8).
NORDIC_TIME_ZONE_PLUS_15_MIN_DST_HALF = bytes([1, 2])
NORDIC_TIME_ZONE_UNKNOWN_DST_UNKNOWN = bytes([0x80, 255])
NORDIC_TIME_ZONE_INVALID = bytes([60, 0])


def test_nordic_date_time() -> None:
    assert DateTime.from_bytes(NORDIC_DATE_TIME_TODAY) == DateTime(2018, 4, 17, 15, 51, 0)
    assert DateTime.from_bytes(NORDIC_DATE_TIME_DATE_UNKNOWN) == DateTime(0, 0, 0, 18, 26, 32)
    assert DateTime(0, 0, 0, 18, 26, 32).to_datetime() is None
    assert DateTime(2018, 4, 17, 15, 51, 0).to_datetime() == dt.datetime(2018, 4, 17, 15, 51)


def test_date_time_too_short_names_the_missing_part() -> None:
    with pytest.raises(BleDecodeError) as caught:
        DateTime.from_bytes(NORDIC_DATE_TIME_TOO_SHORT)
    assert (caught.value.field, caught.value.offset) == ("date_time.seconds", 6)
    assert str(caught.value) == "date_time.seconds: frame too short at byte 6 (need 1 byte, have 0)"


@pytest.mark.parametrize(
    ("frame", "field", "offset"),
    [
        (bytes([0xE2, 0x07, 13, 17, 15, 51, 0]), "date_time.month", 2),
        (bytes([0xE3, 0x07, 2, 29, 15, 51, 0]), "date_time.day", 3),  # 2019 is not a leap year
        (bytes([0x00, 0x00, 4, 31, 15, 51, 0]), "date_time.day", 3),  # April has 30 days in any year
        (bytes([0xE8, 0x03, 4, 17, 15, 51, 0]), "date_time.year", 0),  # 1000 is before 1582
        (bytes([0xE2, 0x07, 4, 17, 24, 51, 0]), "date_time.hours", 4),
        (bytes([0xE2, 0x07, 4, 17, 15, 60, 0]), "date_time.minutes", 5),
        (bytes([0xE2, 0x07, 4, 17, 15, 51, 60]), "date_time.seconds", 6),
        (NORDIC_DATE_TIME_TODAY + b"\x00", "date_time.trailing_bytes", 7),
    ],
)
def test_invalid_date_time_fields_are_rejected_at_their_byte(frame: bytes, field: str, offset: int) -> None:
    with pytest.raises(BleDecodeError) as caught:
        DateTime.from_bytes(frame)
    assert (caught.value.field, caught.value.offset) == (field, offset)


def test_february_29_is_valid_when_the_year_is_unknown_or_leap() -> None:
    assert DateTime(0, 2, 29, 0, 0, 0).day == 29
    assert DateTime(2024, 2, 29, 0, 0, 0).day == 29
    with pytest.raises(InvalidValueError):
        DateTime(2023, 2, 29, 0, 0, 0)


def test_date_time_json() -> None:
    assert DateTime.from_bytes(NORDIC_DATE_TIME_DATE_UNKNOWN).to_json() == {
        "year": None,
        "month": None,
        "day": None,
        "hours": 18,
        "minutes": 26,
        "seconds": 32,
        "iso": None,
    }
    assert DateTime(2018, 4, 17, 15, 51, 0).to_json()["iso"] == "2018-04-17T15:51:00"


def test_spezi_current_time() -> None:
    expected = CurrentTime(DateTime(2024, 6, 6, 12, 4, 44), DayOfWeek.THURSDAY, 128, AdjustReason(0))
    assert CurrentTime.from_bytes(SPEZI_CURRENT_TIME) == expected
    assert bytes(expected) == SPEZI_CURRENT_TIME
    moment = dt.datetime(2024, 6, 6, 12, 4, 44, 500_000)
    assert CurrentTime.from_datetime(moment) == expected


def test_current_time_json_and_adjust_reason() -> None:
    value = CurrentTime(
        DateTime(2005, 12, 27, 12, 31, 40),
        DayOfWeek.TUESDAY,
        127,
        AdjustReason.MANUAL_TIME_UPDATE | AdjustReason.CHANGE_OF_TIME_ZONE,
    )
    assert CurrentTime.from_bytes(bytes(value)) == value
    assert value.to_json() == {
        "date_time": DateTime(2005, 12, 27, 12, 31, 40).to_json(),
        "day_of_week": "tuesday",
        "fractions256": 127,
        "adjust_reason": ["manual_time_update", "change_of_time_zone"],
        "adjust_reason_raw": "0x05",
    }


def test_current_time_keeps_reserved_codes() -> None:
    frame = bytes([0xE8, 0x07, 6, 6, 12, 4, 44, 26, 0, 0xF0])  # day of week 26, adjust bits 4-7: RFU
    value = CurrentTime.from_bytes(frame)
    assert value.day_of_week == 26
    assert value.to_json()["day_of_week"] == "reserved(26)"
    assert bytes(value) == frame


def test_current_time_invalid_date_names_the_nested_field() -> None:
    with pytest.raises(BleDecodeError) as caught:
        CurrentTime.from_bytes(bytes([0xE8, 0x07, 0, 32, 12, 4, 44, 4, 128, 0]))
    assert (caught.value.field, caught.value.offset) == ("current_time.date_time.day", 3)


def test_day_date_time() -> None:
    value = DayDateTime(DateTime(2005, 12, 27, 12, 31, 40), DayOfWeek.TUESDAY)
    assert bytes(value) == bytes([0xD5, 0x07, 12, 27, 12, 31, 40, 2])
    assert DayDateTime.from_bytes(bytes(value)) == value


def test_nordic_local_time_information() -> None:
    assert LocalTimeInformation.from_bytes(NORDIC_TIME_ZONE_PLUS_15_MIN_DST_HALF) == LocalTimeInformation(
        1, DstOffset.HALF_AN_HOUR_DAYLIGHT_TIME
    )
    unknown = LocalTimeInformation.from_bytes(NORDIC_TIME_ZONE_UNKNOWN_DST_UNKNOWN)
    assert unknown == LocalTimeInformation(-128, DstOffset.UNKNOWN)
    assert unknown.to_json() == {
        "time_zone_quarter_hours": None,
        "dst_offset": "unknown",
        "standard_offset_minutes": None,
        "dst_offset_minutes": None,
    }
    with pytest.raises(BleDecodeError) as caught:
        LocalTimeInformation.from_bytes(NORDIC_TIME_ZONE_INVALID)
    assert (caught.value.field, caught.value.offset) == ("local_time_information.time_zone", 0)


def test_reserved_dst_offset_is_kept() -> None:
    # Nordic's DSTOffsetDataCallbackTest rejects 17; a reserved enumeration value is kept here (codes.py).
    assert LocalTimeInformation.from_bytes(bytes([4, 17])).dst_offset == 17


@ROUND_TRIP
@given(date_times())
def test_date_time_round_trips(value: DateTime) -> None:
    assert DateTime.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(date_times(), st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))
def test_current_time_round_trips(value: DateTime, day: int, fractions: int, reason: int) -> None:
    current = CurrentTime(value, day, fractions, AdjustReason(reason))
    assert CurrentTime.from_bytes(bytes(current)) == current


@ROUND_TRIP
@given(st.one_of(st.just(-128), st.integers(-48, 56)), st.integers(0, 255))
def test_local_time_information_round_trips(zone: int, dst: int) -> None:
    value = LocalTimeInformation(zone, dst)
    assert LocalTimeInformation.from_bytes(bytes(value)) == value


@ROUND_TRIP
@given(st.binary(max_size=9))
def test_any_bytes_decode_exactly_or_fail_with_a_named_field(frame: bytes) -> None:
    try:
        value = DateTime.from_bytes(frame)
    except BleDecodeError as err:
        assert err.field.startswith("date_time.")
        assert err.offset is not None and 0 <= err.offset <= len(frame)
    else:
        assert bytes(value) == frame
