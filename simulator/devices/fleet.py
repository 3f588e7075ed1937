"""A fleet of simulated devices described by a scenario (YAML): kinds, counts, behaviours, seed.

Scenario format (see ``simulator/scenarios/mixed-20.yaml``)::

    seed: 2025                      # every device's readings derive from it
    end: 2025-01-15T09:00:00        # readings end here (default: the current hour)
    defaults:                       # merged into every group
      behaviour: {advertising_interval_ms: 250}
    devices:
      - kind: blood_pressure        # blood_pressure | weight_scale | thermometer | glucose_meter
        count: 6
        name: VS-BPM-{n:03d}        # optional; n counts from 1 within the group
        records: 20
        users: [1, 2]
        error_rate: 0.05
        out_of_range_rate: 0.1
        behaviour: {upload_policy: delete-after-download, pairing_required: true}
        options: {intermediate_cuff_pressure: true}   # keyword arguments of the device class
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from bumble.link import LocalLink

from simulator.devices.base import SimulatedDevice
from simulator.devices.behaviours import Behaviour
from simulator.devices.blood_pressure import BloodPressureMonitor
from simulator.devices.glucose_meter import GlucoseMeter
from simulator.devices.records import ReadingPlan
from simulator.devices.thermometer import Thermometer
from simulator.devices.weight_scale import WeightScale

KINDS: dict[str, type[SimulatedDevice]] = {
    kind.KIND: kind for kind in (BloodPressureMonitor, WeightScale, Thermometer, GlucoseMeter)
}
NAME_PATTERNS = {
    "blood_pressure": "VS-BPM-{n:03d}",
    "weight_scale": "VS-WS-{n:03d}",
    "thermometer": "VS-HT-{n:03d}",
    "glucose_meter": "VS-GM-{n:03d}",
}
_GROUP_KEYS = frozenset(
    {"kind", "count", "name", "records", "users", "error_rate", "out_of_range_rate", "behaviour", "options"}
)


class ScenarioError(ValueError):
    """A scenario file that does not describe a fleet."""


@dataclass(frozen=True, slots=True)
class DeviceGroup:
    """``count`` devices of one kind with the same behaviour and reading plan shape."""

    kind: str
    count: int
    name: str
    records: int
    users: tuple[int, ...]
    error_rate: float
    out_of_range_rate: float
    behaviour: Behaviour
    options: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Scenario:
    """A parsed scenario: the seed, where readings end, and the device groups."""

    seed: int
    end: dt.datetime
    groups: tuple[DeviceGroup, ...]

    @property
    def device_count(self) -> int:
        """How many devices the fleet runs."""
        return sum(group.count for group in self.groups)

    @classmethod
    def load(cls, path: Path, now: dt.datetime | None = None) -> Scenario:
        """Read and validate a scenario file."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:
            raise ScenarioError(f"{path}: not valid YAML ({error})") from error
        return cls.from_mapping(data, now)

    @classmethod
    def from_mapping(cls, data: Any, now: dt.datetime | None = None) -> Scenario:
        """Validate a scenario already parsed from YAML."""
        if not isinstance(data, Mapping) or not isinstance(data.get("devices"), list) or not data["devices"]:
            raise ScenarioError("a scenario is a mapping with a non-empty 'devices' list")
        end = data.get("end") or (now or dt.datetime.now()).replace(minute=0, second=0, microsecond=0)
        if isinstance(end, str):
            end = dt.datetime.fromisoformat(end)
        if not isinstance(end, dt.datetime):
            raise ScenarioError("'end' must be a date-time like 2025-01-15T09:00:00")
        defaults = data.get("defaults") or {}
        groups = []
        for index, entry in enumerate(data["devices"], start=1):
            if not isinstance(entry, Mapping):
                raise ScenarioError(f"devices[{index}] must be a mapping")
            groups.append(_group(index, {**defaults, **entry}, defaults))
        return cls(int(data.get("seed", 0)), end.replace(tzinfo=None), tuple(groups))

    def build(self, link: LocalLink) -> list[SimulatedDevice]:
        """The devices, not yet started; readings and addresses depend only on the scenario."""
        devices = []
        for group_index, group in enumerate(self.groups):
            kind = KINDS[group.kind]
            for n in range(1, group.count + 1):
                plan = ReadingPlan(
                    count=group.records,
                    seed=self.seed * 100_000 + group_index * 1_000 + n,
                    end=self.end,
                    error_rate=group.error_rate,
                    out_of_range_rate=group.out_of_range_rate,
                    user_ids=group.users,
                )
                name = group.name.format(n=n)
                devices.append(kind(name, readings=plan, behaviour=group.behaviour, link=link, **dict(group.options)))
        return devices


def _group(index: int, entry: Mapping[str, Any], defaults: Mapping[str, Any]) -> DeviceGroup:
    where = f"devices[{index}]"
    unknown = sorted(set(entry) - _GROUP_KEYS)
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {', '.join(unknown)}")
    kind = entry.get("kind")
    if kind not in KINDS:
        raise ScenarioError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    behaviour_data = {**(defaults.get("behaviour") or {}), **(entry.get("behaviour") or {})}
    try:
        behaviour = Behaviour.from_mapping(behaviour_data)
        users = tuple(int(user) for user in entry.get("users", (1,)))
        group = DeviceGroup(
            kind=kind,
            count=int(entry.get("count", 1)),
            name=str(entry.get("name") or NAME_PATTERNS[kind]),
            records=int(entry.get("records", 10)),
            users=users,
            error_rate=float(entry.get("error_rate", 0.0)),
            out_of_range_rate=float(entry.get("out_of_range_rate", 0.05)),
            behaviour=behaviour,
            options=dict(entry.get("options") or {}),
        )
        group.name.format(n=1)
    except (TypeError, ValueError, KeyError, IndexError) as error:
        raise ScenarioError(f"{where}: {error}") from error
    if group.count < 1 or group.records < 0:
        raise ScenarioError(f"{where}: count must be >= 1 and records >= 0")
    return group
