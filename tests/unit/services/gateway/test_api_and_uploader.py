"""Token handling and the upload loop against a small in-process stand-in for auth + sync.

The stand-in speaks the protocol's shapes (DESIGN section 5) and records what it was sent; the real
services are exercised end to end in ``tests/e2e``. Time is injected (the token clock), never slept.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.gateway.api import Credentials, SyncApi, Tokens
from services.gateway.errors import ApiThrottledError, ApiUnavailableError, CredentialsRejectedError
from services.gateway.metrics import GatewayMetrics
from services.gateway.queue import OfflineQueue
from services.gateway.records import DeviceIdentity, QueueItem
from services.gateway.uploader import MAX_BATCH, Uploader, device_registration

PASSWORD = "Correct-Horse-42"


@dataclass
class FakeSync:
    """Auth + sync endpoints with switches for the failures the gateway must survive."""

    expires_in: int = 900
    down: bool = False
    throttle_s: int | None = None
    refuse_refresh: bool = False
    valid_tokens: set[str] = field(default_factory=set)
    refresh_tokens: set[str] = field(default_factory=set)
    grants: list[str] = field(default_factory=list)
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    batch_sizes: list[int] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/auth/token", self.token)
        app.router.add_post("/v1/devices", self.pair)
        app.router.add_post("/v1/readings:batch", self.batch)
        return app

    def _issue(self) -> dict[str, Any]:
        n = next(self.counter)
        access, refresh = f"access-{n}", f"refresh-{n}"
        self.valid_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {"user_id": "user-1", "access_token": access, "refresh_token": refresh, "expires_in": self.expires_in}

    async def token(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.grants.append(body["grant_type"])
        if self.throttle_s is not None:
            return _error(429, "TOO_MANY_ATTEMPTS", headers={"Retry-After": str(self.throttle_s)})
        if body["grant_type"] == "password":
            if body.get("password") != PASSWORD:
                return _error(401, "INVALID_CREDENTIALS")
            return web.json_response(self._issue())
        if self.refuse_refresh or body.get("refresh_token") not in self.refresh_tokens:
            return _error(401, "INVALID_GRANT")
        return web.json_response(self._issue())

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "").removeprefix("Bearer ") in self.valid_tokens

    async def pair(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=502, text="<html>bad gateway</html>")
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED")
        body = await request.json()
        key = f"{body['model']}/{body['serial']}"
        created = key not in self.devices
        self.devices.setdefault(key, {**body, "id": f"dev-{len(self.devices) + 1}"})
        return web.json_response(self.devices[key], status=201 if created else 200)

    async def batch(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503, text="down")
        if not self._authorized(request):
            return _error(401, "UNAUTHORIZED")
        body = await request.json()
        if body["device_id"] not in {d["id"] for d in self.devices.values()}:
            return _error(404, "DEVICE_NOT_FOUND")
        self.batch_sizes.append(len(body["readings"]))
        results = []
        for reading in body["readings"]:
            cid = reading["client_id"]
            if cid in self.reject:
                results.append({"client_id": cid, "status": "rejected", "error": {"code": "VALUE_OUT_OF_RANGE"}})
            elif cid in self.stored:
                results.append({"client_id": cid, "status": "duplicate", "id": 1})
            else:
                self.stored[cid] = reading
                results.append({"client_id": cid, "status": "accepted", "id": len(self.stored)})
        return web.json_response({"results": results})


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": code.lower()}}, status=status, headers=headers)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    fake: FakeSync
    url: str
    http: aiohttp.ClientSession
    clock: Clock

    def tokens(self, password: str = PASSWORD) -> Tokens:
        return Tokens(self.http, self.url, Credentials("gw-user", password), clock=self.clock)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    fake = FakeSync()
    server = TestServer(fake.app())
    await server.start_server()
    async with aiohttp.ClientSession() as http:
        yield Harness(fake, str(server.make_url("")).rstrip("/"), http, Clock())
    await server.close()


async def test_login_once_then_refresh_ahead_of_expiry(harness: Harness) -> None:
    harness.fake.expires_in = 300
    tokens = harness.tokens()
    first = await tokens.access_token()
    assert await tokens.access_token() == first and harness.fake.grants == ["password"]
    harness.clock.now += 300 - 61  # just before the refresh window (20 % of 300 s = 60 s ahead)
    assert await tokens.access_token() == first
    harness.clock.now += 2  # inside it: refresh now
    refreshed = await tokens.access_token()
    assert refreshed != first and harness.fake.grants == ["password", "refresh_token"]
    assert tokens.user_id == "user-1"


async def test_a_401_refreshes_and_retries_once(harness: Harness) -> None:
    api = SyncApi(harness.http, harness.url, harness.tokens())
    device_id = await api.register_device({"kind": "weight", "model": "M", "serial": "S"})
    harness.fake.valid_tokens.clear()  # e.g. the signing key rotated
    assert await api.register_device({"kind": "weight", "model": "M", "serial": "S"}) == device_id
    assert harness.fake.grants == ["password", "refresh_token"]


async def test_a_refused_refresh_logs_in_again(harness: Harness) -> None:
    tokens = harness.tokens()
    await tokens.access_token()
    harness.fake.refuse_refresh = True
    harness.clock.now += 10_000
    await tokens.access_token()
    assert harness.fake.grants == ["password", "refresh_token", "password"]


async def test_wrong_password_and_throttling_are_typed(harness: Harness) -> None:
    with pytest.raises(CredentialsRejectedError):
        await harness.tokens("wrong").access_token()
    harness.fake.throttle_s = 42
    with pytest.raises(ApiThrottledError) as throttled:
        await harness.tokens().access_token()
    assert throttled.value.retry_after_s == 42.0


async def test_edge_errors_and_refused_connections_are_unavailable(harness: Harness) -> None:
    api = SyncApi(harness.http, harness.url, harness.tokens())
    harness.fake.down = True
    with pytest.raises(ApiUnavailableError, match="502"):
        await api.register_device({"kind": "weight", "model": "M", "serial": "S"})
    closed = SyncApi(harness.http, "http://127.0.0.1:9", harness.tokens())
    with pytest.raises(ApiUnavailableError):
        await closed.register_device({"kind": "weight", "model": "M", "serial": "S"})


def reading(n: int) -> QueueItem:
    client_id = f"vs1.test.w{n:05d}"
    payload = {
        "client_id": client_id,
        "type": "weight",
        "measured_at": "2025-01-01T00:00:00+00:00",
        "values": {"weight": 70.0 + n / 1000, "unit": "kg"},
    }
    return QueueItem(client_id, "weight", None, payload["measured_at"], payload, None, (), {}, "00")  # type: ignore[arg-type]


async def fill(path: Path, count: int) -> tuple[OfflineQueue, DeviceIdentity]:
    queue = OfflineQueue(path)
    await queue.open()
    scale = DeviceIdentity("VS-WS-50", "SN-SCALE", firmware="1.0")
    await queue.upsert_device(scale, "weight", "VS-WS-001", "C0:5E:53:00:00:07")
    await queue.add(scale.key, [reading(n) for n in range(count)])
    return queue, scale


async def test_uploader_registers_then_drains_in_batches_of_at_most_500(harness: Harness, tmp_path: Path) -> None:
    queue, scale = await fill(tmp_path / "q.sqlite3", 1203)
    harness.fake.reject = {"vs1.test.w00007"}
    uploader = Uploader(queue, SyncApi(harness.http, harness.url, harness.tokens()), GatewayMetrics())
    while await uploader.upload_once():
        pass
    assert harness.fake.batch_sizes == [MAX_BATCH, MAX_BATCH, 203]
    assert next(iter(harness.fake.devices.values())) == {
        "kind": "weight",
        "model": "VS-WS-50",
        "serial": "SN-SCALE",
        "firmware": "1.0",
        "name": "VS-WS-001",
        "ble_address": "C0:5E:53:00:00:07",
        "id": "dev-1",
    }
    assert await queue.counts() == {"pending": 0, "sent": 1202, "rejected": 1, "unsendable": 0}
    assert (await queue.problems())[0]["reason"] == "VALUE_OUT_OF_RANGE"
    assert (await queue.device(scale.key)).sync_device_id == "dev-1"  # type: ignore[union-attr]
    await queue.close()


async def test_rows_stay_pending_while_sync_is_down_and_a_resend_is_harmless(harness: Harness, tmp_path: Path) -> None:
    queue, _ = await fill(tmp_path / "q.sqlite3", 10)
    api = SyncApi(harness.http, harness.url, harness.tokens())
    uploader = Uploader(queue, api, GatewayMetrics())
    assert await uploader.upload_once()  # registers and uploads all ten
    harness.fake.stored.pop("vs1.test.w00003")  # as if sync had lost nothing but we resend anyway
    await queue.add(_key(queue), [reading(n) for n in range(10, 12)])
    harness.fake.down = True
    with pytest.raises(ApiUnavailableError):
        await uploader.upload_once()
    assert (await queue.counts())["pending"] == 2
    harness.fake.down = False
    assert await uploader.upload_once()
    assert await queue.counts() == {"pending": 0, "sent": 12, "rejected": 0, "unsendable": 0}
    await queue.close()


def _key(_queue: OfflineQueue) -> str:
    return DeviceIdentity("VS-WS-50", "SN-SCALE").key


async def test_an_unknown_device_id_is_registered_again(harness: Harness, tmp_path: Path) -> None:
    queue, scale = await fill(tmp_path / "q.sqlite3", 3)
    await queue.set_sync_device_id(scale.key, "dev-from-another-user")
    uploader = Uploader(queue, SyncApi(harness.http, harness.url, harness.tokens()), GatewayMetrics())
    assert await uploader.upload_once()  # 404: forget the id
    assert await uploader.upload_once()  # register, upload
    assert (await queue.counts())["sent"] == 3
    await queue.close()


async def test_the_run_loop_backs_off_then_drains_when_sync_returns(harness: Harness, tmp_path: Path) -> None:
    queue, _ = await fill(tmp_path / "q.sqlite3", 5)
    harness.fake.down = True
    metrics = GatewayMetrics()
    stop = asyncio.Event()
    task = asyncio.create_task(Uploader(queue, SyncApi(harness.http, harness.url, harness.tokens()), metrics).run(stop))
    await until(lambda: metrics.stats.api_errors >= 2)
    assert (await queue.counts())["pending"] == 5
    harness.fake.down = False

    async def drained() -> bool:
        return (await queue.counts())["pending"] == 0

    await until(drained)
    stop.set()
    await task
    assert len(harness.fake.stored) == 5
    await queue.close()


async def until(condition: Any, within_s: float = 10.0) -> None:
    """Poll ``condition`` (sync or async) until true, failing after ``within_s``."""
    async with asyncio.timeout(within_s):
        while True:
            value = condition()
            if asyncio.iscoroutine(value):
                value = await value
            if value:
                return
            await asyncio.sleep(0.05)


def test_registration_body_fits_what_sync_accepts() -> None:
    from services.gateway.queue import DeviceRow

    device = DeviceRow(
        "k", "weight", "Scale\u00e9 " + "x" * 80, "S/N 1", None, None, None, "not-an-address", None, None
    )
    body = device_registration(device)
    assert body == {"kind": "weight", "model": ("Scale? " + "x" * 80)[:64], "serial": "S/N 1"}
