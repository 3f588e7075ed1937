"""``vitalsync ble decode`` through typer's CliRunner on the sub-app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shared.ble.cli import app

runner = CliRunner()

# Nordic Android-BLE-Common-Library .../bps/BloodPressureMeasurementDataCallbackTest.java (kPa frame).
NORDIC_BPM_SOME_HEX = ["15", "BD", "F0", "0B", "00", "9F", "F0", "3C", "00", "12", "00"]


def test_decodes_separate_hex_arguments() -> None:
    result = runner.invoke(app, ["decode", "--char", "2a35", *NORDIC_BPM_SOME_HEX])
    assert result.exit_code == 0, result.output
    decoded = json.loads(result.stdout)
    assert (decoded["unit"], decoded["systolic"], decoded["systolic_mmhg"]) == ("kPa", 18.9, 141.761638)
    assert result.stdout.startswith('{\n  "unit"')  # indent 2
    assert result.stderr == ""


def test_hex_with_spaces_in_one_argument_and_a_128_bit_uuid() -> None:
    result = runner.invoke(
        app, ["decode", "--char", "00002A1C-0000-1000-8000-00805F9B34FB", "06 B0 0E 00 FE DC070C05 0B321B04"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["temperature_celsius"] == 37.6


def test_specials_print_as_strings() -> None:
    result = runner.invoke(app, ["decode", "--char", "0x2A35", "00FF07FF07FF07"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["systolic"] == "NaN"


def test_malformed_frame_exits_2_with_one_line() -> None:
    result = runner.invoke(app, ["decode", "--char", "2a35", "04 78 00 50 00 5D 00 48"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == ("error: blood_pressure.pulse_rate: frame too short at byte 7 (need 2 bytes, have 1)\n")


def test_bad_hex_exits_2_and_says_how_to_write_it() -> None:
    result = runner.invoke(app, ["decode", "--char", "2a35", "1e 8g"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: hex: 'g' is not a hex digit at byte 1 (give the value as hex")
    odd = runner.invoke(app, ["decode", "--char", "2a35", "1e8"])
    assert odd.exit_code == 2
    assert "odd number of hex digits (3)" in odd.stderr


def test_unknown_and_malformed_uuids_exit_2() -> None:
    unknown = runner.invoke(app, ["decode", "--char", "2a37", "00"])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("error: uuid: no codec for 0x2A37 (known: 2a08,")
    malformed = runner.invoke(app, ["decode", "--char", "heart", "00"])
    assert malformed.exit_code == 2
    assert "give 4 hex digits like 2a35" in malformed.stderr


def test_missing_arguments_are_usage_errors() -> None:
    result = runner.invoke(app, ["decode", "--char", "2a35"])
    assert result.exit_code == 2
    assert "HEX" in result.output
