"""Hypothesis strategies for the BLE codec tests: valid values, and valid frames built byte by byte."""

from __future__ import annotations

import calendar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from shared.ble.blood_pressure import MeasurementStatus
from shared.ble.datetime_fields import DateTime
from shared.ble.ieee11073 import Special, decode_float32, decode_sfloat

# Enough examples to hit every flag combination many times; no deadline (first calls fill caches).
ROUND_TRIP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_MAX_DAY_UNKNOWN_YEAR = (31, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@st.composite
def date_times(draw: st.DrawFn) -> DateTime:
    """Any valid Date Time, including unknown year, month or day (0)."""
    year = draw(st.one_of(st.just(0), st.integers(1582, 9999)))
    month = draw(st.integers(0, 12))
    last = calendar.monthrange(year, month)[1] if year and month else _MAX_DAY_UNKNOWN_YEAR[month]
    return DateTime(
        year,
        month,
        draw(st.integers(0, last)),
        draw(st.integers(0, 23)),
        draw(st.integers(0, 59)),
        draw(st.integers(0, 59)),
    )


def sfloats() -> st.SearchStrategy[object]:
    """Every SFLOAT code is a valid value, so drawing raw codes covers numbers and specials alike."""
    return st.one_of(st.sampled_from(list(Special)), st.integers(0, 0xFFFF).map(decode_sfloat))


def float32s() -> st.SearchStrategy[object]:
    """Every FLOAT code is a valid value; specials are added so they are not one in four billion."""
    return st.one_of(st.sampled_from(list(Special)), st.integers(0, 0xFFFFFFFF).map(decode_float32))


def bp_statuses() -> st.SearchStrategy[MeasurementStatus]:
    """Any Measurement Status word, reserved bits included."""
    return st.integers(0, 0xFFFF).map(MeasurementStatus.from_raw)


def optional(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """The strategy's values or None (an absent optional field)."""
    return st.one_of(st.none(), strategy)


def raw_bytes(size: int) -> st.SearchStrategy[bytes]:
    """Any ``size`` bytes: for fields where every bit pattern is valid (SFLOAT, FLOAT, u8, u16)."""
    return st.binary(min_size=size, max_size=size)


def date_time_bytes() -> st.SearchStrategy[bytes]:
    """The 7 bytes of a valid Date Time."""
    return date_times().map(bytes)


@st.composite
def flagged_frame(
    draw: st.DrawFn,
    defined_flags: int,
    head: st.SearchStrategy[bytes],
    parts: list[tuple[int, st.SearchStrategy[bytes]]],
) -> bytes:
    """A valid frame: flags (defined bits only) | head | each optional part whose flag bit is set."""
    flags = draw(st.integers(0, 0xFF)) & defined_flags
    frame = bytes((flags,)) + draw(head)
    for bit, part in parts:
        if flags & bit:
            frame += draw(part)
    return frame
