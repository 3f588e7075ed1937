"""The knobs every simulated device has: upload policy, pairing, disconnects, quirks, its clock.

Each knob reproduces something testers meet with real devices (reference ``ble-gatt.md`` §5):
devices that send only their latest record or delete what they uploaded, that need a bond, that
drop the link mid-transfer, that notify before answering the CCCD write (bleak #1885), or that
send RFU flag bits and year-0 time stamps; and clocks that drift until a collector sets them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

SECONDS_PER_DAY = 86_400
PPM = 1_000_000


class UploadPolicy(enum.StrEnum):
    """Which stored records a device indicates when the collector subscribes (derdilla docs table)."""

    LATEST = "latest"
    ALL = "all"
    DELETE_AFTER_DOWNLOAD = "delete-after-download"


class VendorQuirk(enum.StrEnum):
    """Departures from the SIG layouts seen in the field."""

    NONE = "none"
    # An RFU flags bit set in every measurement frame (Beurer's flag bit 6 in ble-gatt.md §5): a strict
    # decoder rejects the frame, a lenient one must not misread the layout.
    RESERVED_FLAG_BIT = "reserved-flag-bit"
    # Time stamps with year 0 ("unknown"), as from a device whose clock was never set.
    YEAR_ZERO_TIMESTAMP = "year-zero-timestamp"


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How a simulated device behaves on the air; every field has the well-behaved default."""

    upload_policy: UploadPolicy = UploadPolicy.ALL
    # Profile characteristics (and their CCCDs) need an encrypted link: ATT error 0x0F until paired.
    pairing_required: bool = False
    # Drop the link after this many records of one connection (interrupted transfer).
    disconnect_after_records: int | None = None
    # Drop the link after the last record, as Omron and Silvercrest cuffs do.
    disconnect_after_upload: bool = False
    # Send the first record as a notification before the ATT Write Response to the CCCD write.
    early_notification: bool = False
    vendor_quirk: VendorQuirk = VendorQuirk.NONE
    # Clock error in parts per million (+ runs fast); 11.574 ppm is one second per day.
    clock_drift_ppm: float = 0.0
    # Refuse Current Time writes with ATT error 0x80 "Data field ignored" (CTS).
    reject_time_writes: bool = False
    # Pause between the records of one transfer; lets tests abort a RACP transfer half way.
    record_interval_s: float = 0.0
    advertising_interval_ms: float = 100.0
    battery_level_percent: int = 87

    def __post_init__(self) -> None:
        if self.disconnect_after_records is not None and self.disconnect_after_records < 1:
            raise ValueError("disconnect_after_records must be at least 1")
        if not 0 <= self.battery_level_percent <= 100:
            raise ValueError("battery_level_percent must be 0-100")
        if self.record_interval_s < 0 or self.advertising_interval_ms < 20:
            raise ValueError("record_interval_s must be >= 0 and advertising_interval_ms >= 20")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Behaviour:
        """From a scenario's ``behaviour:`` mapping; ``clock_drift_s_per_day`` is converted to ppm."""
        fields = {field.name for field in dataclasses.fields(cls)}
        values = {key.replace("-", "_"): value for key, value in data.items()}
        if "clock_drift_s_per_day" in values:
            values["clock_drift_ppm"] = float(values.pop("clock_drift_s_per_day")) / SECONDS_PER_DAY * PPM
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ValueError(f"unknown behaviour keys: {', '.join(unknown)}; known: {', '.join(sorted(fields))}")
        if "upload_policy" in values:
            values["upload_policy"] = UploadPolicy(values["upload_policy"])
        if "vendor_quirk" in values:
            values["vendor_quirk"] = VendorQuirk(values["vendor_quirk"] or "none")
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict (enums as their scenario spelling)."""
        return {
            field.name: (value.value if isinstance(value, enum.Enum) else value)
            for field in dataclasses.fields(self)
            for value in (getattr(self, field.name),)
        }


class DeviceClock:
    """A device's own wall clock: starts at ``start``, runs ``drift_ppm`` fast, is set by CTS writes."""

    def __init__(
        self,
        start: dt.datetime | None = None,
        drift_ppm: float = 0.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self.drift_ppm = drift_ppm
        self._base = (start or dt.datetime.now()).replace(tzinfo=None)
        self._base_tick = monotonic()
        self.last_set: dt.datetime | None = None

    def now(self) -> dt.datetime:
        """The time the device shows: elapsed real time scaled by the drift."""
        elapsed = (self._monotonic() - self._base_tick) * (1 + self.drift_ppm / PPM)
        return self._base + dt.timedelta(seconds=elapsed)

    def set(self, moment: dt.datetime) -> None:
        """Set the clock (a Current Time write)."""
        self._base = moment.replace(tzinfo=None)
        self._base_tick = self._monotonic()
        self.last_set = self._base

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: what the clock shows now, its drift and when it was last set."""
        return {
            "now": self.now().isoformat(timespec="seconds"),
            "drift_ppm": self.drift_ppm,
            "last_set": self.last_set.isoformat(timespec="seconds") if self.last_set else None,
        }
