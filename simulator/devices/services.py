"""GATT pieces every simulated device shares: permissions, secured CCCDs, the Current Time server.

Bumble adds a Client Characteristic Configuration descriptor that anyone may write; a device that
requires pairing must refuse subscriptions on an unencrypted link too, so :func:`with_cccd` adds its
own CCCD with encryption permissions that keeps Bumble's per-connection subscription bookkeeping.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from bumble import att, gatt
from bumble.device import Connection
from bumble.gatt_server import Server

from shared.ble.datetime_fields import CurrentTime, LocalTimeInformation
from shared.ble.errors import BleDecodeError
from simulator.devices.behaviours import DeviceClock

logger = logging.getLogger(__name__)

Properties = gatt.Characteristic.Properties
Permissions = att.Attribute.Permissions

# ATT error codes used by the profiles (Core Vol 3 Part F §3.4.1.1; CSS Part B §1.2).
ATT_INVALID_ATTRIBUTE_VALUE_LENGTH = 0x0D
CTS_DATA_FIELD_IGNORED = 0x80
CCCD_IMPROPERLY_CONFIGURED = 0xFD
PROCEDURE_ALREADY_IN_PROGRESS = 0xFE
OUT_OF_RANGE = 0xFF

CURRENT_TIME_SERVICE = 0x1805
CURRENT_TIME = 0x2A2B
LOCAL_TIME_INFORMATION = 0x2A0F
_CURRENT_TIME_LENGTH = 10


def permissions(read: bool = False, write: bool = False, secure: bool = False) -> att.Attribute.Permissions:
    """Attribute permissions; ``secure`` adds "requires encryption" to each granted access."""
    value = Permissions(0)
    if read:
        value |= Permissions.READABLE | (Permissions.READ_REQUIRES_ENCRYPTION if secure else 0)
    if write:
        value |= Permissions.WRITEABLE | (Permissions.WRITE_REQUIRES_ENCRYPTION if secure else 0)
    return value


def uuid16(value: int) -> str:
    """Bumble's spelling of a 16-bit UUID."""
    return f"{value:04X}"


def with_cccd(characteristic: gatt.Characteristic, server: Server, secure: bool) -> gatt.Characteristic:
    """Give ``characteristic`` a CCCD that Bumble's server tracks, writable only when encrypted if ``secure``."""
    cccd = gatt.Descriptor(
        gatt.GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR,
        permissions(read=True, write=True, secure=secure),
        server.make_descriptor_value(characteristic),
    )
    characteristic.descriptors = [*characteristic.descriptors, cccd]
    return characteristic


class CurrentTimeServer(gatt.TemplateService):
    """Current Time Service 0x1805: Current Time (read, notify, write sets the clock), Local Time Info.

    With ``reject_writes`` every Current Time write gets ATT error 0x80 "Data field ignored", as
    servers that cannot take the time from a collector answer (CSS / CTS "Current Time" write).
    """

    UUID = gatt.GATT_CURRENT_TIME_SERVICE

    def __init__(
        self,
        server: Server,
        clock: DeviceClock,
        reject_writes: bool = False,
        secure: bool = False,
        on_time_set: Callable[[dt.datetime], None] | None = None,
    ) -> None:
        self._clock = clock
        self._reject_writes = reject_writes
        self._on_time_set = on_time_set
        self.local_time = LocalTimeInformation(time_zone=4, dst_offset=0)
        self.current_time = with_cccd(
            gatt.Characteristic(
                uuid16(CURRENT_TIME),
                Properties.READ | Properties.NOTIFY | Properties.WRITE,
                permissions(read=True, write=True, secure=secure),
                gatt.CharacteristicValue(read=self._read_time, write=self._write_time),
            ),
            server,
            secure,
        )
        self.local_time_information: gatt.Characteristic[bytes] = gatt.Characteristic(
            uuid16(LOCAL_TIME_INFORMATION),
            Properties.READ | Properties.WRITE,
            permissions(read=True, write=True, secure=secure),
            gatt.CharacteristicValue(read=self._read_local_time, write=self._write_local_time),
        )
        super().__init__([self.current_time, self.local_time_information])

    def _read_time(self, _connection: Connection) -> bytes:
        return bytes(CurrentTime.from_datetime(self._clock.now()))

    def _write_time(self, _connection: Connection, value: bytes) -> None:
        if self._reject_writes:
            raise att.ATT_Error(CTS_DATA_FIELD_IGNORED)
        if len(value) != _CURRENT_TIME_LENGTH:
            raise att.ATT_Error(ATT_INVALID_ATTRIBUTE_VALUE_LENGTH)
        try:
            written = CurrentTime.from_bytes(value)
        except BleDecodeError as error:
            logger.info("current time write refused: %s", error)
            raise att.ATT_Error(OUT_OF_RANGE) from error
        moment = written.date_time.to_datetime()
        if moment is None:  # year, month or day "unknown": nothing to set the clock to
            raise att.ATT_Error(CTS_DATA_FIELD_IGNORED)
        moment += dt.timedelta(microseconds=written.fractions256 * 1_000_000 // 256)
        self._clock.set(moment)
        if self._on_time_set is not None:
            self._on_time_set(moment)

    def _read_local_time(self, _connection: Connection) -> bytes:
        return bytes(self.local_time)

    def _write_local_time(self, _connection: Connection, value: bytes) -> None:
        try:
            self.local_time = LocalTimeInformation.from_bytes(value)
        except BleDecodeError as error:
            raise att.ATT_Error(OUT_OF_RANGE) from error
