"""Replay of captured frames, and the ``vitalsync sim`` commands."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from shared.ble.blood_pressure import BloodPressureMeasurement
from shared.ble.ieee11073 import Special
from simulator.cli import app
from simulator.devices import Behaviour, ReplayDevice

from .conftest import DeviceStarter, Frames, client_for, uuid16

# Hand-built frames in the BLS 0x2A35 layout (not from a capture): 138/88/103 mmHg stamped
# 2016-06-15 10:30:00, pulse 70, user 1, status 0; an interrupted cuff (NaN everywhere); a cut-off frame.
CUFF_OK = bytes.fromhex("1e8a0058006700e007060f0a1e00460001 0000".replace(" ", ""))
CUFF_NAN = bytes.fromhex("00ff07ff07ff07")
TRUNCATED = bytes.fromhex("1e8a00")


async def test_replay_device_sends_the_captured_frames(radio: str, start: DeviceStarter) -> None:
    device = await start(
        ReplayDevice,
        "VS-REPLAY",
        characteristic=0x2A35,
        frames=[CUFF_OK, CUFF_NAN, TRUNCATED],
        behaviour=Behaviour(disconnect_after_upload=False),
    )
    truth = device.ground_truth()
    assert truth["service_uuid"] == "1810"
    assert [frame["frame_hex"] for frame in truth["frames"]] == [CUFF_OK.hex(), CUFF_NAN.hex(), TRUNCATED.hex()]
    assert "decode_error" in truth["frames"][2]
    frames = Frames()
    async with await client_for(radio, device) as client:
        await client.start_notify(uuid16(0x2A35), frames)
        received = await frames.take(3)
    assert received == [CUFF_OK, CUFF_NAN, TRUNCATED]
    assert BloodPressureMeasurement.from_bytes(received[1]).systolic is Special.NAN
    assert BloodPressureMeasurement.from_bytes(received[0]).to_json() == truth["frames"][0]["value"]


def test_replay_command_writes_its_ground_truth(tmp_path: Path) -> None:
    frames = tmp_path / "frames.txt"
    frames.write_text(f"# capture from a cuff\n{CUFF_OK.hex(' ')}\n\n{CUFF_NAN.hex()}  # interrupted\n")
    truth = tmp_path / "truth.json"
    arguments = ["replay", "--char", "2a35", "--frames", str(frames), "--listen", "127.0.0.1:0"]
    result = CliRunner().invoke(app, [*arguments, "--truth-out", str(truth), "--duration", "0.1"])
    assert result.exit_code == 0, result.output
    written = json.loads(truth.read_text())
    assert written["radio"].startswith("sim://127.0.0.1:")
    (device,) = written["devices"]
    assert (device["kind"], device["characteristic"]) == ("replay", "2a35")
    assert [frame["frame_hex"] for frame in device["frames"]] == [CUFF_OK.hex(), CUFF_NAN.hex()]


def test_fleet_command_rejects_a_bad_scenario(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("devices:\n  - kind: toaster\n")
    result = CliRunner().invoke(app, ["fleet", "--scenario", str(scenario), "--duration", "0"])
    assert result.exit_code == 2
    assert "kind must be one of" in result.output
