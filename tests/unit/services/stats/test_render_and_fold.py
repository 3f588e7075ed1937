"""Pure parts of the consumer and the reports: folding a batch into deltas, and value rendering."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from services.stats.aggregates import BatchOutcome, _fold
from services.stats.device_state import DeviceState
from services.stats.events import NO_DEVICE_MODEL, StatsEvent, parse_event
from services.stats.routes.render import plain


def _event(kind: str, data: dict[str, Any], user: str = "u1", event_id: str = "e") -> StatsEvent:
    return parse_event(
        json.dumps(
            {
                "id": event_id,
                "type": kind,
                "occurred_at": "2026-03-10T08:00:00Z",
                "user_id": user,
                "region": "eu",
                "data": data,
            }
        ).encode()
    )


def _reading(device: str | None, at: str = "2026-03-10T08:00:00Z", user: str = "u1") -> StatsEvent:
    data = {"reading_id": 1, "device_id": device, "type": "weight", "measured_at": at}
    return _event("reading.created", data, user)


def test_a_device_paired_in_the_same_batch_gives_its_model_to_later_readings() -> None:
    devices: dict[str, DeviceState] = {}
    outcome = BatchOutcome()
    events = [
        _event("device.paired", {"device_id": "d1", "kind": "weight", "model": "WS-210 ", "firmware": "1.0"}),
        _reading("d1"),
        _reading("d1", "2026-03-10T09:00:00Z"),
        _reading(None, user="u2"),
        _reading("ghost"),
    ]
    deltas, accepted = _fold(events, devices, outcome)
    assert len(accepted) == 4 and [reason for _, reason in outcome.rejected] == ["unknown device"]
    day = date(2026, 3, 10)
    assert deltas.readings == {(day, "eu", "WS-210", "weight"): 2, (day, "eu", NO_DEVICE_MODEL, "weight"): 1}
    assert deltas.devices == {(day, "eu", "WS-210", "weight", "u1", "d1")}
    assert deltas.markers == {
        (day, "eu", "WS-210", "weight", "u1", ""),
        (day, "eu", NO_DEVICE_MODEL, "weight", "u2", ""),
    }
    assert deltas.region_members == {(day, "eu", "u1"), (day, "eu", "u2")}
    assert devices["d1"].seen == datetime(2026, 3, 10, 9) and devices["d1"].dirty


def test_values_render_as_json_and_csv_want_them() -> None:
    assert plain(date(2026, 3, 1)) == "2026-03-01"
    assert plain(datetime(2026, 3, 1, 2, 3, 4)) == "2026-03-01T02:03:04Z"
    assert plain(Decimal("12")) == 12 and plain(Decimal("1.5")) == 1.5
    assert plain(None) is None
