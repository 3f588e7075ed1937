"""``BumbleClient``: bleak's client backend driving a Bumble central on the simulated radio.

Use through bleak's public API only: ``BleakClient(ble_device, backend=BumbleClient)`` (a
``BLEDevice`` from :class:`~simulator.radio.scanner.BumbleScanner` remembers its radio), or
``BleakClient("C0:5E:53:00:00:01", backend=BumbleClient, radio="sim://127.0.0.1:8765")``, or
``backend=BumbleClient.for_radio(url)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Self, TypeVar

from bleak.args import SizedBuffer
from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import core
from bumble.device import Connection
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR
from bumble.gatt_client import CharacteristicProxy, Client

from simulator.radio.central import SimCentral
from simulator.radio.errors import SimDisconnectedError, bleak_errors, to_bleak_error
from simulator.radio.scanner import SimPeer, bleak_uuid
from simulator.radio.url import RadioUrl, resolve_radio_url

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# What a BlueZ or Android central asks for right after connecting (ATT_MTU up to 517; 247 fits one
# LE data PDU with DLE). Without it Bumble stays at 23 and truncates longer notifications to 20 bytes.
REQUESTED_ATT_MTU = 247
_CCCD_NOTIFY = struct.pack("<H", 0x0001)
_CCCD_INDICATE = struct.pack("<H", 0x0002)
_CCCD_OFF = struct.pack("<H", 0x0000)


class BumbleClient(BaseBleakClient):
    """A bleak client backend for simulated devices: connect, discover, read, write, notify, pair."""

    default_radio: ClassVar[str | None] = None
    _bound: ClassVar[dict[str, type[BumbleClient]]] = {}

    @classmethod
    def for_radio(cls, radio: str) -> type[Self]:
        """This backend with ``radio`` as its default (for ``backend=``; keeps the class name)."""
        bound = cls._bound.get(radio)
        if bound is None:
            bound = cls._bound[radio] = type(cls.__name__, (cls,), {"default_radio": radio})
        return bound  # type: ignore[return-value]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        radio: str | RadioUrl | None = None,
        **kwargs: Any,  # bleak passes bluez= and winrt= to every backend
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        details = address_or_ble_device.details if isinstance(address_or_ble_device, BLEDevice) else None
        if radio is None and isinstance(details, SimPeer):
            radio = details.radio
        self._radio = resolve_radio_url(radio or self.default_radio)
        self._device_name = address_or_ble_device.name if isinstance(address_or_ble_device, BLEDevice) else None
        self._service_filter = services
        self._central: SimCentral | None = None
        self._connection: Connection | None = None
        self._gatt: Client | None = None
        self._lost: asyncio.Future[int] | None = None
        self._disconnect_requested = False
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        """The advertised local name, else the address with dashes (as bleak's other backends)."""
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The ATT MTU of the connection (23 until the exchange in :meth:`connect`)."""
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        """Whether the link is up."""
        return self._connection is not None and self._lost is not None and not self._lost.done()

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU, re-encrypt with an existing bond, pair if asked, discover services."""
        if self.is_connected:
            return
        self._central = await SimCentral.get(self._radio)
        timeout = float(kwargs.get("timeout", self._timeout))
        connection = await bleak_errors(self._central.connect(self.address, timeout))
        self._connection = connection
        self._gatt = connection.gatt_client
        self._lost = asyncio.get_running_loop().create_future()
        self._disconnect_requested = False
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        try:
            await self._guard(self._gatt.request_mtu(REQUESTED_ATT_MTU))
            if await self._central.has_bond(connection.peer_address):
                # A bonded central encrypts at once, as BlueZ does for a known device.
                try:
                    await self._guard(connection.encrypt())
                except BleakError as error:
                    logger.warning("%s: stored bond not accepted (%s)", self.address, error)
            if pair:
                await self.pair()
            self.services = await self._discover()
        except BaseException:
            await self.disconnect()
            raise

    async def _discover(self) -> BleakGATTServiceCollection:
        """Walk services, characteristics and descriptors into bleak's collection."""
        assert self._gatt is not None
        gatt = self._gatt
        uuids = [core.UUID(uuid) for uuid in self._service_filter] if self._service_filter else []
        collection = BleakGATTServiceCollection()
        for service_proxy in await self._guard(gatt.discover_services(uuids)):
            service = BleakGATTService(service_proxy, service_proxy.handle, bleak_uuid(bytes(service_proxy.uuid)))
            collection.add_service(service)
            for proxy in await self._guard(gatt.discover_characteristics(uuids=[], service=service_proxy)):
                characteristic = BleakGATTCharacteristic(
                    proxy,
                    proxy.handle,
                    bleak_uuid(bytes(proxy.uuid)),
                    sorted(gatt_char_props_to_strs(int(proxy.properties))),
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for descriptor in await self._guard(gatt.discover_descriptors(proxy)):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, bleak_uuid(bytes(descriptor.type)), characteristic
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(reason)
        requested = self._disconnect_requested
        self._reset()
        logger.debug("%s disconnected (reason 0x%02X, requested %s)", self.address, reason, requested)
        if not requested and self._disconnected_callback is not None:
            self._disconnected_callback()

    def _reset(self) -> None:
        self._connection = None
        self._gatt = None
        self._subscribers.clear()

    async def disconnect(self) -> None:
        """Disconnect (no disconnected callback: bleak reports unsolicited disconnects only)."""
        connection = self._connection
        if connection is None or self._lost is None or self._lost.done():
            self._reset()
            return
        self._disconnect_requested = True
        try:
            await bleak_errors(connection.disconnect())
        except BleakError:
            if not self._lost.done():
                raise
        self._reset()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair (Just Works, bonding); the link is encrypted afterwards and the bond kept."""
        await self._guard(self._require_connection().pair())

    async def unpair(self) -> None:
        """Forget the bond (and disconnect, as BlueZ does when a device is removed)."""
        central = self._central or await SimCentral.get(self._radio)
        await central.forget(self.address)
        await self.disconnect()

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (long values with Read Blob)."""
        return await self._read(characteristic.obj, use_cached)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        return await self._read(descriptor.obj, use_cached)

    async def _read(self, proxy: Any, use_cached: bool) -> bytearray:
        self._require_connection()
        assert self._gatt is not None
        cached = self._gatt.cached_values.get(proxy.handle) if use_cached else None
        if cached is not None:
            return bytearray(cached[1])
        return bytearray(await self._guard(proxy.read_value()))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        """Write Request (``response=True``) or Write Command."""
        self._require_connection()
        await self._guard(characteristic.obj.write_value(bytes(data), with_response=response))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Write a descriptor with a Write Request."""
        self._require_connection()
        await self._guard(descriptor.obj.write_value(bytes(data), with_response=True))

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Enable notifications (preferred, as bleak asks) or indications and deliver each value.

        The callback is registered before the CCCD write, and for both PDU kinds, as BlueZ does: a
        device that sends a value before its Write Response, or notifies on an indicate-only
        characteristic (quirks the simulator can inject), is still heard.
        """
        self._require_connection()
        assert self._gatt is not None
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        if proxy.handle in self._subscribers:
            raise BleakError(f"notifications already started on {characteristic.uuid}")
        if "notify" in characteristic.properties:
            value = _CCCD_NOTIFY
        elif "indicate" in characteristic.properties:
            value = _CCCD_INDICATE
        else:
            raise BleakError(f"{characteristic.uuid} supports neither notify nor indicate")
        cccd = proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR)
        if cccd is None:
            raise BleakError(f"{characteristic.uuid} has no Client Characteristic Configuration descriptor")

        def deliver(data: bytes) -> None:
            callback(bytearray(data))

        self._subscribers[proxy.handle] = deliver
        for table in (self._gatt.notification_subscribers, self._gatt.indication_subscribers):
            table.setdefault(proxy.handle, set()).add(deliver)
        try:
            await self._guard(cccd.write_value(value, with_response=True))
        except BaseException:
            self._drop_subscriber(proxy.handle)
            raise

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Disable notifications and indications."""
        self._require_connection()
        proxy: CharacteristicProxy[bytes] = characteristic.obj
        self._drop_subscriber(proxy.handle)
        cccd = proxy.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR)
        if cccd is not None:
            await self._guard(cccd.write_value(_CCCD_OFF, with_response=True))

    def _drop_subscriber(self, handle: int) -> None:
        deliver = self._subscribers.pop(handle, None)
        if deliver is None or self._gatt is None:
            return
        for table in (self._gatt.notification_subscribers, self._gatt.indication_subscribers):
            table.get(handle, set()).discard(deliver)

    def _require_connection(self) -> Connection:
        if self._connection is None or not self.is_connected:
            raise BleakError("Not connected")
        return self._connection

    async def _guard(self, awaitable: Awaitable[_T]) -> _T:
        """Await a Bumble operation; a disconnection ends the wait, Bumble errors become bleak errors."""
        lost = self._lost
        task = asyncio.ensure_future(awaitable)
        if lost is None:
            return await bleak_errors(task)
        try:
            await asyncio.wait((task, lost), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            raise SimDisconnectedError(f"{self.address}: disconnected (reason 0x{lost.result():02X})")
        try:
            return task.result()
        except (core.BaseBumbleError, TimeoutError) as error:
            raise to_bleak_error(error) from error
