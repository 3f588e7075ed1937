"""From a received frame to a queue row: decode, decide whether sync may have it, and name it.

Pure and synchronous (no bleak, no I/O), so every rule here is unit-tested on plain bytes:

* **Decoding** uses ``shared.ble``. A frame with reserved flag bits set (a vendor quirk) is decoded
  again with those bits cleared; it is accepted only if that decode consumes the frame exactly (the
  codec rejects trailing bytes), so an RFU bit that added a field is never misread. The row keeps
  the flag ``reserved_flag_bits_ignored``.
* **Sendable or not.** Sync rejects special values (NaN, NRes, infinities), so readings carrying
  them, unsuccessful weighings (0xFFFF), glucose results whose sensor status says the result is not
  valid, readings without a usable time stamp (year/month/day 0: the clock was never set) and frames
  that do not decode are stored with status ``unsendable`` and a machine-readable reason. They stay
  in the queue (and in ``vitalsync gateway report``) with their decoded values and raw frame; they
  are never uploaded and never turned into numbers.
* **Client ids** are deterministic: ``vs1.<device>.<tag><suffix>`` where ``<device>`` is a hash of
  the device identity (model + serial from Device Information) and the suffix is the glucose
  sequence number plus the record's time stamp, or (indication devices, which number nothing) the
  time stamp plus the user slot. Re-reading a device or retrying an upload gives the same ids, so
  sync answers ``duplicate`` instead of storing twice. Frames that cannot be read are named by a
  hash of their bytes, so a re-read does not add a second unsendable row either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from services.gateway.profiles import Profile
from shared.ble.blood_pressure import BloodPressureMeasurement, MeasurementStatus, PressureUnit, PulseRateRange
from shared.ble.codes import code_json, flag_names
from shared.ble.datetime_fields import DateTime
from shared.ble.errors import BleDecodeError
from shared.ble.glucose import ConcentrationUnit, GlucoseMeasurement, SensorStatus
from shared.ble.glucose_context import GlucoseMeasurementContext
from shared.ble.ieee11073 import Special, json_converted, json_number
from shared.ble.registry import CharacteristicValue, decode
from shared.ble.temperature import TemperatureMeasurement, TemperatureType, TemperatureUnit
from shared.ble.units import kg_per_l_to_mg_per_dl
from shared.ble.weight import MEASUREMENT_UNSUCCESSFUL, WeightMeasurement, WeightUnits

CLIENT_ID_VERSION = "vs1"
_DEVICE_HASH_HEX = 16  # 64 bits of SHA-256: unique per user's devices, short enough to read
_FRAME_HASH_HEX = 16

# GLS "Sensor Status Annunciation": bits that say the concentration is not a valid result. Low battery
# and a time fault describe the device, not the sample, so such readings are still sent (flagged).
GLUCOSE_RESULT_INVALID = (
    SensorStatus.SENSOR_MALFUNCTION
    | SensorStatus.SAMPLE_SIZE_INSUFFICIENT
    | SensorStatus.STRIP_INSERTION_ERROR
    | SensorStatus.STRIP_TYPE_INCORRECT
    | SensorStatus.RESULT_TOO_HIGH
    | SensorStatus.RESULT_TOO_LOW
    | SensorStatus.TEMPERATURE_TOO_HIGH
    | SensorStatus.TEMPERATURE_TOO_LOW
    | SensorStatus.READ_INTERRUPTED
    | SensorStatus.GENERAL_DEVICE_FAULT
)
# shared/protocol/readings.py TemperatureValues.site spells these sites differently.
_SITE_NAMES = {TemperatureType.GASTROINTESTINAL_TRACT: "gastro"}
UNKNOWN_USER = 255  # BLS / WSS "User ID": 255 = unknown user


class Reason:
    """Why a reading is ``unsendable`` (stable strings: reports and tests match on them)."""

    UNDECODABLE = "undecodable"
    SPECIAL_VALUE = "special_value"
    MEASUREMENT_UNSUCCESSFUL = "measurement_unsuccessful"
    SENSOR_STATUS = "sensor_status"
    TIMESTAMP_UNKNOWN = "timestamp_unknown"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who a device is, from Device Information (or its address when it has no serial number)."""

    model: str
    serial: str
    manufacturer: str | None = None
    firmware: str | None = None

    @property
    def key(self) -> str:
        """A stable short hash of model and serial: the device part of every client id."""
        digest = hashlib.sha256(f"{self.model}\x1f{self.serial}".encode()).hexdigest()
        return digest[:_DEVICE_HASH_HEX]


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One received record as the queue stores it; ``payload`` is the reading sync gets, if sendable."""

    client_id: str
    type: str
    sequence_number: int | None
    measured_at: str | None
    payload: dict[str, Any] | None
    reason: str | None
    flags: tuple[str, ...]
    decoded: dict[str, Any]
    frame_hex: str
    context_hex: str | None = None

    @property
    def sendable(self) -> bool:
        """Whether this reading goes to sync."""
        return self.payload is not None


@dataclass(slots=True)
class _Mapped:
    values: dict[str, Any] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    reason: str | None = None


def decode_measurement(profile: Profile, frame: bytes) -> tuple[CharacteristicValue, list[str]]:
    """The decoded measurement and flags; reserved flag bits are retried cleared (module doc)."""
    try:
        return decode(profile.measurement, frame), []
    except BleDecodeError as error:
        reserved = frame[0] & ~profile.defined_flags & 0xFF if frame else 0
        if not (error.field.endswith(".flags") and reserved):
            raise
        cleared = bytes([frame[0] & profile.defined_flags]) + frame[1:]
        try:
            value = decode(profile.measurement, cleared)
        except BleDecodeError:
            raise error from None
        return value, [f"reserved_flag_bits_ignored:0x{reserved:02X}"]


def localize(moment: dt.datetime, zone: dt.tzinfo) -> str:
    """A device's naive wall-clock time as ISO 8601 with the offset of ``zone`` at that moment."""
    return moment.replace(tzinfo=zone).isoformat()


