"""The simulated radio: Bumble virtual controllers on a shared link, in-process or served over TCP.

In-process, every simulated device and every gateway central gets its own Bumble virtual
:class:`~bumble.controller.Controller` on one :class:`~bumble.link.LocalLink`; the link moves
advertising PDUs, LL control PDUs and ACL data between the controllers. Between processes the
fleet process keeps that link and serves it with :class:`LinkServer`: each TCP client gets a new
virtual controller on the link and talks HCI to it over the socket (H4 framing, the same bytes as a
UART HCI transport, parsed by Bumble's ``StreamPacketSource``), so the gateway process runs a
normal Bumble host against a remote controller (Bumble's ``tcp-client`` transport).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import weakref
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from bumble import hci, ll
from bumble.controller import Controller
from bumble.core import InvalidArgumentError
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink, StreamPacketSink, StreamPacketSource

logger = logging.getLogger(__name__)

_LINKS: dict[str, LocalLink] = {}
_ADDRESS_COUNTERS: weakref.WeakKeyDictionary[LocalLink, Iterator[int]] = weakref.WeakKeyDictionary()
# Random static addresses (Core Vol 6 Part B §1.3.2.1: the two top bits are 1); the middle bytes
# echo the IANA documentation MAC range 00:00:5E:00:53:xx that ble-gatt.md §1.8 recommends.
_DEVICE_ADDRESS_PREFIX = 0xC05E53 << 24


def local_link(name: str = "default") -> LocalLink:
    """The in-process link called ``name`` (``sim://local`` is ``default``), created on first use."""
    link = _LINKS.get(name)
    if link is None:
        link = _LINKS[name] = LocalLink()
    return link


def allocate_address(link: LocalLink) -> str:
    """A random static address not yet used on ``link``."""
    counter = _ADDRESS_COUNTERS.setdefault(link, itertools.count(1))
    while True:
        raw = _DEVICE_ADDRESS_PREFIX | next(counter)
        text = ":".join(f"{(raw >> shift) & 0xFF:02X}" for shift in range(40, -8, -8))
        if not address_in_use(link, text):
            return text


def address_in_use(link: LocalLink, address: str) -> bool:
    """Whether a controller on ``link`` already owns ``address``."""
    return link.find_le_controller(hci.Address(address)) is not None


class SimController(Controller):
    """Bumble's virtual controller with the two behaviours a long-running simulated radio needs.

    * LE Create Connection Cancel: Bumble 0.0.236 answers the command but keeps the pending
      connection and never reports its end, so after one connect timeout every later connect is
      refused (and the host waits forever). Core Vol 4 Part E §7.8.13: the controller ends the pending
      connection with an LE Connection Complete event, status Unknown Connection Identifier.
    * :meth:`detach`: a controller that leaves the link (gateway process gone) ends its connections
      the way a supervision timeout would, so devices see the disconnection and advertise again.
    """

    def on_hci_le_create_connection_cancel_command(
        self, command: hci.HCI_LE_Create_Connection_Cancel_Command
    ) -> hci.HCI_StatusReturnParameters:
        pending = self.pending_le_connection
        if pending is not None:
            self.pending_le_connection = None
            event = hci.HCI_LE_Connection_Complete_Event(
                status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
                connection_handle=0,
                role=hci.Role.CENTRAL,
                peer_address_type=pending.peer_address_type,
                peer_address=pending.peer_address,
                connection_interval=0,
                peripheral_latency=0,
                supervision_timeout=0,
                central_clock_accuracy=0,
            )
            # After the Command Complete that the caller sends for this command.
            asyncio.get_running_loop().call_soon(self.send_hci_packet, event)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)

    def detach(self, reason: int = hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR) -> None:
        """End every LE connection (peers get an LL_TERMINATE_IND) and leave the link."""
        for connection in list(self.le_connections.values()):
            try:
                connection.send_ll_control_pdu(ll.TerminateInd(reason))
            except InvalidArgumentError:  # the peer left the link first
                logger.debug("peer %s already gone", connection.peer_address)
        self.le_connections.clear()
        self.le_legacy_advertiser.stop()
        for advertising_set in self.advertising_sets.values():
            advertising_set.stop()
        if self in self.link.controllers:
            self.link.remove_controller(self)


def create_host(link: LocalLink, name: str, address: str) -> tuple[SimController, Host]:
    """A virtual controller on ``link`` owning ``address``, and a Bumble host wired to it."""
    if address_in_use(link, address):
        raise ValueError(f"address {address} is already in use on this link")
    controller = SimController(name, link=link, public_address=address)
    return controller, Host(controller, AsyncPipeSink(controller))


class _HciOverTcp(StreamPacketSource):
    """One TCP client of a :class:`LinkServer`: H4 packets in and out of its own virtual controller."""

    def __init__(self, server: LinkServer) -> None:
        super().__init__()
        self._server = server
        self._controller: SimController | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self._controller = SimController(
            f"tcp-central-{peer}",
            host_source=self,
            host_sink=StreamPacketSink(transport),
            link=self._server.link,
        )
        self._server.clients.add(self)
        logger.info("gateway connected from %s", peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._controller is not None:
            self._controller.detach()
            self._controller = None
        self._server.clients.discard(self)
        logger.info("gateway disconnected (%s)", exc or "closed")
        self.on_transport_lost()


class LinkServer:
    """Serves an in-process link over TCP; a gateway connects with ``sim://HOST:PORT``."""

    def __init__(self, link: LocalLink, host: str = "127.0.0.1", port: int = 0) -> None:
        self.link = link
        self.host = host
        self.port = port
        self.clients: set[_HciOverTcp] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The radio URL a gateway passes to reach this link."""
        return f"sim://{self.host}:{self.port}"

    async def start(self) -> None:
        """Listen; with port 0 the system picks a free port (read it back from :attr:`port`)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _HciOverTcp(self), self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("simulated radio listening on %s", self.url)

    async def close(self) -> None:
        """Stop listening and drop every connected gateway (their controllers leave the link)."""
        if self._server is not None:
            self._server.close()
            for client in list(self.clients):
                if client.transport is not None:
                    client.transport.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()
