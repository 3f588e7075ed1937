"""Service processes: readiness follows the database, and SIGTERM drains in-flight requests."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request

import aiohttp
import pytest

from infra.local.processes import stop_process, wait_until
from infra.local.stack import Stack
from tests.conftest import free_port, subprocess_env

pytestmark = pytest.mark.integration


def _readyz(port: int) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)
    except OSError:
        return 0, {}


def test_readyz_turns_unready_when_mariadb_stops_and_ready_when_it_returns(stack: Stack) -> None:
    port = stack.component("sync").port
    mariadb = stack.component("mariadb")
    assert _readyz(port)[0] == 200
    assert stop_process(stack.paths.pid("mariadb"), mariadb.stop_timeout_s)
    try:
        assert wait_until(lambda: _readyz(port)[0] == 503, 20)
        status, body = _readyz(port)
        assert status == 503 and body["ready"] is False
        assert body["checks"]["database"] != "ok" and body["checks"]["kafka"] == "ok"
    finally:
        stack.up()
    assert wait_until(lambda: _readyz(port) == (200, {"ready": True, "checks": {"database": "ok", "kafka": "ok"}}), 30)


async def test_sigterm_during_a_slow_request_lets_it_finish(stack: Stack) -> None:
    # A "broker" that accepts connections and never answers makes the Kafka readiness check hang
    # until its timeout: a real slow request, without any test-only route in the service.
    connected = asyncio.Event()

    async def blackhole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.set()
        await reader.read()  # hold the connection open until the client gives up
        writer.close()

    broker = await asyncio.start_server(blackhole, "127.0.0.1", 0)
    broker_port = broker.sockets[0].getsockname()[1]
    port = free_port()
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once; waited for with asyncio.to_thread
        [sys.executable, "-m", "services.stats"],
        env=subprocess_env(
            VITALSYNC_STATS_PORT=str(port),
            VITALSYNC_KAFKA_BOOTSTRAP=f"127.0.0.1:{broker_port}",
            VITALSYNC_READY_TIMEOUT_S="3",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        async with aiohttp.ClientSession() as http:
            deadline = asyncio.get_running_loop().time() + 20
            while True:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    assert asyncio.get_running_loop().time() < deadline, "service did not start"
                    await asyncio.sleep(0.1)
            slow = asyncio.create_task(http.get(f"http://127.0.0.1:{port}/readyz"))
            await asyncio.wait_for(connected.wait(), 10)  # the request is now in flight
            proc.send_signal(signal.SIGTERM)
            response = await asyncio.wait_for(slow, 15)
            body = await response.json()
        assert response.status == 503
        assert body == {"ready": False, "checks": {"database": "ok", "kafka": "timeout after 3s"}}
        assert await asyncio.to_thread(proc.wait, 15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        broker.close()
    logs = [json.loads(line) for line in proc.stderr.read().decode().splitlines() if line.startswith("{")]
    access = [rec for rec in logs if rec["logger"] == "vitalsync.access" and "/readyz" in rec["message"]]
    assert access and access[0]["request_id"] and access[0]["status"] == 503
    assert logs[-1]["message"] == "stats stopped"


def test_a_taken_port_is_one_error_line_and_exit_2(stack: Stack) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "services.auth"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
            env=subprocess_env(VITALSYNC_AUTH_PORT=str(port)),
        )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    errors = [json.loads(line) for line in output.splitlines() if '"level": "ERROR"' in line]
    assert [e["message"].split(": stop")[0] for e in errors] == [
        f"auth cannot listen on 127.0.0.1:{port} (Address already in use)"
    ]
