"""Hand-written legacy objects (export records, as the snapshot file has them) and the people they belong to.

Written after simulator/legacy/objects.py's layout (field names, system fields, units) for one user
in Japan with four devices; numbers chosen so the conversions are easy to check by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.legacy.transform import DeviceRow, InMemoryOwners

LEGACY_USER = "4f3c2b1a0d9e-8a7b-6c5d-4e3f-2a1b0c9d"
USER_ID = "9b2f7c1e-5d4a-4e0b-8c6f-3a2d1e0f9b8c"
GONE_USER = "0e0e0e0e0e0e-dead-beef-0000-00000000"
BP_THING = "th.5e4d3c2b1a09-8f7e-6d5c-4b3a-29180716"
BP_SERIAL, WEIGHT_SERIAL, THERMOMETER_SERIAL, GLUCOSE_SERIAL = "210000042", "190000007", "200000311", "220000015"
CREATED_MS = 1_650_000_000_000  # 2022-04-15T05:20:00Z, the upload
MEASURED_MS = 1_649_999_940_000  # 2022-04-15T05:19:00Z
CREATED = datetime(2022, 4, 15, 5, 20, tzinfo=UTC)
MEASURED = datetime(2022, 4, 15, 5, 19, tzinfo=UTC)
DEVICE_OBJECT_ID = "0c5b7e8a-1f2d-4c3b-9a8e-7d6c5b4a3f21"
# UUIDv5 of the device object's key: pinned, because a changed derivation would duplicate devices on re-run.
BP_DEVICE_ID = "e0a61870-7be7-5664-a323-f3867044ddd5"


def record(bucket: str, object_id: str, fields: dict[str, Any], *, version: int = 1, **system: Any) -> dict[str, Any]:
    """A SNAPSHOT export record of a user-scope object of LEGACY_USER (system fields overridable)."""
    body = {
        "_id": object_id,
        "_owner": LEGACY_USER,
        "_created": CREATED_MS,
        "_modified": CREATED_MS,
        "_version": str(version),
        **system,
        **fields,
    }
    return {
        "op": "SNAPSHOT",
        "appID": "a1b2c3d4",
        "scope": {"type": "APP_AND_USER", "userID": LEGACY_USER},
        "bucket": bucket,
        "objectID": object_id,
        "version": version,
        "modifiedAt": body["_modified"],
        "object": body,
    }


def device_row(serial: str, kind: str, device_id: str) -> DeviceRow:
    """A device already migrated for USER_ID."""
    return DeviceRow(
        id=device_id,
        user_id=USER_ID,
        kind=kind,
        model="X",
        serial=serial,
        firmware=None,
        name=None,
        ble_address=None,
        paired_at=CREATED,
        unpaired_at=None,
        last_seen_at=None,
        created_at=CREATED,
        updated_at=CREATED,
    )


WEIGHT_DEVICE_ID = "3d0f6c9e-2a51-4b7e-9c83-5f1e0a7d2b64"
THERMOMETER_DEVICE_ID = "8a4e1b2c-7d3f-4e60-a9b1-c2d3e4f50617"
GLUCOSE_DEVICE_ID = "c6b5a493-8271-4f60-9e8d-7c6b5a493827"


def owners() -> InMemoryOwners:
    """LEGACY_USER known (GONE_USER not), with the blood-pressure monitor (thing BP_THING) and three more."""
    known = InMemoryOwners({LEGACY_USER: USER_ID})
    known.add_device(device_row(BP_SERIAL, "blood_pressure", BP_DEVICE_ID), BP_THING)
    known.add_device(device_row(WEIGHT_SERIAL, "weight", WEIGHT_DEVICE_ID))
    known.add_device(device_row(THERMOMETER_SERIAL, "body_temperature", THERMOMETER_DEVICE_ID))
    known.add_device(device_row(GLUCOSE_SERIAL, "blood_glucose", GLUCOSE_DEVICE_ID))
    return known


DEVICE_OBJECT = record(
    "devices",
    DEVICE_OBJECT_ID,
    {
        "model": "BP-7000",
        "serial": BP_SERIAL,
        "kind": "blood_pressure",
        "firmware": "1.2.1",
        "pairedAt": 1_649_000_000_000,
        "bleAddress": "CD:B1:47:2D:27:05",
        "thingID": BP_THING,
    },
    version=2,
    _modified=1_650_000_300_000,
)
# 17.2 / 11.1 kPa (a European monitor), status bits 1 + 4, second user slot.
BP_RECORD_KPA = record(
    "bp_records",
    "6f1c2d3e-4b5a-4978-8695-a4b3c2d1e0f9",
    {
        "deviceSerial": BP_SERIAL,
        "measuredAt": MEASURED_MS,
        "systolic": 17.2,
        "diastolic": 11.1,
        "pulse": 64,
        "unit": "kPa",
        "statusFlags": 5,
        "userSlot": 2,
    },
)
# 160 lb on a body-composition scale (bodyFat has no protocol field: it is kept in `legacy`).
WEIGHT_RECORD_LB = record(
    "weight_records",
    "1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
    {
        "deviceSerial": WEIGHT_SERIAL,
        "measuredAt": MEASURED_MS,
        "weight": 160.0,
        "unit": "lb",
        "bmi": 23.6,
        "bodyFat": 21.4,
        "statusFlags": 0,
        "userSlot": 1,
    },
)
# 98.6 F from the forehead thermometer (MC-720), edited later with a note (version 2).
TEMPERATURE_RECORD_F = record(
    "temperature_records",
    "9f8e7d6c-5b4a-4392-8817-06f5e4d3c2b1",
    {
        "deviceSerial": THERMOMETER_SERIAL,
        "measuredAt": MEASURED_MS,
        "temperature": 98.6,
        "unit": "F",
        "site": "forehead",
        "statusFlags": 0,
        "userSlot": 1,
        "notes": "after coffee",
    },
    version=2,
    _modified=1_650_000_300_000,
)
# 5.5 mmol/L fasting (the unit taught in China and much of Europe).
GLUCOSE_RECORD_MMOL = record(
    "glucose_records",
    "2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
    {
        "deviceSerial": GLUCOSE_SERIAL,
        "measuredAt": MEASURED_MS,
        "glucose": 5.5,
        "unit": "mmol/L",
        "mealTiming": "fasting",
        "sampleType": "capillary_whole_blood",
        "statusFlags": 0,
        "userSlot": 1,
    },
)
SETTINGS_OBJECT: dict[str, Any] = {
    "op": "SNAPSHOT",
    "appID": "a1b2c3d4",
    "scope": {"type": "APP_AND_THING", "thingID": BP_THING},
    "bucket": "settings",
    "objectID": "7e6d5c4b-3a29-4187-b6a5-948372615049",
    "version": 3,
    "modifiedAt": 1_650_000_300_000,
    "object": {
        "_id": "7e6d5c4b-3a29-4187-b6a5-948372615049",
        "_owner": LEGACY_USER,
        "_created": CREATED_MS,
        "_modified": 1_650_000_300_000,
        "_version": "3",
        "kind": "blood_pressure",
        "language": "ja",
        "clockSync": True,
        "unit": "mmHg",
        "reminders": [{"time": "07:00", "enabled": True}],
    },
}
