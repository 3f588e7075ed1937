"""One visit to one device: an ``async with`` object over a connected bleak client.

``async with DeviceSession(ble_device, profile, connector=...) as session`` connects through the
injected connector and disconnects on exit. Inside, through bleak's public API only:
:meth:`read_identity` (Device Information), :meth:`set_clock` (Current Time: read to learn the
clock error, then write the gateway's time), and the transfer of stored records,
:meth:`collect_indications` (BLP / WSP / HTP: records are indicated once indications are on) or
:meth:`collect_racp` (GLS: "report stored records >= N" through the Record Access Control Point).

Pairing on demand: every GATT operation goes through :meth:`_gatt`; when the device answers ATT
Insufficient Authentication / Encryption (or BlueZ's "not authorized"), the session pairs once and
repeats the operation, as Android and iOS do for a bonded-profile characteristic.

Every record is handed to the caller's sink as soon as it arrives (and, for RACP, whether it came
in answer to the request), so a device that disappears mid-transfer loses nothing already received.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Self, TypeVar

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode

from services.gateway import profiles
from services.gateway.connect import Connector
from services.gateway.errors import DeviceProtocolError, TransferInterruptedError
from services.gateway.profiles import Profile
from services.gateway.racp import GlucoseAssembler, racp_response, report_request
from services.gateway.records import DeviceIdentity
from services.gateway.transfer import ReceivedRecord, RecordSink, TransferOutcome
from shared.ble.datetime_fields import AdjustReason, CurrentTime
from shared.ble.errors import BleDecodeError
from shared.ble.racp import (
    RacpOpCode,
    RacpResponse,
    RacpResponseCode,
)
from shared.ble.temperature import TemperatureType, TemperatureTypeValue

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# ATT errors that mean "this needs an encrypted (bonded) link" (Core Vol 3 Part F §3.4.1.1); BlueZ
# reports a refused secured characteristic as "not authorized" (bleak maps it to 0x08).
NEEDS_PAIRING = frozenset(
    {
        BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHENTICATION,
        BleakGATTProtocolErrorCode.INSUFFICIENT_AUTHORIZATION,
        BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION_KEY_SIZE,
        BleakGATTProtocolErrorCode.INSUFFICIENT_ENCRYPTION,
    }
)
CTS_DATA_FIELD_IGNORED = 0x80  # CTS: the server does not take the time from a collector


@dataclass(frozen=True, slots=True)
class SessionTiming:
    """How long a visit waits for what (seconds)."""

    gatt_timeout_s: float = 10.0
    # Indication devices have no "end of records" marker: the transfer ends after this much silence.
    first_record_s: float = 3.0
    record_idle_s: float = 1.0
    # RACP: the longest pause between two records (or before the response code) of one procedure.
    racp_idle_s: float = 15.0


@dataclass(frozen=True, slots=True)
class ClockSync:
    """What setting the clock did: the device's error before (device minus gateway) and whether it took."""

    skew_s: float | None
    set: bool
    detail: str = ""