def client_id(identity: DeviceIdentity, profile: Profile, suffix: str) -> str:
    """``vs1.<device hash>.<tag><suffix>`` (printable ASCII, at most 128 characters as sync requires)."""
    return f"{CLIENT_ID_VERSION}.{identity.key}.{profile.client_id_tag}{suffix}"


def _stamp(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y%m%dT%H%M%S") if moment else "unknown"


def record_suffix(measurement: CharacteristicValue, moment: dt.datetime | None) -> str:
    """The per-record part of a client id: sequence number + time, or time + user slot."""
    if isinstance(measurement, GlucoseMeasurement):
        return f"{measurement.sequence_number}-{_stamp(moment)}"
    user = getattr(measurement, "user_id", None)
    return f"{_stamp(moment)}-u{'x' if user is None else user}"


def build_item(
    identity: DeviceIdentity,
    profile: Profile,
    frame: bytes,
    zone: dt.tzinfo,
    *,
    context_frame: bytes | None = None,
    temperature_site: TemperatureType | int | None = None,
) -> QueueItem:
    """The queue row for one received measurement frame (and its glucose context, if any)."""
    try:
        measurement, flags = decode_measurement(profile, frame)
    except BleDecodeError as error:
        digest = hashlib.sha256(frame).hexdigest()[:_FRAME_HASH_HEX]
        return QueueItem(
            client_id=client_id(identity, profile, f"x{digest}"),
            type=profile.kind,
            sequence_number=None,
            measured_at=None,
            payload=None,
            reason=f"{Reason.UNDECODABLE}: {error}",
            flags=(),
            decoded={},
            frame_hex=frame.hex(),
            context_hex=context_frame.hex() if context_frame else None,
        )
    decoded = measurement.to_json()
    context = _decode_context(context_frame)
    if context is not None:
        decoded = {**decoded, "context": context}
    moment = measurement_time(measurement)
    mapped = map_values(measurement, temperature_site)
    mapped.flags[:0] = flags
    if mapped.reason is None and moment is None:
        mapped.reason = Reason.TIMESTAMP_UNKNOWN
    measured_at = localize(moment, zone) if moment else None
    sequence = measurement.sequence_number if isinstance(measurement, GlucoseMeasurement) else None
    cid = client_id(identity, profile, record_suffix(measurement, moment))
    payload = None
    if mapped.reason is None and measured_at is not None:
        payload = {"client_id": cid, "type": profile.kind, "measured_at": measured_at, "values": mapped.values}
    return QueueItem(
        client_id=cid,
        type=profile.kind,
        sequence_number=sequence,
        measured_at=measured_at,
        payload=payload,
        reason=mapped.reason,
        flags=tuple(mapped.flags),
        decoded=decoded,
        frame_hex=frame.hex(),
        context_hex=context_frame.hex() if context_frame else None,
    )


def _decode_context(frame: bytes | None) -> dict[str, Any] | None:
    if frame is None:
        return None
    try:
        return GlucoseMeasurementContext.from_bytes(frame).to_json()
    except BleDecodeError as error:
        return {"undecodable": str(error)}


def measurement_time(measurement: CharacteristicValue) -> dt.datetime | None:
    """When the reading was taken, by the device's clock; None when unknown or not sent."""
    if isinstance(measurement, GlucoseMeasurement):
        return measurement.measurement_time
    stamp = getattr(measurement, "time_stamp", None)
    return stamp.to_datetime() if isinstance(stamp, DateTime) else None


def map_values(measurement: CharacteristicValue, temperature_site: TemperatureType | int | None = None) -> _Mapped:
    """The ``values`` object of sync's reading type, or the reason it cannot be sent."""
    if isinstance(measurement, BloodPressureMeasurement):
        return _blood_pressure(measurement)
    if isinstance(measurement, WeightMeasurement):
        return _weight(measurement)
    if isinstance(measurement, TemperatureMeasurement):
        return _temperature(measurement, temperature_site)
    if isinstance(measurement, GlucoseMeasurement):
        return _glucose(measurement)
    raise TypeError(f"not a measurement the gateway collects: {type(measurement).__name__}")


def _specials(named: dict[str, Any]) -> str | None:
    found = [f"{name}={value.value}" for name, value in named.items() if isinstance(value, Special)]
    return f"{Reason.SPECIAL_VALUE}: {', '.join(found)}" if found else None


def _status_names(status: MeasurementStatus | None) -> list[str]:
    """BLS Measurement Status bits in the protocol's spelling (BloodPressureValues.status)."""
    if status is None:
        return []
    names = []
    if status.body_movement:
        names.append("body_movement")
    if status.cuff_too_loose:
        names.append("cuff_fit_loose")
    if status.irregular_pulse:
        names.append("irregular_pulse")
    if status.pulse_rate_range in (PulseRateRange.EXCEEDS_UPPER_LIMIT, PulseRateRange.BELOW_LOWER_LIMIT):
        names.append("pulse_rate_out_of_range")
    if status.improper_measurement_position:
        names.append("improper_position")
    return names


def _blood_pressure(m: BloodPressureMeasurement) -> _Mapped:
    status = _status_names(m.measurement_status)
    mapped = _Mapped(flags=list(status))
    numbers = {"systolic": m.systolic, "diastolic": m.diastolic, "mean_arterial": m.mean_arterial_pressure}
    if m.pulse_rate is not None:
        numbers["pulse"] = m.pulse_rate
    mapped.reason = _specials(numbers)
    if mapped.reason:
        return mapped
    values: dict[str, Any] = {name: json_number(value) for name, value in numbers.items()}
    values["unit"] = "kPa" if m.unit is PressureUnit.KPA else "mmHg"
    values["status"] = status
    if m.user_id is not None:
        values["user_slot"] = m.user_id
        if m.user_id == UNKNOWN_USER:
            mapped.flags.append("unknown_user")
    mapped.values = values
    return mapped


def _weight(m: WeightMeasurement) -> _Mapped:
    mapped = _Mapped()
    if m.weight_raw is MEASUREMENT_UNSUCCESSFUL:
        mapped.reason = Reason.MEASUREMENT_UNSUCCESSFUL
        return mapped
    si = m.units is WeightUnits.SI
    values: dict[str, Any] = {"weight": m.weight, "unit": "kg" if si else "lb"}
    if m.bmi is not None and m.height is not None:
        values.update(bmi=m.bmi, height=m.height, height_unit="m" if si else "in")
    if m.user_id is not None:
        values["user_slot"] = m.user_id
        if m.user_id == UNKNOWN_USER:
            mapped.flags.append("unknown_user")
    mapped.values = values
    return mapped


def _temperature(m: TemperatureMeasurement, site: TemperatureType | int | None) -> _Mapped:
    mapped = _Mapped()
    mapped.reason = _specials({"temperature": m.temperature})
    if mapped.reason:
        return mapped
    values: dict[str, Any] = {
        "temperature": json_number(m.temperature),
        "unit": "F" if m.unit is TemperatureUnit.FAHRENHEIT else "C",
    }
    where = m.temperature_type if m.temperature_type is not None else site
    if isinstance(where, TemperatureType):
        values["site"] = _SITE_NAMES.get(where, where.name.lower())
    elif where is not None:
        mapped.flags.append(f"temperature_type:{code_json(where)}")
    mapped.values = values
    return mapped


def _glucose(m: GlucoseMeasurement) -> _Mapped:
    status = m.sensor_status
    mapped = _Mapped(flags=flag_names(status) if status is not None else [])
    if m.concentration is None:
        mapped.reason = f"{Reason.SPECIAL_VALUE}: no concentration"
        return mapped
    mapped.reason = _specials({"glucose": m.concentration})
    if mapped.reason is None and status is not None and status & GLUCOSE_RESULT_INVALID:
        mapped.reason = f"{Reason.SENSOR_STATUS}: {', '.join(flag_names(status & GLUCOSE_RESULT_INVALID))}"
    if mapped.reason:
        return mapped
    values: dict[str, Any]
    if m.concentration_unit is ConcentrationUnit.MOL_PER_L:
        values = {"glucose": json_converted(m.concentration, lambda mol: mol * 1000.0), "unit": "mmol/L"}
    else:
        values = {"glucose": json_converted(m.concentration, kg_per_l_to_mg_per_dl), "unit": "mg/dL"}
    values["sequence_number"] = m.sequence_number
    values["sensor_status"] = mapped.flags[:]
    if m.sample_type is not None:
        values["sample_type"] = code_json(m.sample_type)
    if m.sample_location is not None:
        values["location"] = code_json(m.sample_location)
    mapped.values = values
    return mapped


def dumps(value: Any) -> str:
    """Compact, key-sorted JSON for the queue's text columns."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
