"""Simulated Bluetooth LE health devices (Bumble GATT servers) for tests, CI and demos.

One module per kind: :class:`BloodPressureMonitor`, :class:`WeightScale`, :class:`Thermometer`,
:class:`GlucoseMeter` (with RACP), plus :class:`ReplayDevice` for captured frames. Behaviour knobs
are in :mod:`simulator.devices.behaviours`, seeded readings in :mod:`simulator.devices.records`.
"""

from simulator.devices.base import DeviceIdentity, Session, SimulatedDevice
from simulator.devices.behaviours import Behaviour, DeviceClock, UploadPolicy, VendorQuirk
from simulator.devices.blood_pressure import BloodPressureMonitor
from simulator.devices.fleet import KINDS as DEVICE_KINDS
from simulator.devices.fleet import Scenario, ScenarioError
from simulator.devices.glucose_meter import GlucoseMeter
from simulator.devices.records import Reading, ReadingPlan, RecordStore, StoredRecord
from simulator.devices.replay import ReplayDevice, parse_frames
from simulator.devices.thermometer import Thermometer
from simulator.devices.weight_scale import WeightScale

__all__ = [
    "DEVICE_KINDS",
    "Behaviour",
    "BloodPressureMonitor",
    "DeviceClock",
    "DeviceIdentity",
    "GlucoseMeter",
    "Reading",
    "ReadingPlan",
    "RecordStore",
    "ReplayDevice",
    "Scenario",
    "ScenarioError",
    "Session",
    "SimulatedDevice",
    "StoredRecord",
    "Thermometer",
    "UploadPolicy",
    "VendorQuirk",
    "WeightScale",
    "parse_frames",
]
