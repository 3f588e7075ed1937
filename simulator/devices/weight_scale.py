"""Simulated weight scale: Weight Scale Service 0x181D (WSS v1.0).

Stored weighings go out as indications of Weight Measurement 0x2A9D (time stamp, user ID, BMI and
height; weight 0xFFFF for an unsuccessful measurement); Weight Scale Feature 0x2A9E says so.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bumble import gatt
from bumble.gatt_server import Server

from shared.ble.weight import HeightResolution, WeightResolution, WeightScaleFeature, WeightScaleFeatures
from simulator.devices.records import Reading, ReadingPlan, weight_readings
from simulator.devices.services import Properties, permissions, uuid16, with_cccd
from simulator.devices.upload import IndicatedRecordsDevice

WEIGHT_SCALE_SERVICE = 0x181D
WEIGHT_MEASUREMENT = 0x2A9D
WEIGHT_SCALE_FEATURE = 0x2A9E

DEFAULT_FEATURES = WeightScaleFeature(
    WeightScaleFeatures.TIME_STAMP_SUPPORTED
    | WeightScaleFeatures.MULTIPLE_USERS_SUPPORTED
    | WeightScaleFeatures.BMI_SUPPORTED,
    WeightResolution.KG_0_05_OR_LB_0_1,  # the generator's 0.05 kg steps
    HeightResolution.M_0_001_OR_IN_0_1,
)


class WeightScaleServer(gatt.TemplateService):
    """Weight Scale Service: Weight Scale Feature (read) and Weight Measurement (indicate)."""

    UUID = gatt.GATT_WEIGHT_SCALE_SERVICE

    def __init__(self, server: Server, feature: WeightScaleFeature, secure: bool) -> None:
        self.feature = gatt.Characteristic(
            uuid16(WEIGHT_SCALE_FEATURE), Properties.READ, permissions(read=True, secure=secure), bytes(feature)
        )
        self.measurement = with_cccd(
            gatt.Characteristic(uuid16(WEIGHT_MEASUREMENT), Properties.INDICATE, permissions(), b""),
            server,
            secure,
        )
        super().__init__([self.feature, self.measurement])


class WeightScale(IndicatedRecordsDevice):
    """A bathroom scale with BMI, height and several users."""

    KIND: ClassVar[str] = "weight_scale"
    SERVICE_UUID: ClassVar[int] = WEIGHT_SCALE_SERVICE
    MODEL: ClassVar[str] = "VS-WS-50"

    def __init__(self, name: str, *, feature: WeightScaleFeature = DEFAULT_FEATURES, **kwargs: Any) -> None:
        self.feature = feature
        super().__init__(name, **kwargs)

    @classmethod
    def generate(cls, plan: ReadingPlan) -> list[Reading]:
        return weight_readings(plan)

    def profile_service(self, server: Server) -> gatt.Service:
        service = WeightScaleServer(server, self.feature, self.secure)
        self.measurement = service.measurement
        return service

    def ground_truth_extra(self) -> dict[str, Any]:
        return {**super().ground_truth_extra(), "feature": self.feature.to_json()}
