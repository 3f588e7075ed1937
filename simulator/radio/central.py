"""The gateway side of the simulated radio: one Bumble central per radio URL, shared like an adapter.

Scanners and clients of one process share a :class:`SimCentral` per radio URL (as bleak's backends
share one BlueZ adapter): one random static address, one key store (bonds survive reconnects), one
scan shared by every scanner. Bumble allows one pending LE connection at a time, so connects queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import weakref
from collections.abc import Callable

from bumble import hci
from bumble.device import Advertisement, Connection, Device
from bumble.pairing import PairingConfig
from bumble.transport import open_transport
from bumble.transport.common import Transport

from simulator.radio.link import SimController, address_in_use, create_host, local_link
from simulator.radio.url import RadioUrl

logger = logging.getLogger(__name__)

CENTRAL_NAME = "vitalsync-gateway"

AdvertisementListener = Callable[[Advertisement], None]

# One central per (event loop, radio URL): Bumble objects are bound to the loop that created them.
_CENTRALS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Task[SimCentral]]] = (
    weakref.WeakKeyDictionary()
)


class SimCentral:
    """A powered-on Bumble ``Device`` acting as the gateway's Bluetooth adapter on one radio URL."""

    def __init__(
        self,
        url: RadioUrl,
        device: Device,
        controller: SimController | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.url = url
        self.device = device
        self._controller = controller
        self._transport = transport
        self._connect_lock = asyncio.Lock()
        self._scan_lock = asyncio.Lock()
        self._scanners = 0
        self._listeners: list[AdvertisementListener] = []
        self.closed = False
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)

    @classmethod
    async def get(cls, url: RadioUrl) -> SimCentral:
        """The central for ``url`` in the running event loop, opened on first use."""
        loop = asyncio.get_running_loop()
        by_url = _CENTRALS.setdefault(loop, {})
        key = str(url)
        task = by_url.get(key)
        if task is None or (task.done() and (_failed(task) or task.result().closed)):
            task = by_url[key] = loop.create_task(cls._open(url))
        try:
            return await asyncio.shield(task)
        except BaseException:
            if task.done() and by_url.get(key) is task:
                del by_url[key]
            raise

    @classmethod
    async def _open(cls, url: RadioUrl) -> SimCentral:
        if url.link_name is not None:
            link = local_link(url.link_name)
            address = _random_central_address(lambda text: address_in_use(link, text))
            controller, host = create_host(link, CENTRAL_NAME, address)
            central = cls(url, Device(name=CENTRAL_NAME, address=hci.Address(address), host=host), controller)
        else:
            transport = await open_transport(f"tcp-client:{url.host}:{url.port}")
            address = _random_central_address(lambda _text: False)
            device = Device.with_hci(CENTRAL_NAME, hci.Address(address), transport.source, transport.sink)
            central = cls(url, device, transport=transport)
            terminated = getattr(transport.source, "terminated", None)
            if isinstance(terminated, asyncio.Future):
                terminated.add_done_callback(lambda _future: central._on_transport_lost())
        # Just Works bonding; the identity is the random static address the devices see, so a device
        # finds its keys under the address the central reconnects from.
        central.device.pairing_config_factory = lambda _connection: PairingConfig(
            sc=True, mitm=False, bonding=True, identity_address_type=PairingConfig.AddressType.RANDOM
        )
        await central.device.power_on()
        logger.debug("central %s powered on at %s", url, address)
        return central

    def add_advertisement_listener(self, listener: AdvertisementListener) -> Callable[[], None]:
        """Call ``listener`` for every advertising report; returns the function that removes it."""
        self._listeners.append(listener)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)

        return remove

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners):
            listener(advertisement)

    async def start_scanning(self, active: bool) -> None:
        """Start scanning for the first scanner; later scanners share the running scan."""
        async with self._scan_lock:
            self._scanners += 1
            if self._scanners == 1:
                await self.device.start_scanning(active=active, filter_duplicates=False)

    async def stop_scanning(self) -> None:
        """Stop scanning when the last scanner stops."""
        async with self._scan_lock:
            self._scanners = max(self._scanners - 1, 0)
            if self._scanners == 0 and self.device.is_scanning and not self.closed:
                await self.device.stop_scanning()

    async def connect(self, address: str, within_s: float) -> Connection:
        """An LE connection to ``address`` within ``within_s`` (one pending at a time, as Bumble requires).

        Bumble's own timeout is used, not ``asyncio.timeout``: it cancels the pending connection in
        the controller (LE Create Connection Cancel) instead of abandoning it.
        """
        async with self._connect_lock:
            return await self.device.connect(address, timeout=within_s)

    async def has_bond(self, address: hci.Address) -> bool:
        """Whether the key store holds keys for ``address`` (a bond from an earlier pairing)."""
        keystore = self.device.keystore
        return keystore is not None and await keystore.get(str(address)) is not None

    async def forget(self, address: str) -> None:
        """Delete the bond with ``address`` from the key store, if any."""
        keystore = self.device.keystore
        if keystore is not None:
            with contextlib.suppress(KeyError):
                await keystore.delete(address)

    def _on_transport_lost(self) -> None:
        """The fleet process went away: report every connection as lost (supervision timeout)."""
        if self.closed:  # our own close() ended the transport
            return
        logger.warning("simulated radio %s: TCP link to the fleet lost", self.url)
        self.closed = True
        for connection in list(self.device.connections.values()):
            connection.emit(Connection.EVENT_DISCONNECTION, hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)

    async def close(self) -> None:
        """Disconnect everything, power off and leave the link."""
        if self.closed and self._transport is None:
            return
        was_open = not self.closed
        self.closed = True
        if was_open:
            for connection in list(self.device.connections.values()):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.disconnect(), 2.0)
            with contextlib.suppress(Exception):
                if self.device.is_scanning:
                    await self.device.stop_scanning()
            await self.device.power_off()
        if self._controller is not None:
            self._controller.detach()
        if self._transport is not None:
            await self._transport.close()
            self._transport = None


async def close_central(url: RadioUrl) -> None:
    """Close the central of ``url`` in the running event loop, if one was opened."""
    task = _CENTRALS.get(asyncio.get_running_loop(), {}).pop(str(url), None)
    if task is None:
        return
    if task.done() and not _failed(task):
        await task.result().close()
    else:
        task.cancel()


async def close_centrals() -> None:
    """Close every central of the running event loop (test teardown, gateway shutdown)."""
    by_url = _CENTRALS.pop(asyncio.get_running_loop(), {})
    for task in by_url.values():
        if task.done() and not _failed(task):
            await task.result().close()
        else:
            task.cancel()


def _failed(task: asyncio.Task[SimCentral]) -> bool:
    return task.cancelled() or task.exception() is not None


def _random_central_address(in_use: Callable[[str], bool]) -> str:
    """A random static address (top bits 11) that is not in use."""
    while True:
        raw = bytes([0xC0 | secrets.randbelow(0x40)]) + secrets.token_bytes(5)
        text = ":".join(f"{byte:02X}" for byte in raw)
        if not text.startswith("C0:5E:53") and not in_use(text):
            return text
