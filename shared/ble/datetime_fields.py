"""Date and time characteristics: Date Time, Day Date Time, Current Time and Local Time Information.

Date Time (0x2A08) is also the time stamp inside the measurement characteristics, so the measurement codecs
read it through :meth:`DateTime.read` and errors point at the exact byte (``...time_stamp.month``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any, ClassVar

from shared.ble.codes import code_json, coded, flag_names
from shared.ble.errors import InvalidValueError
from shared.ble.frame import FrameBytes, FrameReader, FrameWriter, Layout

# GATT Specification Supplement, Date Time: year u16 (0 = unknown, else 1582-9999), month u8 (0 = unknown),
# day u8 (0 = unknown), hours 0-23, minutes 0-59, seconds 0-59.
_DATE_TIME = Layout(("year", "H"), ("month", "B"), ("day", "B"), ("hours", "B"), ("minutes", "B"), ("seconds", "B"))
_DATE_TIME_OFFSETS = _DATE_TIME.offsets()
# Longest possible day per month when the year is unknown (a leap February; index 0: month unknown).
_MAX_DAY = (31, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class DateTime:
    """Date Time 0x2A08: a calendar date and wall-clock time; year, month or day 0 means unknown."""

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    NAME: ClassVar[str] = "date_time"
    UUID: ClassVar[int] = 0x2A08

    def __post_init__(self) -> None:
        year, month, day = self.year, self.month, self.day
        if year != 0 and not 1582 <= year <= 9999:
            raise _invalid("year", year, "0 = unknown or 1582-9999")
        if not 0 <= month <= 12:
            raise _invalid("month", month, "0 = unknown or 1-12")
        if day:
            # A date that does not exist (30 February) is as invalid as month 13.
            last = calendar.monthrange(year, month)[1] if year and month else _MAX_DAY[month]
            if not 1 <= day <= last:
                raise _invalid("day", day, f"0 = unknown or 1-{last} for this month")
        if not 0 <= self.hours <= 23:
            raise _invalid("hours", self.hours, "0-23")
        if not 0 <= self.minutes <= 59:
            raise _invalid("minutes", self.minutes, "0-59")
        if not 0 <= self.seconds <= 59:
            raise _invalid("seconds", self.seconds, "0-59")

    @classmethod
    def read(cls, reader: FrameReader, field: str | None) -> DateTime:
        """The 7-byte Date Time at the reader's position; errors are named ``<field>.<part>``.

        ``field`` None reads the characteristic itself, so a short frame names the part that is cut off.
        """
        start = reader.offset
        if field is None:
            values, prefix = reader.fields(_DATE_TIME), ""
        else:
            values, prefix = reader.group(_DATE_TIME, field), f"{field}."
        return reader.build(cls, values, _DATE_TIME_OFFSETS, start, prefix)

    def write(self, writer: FrameWriter) -> None:
        """Append the 7-byte encoding."""
        writer.fields(_DATE_TIME, self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> DateTime:
        """Decode a Date Time characteristic value."""
        reader = FrameReader(data, cls.NAME)
        value = cls.read(reader, None)
        reader.finish()
        return value

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        self.write(writer)
        return writer.getvalue()

    @classmethod
    def from_datetime(cls, moment: dt.datetime) -> DateTime:
        """The Date Time of a Python datetime (seconds truncated, time zone ignored)."""
        return cls(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)

    def to_datetime(self) -> dt.datetime | None:
        """A naive datetime, or None when the year, month or day is unknown."""
        if not (self.year and self.month and self.day):
            return None
        return dt.datetime(self.year, self.month, self.day, self.hours, self.minutes, self.seconds)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready parts (unknown parts are null) and the ISO form when the date is complete."""
        moment = self.to_datetime()
        return {
            "year": self.year or None,
            "month": self.month or None,
            "day": self.day or None,
            "hours": self.hours,
            "minutes": self.minutes,
            "seconds": self.seconds,
            "iso": moment.isoformat() if moment else None,
        }


def _invalid(part: str, value: int, valid: str) -> InvalidValueError:
    return InvalidValueError(f"{DateTime.NAME}.{part}", f"invalid value {value}", detail=f"valid: {valid}")


class DayOfWeek(enum.IntEnum):
    """Day of Week (GATT Specification Supplement v8 §3.73): 8-255 are reserved for future use."""

    UNKNOWN = 0
    MONDAY = 1
    TUESDAY = 2
    WEDNESDAY = 3
    THURSDAY = 4
    FRIDAY = 5
    SATURDAY = 6
    SUNDAY = 7


@dataclass(frozen=True, slots=True)
class DayDateTime:
    """Day Date Time 0x2A0A (GATT Specification Supplement v8 §3.72): Date Time plus Day of Week."""

    date_time: DateTime
    day_of_week: DayOfWeek | int = DayOfWeek.UNKNOWN

    NAME: ClassVar[str] = "day_date_time"
    UUID: ClassVar[int] = 0x2A0A

    def __post_init__(self) -> None:
        _check_u8(self.NAME, "day_of_week", self.day_of_week)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> DayDateTime:
        """Decode a Day Date Time characteristic value."""
        reader = FrameReader(data, cls.NAME)
        date_time = DateTime.read(reader, "date_time")
        day_of_week = coded(DayOfWeek, reader.u8("day_of_week"))
        reader.finish()
        return cls(date_time, day_of_week)

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        self.date_time.write(writer)
        writer.u8(self.day_of_week)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"date_time": self.date_time.to_json(), "day_of_week": code_json(self.day_of_week)}


