"""`vitalsync stack demo` (what `make run` shows a newcomer) works end to end."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from infra.local.stack import Stack
from tests.conftest import free_port, subprocess_env

pytestmark = pytest.mark.integration


def test_demo_collects_simulated_readings_into_sync(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "stack", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        env=subprocess_env(VITALSYNC_DEMO_FLEET_PORT=str(free_port()), COLUMNS="400"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = re.search(r"readings stored for user 'demo': (.*)", result.stderr)
    assert summary is not None, result.stderr[-3000:]
    counts = dict(re.findall(r"(\w+) (\d+)", summary.group(1)))
    assert set(counts) == {"blood_glucose", "blood_pressure", "body_temperature", "weight"}
    assert all(int(n) > 0 for n in counts.values())
    assert f"http://127.0.0.1:{stack.settings.edge_port}/v1/readings" in result.stderr
