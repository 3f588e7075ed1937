"""What sync must hold after a gateway run, computed from a fleet's ground truth alone.

Deliberately independent of the gateway's own mapping code: expected values come from the decoded
values the simulator wrote (``shared.ble`` ``to_json`` of each stored record), so a mapping bug in
the gateway cannot hide itself. A reading is expected when the device will send it (indication
devices: ``upload_sequence_numbers``; glucose meters: every record), its values are all numbers
(no NaN / NRes / unsuccessful weighing / sensor error), and its time stamp is complete.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql

from shared.settings import CommonSettings

READING_TYPE = {
    "blood_pressure": "blood_pressure",
    "weight_scale": "weight",
    "thermometer": "body_temperature",
    "glucose_meter": "blood_glucose",
}
SPECIALS = {"NaN", "NRes", "+INFINITY", "-INFINITY", "reserved", "measurement unsuccessful"}
GLUCOSE_ERRORS = {
    "sensor_malfunction",
    "sample_size_insufficient",
    "strip_insertion_error",
    "strip_type_incorrect",
    "result_too_high",
    "result_too_low",
    "temperature_too_high",
    "temperature_too_low",
    "read_interrupted",
    "general_device_fault",
}
_ZONE_UTC = dt.UTC


@dataclass(frozen=True)
class Expected:
    """One reading sync must hold: device serial, type, UTC time, and the canonical values to compare."""

    serial: str
    type: str
    measured_at: dt.datetime  # UTC, naive (as the readings table stores it)
    values: tuple[tuple[str, Any], ...]


def load_truth(path: Path) -> dict[str, Any]:
    """The fleet's ground-truth JSON."""
    return json.loads(path.read_text(encoding="utf-8"))


def _numbers(value: dict[str, Any], names: list[str]) -> bool:
    return all(value.get(name) not in SPECIALS for name in names)


def expected_readings(truth: dict[str, Any], zone: dt.tzinfo = _ZONE_UTC) -> list[Expected]:
    """Every reading the fleet will deliver that sync must store (module doc)."""
    expected = []
    for device in truth["devices"]:
        kind = device["kind"]
        wanted = set(device.get("upload_sequence_numbers") or [r["sequence_number"] for r in device["records"]])
        for record in device["records"]:
            if record["sequence_number"] not in wanted:
                continue
            item = _expected(device, kind, record["value"], zone)
            if item is not None:
                expected.append(item)
    return expected


def _local_to_utc(iso: str | None, zone: dt.tzinfo) -> dt.datetime | None:
    if iso is None:
        return None
    return dt.datetime.fromisoformat(iso).replace(tzinfo=zone).astimezone(dt.UTC).replace(tzinfo=None)


def _expected(device: dict[str, Any], kind: str, value: dict[str, Any], zone: dt.tzinfo) -> Expected | None:
    serial = device["identity"]["serial"]
    if kind == "glucose_meter":
        if not _numbers(value, ["concentration"]) or set(value.get("sensor_status") or []) & GLUCOSE_ERRORS:
            return None
        moment = _local_to_utc(value["measurement_time"], zone)
        values: dict[str, Any] = {
            "glucose": round(value["concentration_mg_dl"], 1),
            "sequence_number": value["sequence_number"],
        }
    else:
        moment = _local_to_utc((value.get("time_stamp") or {}).get("iso"), zone)
        if kind == "blood_pressure":
            if not _numbers(value, ["systolic", "diastolic", "mean_arterial_pressure", "pulse_rate_bpm"]):
                return None
            values = {
                "systolic": round(value["systolic_mmhg"], 1),
                "diastolic": round(value["diastolic_mmhg"], 1),
                "mean_arterial": round(value["mean_arterial_pressure_mmhg"], 1),
                "pulse": float(value["pulse_rate_bpm"]),
                "user_slot": value["user_id"],
            }
        elif kind == "weight_scale":
            if not _numbers(value, ["weight"]):
                return None
            values = {
                "weight": round(value["weight_kg"], 3),
                "bmi": value["bmi"],
                "height": round(value["height_m"], 3),
                "user_slot": value["user_id"],
            }
        else:
            if not _numbers(value, ["temperature"]):
                return None
            values = {
                "temperature": round(value["temperature_celsius"], 2),
                "site": (device.get("temperature_type") or {}).get("temperature_type"),
            }
    if moment is None:
        return None
    return Expected(serial, READING_TYPE[kind], moment, tuple(sorted(values.items())))


def stored_readings(settings: CommonSettings, user_id: str) -> list[Expected]:
    """What sync stored for ``user_id``, in the same shape (read from MariaDB directly)."""
    connection = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=settings.db_password.get_secret_value(),
        database=settings.db_name,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT d.serial, r.type, r.measured_at, r.reading_values FROM readings r"
                " JOIN devices d ON d.id = r.device_id WHERE r.user_id = %s",
                (user_id,),
            )
            rows = cursor.fetchall()
    finally:
        connection.close()
    stored = []
    for serial, kind, measured_at, raw in rows:
        values = json.loads(raw)
        keys = {
            "blood_pressure": ["systolic", "diastolic", "mean_arterial", "pulse", "user_slot"],
            "weight": ["weight", "bmi", "height", "user_slot"],
            "body_temperature": ["temperature", "site"],
            "blood_glucose": ["glucose", "sequence_number"],
        }[kind]
        stored.append(Expected(serial, kind, measured_at, tuple(sorted((k, values.get(k)) for k in keys))))
    return stored


def compare(expected: list[Expected], stored: list[Expected]) -> tuple[list[Expected], list[Expected], list[Expected]]:
    """(missing, unexpected, duplicated): all three empty means every reading is there exactly once."""
    want, have = Counter(expected), Counter(stored)
    missing = sorted((want - have).elements(), key=repr)
    unexpected = sorted((have - want).elements(), key=repr)
    duplicated = [item for item, count in have.items() if count > 1]
    return missing, unexpected, duplicated