class AdjustReason(enum.IntFlag):
    """Adjust Reason (CTS "Current Time"): why the clock changed; bits 4-7 are reserved."""

    MANUAL_TIME_UPDATE = 0x01
    EXTERNAL_REFERENCE_TIME_UPDATE = 0x02
    CHANGE_OF_TIME_ZONE = 0x04
    CHANGE_OF_DST = 0x08


NO_ADJUSTMENT = AdjustReason(0)


@dataclass(frozen=True, slots=True)
class CurrentTime:
    """Current Time 0x2A2B (GATT Specification Supplement v8 §3.62): Exact Time 256 plus Adjust Reason."""

    date_time: DateTime
    day_of_week: DayOfWeek | int = DayOfWeek.UNKNOWN
    fractions256: int = 0
    adjust_reason: AdjustReason = NO_ADJUSTMENT

    NAME: ClassVar[str] = "current_time"
    UUID: ClassVar[int] = 0x2A2B

    def __post_init__(self) -> None:
        _check_u8(self.NAME, "day_of_week", self.day_of_week)
        _check_u8(self.NAME, "fractions256", self.fractions256)
        _check_u8(self.NAME, "adjust_reason", self.adjust_reason)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> CurrentTime:
        """Decode a Current Time characteristic value (10 bytes)."""
        reader = FrameReader(data, cls.NAME)
        date_time = DateTime.read(reader, "date_time")
        day_of_week = coded(DayOfWeek, reader.u8("day_of_week"))
        fractions = reader.u8("fractions256")
        reason = AdjustReason(reader.u8("adjust_reason"))
        reader.finish()
        return cls(date_time, day_of_week, fractions, reason)

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        self.date_time.write(writer)
        writer.u8(self.day_of_week)
        writer.u8(self.fractions256)
        writer.u8(self.adjust_reason)
        return writer.getvalue()

    @classmethod
    def from_datetime(cls, moment: dt.datetime, adjust_reason: AdjustReason = NO_ADJUSTMENT) -> CurrentTime:
        """The value a collector writes to set a device clock (hass-omron ``time_sync.py`` flow)."""
        fractions = moment.microsecond * 256 // 1_000_000
        return cls(DateTime.from_datetime(moment), DayOfWeek(moment.isoweekday()), fractions, adjust_reason)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "date_time": self.date_time.to_json(),
            "day_of_week": code_json(self.day_of_week),
            "fractions256": self.fractions256,
            "adjust_reason": flag_names(self.adjust_reason),
            "adjust_reason_raw": f"0x{int(self.adjust_reason):02X}",
        }


class DstOffset(enum.IntEnum):
    """DST Offset (GATT Specification Supplement, DST Offset): other values are reserved."""

    STANDARD_TIME = 0
    HALF_AN_HOUR_DAYLIGHT_TIME = 2
    DAYLIGHT_TIME = 4
    DOUBLE_DAYLIGHT_TIME = 8
    UNKNOWN = 255


_DST_MINUTES = {0: 0, 2: 30, 4: 60, 8: 120}
TIME_ZONE_UNKNOWN = -128


@dataclass(frozen=True, slots=True)
class LocalTimeInformation:
    """Local Time Information 0x2A0F: time zone in 15-minute steps (-48..56, -128 unknown) and DST offset."""

    time_zone: int
    dst_offset: DstOffset | int = DstOffset.UNKNOWN

    NAME: ClassVar[str] = "local_time_information"
    UUID: ClassVar[int] = 0x2A0F
    _LAYOUT: ClassVar[Layout] = Layout(("time_zone", "b"), ("dst_offset", "B"))

    def __post_init__(self) -> None:
        # Time Zone characteristic: -48..+56 in 15-minute units, -128 = unknown; the rest is invalid.
        if self.time_zone != TIME_ZONE_UNKNOWN and not -48 <= self.time_zone <= 56:
            raise InvalidValueError(
                f"{self.NAME}.time_zone",
                f"invalid value {self.time_zone}",
                detail="valid: -48..56 (15-minute steps) or -128 = unknown",
            )
        _check_u8(self.NAME, "dst_offset", self.dst_offset)

    @classmethod
    def from_bytes(cls, data: FrameBytes) -> LocalTimeInformation:
        """Decode a Local Time Information characteristic value (2 bytes)."""
        reader = FrameReader(data, cls.NAME)
        time_zone, dst = reader.fields(cls._LAYOUT)
        reader.finish()
        return reader.build(cls, (time_zone, coded(DstOffset, dst)), {"time_zone": 0, "dst_offset": 1})

    def __bytes__(self) -> bytes:
        writer = FrameWriter()
        writer.fields(self._LAYOUT, self.time_zone, self.dst_offset)
        return writer.getvalue()

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with the UTC offset in minutes (null when unknown)."""
        known = self.time_zone != TIME_ZONE_UNKNOWN
        dst_minutes = _DST_MINUTES.get(int(self.dst_offset))
        return {
            "time_zone_quarter_hours": self.time_zone if known else None,
            "dst_offset": code_json(self.dst_offset),
            "standard_offset_minutes": self.time_zone * 15 if known else None,
            "dst_offset_minutes": dst_minutes,
        }


def _check_u8(owner: str, field: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise InvalidValueError(f"{owner}.{field}", f"invalid value {value}", detail="valid: 0-255")
