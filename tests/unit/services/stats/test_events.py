"""Parsing of the events the stats consumer reads: strict enough that a valid event always fits the tables."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, get_args

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.stats.errors import EventRejectedError
from services.stats.events import (
    HANDLED_TYPES,
    IGNORED_TYPES,
    DevicePaired,
    IgnoredEvent,
    ReadingCreated,
    event_id_hint,
    parse_event,
)
from shared.events.envelope import Event, EventType


def reading(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": "5b0c6f0e-0000-4000-8000-000000000001",
        "type": "reading.created",
        "occurred_at": "2026-03-10T08:00:00Z",
        "user_id": "user-1",
        "region": "EU",
        "data": {
            "reading_id": 7,
            "device_id": "device-1",
            "type": "blood_pressure",
            "measured_at": "2026-03-10T09:30:00+09:00",
            "primary_value": 128.0,
        },
    }
    event.update(overrides)
    return event


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_a_reading_event_becomes_naive_utc_with_a_lower_case_region() -> None:
    event = parse_event(raw(reading()))
    assert isinstance(event, ReadingCreated)
    assert event.region == "eu"
    assert event.data.measured_at == datetime(2026, 3, 10, 0, 30)
    assert event.occurred_at == datetime(2026, 3, 10, 8, 0)


def test_what_the_sync_service_publishes_is_accepted() -> None:
    published = Event(
        type="device.paired",
        user_id="user-1",
        region="jp",
        data={"device_id": "d-1", "kind": "weight", "model": "WS-210", "firmware": None},
    )
    assert isinstance(parse_event(published.model_dump_json().encode()), DevicePaired)


def test_known_types_without_a_stats_effect_are_ignored_not_rejected() -> None:
    assert set(HANDLED_TYPES) | set(IGNORED_TYPES) == set(get_args(EventType))
    for kind in IGNORED_TYPES:
        assert isinstance(parse_event(raw(reading(type=kind, data={}))), IgnoredEvent)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b'{"id": "x", ', "invalid JSON"),
        (b"", "empty record value"),
        (raw(reading(type="reading.deleted")), "unknown event type"),
        (raw({k: v for k, v in reading().items() if k != "type"}), "missing field type"),
        (
            raw(reading(data={"reading_id": 1})),
            "missing field data.device_id; missing field data.type; missing field data.measured_at",
        ),
        (raw({k: v for k, v in reading().items() if k != "user_id"}), "missing field user_id"),
        (raw(reading(user_id="u" * 37)), "user_id: String should have at most 36 characters"),
        (raw(reading(region="europe-west")), "region: String should have at most 8 characters"),
    ],
)
def test_malformed_events_are_rejected_with_a_reason_that_names_fields_not_values(value: bytes, reason: str) -> None:
    with pytest.raises(EventRejectedError) as caught:
        parse_event(value)
    assert caught.value.reason == reason


def test_the_reason_never_echoes_values() -> None:
    with pytest.raises(EventRejectedError) as caught:
        parse_event(raw(reading(data={**reading()["data"], "measured_at": "systolic-128-secret"})))
    assert "128" not in caught.value.reason and "measured_at" in caught.value.reason


def test_the_event_id_of_a_rejected_record_is_recovered_when_readable() -> None:
    assert event_id_hint(raw(reading(type="nope", id="abc"))) == "abc"
    assert event_id_hint(b"not json") is None


@given(st.binary(max_size=300))
def test_arbitrary_bytes_parse_or_are_rejected_never_crash(value: bytes) -> None:
    try:
        parse_event(value)
    except EventRejectedError as exc:
        assert exc.reason
