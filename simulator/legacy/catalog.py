"""The device models the old app paired, per kind, with their firmware history and units."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from simulator.legacy.model import DeviceKind


@dataclass(frozen=True, slots=True)
class DeviceModel:
    """One product: its name, kind, maker and the firmware versions shipped (oldest first)."""

    name: str
    kind: DeviceKind
    vendor: str
    firmwares: Sequence[str]
    weight: int
    body_composition: bool = False
    user_slots: int = 1

    @property
    def code(self) -> str:
        """The name as it appears in serials and vendor thing ids (`[A-Za-z0-9]` only)."""
        return "".join(char for char in self.name.upper() if char.isalnum())


_VENDOR = "Kyoto Vital Devices"
_PARTNER = "Nordhealth Sensors"

MODELS: Mapping[DeviceKind, Sequence[DeviceModel]] = {
    DeviceKind.BLOOD_PRESSURE: (
        DeviceModel("BP-7000", DeviceKind.BLOOD_PRESSURE, _VENDOR, ("1.0.3", "1.1.0", "1.2.1"), 40, user_slots=2),
        DeviceModel("BP-5350", DeviceKind.BLOOD_PRESSURE, _VENDOR, ("2.0.0", "2.0.4"), 25, user_slots=2),
        DeviceModel("HEM-7155T", DeviceKind.BLOOD_PRESSURE, _VENDOR, ("1.4", "1.5"), 20),
        DeviceModel("BP-652N", DeviceKind.BLOOD_PRESSURE, _VENDOR, ("0.9.8", "1.0.0"), 15),
    ),
    DeviceKind.WEIGHT: (
        DeviceModel(
            "HBF-702T",
            DeviceKind.WEIGHT,
            _VENDOR,
            ("3.1.0", "3.2.0"),
            45,
            body_composition=True,
            user_slots=4,
        ),
        DeviceModel("HBF-375", DeviceKind.WEIGHT, _VENDOR, ("2.5.1",), 20, body_composition=True, user_slots=4),
        DeviceModel("HN-300T2", DeviceKind.WEIGHT, _VENDOR, ("1.0.0", "1.0.2"), 25),
        DeviceModel("BF-600", DeviceKind.WEIGHT, _PARTNER, ("5.0.1",), 10, body_composition=True, user_slots=8),
    ),
    DeviceKind.BODY_TEMPERATURE: (
        DeviceModel("MC-720", DeviceKind.BODY_TEMPERATURE, _VENDOR, ("1.0.0", "1.1.2"), 50),
        DeviceModel("MC-682", DeviceKind.BODY_TEMPERATURE, _VENDOR, ("2.2.0",), 30),
        DeviceModel("TH-839S", DeviceKind.BODY_TEMPERATURE, _VENDOR, ("1.3.5",), 20),
    ),
    DeviceKind.BLOOD_GLUCOSE: (
        DeviceModel("GL-50", DeviceKind.BLOOD_GLUCOSE, _PARTNER, ("1.8.0", "1.9.2"), 45),
        DeviceModel("GL-50 evo", DeviceKind.BLOOD_GLUCOSE, _PARTNER, ("2.0.1",), 25),
        DeviceModel("HGM-114", DeviceKind.BLOOD_GLUCOSE, _VENDOR, ("1.0.6",), 30),
    ),
}
# Share of paired devices per kind (blood pressure monitors are the maker's main product).
KIND_WEIGHTS: Mapping[DeviceKind, int] = {
    DeviceKind.BLOOD_PRESSURE: 45,
    DeviceKind.WEIGHT: 30,
    DeviceKind.BODY_TEMPERATURE: 15,
    DeviceKind.BLOOD_GLUCOSE: 10,
}
# The canonical unit of each kind (DESIGN section 5) and the other units the app legitimately wrote.
CANONICAL_UNITS: Mapping[DeviceKind, str] = {
    DeviceKind.BLOOD_PRESSURE: "mmHg",
    DeviceKind.WEIGHT: "kg",
    DeviceKind.BODY_TEMPERATURE: "C",
    DeviceKind.BLOOD_GLUCOSE: "mg/dL",
}
ALTERNATE_UNITS: Mapping[DeviceKind, str] = {
    DeviceKind.BLOOD_PRESSURE: "kPa",
    DeviceKind.WEIGHT: "lb",
    DeviceKind.BODY_TEMPERATURE: "F",
    DeviceKind.BLOOD_GLUCOSE: "mmol/L",
}
# Units the app never knew; real exports had a few (a typo'd firmware string, a UK setting).
UNKNOWN_UNITS: Mapping[DeviceKind, Sequence[str]] = {
    DeviceKind.BLOOD_PRESSURE: ("mmHg2", "mm Hg?"),
    DeviceKind.WEIGHT: ("stone", "KG_"),
    DeviceKind.BODY_TEMPERATURE: ("degK", "c2"),
    DeviceKind.BLOOD_GLUCOSE: ("mg/dl2", "mmol"),
}
