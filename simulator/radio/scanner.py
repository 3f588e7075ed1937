"""``BumbleScanner``: bleak's scanner backend on the simulated radio.

Use through bleak's public API only: ``BleakScanner(backend=BumbleScanner, radio="sim://local")``,
or ``BleakScanner.find_device_by_filter(match, backend=BumbleScanner.for_radio(url))`` (bleak types
the extra arguments of its class methods, so the radio travels in the backend class there);
the radio defaults to ``$VITALSYNC_SIM_RADIO``, else ``sim://local``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self

from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.uuids import normalize_uuid_16, normalize_uuid_32
from bumble.core import UUID, AdvertisingData
from bumble.device import Advertisement

from simulator.radio.central import SimCentral
from simulator.radio.url import RadioUrl, resolve_radio_url

_UUID_LISTS = {
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}
_SERVICE_DATA = {
    AdvertisingData.Type.SERVICE_DATA_16_BIT_UUID: 2,
    AdvertisingData.Type.SERVICE_DATA_32_BIT_UUID: 4,
    AdvertisingData.Type.SERVICE_DATA_128_BIT_UUID: 16,
}
_NAMES = (AdvertisingData.Type.COMPLETE_LOCAL_NAME, AdvertisingData.Type.SHORTENED_LOCAL_NAME)


@dataclass(frozen=True, slots=True)
class SimPeer:
    """``BLEDevice.details`` of a simulated device: where it was seen, so a client reaches it there."""

    radio: str
    address: str


def bleak_uuid(raw: bytes) -> str:
    """bleak's lowercase 128-bit string for a little-endian 2-, 4- or 16-byte UUID."""
    if len(raw) == 2:
        return normalize_uuid_16(struct.unpack("<H", raw)[0])
    if len(raw) == 4:
        return normalize_uuid_32(struct.unpack("<I", raw)[0])
    return str(UUID.from_bytes(raw).to_hex_str("-")).lower()


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """bleak's view of one advertising report (Core Supplement Part A: AD structures)."""
    local_name: str | None = None
    manufacturer_data: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    service_uuids: list[str] = []
    tx_power: int | None = None
    for ad_type, data in advertisement.data.ad_structures:
        if ad_type in _NAMES and (local_name is None or ad_type == AdvertisingData.Type.COMPLETE_LOCAL_NAME):
            local_name = data.decode("utf-8", errors="replace")
        elif ad_type in _UUID_LISTS:
            size = _UUID_LISTS[ad_type]
            service_uuids += [bleak_uuid(data[i : i + size]) for i in range(0, len(data) - size + 1, size)]
        elif ad_type in _SERVICE_DATA:
            size = _SERVICE_DATA[ad_type]
            service_data[bleak_uuid(data[:size])] = bytes(data[size:])
        elif ad_type == AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA and len(data) >= 2:
            manufacturer_data[struct.unpack_from("<H", data)[0]] = bytes(data[2:])
        elif ad_type == AdvertisingData.Type.TX_POWER_LEVEL and data:
            tx_power = struct.unpack("b", data[:1])[0]
    if tx_power is None and advertisement.tx_power != Advertisement.TX_POWER_NOT_AVAILABLE:
        tx_power = advertisement.tx_power
    return AdvertisementData(
        local_name=local_name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BumbleScanner(BaseBleakScanner):
    """A bleak scanner backend that reports the advertisements seen on a simulated radio."""

    default_radio: ClassVar[str | None] = None
    _bound: ClassVar[dict[str, type[BumbleScanner]]] = {}

    @classmethod
    def for_radio(cls, radio: str) -> type[Self]:
        """This backend with ``radio`` as its default (for ``backend=``; keeps the class name)."""
        bound = cls._bound.get(radio)
        if bound is None:
            bound = cls._bound[radio] = type(cls.__name__, (cls,), {"default_radio": radio})
        return bound  # type: ignore[return-value]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        *,
        radio: str | RadioUrl | None = None,
        **kwargs: Any,  # bleak passes bluez= and cb= to every backend
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._radio = resolve_radio_url(radio or self.default_radio)
        self._active = scanning_mode == "active"
        self._central: SimCentral | None = None
        self._remove_listener: Any = None

    async def start(self) -> None:
        """Start reporting advertisements (``seen_devices`` starts empty, as bleak requires)."""
        self.seen_devices = {}
        self._central = await SimCentral.get(self._radio)
        self._remove_listener = self._central.add_advertisement_listener(self._on_advertisement)
        await self._central.start_scanning(self._active)

    async def stop(self) -> None:
        """Stop reporting; the shared central stops scanning when its last scanner stops."""
        if self._central is None:
            return
        self._remove_listener()
        await self._central.stop_scanning()
        self._central = None

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement_data(advertisement)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = str(advertisement.address).removesuffix("/P")
        device = self.create_or_update_device(
            address, address, data.local_name, SimPeer(str(self._radio), address), data
        )
        self.call_detection_callbacks(device, data)
