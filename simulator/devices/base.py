"""``SimulatedDevice``: a Bumble peripheral with a SIG health service, DIS, Battery and Current Time.

A device owns one Bumble ``Device`` on a simulated link (:mod:`simulator.radio.link`), advertises
its service UUID and name, and holds a :class:`~simulator.devices.records.RecordStore`; subclasses
(one module per kind) add the profile service and what happens when a collector subscribes or
writes. ``ground_truth()`` returns what the device holds, for end-to-end comparisons.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import dataclasses
import logging
import struct
import zlib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Self

from bumble import att, gatt, hci
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt_server import Server
from bumble.link import LocalLink
from bumble.pairing import PairingConfig
from bumble.profiles.battery_service import BatteryService
from bumble.profiles.device_information_service import DeviceInformationService

from shared.ble.datetime_fields import DateTime
from simulator.devices.behaviours import Behaviour, DeviceClock, VendorQuirk
from simulator.devices.records import Reading, ReadingPlan, RecordStore, StoredRecord
from simulator.devices.services import CurrentTimeServer
from simulator.radio.link import SimController, allocate_address, create_host, local_link
from simulator.radio.url import DEFAULT_RADIO_URL, resolve_radio_url

logger = logging.getLogger(__name__)

# Company identifier 0xFFFF: "reserved for internal use / testing" in the SIG assigned numbers.
TEST_COMPANY_ID = 0xFFFF
_AD_FLAGS = 0x06  # LE General Discoverable, BR/EDR not supported (CSS Part A §1.3)
_LEGACY_ADVERTISING_DATA_MAX = 31
_RESERVED_FLAG_BIT = 0x80  # bit 7 is RFU in the flags of 0x2A35, 0x2A9D, 0x2A1C and 0x2A18


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """The Device Information Service strings."""

    manufacturer: str = "VitalSync Simulated Devices"
    model: str = "SIM-1"
    serial: str = "SIM000000"
    firmware: str = "1.4.2"
    hardware: str = "rev-B"
    software: str = "vitalsync-sim-1"

    def to_json(self) -> dict[str, str]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


class Session:
    """One collector's connection: what it subscribed to, the tasks serving it, records sent so far."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.subscriptions: dict[int, tuple[bool, bool]] = {}  # value handle -> (notify, indicate)
        self.records_sent = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.procedure: asyncio.Task[None] | None = None  # a running control-point procedure

    @property
    def procedure_running(self) -> bool:
        """Whether a control-point procedure (a RACP request) is still being served."""
        return self.procedure is not None and not self.procedure.done()

    def notifying(self, characteristic: gatt.Characteristic) -> bool:
        """Whether the collector enabled notifications on ``characteristic``."""
        return self.subscriptions.get(characteristic.handle, (False, False))[0]

    def indicating(self, characteristic: gatt.Characteristic) -> bool:
        """Whether the collector enabled indications on ``characteristic``."""
        return self.subscriptions.get(characteristic.handle, (False, False))[1]

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coroutine`` for this connection; it is cancelled when the connection ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("session task failed: %r", task.exception())

    def close(self) -> None:
        """Cancel everything still running for this connection."""
        for task in list(self.tasks):
            task.cancel()


