"""Two real Bumble stacks per test: simulated devices and a bleak client on a fresh in-process link.

Every test gets its own link (``sim://local/<test name>``) so scans never see another test's
devices; devices stop and the central closes at teardown. Waiting is on queues and events with a
deadline (``WAIT_S``), never on bare sleeps.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.uuids import normalize_uuid_16

from simulator.devices import SimulatedDevice
from simulator.radio import BumbleClient, BumbleScanner, close_central, resolve_radio_url

WAIT_S = 5.0

_D = TypeVar("_D", bound=SimulatedDevice)


def uuid16(value: int) -> str:
    """bleak's spelling of a 16-bit SIG UUID."""
    return normalize_uuid_16(value)


@pytest.fixture
async def radio(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A radio URL of an in-process link used by this test only."""
    url = "sim://local/" + re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    yield url
    await close_central(resolve_radio_url(url))


DeviceStarter = Callable[..., Awaitable[Any]]


@pytest.fixture
async def start(radio: str) -> AsyncIterator[DeviceStarter]:
    """``await start(Kind, name, **kwargs)`` starts a device on the test's link; all stop at teardown."""
    started: list[SimulatedDevice] = []

    async def starter(kind: type[_D], name: str, **kwargs: Any) -> _D:
        device = kind(name, link=radio, **kwargs)
        await device.start()
        started.append(device)
        return device

    yield starter
    for device in started:
        await device.stop()


async def find(radio: str, device: SimulatedDevice) -> BLEDevice:
    """Scan (bleak public API) for ``device`` by its service UUID and name."""
    service = uuid16(device.service_uuid)
    found = await BleakScanner.find_device_by_filter(
        lambda _d, ad: ad.local_name == device.name and service in ad.service_uuids,
        timeout=WAIT_S,
        backend=BumbleScanner.for_radio(radio),
    )
    assert found is not None, f"{device.name} not found by scanning"
    return found


async def client_for(radio: str, device: SimulatedDevice, **kwargs: Any) -> BleakClient:
    """A BleakClient (bleak public API, Bumble backend) for ``device``, found by scanning; not connected."""
    return BleakClient(await find(radio, device), backend=BumbleClient, timeout=WAIT_S, **kwargs)


class Frames:
    """A notification callback collecting values into a queue, read with a deadline."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def __call__(self, _characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        self.queue.put_nowait(bytes(data))

    async def take(self, count: int, within_s: float = WAIT_S) -> list[bytes]:
        """The next ``count`` values."""
        async with asyncio.timeout(within_s):
            return [await self.queue.get() for _ in range(count)]

    async def next(self, within_s: float = WAIT_S) -> bytes:
        """The next value."""
        return (await self.take(1, within_s))[0]

    def drain(self) -> list[bytes]:
        """Whatever arrived and was not taken yet."""
        values = []
        while not self.queue.empty():
            values.append(self.queue.get_nowait())
        return values


class Disconnections:
    """A bleak ``disconnected_callback`` that can be awaited."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.count = 0

    def __call__(self, _client: BleakClient) -> None:
        self.count += 1
        self.event.set()

    async def wait(self, within_s: float = WAIT_S) -> None:
        """Until bleak reported a disconnection."""
        async with asyncio.timeout(within_s):
            await self.event.wait()
