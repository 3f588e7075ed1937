"""The GATT profiles the gateway collects from: which service a device advertises, what it sends.

Pure data (no bleak): the four SIG health services, how stored records come out of each
(indications on subscription for BLP, WSP and HTP; a RACP procedure for GLS), and the flag bits
each measurement defines, so a frame with reserved bits set can be read leniently
(see :func:`services.gateway.records.decode_measurement`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

# Core Specification Vol 3 Part B §2.5.1: a 16-bit UUID inside the Bluetooth base UUID.
_BASE_UUID = "0000{:04x}-0000-1000-8000-00805f9b34fb"

DEVICE_INFORMATION_SERVICE = 0x180A
CURRENT_TIME_SERVICE = 0x1805
CURRENT_TIME = 0x2A2B
MANUFACTURER_NAME = 0x2A29
MODEL_NUMBER = 0x2A24
SERIAL_NUMBER = 0x2A25
FIRMWARE_REVISION = 0x2A26
TEMPERATURE_TYPE = 0x2A1D
GLUCOSE_MEASUREMENT_CONTEXT = 0x2A34
RECORD_ACCESS_CONTROL_POINT = 0x2A52


def uuid128(short: int) -> str:
    """bleak's lowercase 128-bit spelling of a 16-bit SIG UUID."""
    return _BASE_UUID.format(short)


class Transfer(enum.Enum):
    """How a device hands over its stored records."""

    # BLP / WSP / HTP: every stored record is indicated once the collector enables indications.
    INDICATIONS = "indications"
    # GLS: the collector asks through the Record Access Control Point; records come as notifications.
    RACP = "racp"


@dataclass(frozen=True, slots=True)
class Profile:
    """One SIG health service as the gateway uses it."""

    kind: str  # sync's device kind and reading type (shared/protocol/readings.py)
    service: int
    measurement: int
    transfer: Transfer
    defined_flags: int  # flag bits the measurement defines; the rest are RFU
    client_id_tag: str  # one letter in client ids

    @property
    def service_uuid(self) -> str:
        """The 128-bit service UUID string bleak reports in advertisements."""
        return uuid128(self.service)

    @property
    def measurement_uuid(self) -> str:
        """The 128-bit measurement characteristic UUID."""
        return uuid128(self.measurement)


BLOOD_PRESSURE = Profile("blood_pressure", 0x1810, 0x2A35, Transfer.INDICATIONS, 0x1F, "p")  # BLS v1.1.1
WEIGHT = Profile("weight", 0x181D, 0x2A9D, Transfer.INDICATIONS, 0x0F, "w")  # WSS v1.0
BODY_TEMPERATURE = Profile("body_temperature", 0x1809, 0x2A1C, Transfer.INDICATIONS, 0x07, "t")  # HTS v1.0
BLOOD_GLUCOSE = Profile("blood_glucose", 0x1808, 0x2A18, Transfer.RACP, 0x1F, "g")  # GLS v1.0.1

PROFILES: tuple[Profile, ...] = (BLOOD_PRESSURE, WEIGHT, BODY_TEMPERATURE, BLOOD_GLUCOSE)
HEALTH_SERVICE_UUIDS: tuple[str, ...] = tuple(profile.service_uuid for profile in PROFILES)
_BY_SERVICE_UUID = {profile.service_uuid: profile for profile in PROFILES}
_BY_KIND = {profile.kind: profile for profile in PROFILES}


def profile_for_services(service_uuids: list[str] | tuple[str, ...]) -> Profile | None:
    """The profile of the first health service among advertised ``service_uuids``, if any."""
    for uuid in service_uuids:
        profile = _BY_SERVICE_UUID.get(uuid.lower())
        if profile is not None:
            return profile
    return None


def profile_for_kind(kind: str) -> Profile:
    """The profile of a sync device kind; KeyError for an unknown one."""
    return _BY_KIND[kind]
