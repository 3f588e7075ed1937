"""Simulated thermometer: Health Thermometer Service 0x1809 (HTS v1.0).

Stored temperatures go out as indications of Temperature Measurement 0x2A1C; the site is read once
from Temperature Type 0x2A1D (so, per HTS, it is not repeated in each measurement); Measurement
Interval 0x2A21 is readable and writable within its Valid Range descriptor (0 stops periodic
measurements; a value outside the range gets ATT error 0xFF "Out of Range").
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar

from bumble import att, gatt
from bumble.device import Connection
from bumble.gatt_server import Server

from shared.ble.temperature import TemperatureType, TemperatureTypeValue
from simulator.devices.records import Reading, ReadingPlan, temperature_readings
from simulator.devices.services import OUT_OF_RANGE, Properties, permissions, uuid16, with_cccd
from simulator.devices.upload import IndicatedRecordsDevice

HEALTH_THERMOMETER_SERVICE = 0x1809
TEMPERATURE_MEASUREMENT = 0x2A1C
TEMPERATURE_TYPE = 0x2A1D
MEASUREMENT_INTERVAL = 0x2A21
VALID_RANGE_DESCRIPTOR = 0x2906
# Measurement Interval u16 seconds, 0 = no periodic measurement (HTS §3.4); our valid range 1 s - 1 h.
INTERVAL_RANGE_S = (1, 3600)


class HealthThermometerServer(gatt.TemplateService):
    """Health Thermometer Service: Temperature Measurement, Temperature Type, Measurement Interval."""

    UUID = gatt.GATT_HEALTH_THERMOMETER_SERVICE

    def __init__(self, server: Server, device: Thermometer, secure: bool) -> None:
        self._device = device
        self.measurement = with_cccd(
            gatt.Characteristic(uuid16(TEMPERATURE_MEASUREMENT), Properties.INDICATE, permissions(), b""),
            server,
            secure,
        )
        self.temperature_type = gatt.Characteristic(
            uuid16(TEMPERATURE_TYPE),
            Properties.READ,
            permissions(read=True, secure=secure),
            bytes(TemperatureTypeValue(device.temperature_type)),
        )
        valid_range = gatt.Descriptor(
            uuid16(VALID_RANGE_DESCRIPTOR), permissions(read=True), struct.pack("<HH", *INTERVAL_RANGE_S)
        )
        self.measurement_interval = with_cccd(
            gatt.Characteristic(
                uuid16(MEASUREMENT_INTERVAL),
                Properties.READ | Properties.WRITE | Properties.INDICATE,
                permissions(read=True, write=True, secure=secure),
                gatt.CharacteristicValue(read=self._read_interval, write=self._write_interval),
                descriptors=[valid_range],
            ),
            server,
            secure,
        )
        super().__init__([self.measurement, self.temperature_type, self.measurement_interval])

    def _read_interval(self, _connection: Connection) -> bytes:
        return struct.pack("<H", self._device.measurement_interval_s)

    def _write_interval(self, _connection: Connection, value: bytes) -> None:
        if len(value) != 2:
            raise att.ATT_Error(att.ATT_INVALID_ATTRIBUTE_LENGTH_ERROR)
        (seconds,) = struct.unpack("<H", value)
        if seconds and not INTERVAL_RANGE_S[0] <= seconds <= INTERVAL_RANGE_S[1]:
            raise att.ATT_Error(OUT_OF_RANGE)  # HTS: a value outside the Valid Range is "Out of Range"
        self._device.measurement_interval_s = seconds


class Thermometer(IndicatedRecordsDevice):
    """A clinical thermometer with stored readings and a fixed measurement site."""

    KIND: ClassVar[str] = "thermometer"
    SERVICE_UUID: ClassVar[int] = HEALTH_THERMOMETER_SERVICE
    MODEL: ClassVar[str] = "VS-HT-10"

    def __init__(
        self,
        name: str,
        *,
        temperature_type: TemperatureType = TemperatureType.EAR,
        measurement_interval_s: int = 0,
        **kwargs: Any,
    ) -> None:
        self.temperature_type = temperature_type
        self.measurement_interval_s = measurement_interval_s
        super().__init__(name, **kwargs)

    @classmethod
    def generate(cls, plan: ReadingPlan) -> list[Reading]:
        return temperature_readings(plan)

    def profile_service(self, server: Server) -> gatt.Service:
        service = HealthThermometerServer(server, self, self.secure)
        self.measurement = service.measurement
        return service

    def ground_truth_extra(self) -> dict[str, Any]:
        return {
            **super().ground_truth_extra(),
            "temperature_type": TemperatureTypeValue(self.temperature_type).to_json(),
            "measurement_interval_s": self.measurement_interval_s,
        }
