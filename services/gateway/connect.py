"""Connecting, kept apart from what a session does once connected (Home Assistant's split).

:func:`bleak_connector` returns the default connector: ``bleak_retry_connector.establish_connection``
with its backoff between attempts, on the chosen bleak backend. A :class:`Connector` is any
coroutine function ``(device, disconnected_callback) -> connected BleakClient``; sessions take one as
an argument, so tests can hand in their own without patching anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError
from bleak_retry_connector import establish_connection

from services.gateway.errors import DeviceUnreachableError

DisconnectedCallback = Callable[[BleakClient], None]
Connector = Callable[[BLEDevice, DisconnectedCallback], Awaitable[BleakClient]]

CONNECT_ATTEMPTS = 3


def bleak_connector(backend: Any = None, max_attempts: int = CONNECT_ATTEMPTS) -> Connector:
    """A connector using bleak-retry-connector on ``backend`` (None: bleak's platform backend)."""

    async def connect(device: BLEDevice, disconnected: DisconnectedCallback) -> BleakClient:
        try:
            return await establish_connection(
                BleakClient,
                device,
                device.name or device.address,
                disconnected_callback=disconnected,
                max_attempts=max_attempts,
                backend=backend,
            )
        except (BleakError, TimeoutError) as error:
            raise DeviceUnreachableError(f"{device.address}: {error}") from error

    return connect
