"""``vitalsync legacy seed|serve`` through typer's CliRunner on the sub-app."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from simulator.legacy.cli import app
from simulator.legacy.export_format import (
    HASH_KEY_FILE,
    MANIFEST_FILE,
    PASSWORDS_FILE,
    SNAPSHOT_FILE,
    THINGS_FILE,
    USERS_FILE,
)
from simulator.legacy.model import LegacyDataset

runner = CliRunner()
ALL_FILES = {USERS_FILE, PASSWORDS_FILE, HASH_KEY_FILE, THINGS_FILE, SNAPSHOT_FILE, MANIFEST_FILE}


def test_seed_writes_every_file_and_prints_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dataset"
    result = runner.invoke(app, ["seed", "--users", "15", "--seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert {path.name for path in out.iterdir()} == ALL_FILES
    assert "users" in result.stdout and "snapshot offsets" in result.stdout
    manifest = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
    assert (manifest["seed"], manifest["users"]) == (3, 15)


def test_seed_json_output_and_same_seed_same_files(tmp_path: Path) -> None:
    outputs = []
    for name in ("a", "b"):
        result = runner.invoke(app, ["seed", "--users", "5", "--seed", "8", "--out", str(tmp_path / name), "--json"])
        assert result.exit_code == 0, result.output
        outputs.append(json.loads(result.stdout))
    assert outputs[0]["users"] == 5 and outputs[0]["objects"] == outputs[1]["objects"]
    for name in ALL_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--users", "0"], "error: --users must be at least 1 (got 0)\n"),
        (["--users", "-4"], "error: --users must be at least 1 (got -4)\n"),
        (["--partitions", "0"], "error: --partitions must be at least 1 (got 0)\n"),
    ],
)
def test_seed_bad_numbers_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["seed", *args, "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert result.stderr == message and result.stdout == ""
    assert not (tmp_path / "x").exists()


def test_seed_into_an_unwritable_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = runner.invoke(app, ["seed", "--users", "2", "--out", str(blocker / "dataset")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot write to {blocker / 'dataset'}: ")
    assert result.stderr.count("\n") == 1


def test_seed_without_out_is_a_usage_error() -> None:
    result = runner.invoke(app, ["seed", "--users", "2"])
    assert result.exit_code == 2
    assert "--out" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--latency-ms", "-1"], "--latency-ms must not be negative"),
        (["--failure-rate", "1.5"], "--failure-rate must be between 0 and 1"),
        (["--port", "70000"], "--port must be between 1 and 65535"),
    ],
)
def test_serve_bad_knobs_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = runner.invoke(app, ["serve", "--dir", str(tmp_path), *args])
    assert result.exit_code == 2
    assert result.stderr == f"error: {message} (got {args[1]})\n"


def test_serve_refuses_a_directory_without_a_dataset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a legacy dataset" in result.stderr and result.stderr.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, body: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_serve_answers_logins_over_a_real_socket(dataset_dir: Path, dataset: LegacyDataset) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from simulator.legacy.cli import app; app()",
            "serve",
            "--dir",
            str(dataset_dir),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                assert _get_json(f"{base}/_emulator/stats")[0] == 200
                break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the emulator did not start listening"
                time.sleep(0.05)
        passwords = json.loads((dataset_dir / PASSWORDS_FILE).read_text(encoding="utf-8"))
        user = dataset.users[0]
        status, body = _get_json(
            f"{base}/api/oauth2/token",
            {"username": user.login_name, "password": passwords[user.legacy_user_id]},
            {"X-Kii-AppID": dataset.app_id, "X-Kii-AppKey": dataset.app_key},
        )
        assert (status, body["id"]) == (200, user.legacy_user_id)
    finally:
        process.terminate()
        process.wait(timeout=10)
