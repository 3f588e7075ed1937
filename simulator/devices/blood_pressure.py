"""Simulated blood-pressure monitor: Blood Pressure Service 0x1810 (BLS v1.1.1).

Stored readings go out as indications of Blood Pressure Measurement 0x2A35 once the collector
enables them; Blood Pressure Feature 0x2A49 says what the cuff detects; with
``intermediate_cuff_pressure`` a live measurement first notifies the inflating cuff pressure on
0x2A36. User slots are the readings' user IDs (``ReadingPlan.user_ids``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from bumble import gatt
from bumble.gatt_server import Server

from shared.ble.blood_pressure import (
    BloodPressureFeature,
    BloodPressureFeatures,
    IntermediateCuffPressure,
    PressureUnit,
)
from shared.ble.ieee11073 import SFloat
from simulator.devices.base import Session
from simulator.devices.records import Reading, ReadingPlan, blood_pressure_readings
from simulator.devices.services import Properties, permissions, uuid16, with_cccd
from simulator.devices.upload import IndicatedRecordsDevice

BLOOD_PRESSURE_SERVICE = 0x1810
BLOOD_PRESSURE_MEASUREMENT = 0x2A35
INTERMEDIATE_CUFF_PRESSURE = 0x2A36
BLOOD_PRESSURE_FEATURE = 0x2A49

DEFAULT_FEATURES = BloodPressureFeature(
    BloodPressureFeatures.BODY_MOVEMENT_DETECTION
    | BloodPressureFeatures.CUFF_FIT_DETECTION
    | BloodPressureFeatures.IRREGULAR_PULSE_DETECTION
    | BloodPressureFeatures.PULSE_RATE_RANGE_DETECTION
    | BloodPressureFeatures.MULTIPLE_BONDS
)
# Cuff pressures (mmHg) notified on 0x2A36 while the cuff inflates, before a live reading.
CUFF_RAMP_MMHG = (20, 60, 100, 140, 180)


class BloodPressureServer(gatt.TemplateService):
    """Blood Pressure Service: Measurement (indicate), Intermediate Cuff Pressure (notify), Feature."""

    UUID = gatt.GATT_BLOOD_PRESSURE_SERVICE

    def __init__(
        self, server: Server, feature: BloodPressureFeature, intermediate_cuff_pressure: bool, secure: bool
    ) -> None:
        self.measurement = with_cccd(
            gatt.Characteristic(uuid16(BLOOD_PRESSURE_MEASUREMENT), Properties.INDICATE, permissions(), b""),
            server,
            secure,
        )
        self.feature = gatt.Characteristic(
            uuid16(BLOOD_PRESSURE_FEATURE), Properties.READ, permissions(read=True, secure=secure), bytes(feature)
        )
        characteristics = [self.measurement, self.feature]
        self.intermediate_cuff_pressure: gatt.Characteristic | None = None
        if intermediate_cuff_pressure:
            self.intermediate_cuff_pressure = with_cccd(
                gatt.Characteristic(uuid16(INTERMEDIATE_CUFF_PRESSURE), Properties.NOTIFY, permissions(), b""),
                server,
                secure,
            )
            characteristics.insert(1, self.intermediate_cuff_pressure)
        super().__init__(characteristics)


class BloodPressureMonitor(IndicatedRecordsDevice):
    """An upper-arm cuff with stored readings (one or more user slots)."""

    KIND: ClassVar[str] = "blood_pressure"
    SERVICE_UUID: ClassVar[int] = BLOOD_PRESSURE_SERVICE
    MODEL: ClassVar[str] = "VS-BPM-200"

    def __init__(
        self,
        name: str,
        *,
        feature: BloodPressureFeature = DEFAULT_FEATURES,
        intermediate_cuff_pressure: bool = False,
        **kwargs: Any,
    ) -> None:
        self.feature = feature
        self.intermediate_cuff_pressure = intermediate_cuff_pressure
        self.service: BloodPressureServer | None = None
        super().__init__(name, **kwargs)

    @classmethod
    def generate(cls, plan: ReadingPlan) -> list[Reading]:
        return blood_pressure_readings(plan)

    def profile_service(self, server: Server) -> gatt.Service:
        self.service = BloodPressureServer(server, self.feature, self.intermediate_cuff_pressure, self.secure)
        self.measurement = self.service.measurement
        return self.service

    async def before_live_measurement(self, session: Session) -> None:
        """Notify the inflating cuff pressure (systolic field; diastolic and MAP unused, NaN)."""
        characteristic = self.service.intermediate_cuff_pressure if self.service else None
        if characteristic is None or not session.notifying(characteristic):
            return
        for mmhg in CUFF_RAMP_MMHG:
            frame = bytes(IntermediateCuffPressure(PressureUnit.MMHG, SFloat(mmhg, 0)))
            await self.notify(session, characteristic, frame)

    def ground_truth_extra(self) -> dict[str, Any]:
        return {**super().ground_truth_extra(), "feature": self.feature.to_json()}