class DeviceSession:
    """A connected device; use with ``async with`` (module doc)."""

    def __init__(
        self,
        device: BLEDevice,
        profile: Profile,
        *,
        connector: Connector,
        timing: SessionTiming | None = None,
    ) -> None:
        self.device = device
        self.profile = profile
        self.timing = timing or SessionTiming()
        self._connector = connector
        self._client: BleakClient | None = None
        self._lost = asyncio.Event()
        self._dropped = False
        self.paired = False

    # -- lifecycle --------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._client = await self._connector(self.device, self._on_disconnected)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._dropped = self.lost  # before our own disconnect, which some backends report too
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            with contextlib.suppress(BleakError, TimeoutError):
                async with asyncio.timeout(self.timing.gatt_timeout_s):
                    await client.disconnect()

    def _on_disconnected(self, _client: BleakClient) -> None:
        self._lost.set()

    @property
    def client(self) -> BleakClient:
        """The connected bleak client."""
        if self._client is None:
            raise RuntimeError("use DeviceSession with 'async with'")
        return self._client

    @property
    def lost(self) -> bool:
        """Whether the device dropped the link (safe to ask after the session ended)."""
        if self._client is None:
            return self._dropped
        return self._lost.is_set() or not self._client.is_connected

    @property
    def disconnected(self) -> bool:
        """Whether the device dropped the link during this session."""
        return self._lost.is_set() or not self.client.is_connected

    # -- GATT with pairing on demand ----------------------------------------------------------------------

    async def _gatt(self, operation: Callable[[], Awaitable[_T]]) -> _T:
        """Run a GATT operation; pair once and repeat it if the device demands encryption."""
        try:
            async with asyncio.timeout(self.timing.gatt_timeout_s):
                return await operation()
        except BleakGATTProtocolError as error:
            if error.code not in NEEDS_PAIRING or self.paired:
                raise
            logger.info("%s: %s; pairing", self.device.address, error)
        async with asyncio.timeout(self.timing.gatt_timeout_s):
            await self.client.pair()
        self.paired = True
        async with asyncio.timeout(self.timing.gatt_timeout_s):
            return await operation()

    def _characteristic(self, short_uuid: int) -> BleakGATTCharacteristic | None:
        return self.client.services.get_characteristic(profiles.uuid128(short_uuid))

    async def _read(self, short_uuid: int) -> bytes | None:
        characteristic = self._characteristic(short_uuid)
        if characteristic is None:
            return None
        return bytes(await self._gatt(lambda: self.client.read_gatt_char(characteristic)))

    async def _read_text(self, short_uuid: int) -> str | None:
        raw = await self._read(short_uuid)
        if raw is None:
            return None
        text = raw.decode("utf-8", errors="replace").strip().strip("\x00")
        return text or None

    # -- Device Information, Current Time -------------------------------------------------------------------

    async def read_identity(self) -> DeviceIdentity:
        """Model, serial, manufacturer and firmware from DIS; no serial: the BLE address stands in."""
        model = await self._read_text(profiles.MODEL_NUMBER)
        serial = await self._read_text(profiles.SERIAL_NUMBER)
        return DeviceIdentity(
            model=model or self.device.name or self.profile.kind,
            serial=serial or "addr-" + self.device.address.replace(":", "").upper(),
            manufacturer=await self._read_text(profiles.MANUFACTURER_NAME),
            firmware=await self._read_text(profiles.FIRMWARE_REVISION),
        )

    async def read_temperature_site(self) -> TemperatureType | int | None:
        """The thermometer's fixed measurement site (Temperature Type 0x2A1D), if it has one."""
        raw = await self._read(profiles.TEMPERATURE_TYPE)
        if raw is None:
            return None
        try:
            return TemperatureTypeValue.from_bytes(raw).temperature_type
        except BleDecodeError as error:
            logger.warning("%s: temperature type %s unreadable: %s", self.device.address, raw.hex(), error)
            return None

    async def set_clock(self, now: dt.datetime) -> ClockSync:
        """Read the device clock (its error vs ``now``), then write ``now`` (local wall time) to Current Time."""
        characteristic = self._characteristic(profiles.CURRENT_TIME)
        if characteristic is None:
            return ClockSync(None, False, "no Current Time service")
        skew: float | None = None
        if "read" in characteristic.properties:
            try:
                shown = CurrentTime.from_bytes(
                    await self._gatt(lambda: self.client.read_gatt_char(characteristic))
                ).date_time.to_datetime()
                if shown is not None:
                    skew = (shown - now.replace(microsecond=0)).total_seconds()
            except BleDecodeError as error:
                logger.info("%s: current time unreadable: %s", self.device.address, error)
        value = bytes(CurrentTime.from_datetime(now, AdjustReason.EXTERNAL_REFERENCE_TIME_UPDATE))
        try:
            await self._gatt(lambda: self.client.write_gatt_char(characteristic, value, response=True))
        except BleakGATTProtocolError as error:
            if error.code == CTS_DATA_FIELD_IGNORED:
                return ClockSync(skew, False, "device refused the time (0x80 data field ignored)")
            return ClockSync(skew, False, f"device refused the time ({error})")
        return ClockSync(skew, True)

    # -- stored records: indications ----------------------------------------------------------------------

    async def collect_indications(self, sink: RecordSink) -> TransferOutcome:
        """Enable indications on the measurement and pass each record on until the device goes quiet."""
        inbox: asyncio.Queue[bytes] = asyncio.Queue()
        await self._gatt(
            lambda: self.client.start_notify(
                self.profile.measurement_uuid, lambda _c, data: inbox.put_nowait(bytes(data))
            )
        )
        received = 0
        while True:
            wait_s = self.timing.record_idle_s if received else self.timing.first_record_s
            frame = await self._next(inbox, wait_s)
            if frame is None:
                ended_by = "device_disconnected" if self.disconnected else "idle"
                while not inbox.empty():
                    await sink(ReceivedRecord(inbox.get_nowait()))
                    received += 1
                # No end marker in BLP/WSP/HTP: silence or the device hanging up both end an upload.
                return TransferOutcome(received, True, ended_by)
            await sink(ReceivedRecord(frame))
            received += 1

    async def _next(self, inbox: asyncio.Queue[_T], wait_s: float) -> _T | None:
        """The next item, or None after ``wait_s`` of silence or when the link drops."""
        if not inbox.empty():
            return inbox.get_nowait()
        if self.disconnected:
            return None
        getter = asyncio.ensure_future(inbox.get())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait((getter, lost), timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done:
            return getter.result()
        return None

    # -- stored records: RACP -----------------------------------------------------------------------------

    async def collect_racp(self, from_sequence: int | None, sink: RecordSink) -> TransferOutcome:
        """Report stored records >= ``from_sequence`` (all when None) and pass each on with its context.

        Raises :class:`TransferInterruptedError` when the link drops before the RACP response code
        (records received so far have been passed on), :class:`DeviceProtocolError` when the meter
        answers with an error code or stalls.
        """
        inbox: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()

        def listener(uuid: int) -> Callable[[BleakGATTCharacteristic, bytearray], None]:
            return lambda _c, data: inbox.put_nowait((uuid, bytes(data)))

        await self._gatt(
            lambda: self.client.start_notify(self.profile.measurement_uuid, listener(self.profile.measurement))
        )
        if self._characteristic(profiles.GLUCOSE_MEASUREMENT_CONTEXT) is not None:
            context_uuid = profiles.uuid128(profiles.GLUCOSE_MEASUREMENT_CONTEXT)
            await self._gatt(
                lambda: self.client.start_notify(context_uuid, listener(profiles.GLUCOSE_MEASUREMENT_CONTEXT))
            )
        racp_uuid = profiles.uuid128(profiles.RECORD_ACCESS_CONTROL_POINT)
        await self._gatt(lambda: self.client.start_notify(racp_uuid, listener(profiles.RECORD_ACCESS_CONTROL_POINT)))

        assembler = GlucoseAssembler(sink)
        # Anything notified before the request (a meter pushing its newest record when notifications
        # are enabled) is kept but does not move the RACP cursor: it is not part of the ordered report.
        while not inbox.empty():
            uuid, data = inbox.get_nowait()
            await assembler.add(uuid, data, solicited=False)
        request = report_request(from_sequence)
        await self._gatt(lambda: self.client.write_gatt_char(racp_uuid, bytes(request), response=True))
        while True:
            item = await self._next(inbox, self.timing.racp_idle_s)
            if item is None:
                await assembler.flush()
                if self.disconnected:
                    raise TransferInterruptedError(
                        f"{self.device.address}: link dropped after {assembler.solicited} record(s) of the RACP report"
                    )
                raise DeviceProtocolError(f"{self.device.address}: no RACP response within {self.timing.racp_idle_s} s")
            uuid, data = item
            if uuid != profiles.RECORD_ACCESS_CONTROL_POINT:
                await assembler.add(uuid, data, solicited=True)
                continue
            await assembler.flush()
            response = racp_response(data)
            if isinstance(response, RacpResponse) and response.request_op_code == RacpOpCode.REPORT_STORED_RECORDS:
                if response.response_code == RacpResponseCode.SUCCESS:
                    return TransferOutcome(assembler.solicited, True, "racp_success")
                if response.response_code == RacpResponseCode.NO_RECORDS_FOUND:
                    return TransferOutcome(assembler.solicited, True, "racp_no_records")
            raise DeviceProtocolError(f"{self.device.address}: RACP answered {data.hex()} to {bytes(request).hex()}")