class SimulatedDevice(abc.ABC):
    """A simulated health device; subclasses provide the profile service and its behaviour."""

    KIND: ClassVar[str]
    SERVICE_UUID: ClassVar[int]
    MODEL: ClassVar[str]

    def __init__(
        self,
        name: str,
        *,
        readings: ReadingPlan | Sequence[Reading] = (),
        behaviour: Behaviour | None = None,
        identity: DeviceIdentity | None = None,
        clock: DeviceClock | None = None,
        link: LocalLink | str | None = None,
        address: str | None = None,
    ) -> None:
        self.name = name
        self.behaviour = behaviour or Behaviour()
        # A serial number that is stable for a name, so scenarios give the same DIS strings every run.
        serial = f"SN{zlib.crc32(name.encode('utf-8')):08X}"
        self.identity = identity or DeviceIdentity(model=self.MODEL, serial=serial)
        self.clock = clock or DeviceClock(drift_ppm=self.behaviour.clock_drift_ppm)
        self.battery_level = self.behaviour.battery_level_percent
        self.store = RecordStore()
        self.device: Device | None = None
        self._link = link if isinstance(link, LocalLink) else _local_link(link)
        self._address = address
        self._controller: SimController | None = None
        self._sessions: dict[Connection, Session] = {}
        plan_readings = self.generate(readings) if isinstance(readings, ReadingPlan) else readings
        for reading in plan_readings:
            self.add_reading(reading)

    # -- what a kind provides -------------------------------------------------------------------

    @classmethod
    @abc.abstractmethod
    def generate(cls, plan: ReadingPlan) -> list[Reading]:
        """Readings for this kind of device (seeded, see :mod:`simulator.devices.records`)."""

    @abc.abstractmethod
    def profile_service(self, server: Server) -> gatt.Service:
        """The SIG service of this kind (built once the GATT server exists)."""

    def on_subscription(
        self, session: Session, characteristic: gatt.Characteristic, notify: bool, indicate: bool
    ) -> None:
        """A collector wrote a CCCD (called before the ATT Write Response goes out)."""
        logger.debug("%s: CCCD of 0x%04X now notify=%s indicate=%s", self.name, characteristic.handle, notify, indicate)

    def ground_truth_extra(self) -> dict[str, Any]:
        """Kind-specific ground-truth fields."""
        return {}

    @property
    def service_uuid(self) -> int:
        """The 16-bit UUID of the SIG service this device advertises."""
        return self.SERVICE_UUID

    # -- records ----------------------------------------------------------------------------------

    @property
    def secure(self) -> bool:
        """Whether profile characteristics need an encrypted link."""
        return self.behaviour.pairing_required

    def add_reading(self, reading: Reading) -> StoredRecord:
        """Store a reading as the exact frames this device sends (vendor quirks applied)."""
        measurement: Any = reading.measurement
        if self.behaviour.vendor_quirk is VendorQuirk.YEAR_ZERO_TIMESTAMP:
            for name in ("time_stamp", "base_time"):
                stamp = getattr(measurement, name, None)
                if isinstance(stamp, DateTime):
                    measurement = dataclasses.replace(measurement, **{name: dataclasses.replace(stamp, year=0)})
        frame = bytearray(bytes(measurement))
        if self.behaviour.vendor_quirk is VendorQuirk.RESERVED_FLAG_BIT:
            frame[0] |= _RESERVED_FLAG_BIT
        sequence = getattr(measurement, "sequence_number", None)
        context = reading.context
        return self.store.add(
            measurement,
            bytes(frame),
            context,
            bytes(context) if context is not None else None,
            sequence_number=sequence if isinstance(sequence, int) else None,
        )

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """The device's random static address (allocated at start unless given)."""
        if self._address is None:
            self._address = allocate_address(self._link)
        return self._address

    @property
    def sessions(self) -> list[Session]:
        """The open connections."""
        return list(self._sessions.values())

    def session_for(self, connection: Connection) -> Session | None:
        """The session of ``connection``, if it is still open."""
        return self._sessions.get(connection)

    async def start(self) -> None:
        """Power on, publish the GATT database and advertise (restarting after each disconnection)."""
        controller, host = create_host(self._link, self.name, self.address)
        device = Device(name=self.name, address=hci.Address(self.address), host=host)
        # Just Works bonding; the identity is the random static address so a returning central finds
        # its keys under the address it connects to.
        device.pairing_config_factory = lambda _connection: PairingConfig(
            sc=True, mitm=False, bonding=True, identity_address_type=PairingConfig.AddressType.RANDOM
        )
        identity = self.identity
        device.add_services(
            [
                DeviceInformationService(
                    manufacturer_name=identity.manufacturer,
                    model_number=identity.model,
                    serial_number=identity.serial,
                    hardware_revision=identity.hardware,
                    firmware_revision=identity.firmware,
                    software_revision=identity.software,
                ),
                BatteryService(lambda _connection: self.battery_level),
                CurrentTimeServer(
                    device.gatt_server, self.clock, reject_writes=self.behaviour.reject_time_writes, secure=self.secure
                ),
                self.profile_service(device.gatt_server),
            ]
        )
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        device.on("characteristic_subscription", self._on_characteristic_subscription)
        self._controller, self.device = controller, device
        await device.power_on()
        interval = self.behaviour.advertising_interval_ms
        await device.start_advertising(
            auto_restart=True,
            advertising_data=self.advertising_data(),
            advertising_interval_min=interval,
            advertising_interval_max=interval,
        )
        logger.info("%s %s advertising at %s", self.KIND, self.name, self.address)

    async def stop(self) -> None:
        """Disconnect, stop advertising and leave the link."""
        device, self.device = self.device, None
        if device is None:
            return
        for session in list(self._sessions.values()):
            session.close()
        device.remove_listener(Device.EVENT_CONNECTION, self._on_connection)
        device.remove_listener("characteristic_subscription", self._on_characteristic_subscription)
        with contextlib.suppress(Exception):
            await device.stop_advertising()
        for connection in list(device.connections.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.disconnect(), 2.0)
        self._sessions.clear()
        await device.power_off()
        if self._controller is not None:
            self._controller.detach()
            self._controller = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def advertising_data(self) -> bytes:
        """Flags, the service UUID, the name and manufacturer data, within the 31 legacy bytes."""
        service = (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, struct.pack("<H", self.service_uuid))
        name = (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode("utf-8"))
        maker = (AdvertisingData.MANUFACTURER_SPECIFIC_DATA, struct.pack("<H", TEST_COMPANY_ID) + b"VS")
        structures: list[tuple[int, bytes]] = [(AdvertisingData.FLAGS, bytes([_AD_FLAGS])), service, name, maker]
        data = bytes(AdvertisingData(structures))
        if len(data) > _LEGACY_ADVERTISING_DATA_MAX:
            room = _LEGACY_ADVERTISING_DATA_MAX - len(bytes(AdvertisingData(structures[:2]))) - 2
            structures = [*structures[:2], (AdvertisingData.SHORTENED_LOCAL_NAME, name[1][:room])]
            data = bytes(AdvertisingData(structures))
        return data

    # -- connections --------------------------------------------------------------------------------

    def _on_connection(self, connection: Connection) -> None:
        session = self._sessions[connection] = Session(connection)
        logger.debug("%s: connection from %s", self.name, connection.peer_address)

        def on_disconnection(reason: int) -> None:
            session.close()
            self._sessions.pop(connection, None)
            logger.debug("%s: disconnected (0x%02X)", self.name, reason)

        connection.on(Connection.EVENT_DISCONNECTION, on_disconnection)

    def _on_characteristic_subscription(
        self, connection: Connection, characteristic: gatt.Characteristic, notify: bool, indicate: bool
    ) -> None:
        session = self._sessions.get(connection)
        if session is None:
            return
        session.subscriptions[characteristic.handle] = (notify, indicate)
        self.on_subscription(session, characteristic, notify, indicate)

    # -- sending ------------------------------------------------------------------------------------

    def _server(self) -> Server:
        if self.device is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.device.gatt_server

    async def indicate(self, session: Session, characteristic: gatt.Characteristic, value: bytes) -> None:
        """Indicate ``value`` and wait for the collector's confirmation."""
        await self._server().indicate_subscriber(session.connection, characteristic, value)

    async def notify(self, session: Session, characteristic: gatt.Characteristic, value: bytes) -> None:
        """Notify ``value``."""
        await self._server().notify_subscriber(session.connection, characteristic, value)

    def notify_now(self, session: Session, characteristic: gatt.Characteristic, value: bytes) -> None:
        """Send a Handle Value Notification at once, whatever the CCCD says (the early-notify quirk)."""
        notification = att.ATT_Handle_Value_Notification(attribute_handle=characteristic.handle, attribute_value=value)
        self._server().send_gatt_pdu(session.connection, bytes(notification))

    async def record_sent(self, session: Session) -> bool:
        """Count one record; True when that was the last one before the disconnect-after-N knob fires."""
        session.records_sent += 1
        limit = self.behaviour.disconnect_after_records
        if limit is not None and session.records_sent >= limit:
            await self.disconnect(session)
            return True
        return False

    async def disconnect(self, session: Session) -> None:
        """End the connection from the device side (Remote User Terminated Connection)."""
        with contextlib.suppress(Exception):
            await session.connection.disconnect(hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR)

    async def pause_between_records(self) -> None:
        """The per-record pause of the ``record_interval_s`` knob (none by default)."""
        if self.behaviour.record_interval_s:
            await asyncio.sleep(self.behaviour.record_interval_s)

    # -- ground truth -------------------------------------------------------------------------------

    def ground_truth(self) -> dict[str, Any]:
        """The exact readings the device holds and how it will behave, as a JSON-ready dict."""
        return {
            "kind": self.KIND,
            "name": self.name,
            "address": self.address,
            "service_uuid": f"{self.service_uuid:04x}",
            "identity": self.identity.to_json(),
            "behaviour": self.behaviour.to_json(),
            "battery_level_percent": self.battery_level,
            "clock": self.clock.to_json(),
            "records": self.store.to_json(),
            **self.ground_truth_extra(),
        }


def _local_link(url: str | None) -> LocalLink:
    radio = resolve_radio_url(url or DEFAULT_RADIO_URL)
    if radio.link_name is None:
        raise ValueError(f"devices live on an in-process link (sim://local[/NAME]), not {radio}")
    return local_link(radio.link_name)
