"""Hand-written legacy objects (tests/unit/shared/legacy/transform/examples.py) and their whole expected rows."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.legacy.transform import (
    DeviceRow,
    FailurePattern,
    InMemoryOwners,
    ReadingRow,
    SettingsRow,
    Transformed,
    TransformFailure,
    TransformWarning,
    default_mapping,
    transform,
)
from shared.legacy.transform.records import as_legacy_record, serialized_size

from .examples import (
    BP_DEVICE_ID,
    BP_RECORD_KPA,
    CREATED,
    DEVICE_OBJECT,
    GLUCOSE_DEVICE_ID,
    GLUCOSE_RECORD_MMOL,
    GONE_USER,
    LEGACY_USER,
    MEASURED,
    SETTINGS_OBJECT,
    TEMPERATURE_RECORD_F,
    THERMOMETER_DEVICE_ID,
    USER_ID,
    WEIGHT_DEVICE_ID,
    WEIGHT_RECORD_LB,
    owners,
    record,
)

EDITED = datetime(2022, 4, 15, 5, 25, tzinfo=UTC)


def _key(rec: dict[str, Any]) -> str:
    return f"kiicloud://users/{rec['scope']['userID']}/buckets/{rec['bucket']}/objects/{rec['objectID']}"


def _run(rec: dict[str, Any]) -> Any:
    return transform(rec, default_mapping(), owners())


def test_device_object() -> None:
    assert _run(DEVICE_OBJECT) == Transformed(
        key=_key(DEVICE_OBJECT),
        rows=(
            DeviceRow(
                # the resolver already knows (user, serial): the existing device keeps its id
                id=BP_DEVICE_ID,
                user_id=USER_ID,
                kind="blood_pressure",
                model="BP-7000",
                serial="210000042",
                firmware="1.2.1",
                name=None,
                ble_address="CD:B1:47:2D:27:05",
                paired_at=datetime(2022, 4, 3, 15, 33, 20, tzinfo=UTC),
                unpaired_at=None,
                last_seen_at=None,
                created_at=CREATED,
                updated_at=EDITED,
            ),
        ),
        thing_id="th.5e4d3c2b1a09-8f7e-6d5c-4b3a-29180716",
    )


def test_new_device_gets_the_pinned_id_derived_from_its_key() -> None:
    result = transform(DEVICE_OBJECT, default_mapping(), InMemoryOwners({LEGACY_USER: USER_ID}))
    assert isinstance(result, Transformed)
    assert result.rows[0].id == BP_DEVICE_ID  # type: ignore[union-attr]


def test_blood_pressure_in_kpa() -> None:
    # 17.2 kPa x 7.500615758 = 129.01 -> 129.0 mmHg; 11.1 kPa -> 83.26 -> 83.3 mmHg; bits 1 and 4.
    assert _run(BP_RECORD_KPA) == Transformed(
        key=_key(BP_RECORD_KPA),
        rows=(
            ReadingRow(
                user_id=USER_ID,
                device_id=BP_DEVICE_ID,
                type="blood_pressure",
                client_id="kii:bp_records/6f1c2d3e-4b5a-4978-8695-a4b3c2d1e0f9",
                measured_at=MEASURED,
                primary_value=129.0,
                original_unit="kPa",
                reading_values={
                    "systolic": 129.0,
                    "diastolic": 83.3,
                    "mean_arterial": None,
                    "pulse": 64.0,
                    "unit": "mmHg",
                    "status": ["body_movement", "irregular_pulse"],
                    "user_slot": 2,
                    "original": {
                        "systolic": 17.2,
                        "diastolic": 11.1,
                        "pulse": 64,
                        "unit": "kPa",
                        "status": ["body_movement", "irregular_pulse"],
                        "user_slot": 2,
                    },
                },
                source="migration",
                created_at=CREATED,
            ),
        ),
    )


def test_weight_in_pounds_keeps_body_fat_as_legacy() -> None:
    # 160 lb x 0.45359237 = 72.5748 -> 72.575 kg
    assert _run(WEIGHT_RECORD_LB) == Transformed(
        key=_key(WEIGHT_RECORD_LB),
        rows=(
            ReadingRow(
                user_id=USER_ID,
                device_id=WEIGHT_DEVICE_ID,
                type="weight",
                client_id="kii:weight_records/1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d",
                measured_at=MEASURED,
                primary_value=72.575,
                original_unit="lb",
                reading_values={
                    "weight": 72.575,
                    "unit": "kg",
                    "bmi": 23.6,
                    "height": None,
                    "user_slot": 1,
                    "original": {"weight": 160.0, "unit": "lb", "bmi": 23.6, "height_unit": "m", "user_slot": 1},
                    "legacy": {"bodyFat": 21.4, "statusFlags": 0},
                },
                source="migration",
                created_at=CREATED,
            ),
        ),
    )


def test_temperature_in_fahrenheit_from_the_forehead() -> None:
    # (98.6 - 32) x 5/9 = 37.0 C; the old app's "forehead" is the protocol's "body" site.
    assert _run(TEMPERATURE_RECORD_F) == Transformed(
        key=_key(TEMPERATURE_RECORD_F),
        rows=(
            ReadingRow(
                user_id=USER_ID,
                device_id=THERMOMETER_DEVICE_ID,
                type="body_temperature",
                client_id="kii:temperature_records/9f8e7d6c-5b4a-4392-8817-06f5e4d3c2b1",
                measured_at=MEASURED,
                primary_value=37.0,
                original_unit="F",
                reading_values={
                    "temperature": 37.0,
                    "unit": "C",
                    "site": "body",
                    "original": {"temperature": 98.6, "unit": "F", "site": "body"},
                    "legacy": {"statusFlags": 0, "userSlot": 1, "notes": "after coffee"},
                },
                source="migration",
                created_at=CREATED,
            ),
        ),
    )


def test_glucose_in_mmol_per_litre() -> None:
    # 5.5 mmol/L x 18.0156 = 99.09 -> 99.1 mg/dL
    assert _run(GLUCOSE_RECORD_MMOL) == Transformed(
        key=_key(GLUCOSE_RECORD_MMOL),
        rows=(
            ReadingRow(
                user_id=USER_ID,
                device_id=GLUCOSE_DEVICE_ID,
                type="blood_glucose",
                client_id="kii:glucose_records/2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091",
                measured_at=MEASURED,
                primary_value=99.1,
                original_unit="mmol/L",
                reading_values={
                    "glucose": 99.1,
                    "unit": "mg/dL",
                    "sample_type": "capillary_whole_blood",
                    "location": None,
                    "sensor_status": [],
                    "sequence_number": None,
                    "original": {
                        "glucose": 5.5,
                        "unit": "mmol/L",
                        "sample_type": "capillary_whole_blood",
                        "sensor_status": [],
                    },
                    "legacy": {"mealTiming": "fasting", "statusFlags": 0, "userSlot": 1},
                },
                source="migration",
                created_at=CREATED,
            ),
        ),
    )


def test_settings_document_of_a_thing() -> None:
    assert transform(SETTINGS_OBJECT, default_mapping(), owners()) == Transformed(
        key="kiicloud://things/th.5e4d3c2b1a09-8f7e-6d5c-4b3a-29180716/buckets/settings/objects/"
        "7e6d5c4b-3a29-4187-b6a5-948372615049",
        rows=(
            SettingsRow(
                device_id=BP_DEVICE_ID,
                user_id=USER_ID,
                version=3,
                document={
                    "kind": "blood_pressure",
                    "language": "ja",
                    "clockSync": True,
                    "unit": "mmHg",
                    "reminders": [{"time": "07:00", "enabled": True}],
                },
                updated_at=EDITED,
            ),
        ),
    )


def test_rows_do_not_share_state_with_the_input() -> None:
    rec = copy.deepcopy(SETTINGS_OBJECT)
    result = transform(rec, default_mapping(), owners())
    rec["object"]["reminders"][0]["enabled"] = False
    assert isinstance(result, Transformed)
    assert result.rows[0].document["reminders"][0]["enabled"] is True  # type: ignore[union-attr]


def test_source_is_the_callers() -> None:
    result = transform(BP_RECORD_KPA, default_mapping(), owners(), source="kii")
    assert isinstance(result, Transformed) and result.rows[0].source == "kii"  # type: ignore[union-attr]


def _with(rec: dict[str, Any], **fields: Any) -> dict[str, Any]:
    changed = copy.deepcopy(rec)
    changed["object"].update(fields)
    return changed


def _without(rec: dict[str, Any], *names: str) -> dict[str, Any]:
    changed = copy.deepcopy(rec)
    for name in names:
        del changed["object"][name]
    return changed


APP_SCOPE_OBJECT = {**BP_RECORD_KPA, "scope": {"type": "APP"}}
GONE_USERS_READING = {**BP_RECORD_KPA, "scope": {"type": "APP_AND_USER", "userID": GONE_USER}}
UNKNOWN_THING_SETTINGS = {**SETTINGS_OBJECT, "scope": {"type": "APP_AND_THING", "thingID": "th.unknown"}}
ORPHAN_THING_SETTINGS = _with(UNKNOWN_THING_SETTINGS, _owner=GONE_USER)

FAILURES = [
    # (id, record, pattern, legacy field)
    ("measured-at-zero", _with(BP_RECORD_KPA, measuredAt=0), FailurePattern.INVALID_TIMESTAMP, "measuredAt"),
    ("measured-at-null", _with(BP_RECORD_KPA, measuredAt=None), FailurePattern.INVALID_TIMESTAMP, "measuredAt"),
    ("measured-at-text", _with(BP_RECORD_KPA, measuredAt="2021-13-45"), FailurePattern.INVALID_TIMESTAMP, "measuredAt"),
    ("measured-at-bool", _with(BP_RECORD_KPA, measuredAt=True), FailurePattern.INVALID_TIMESTAMP, "measuredAt"),
    ("measured-at-huge", _with(BP_RECORD_KPA, measuredAt=10**20), FailurePattern.INVALID_TIMESTAMP, "measuredAt"),
    ("measured-1999", _with(BP_RECORD_KPA, measuredAt=946_684_799_999), FailurePattern.INVALID_TIMESTAMP, "measuredAt"),
    (
        "measured-2-days-after-upload",
        _with(BP_RECORD_KPA, measuredAt=1_650_000_000_000 + 2 * 86_400_000),
        FailurePattern.INVALID_TIMESTAMP,
        "measuredAt",
    ),
    ("measured-at-missing", _without(BP_RECORD_KPA, "measuredAt"), FailurePattern.MISSING_FIELD, "measuredAt"),
    ("paired-at-zero", _with(DEVICE_OBJECT, pairedAt=0), FailurePattern.INVALID_TIMESTAMP, "pairedAt"),
    ("unit-typo", _with(BP_RECORD_KPA, unit="mmHg2"), FailurePattern.UNKNOWN_UNIT, "unit"),
    ("stone", _with(WEIGHT_RECORD_LB, unit="stone"), FailurePattern.UNKNOWN_UNIT, "unit"),
    ("height-unit", _with(WEIGHT_RECORD_LB, height=70, heightUnit="ft"), FailurePattern.UNKNOWN_UNIT, "heightUnit"),
    ("systolic-900", _with(BP_RECORD_KPA, unit="mmHg", systolic=900), FailurePattern.VALUE_OUT_OF_RANGE, "systolic"),
    ("weight-minus-3", _with(WEIGHT_RECORD_LB, weight=-3), FailurePattern.VALUE_OUT_OF_RANGE, "weight"),
    ("bmi-310", _with(WEIGHT_RECORD_LB, bmi=310.2), FailurePattern.VALUE_OUT_OF_RANGE, "bmi"),
    ("pulse-0", _with(BP_RECORD_KPA, pulse=0), FailurePattern.VALUE_OUT_OF_RANGE, "pulse"),
    ("sys-below-dia", _with(BP_RECORD_KPA, systolic=10.0), FailurePattern.VALUE_OUT_OF_RANGE, "systolic"),
    ("nan-text", _with(BP_RECORD_KPA, systolic="NaN"), FailurePattern.SPECIAL_VALUE, "systolic"),
    ("nres", _with(GLUCOSE_RECORD_MMOL, glucose="NRes"), FailurePattern.SPECIAL_VALUE, "glucose"),
    ("nan-float", _with(TEMPERATURE_RECORD_F, temperature=math.nan), FailurePattern.SPECIAL_VALUE, "temperature"),
    ("no-systolic", _without(BP_RECORD_KPA, "systolic"), FailurePattern.MISSING_FIELD, "systolic"),
    ("null-weight", _with(WEIGHT_RECORD_LB, weight=None), FailurePattern.MISSING_FIELD, "weight"),
    ("no-serial", _without(DEVICE_OBJECT, "serial"), FailurePattern.MISSING_FIELD, "serial"),
    ("gone-user", GONE_USERS_READING, FailurePattern.ORPHAN_OWNER, "_owner"),
    ("orphan-thing", ORPHAN_THING_SETTINGS, FailurePattern.ORPHAN_OWNER, "_owner"),
    ("unknown-thing", UNKNOWN_THING_SETTINGS, FailurePattern.UNKNOWN_DEVICE, "thingID"),
    ("too-large", _with(BP_RECORD_KPA, notes="x" * 65_534), FailurePattern.OBJECT_TOO_LARGE, None),
    ("app-scope", APP_SCOPE_OBJECT, FailurePattern.UNMAPPED_BUCKET, "bucket"),
    ("other-bucket", {**BP_RECORD_KPA, "bucket": "diary"}, FailurePattern.UNMAPPED_BUCKET, "bucket"),
    ("systolic-text", _with(BP_RECORD_KPA, systolic="120"), FailurePattern.MALFORMED_OBJECT, "systolic"),
    ("unknown-status-bit", _with(BP_RECORD_KPA, statusFlags=64), FailurePattern.MALFORMED_OBJECT, "statusFlags"),
    ("flags-not-int", _with(BP_RECORD_KPA, statusFlags="5"), FailurePattern.MALFORMED_OBJECT, "statusFlags"),
    ("site-unknown", _with(TEMPERATURE_RECORD_F, site="elbow"), FailurePattern.MALFORMED_OBJECT, "site"),
    ("slot-300", _with(BP_RECORD_KPA, userSlot=300), FailurePattern.MALFORMED_OBJECT, "userSlot"),
    ("serial-number", _with(BP_RECORD_KPA, deviceSerial=42), FailurePattern.MALFORMED_OBJECT, "deviceSerial"),
    ("kind-unknown", _with(DEVICE_OBJECT, kind="pulse_oximeter"), FailurePattern.MALFORMED_OBJECT, "kind"),
    ("ble-address", _with(DEVICE_OBJECT, bleAddress="not-an-address"), FailurePattern.MALFORMED_OBJECT, "bleAddress"),
    ("model-65", _with(DEVICE_OBJECT, model="M" * 65), FailurePattern.MALFORMED_OBJECT, "model"),
    ("no-created", _without(BP_RECORD_KPA, "_created"), FailurePattern.MALFORMED_OBJECT, "_created"),
    (
        "client-id-blank",
        _with(BP_RECORD_KPA, vitalsyncClientId=" "),
        FailurePattern.MALFORMED_OBJECT,
        "vitalsyncClientId",
    ),
    ("no-scope", {k: v for k, v in BP_RECORD_KPA.items() if k != "scope"}, FailurePattern.MALFORMED_OBJECT, "scope"),
    ("body-list", {**BP_RECORD_KPA, "object": [1, 2]}, FailurePattern.MALFORMED_OBJECT, "object"),
    ("delete-record", {**BP_RECORD_KPA, "op": "DELETE", "object": None}, FailurePattern.MALFORMED_OBJECT, "object"),
    ("not-a-record", 42, FailurePattern.MALFORMED_OBJECT, "record"),
]


@pytest.mark.parametrize(("rec", "pattern", "field"), [case[1:] for case in FAILURES], ids=[c[0] for c in FAILURES])
def test_failures_name_pattern_and_legacy_field(rec: Any, pattern: FailurePattern, field: str | None) -> None:
    result = _run(rec)
    assert isinstance(result, TransformFailure), result
    assert (result.pattern, result.field) == (pattern, field), result.message
    assert result.message


def test_failure_carries_the_key() -> None:
    result = _run(_with(BP_RECORD_KPA, measuredAt=0))
    assert result == TransformFailure(
        _key(BP_RECORD_KPA), FailurePattern.INVALID_TIMESTAMP, "measuredAt", result.message
    )


def test_object_exactly_at_the_limit_transforms() -> None:
    padded = _with(BP_RECORD_KPA, notes="")
    padded["object"]["notes"] = "x" * (65_534 - serialized_size(padded["object"]))
    assert serialized_size(padded["object"]) == 65_534
    assert isinstance(_run(padded), Transformed)


def test_the_size_the_caller_measured_is_the_one_checked() -> None:
    # the migration gives the length of the body JSON it encoded for the raw row instead of encoding again
    legacy = dataclasses.replace(as_legacy_record(BP_RECORD_KPA), body_chars=65_535)
    too_large = transform(legacy, default_mapping(), owners())
    assert isinstance(too_large, TransformFailure) and too_large.pattern == FailurePattern.OBJECT_TOO_LARGE
    assert "65535 characters" in too_large.message
    measured = dataclasses.replace(legacy, body_chars=serialized_size(BP_RECORD_KPA["object"]))
    assert transform(measured, default_mapping(), owners()) == _run(BP_RECORD_KPA)


def test_reading_of_an_unknown_device_is_kept_with_a_warning() -> None:
    result = _run(_with(BP_RECORD_KPA, deviceSerial="999999999"))
    assert isinstance(result, Transformed)
    row = result.rows[0]
    assert isinstance(row, ReadingRow) and row.device_id is None
    assert row.reading_values["legacy"] == {"deviceSerial": "999999999"}  # so it can be linked later
    assert result.warnings == (
        TransformWarning(
            FailurePattern.UNKNOWN_DEVICE,
            "deviceSerial",
            "no device with serial 999999999: reading kept without a device",
        ),
    )


def test_reading_without_a_device_serial_has_no_device_and_no_warning() -> None:
    result = _run(_without(BP_RECORD_KPA, "deviceSerial"))
    assert isinstance(result, Transformed) and result.warnings == ()
    assert result.rows[0].device_id is None  # type: ignore[union-attr]


def test_explicit_client_id_wins_over_the_object_id() -> None:
    result = _run(_with(BP_RECORD_KPA, vitalsyncClientId="app-7:1234"))
    assert isinstance(result, Transformed)
    assert result.rows[0].client_id == "app-7:1234"  # type: ignore[union-attr]
    assert "legacy" not in result.rows[0].reading_values  # type: ignore[union-attr]


def test_missing_optional_fields_transform() -> None:
    result = _run(_without(BP_RECORD_KPA, "pulse", "statusFlags", "userSlot"))
    assert isinstance(result, Transformed)
    values = result.rows[0].reading_values  # type: ignore[union-attr]
    assert (values["pulse"], values["status"], values["user_slot"]) == (None, [], None)
    device = _run(_without(DEVICE_OBJECT, "firmware", "bleAddress"))
    assert isinstance(device, Transformed)
    assert (device.rows[0].firmware, device.rows[0].ble_address) == (None, None)  # type: ignore[union-attr]


def test_minimal_reading_object() -> None:
    single = record("bp_records", "ab", {"measuredAt": 1_649_999_940_000, "systolic": 120, "diastolic": 80})
    result = _run(single)
    assert isinstance(result, Transformed)
    assert result.rows[0].client_id == "kii:bp_records/ab"  # type: ignore[union-attr]
