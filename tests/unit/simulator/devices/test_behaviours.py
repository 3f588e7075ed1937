"""Behaviour knobs, the drifting device clock, scenarios and RACP request parsing (pure parts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared.ble.racp import RacpOpCode, RacpOperator, RacpRequest, RacpResponse, RacpResponseCode
from simulator.devices import Behaviour, DeviceClock, Scenario, ScenarioError, UploadPolicy, VendorQuirk
from simulator.devices.glucose_meter import parse_request
from simulator.devices.replay import parse_frames

SCENARIOS = Path(__file__).resolve().parents[4] / "simulator" / "scenarios"


def test_behaviour_from_scenario_mapping() -> None:
    behaviour = Behaviour.from_mapping(
        {
            "upload_policy": "delete-after-download",
            "vendor-quirk": "year-zero-timestamp",
            "clock_drift_s_per_day": 8.64,
            "disconnect_after_records": 3,
        }
    )
    assert behaviour.upload_policy is UploadPolicy.DELETE_AFTER_DOWNLOAD
    assert behaviour.vendor_quirk is VendorQuirk.YEAR_ZERO_TIMESTAMP
    assert behaviour.clock_drift_ppm == pytest.approx(100.0)
    assert behaviour.to_json()["upload_policy"] == "delete-after-download"


@pytest.mark.parametrize(
    "mapping",
    [
        {"upload_policy": "sometimes"},
        {"pairing": True},
        {"disconnect_after_records": 0},
        {"battery_level_percent": 101},
    ],
)
def test_behaviour_rejects_unknown_or_invalid_knobs(mapping: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Behaviour.from_mapping(mapping)


def test_clock_drifts_and_is_set() -> None:
    ticks = [0.0]
    clock = DeviceClock(dt.datetime(2025, 1, 1), drift_ppm=1_000_000 / 86_400 * 60, monotonic=lambda: ticks[0])
    ticks[0] = 86_400.0  # one real day: a clock running 60 s/day fast shows one day and one minute
    assert clock.now() == dt.datetime(2025, 1, 2, 0, 1)
    clock.set(dt.datetime(2030, 6, 1, 12, 0))
    ticks[0] += 10
    assert clock.now() == dt.datetime(2030, 6, 1, 12, 0, 10, 6944)
    assert clock.to_json()["last_set"] == "2030-06-01T12:00:00"


def test_example_scenario_has_twenty_devices_of_every_kind() -> None:
    scenario = Scenario.load(SCENARIOS / "mixed-20.yaml")
    assert scenario.device_count >= 20
    assert {group.kind for group in scenario.groups} == {
        "blood_pressure",
        "weight_scale",
        "thermometer",
        "glucose_meter",
    }
    assert scenario.end == dt.datetime(2025, 1, 15, 9, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "non-empty 'devices'"),
        ({"devices": [{"kind": "toaster"}]}, "kind must be one of"),
        ({"devices": [{"kind": "thermometer", "colour": "red"}]}, "unknown keys colour"),
        ({"devices": [{"kind": "thermometer", "behaviour": {"upload_policy": "never"}}]}, "devices[1]"),
        ({"devices": [{"kind": "thermometer", "count": 0}]}, "count must be >= 1"),
    ],
)
def test_scenario_errors_name_the_entry(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Scenario.from_mapping(data)


def test_scenario_defaults_and_names() -> None:
    scenario = Scenario.from_mapping(
        {
            "seed": 3,
            "defaults": {"behaviour": {"advertising_interval_ms": 300}, "records": 4},
            "devices": [{"kind": "glucose_meter", "count": 2, "behaviour": {"pairing_required": True}}],
        },
        now=dt.datetime(2025, 5, 6, 7, 8, 9),
    )
    (group,) = scenario.groups
    assert (group.records, group.name.format(n=2)) == (4, "VS-GM-002")
    assert group.behaviour == Behaviour(advertising_interval_ms=300, pairing_required=True)
    assert scenario.end == dt.datetime(2025, 5, 6, 7, 0)


@pytest.mark.parametrize(
    ("hex_request", "expected"),
    [
        ("0101", RacpRequest(RacpOpCode.REPORT_STORED_RECORDS, RacpOperator.ALL_RECORDS)),
        ("0300", RacpRequest(RacpOpCode.ABORT_OPERATION, RacpOperator.NULL)),
        ("0107", RacpResponse(1, RacpResponseCode.INVALID_OPERATOR)),
        ("01", RacpResponse(1, RacpResponseCode.INVALID_OPERATOR)),
        ("010301", RacpResponse(1, RacpResponseCode.INVALID_OPERAND)),
        ("0103020000000000000000", RacpResponse(1, RacpResponseCode.INVALID_OPERAND)),
        ("0103090100", RacpResponse(1, RacpResponseCode.OPERAND_NOT_SUPPORTED)),
        ("0103 02 e907 01 0f 00 00 00", RacpResponse(1, RacpResponseCode.OPERAND_NOT_SUPPORTED)),
        ("0601", RacpResponse(6, RacpResponseCode.OP_CODE_NOT_SUPPORTED)),
        ("", RacpResponse(0, RacpResponseCode.OP_CODE_NOT_SUPPORTED)),
    ],
)
def test_racp_request_parsing(hex_request: str, expected: object) -> None:
    assert parse_request(bytes.fromhex(hex_request.replace(" ", ""))) == expected


def test_parse_frames_skips_comments_and_names_bad_lines() -> None:
    assert parse_frames("# header\n01 02\n\n0a0b # tail\n") == [b"\x01\x02", b"\x0a\x0b"]
    with pytest.raises(ValueError, match="line 2"):
        parse_frames("0102\nzz\n")
