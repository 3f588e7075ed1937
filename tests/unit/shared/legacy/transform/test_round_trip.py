"""Row -> Kii object -> row (the Kii facade's reverse mapping): `transform(to_kii_object(row)) == row`."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.legacy.transform import (
    DeviceRow,
    InMemoryOwners,
    ReadingBucket,
    ReadingRow,
    ReverseMappingError,
    Row,
    SettingsRow,
    Transformed,
    default_mapping,
    reading_row,
    to_kii_object,
    transform,
)
from shared.protocol.readings import Reading
from shared.protocol.units import IN_TO_M, KPA_TO_MMHG, LB_TO_KG, MMOL_L_TO_MG_DL

from .conftest import Migrated

MAPPING = default_mapping()
# Two users, each with devices; the second device of each user is no Kii thing.
USERS = {"a1a1a1a1a1a1-0000-0000-0000-00000001": "u-0001", "b2b2b2b2b2b2-0000-0000-0000-00000002": "u-0002"}
DEVICES = [  # (user id, device id, serial, thing id)
    ("u-0001", "d-0001", "100000001", "th.thing-1"),
    ("u-0001", "d-0002", "100000002", None),
    ("u-0002", "d-0003", "100000003", "th.thing-3"),
    ("u-0002", "d-0004", "100000004", None),
]
MS = timedelta(milliseconds=1)
# No example database (database=None below): the unit command must not write outside the test tree.
EARLIEST_MS = 946_684_800_000  # 2000-01-01
LATEST_MS = 1_735_689_600_000  # 2025-01-01: well before "now", which the protocol also checks
STATUS_ORDER = ["body_movement", "cuff_fit_loose", "irregular_pulse", "pulse_rate_out_of_range", "improper_position"]
SITES = ["armpit", "body", "ear", "finger", "gastro", "mouth", "rectum", "toe", "tympanum"]


def _at(epoch_ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + epoch_ms * MS


def _owners() -> InMemoryOwners:
    owners = InMemoryOwners(USERS)
    for user_id, device_id, serial, thing_id in DEVICES:
        row = DeviceRow(device_id, user_id, "weight", "M", serial, None, None, None, _at(EARLIEST_MS), None, None,
                        _at(EARLIEST_MS), _at(EARLIEST_MS))  # fmt: skip
        owners.add_device(row, thing_id)
    return owners


OWNERS = _owners()


def _round_trip(row: Row, source: str = "migration") -> Row:
    record = json.loads(json.dumps(to_kii_object(row, MAPPING, OWNERS), ensure_ascii=False))
    result = transform(record, MAPPING, OWNERS, source=source)
    assert isinstance(result, Transformed), result
    assert len(result.rows) == 1
    return result.rows[0]


# --- strategies ------------------------------------------------------------------------------------------

times = st.integers(EARLIEST_MS + 30 * 86_400_000, LATEST_MS)
json_scalars = (
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
app_field_names = st.text(string.ascii_letters, min_size=1, max_size=12)


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _scaled(low: float, high: float, factor: float, digits: int = 1) -> st.SearchStrategy[float]:
    """A canonical value in [low, high] expressed in a unit `factor` times smaller, rounded like devices do."""
    return st.floats(low, high).map(lambda value: round(value / factor, digits))


@st.composite
def blood_pressure(draw: st.DrawFn) -> dict[str, Any]:
    unit = draw(st.sampled_from(["mmHg", "kPa"]))
    factor = KPA_TO_MMHG if unit == "kPa" else 1.0
    values: dict[str, Any] = {
        "unit": unit,
        "systolic": draw(_scaled(90, 300, factor) if unit == "kPa" else st.integers(90, 300)),
        "diastolic": draw(_scaled(20, 85, factor) if unit == "kPa" else st.integers(20, 85)),
        "mean_arterial": draw(_maybe(_scaled(30, 250, factor))),
        "pulse": draw(_maybe(st.integers(20, 300))),
        "user_slot": draw(_maybe(st.integers(0, 255))),
    }
    chosen = draw(st.sets(st.sampled_from(STATUS_ORDER)))
    values["status"] = [name for name in STATUS_ORDER if name in chosen]  # a bit mask is a set, in bit order
    return values


@st.composite
def weight(draw: st.DrawFn) -> dict[str, Any]:
    unit = draw(st.sampled_from(["kg", "lb"]))
    height_unit = draw(st.sampled_from(["m", "cm", "in"]))
    height_factor = {"m": 1.0, "cm": 0.01, "in": IN_TO_M}[height_unit]
    return {
        "unit": unit,
        "weight": draw(_scaled(2, 499, LB_TO_KG if unit == "lb" else 1.0)),
        "bmi": draw(_maybe(st.floats(5, 150))),
        "height": draw(_maybe(_scaled(0.4, 2.7, height_factor, 2))),
        "height_unit": height_unit,
        "user_slot": draw(_maybe(st.integers(0, 255))),
    }


@st.composite
def temperature(draw: st.DrawFn) -> dict[str, Any]:
    unit = draw(st.sampled_from(["C", "F"]))
    value = draw(st.floats(26, 44).map(lambda c: round(c * 9 / 5 + 32 if unit == "F" else c, 1)))
    return {"unit": unit, "temperature": value, "site": draw(_maybe(st.sampled_from(SITES)))}


@st.composite
def glucose(draw: st.DrawFn) -> dict[str, Any]:
    unit = draw(st.sampled_from(["mg/dL", "mmol/L"]))
    return {
        "unit": unit,
        "glucose": draw(_scaled(11, 999, MMOL_L_TO_MG_DL if unit == "mmol/L" else 1.0)),
        "sample_type": draw(_maybe(st.text(max_size=40))),
        "location": draw(_maybe(st.text(max_size=40))),
        "sensor_status": draw(st.lists(st.text(max_size=10), max_size=4)),
        "sequence_number": draw(_maybe(st.integers(0, 65535))),
    }


VALUES = {
    "blood_pressure": blood_pressure(),
    "weight": weight(),
    "body_temperature": temperature(),
    "blood_glucose": glucose(),
}


@st.composite
def reading_rows(draw: st.DrawFn) -> ReadingRow:
    """A reading as the protocol accepts it: from a new app (any client id) or migrated (a kii: client id)."""
    reading_type = draw(st.sampled_from(sorted(VALUES)))
    entry = MAPPING.reading_bucket(reading_type)
    assert isinstance(entry, ReadingBucket)
    values = {name: value for name, value in draw(VALUES[reading_type]).items() if value is not None}
    user_id, device_id, _, _ = draw(st.sampled_from(DEVICES))
    device = draw(_maybe(st.just(device_id)))
    object_id = draw(st.text(string.ascii_letters + string.digits + "_-.", min_size=2, max_size=100))
    client_id = draw(
        st.just(f"kii:{entry.bucket}/{object_id}")
        | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128)
    )
    created_ms = draw(times)
    measured_ms = draw(st.integers(created_ms - 30 * 86_400_000, created_ms + 86_400_000))
    taken = set(entry.legacy_fields()) | {MAPPING.client_id_field}
    legacy = draw(st.dictionaries(app_field_names.filter(lambda name: name not in taken), json_values, max_size=3))
    if device is None and entry.device_serial is not None and draw(st.booleans()):
        legacy[entry.device_serial] = "999999999"  # a device that was never migrated: kept in `legacy`
    item = {"client_id": client_id, "type": reading_type, "measured_at": _at(measured_ms), "values": values}
    try:
        reading = Reading.model_validate({"item": item}).item
    except ValidationError:
        assume(False)  # rounding pushed a value past a range boundary
        raise
    return reading_row(
        reading,
        user_id=user_id,
        device_id=device,
        source=draw(st.sampled_from(["migration", "app", "kii"])),
        created_at=_at(created_ms),
        legacy=legacy or None,
    )


@st.composite
def device_rows(draw: st.DrawFn) -> DeviceRow:
    user_id, device_id, serial, _ = draw(st.sampled_from(DEVICES))
    created_ms = draw(times)
    return DeviceRow(
        id=device_id,
        user_id=user_id,
        kind=draw(st.sampled_from(sorted(VALUES))),
        model=draw(st.text(min_size=1, max_size=64)),
        serial=serial,
        firmware=draw(_maybe(st.text(min_size=1, max_size=64))),
        name=None,  # the old app had no device names
        ble_address=draw(_maybe(st.from_regex(r"\A[0-9A-F]{2}(:[0-9A-F]{2}){5}\Z"))),
        paired_at=_at(draw(st.integers(EARLIEST_MS, created_ms))),
        unpaired_at=None,
        last_seen_at=None,
        created_at=_at(created_ms),
        updated_at=_at(draw(st.integers(created_ms, LATEST_MS + 86_400_000))),
    )


@st.composite
def settings_rows(draw: st.DrawFn) -> SettingsRow:
    user_id, device_id, _, _ = draw(st.sampled_from([device for device in DEVICES if device[3] is not None]))
    return SettingsRow(
        device_id=device_id,
        user_id=user_id,
        version=draw(st.integers(1, 2**31)),
        document=draw(st.dictionaries(app_field_names, json_values, max_size=6)),
        updated_at=_at(draw(times)),
    )


# --- properties --------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(reading_rows())
def test_reading_round_trip(row: ReadingRow) -> None:
    assert _round_trip(row, row.source) == row


@settings(max_examples=150, deadline=None, database=None)
@given(device_rows())
def test_device_round_trip(row: DeviceRow) -> None:
    assert _round_trip(row) == row


@settings(max_examples=150, deadline=None, database=None)
@given(settings_rows())
def test_settings_round_trip(row: SettingsRow) -> None:
    assert _round_trip(row) == row


def test_every_migrated_row_of_the_dataset_round_trips(migrated: Migrated) -> None:
    """Real legacy data: object -> row -> Kii object -> the same row."""
    for result in migrated.results.values():
        if isinstance(result, Transformed):
            (row,) = result.rows
            record = to_kii_object(row, MAPPING, migrated.owners)
            again = transform(record, MAPPING, migrated.owners)
            assert isinstance(again, Transformed) and again.rows == (row,), result.key


def test_a_migrated_reading_reads_back_as_the_old_app_wrote_it(migrated: Migrated) -> None:
    objects = migrated.dataset.objects_by_key()
    for key, result in migrated.results.items():
        if isinstance(result, Transformed) and isinstance(result.rows[0], ReadingRow):
            body = to_kii_object(result.rows[0], MAPPING, migrated.owners)["object"]
            original = objects[key].body
            # same object id and app fields; only defaults the protocol fills in may be added
            assert body["_id"] == original["_id"]
            assert {name: body[name] for name in original if not name.startswith("_")} == {
                name: value for name, value in original.items() if not name.startswith("_")
            }


def test_unknown_user_cannot_be_shown() -> None:
    row = SettingsRow("d-0001", "u-unknown", 1, {}, _at(LATEST_MS))
    with pytest.raises(ReverseMappingError):
        to_kii_object(row, MAPPING, OWNERS)


def test_settings_of_a_device_that_is_no_thing_cannot_be_shown() -> None:
    row = SettingsRow("d-0002", "u-0001", 1, {}, _at(LATEST_MS))
    with pytest.raises(ReverseMappingError):
        to_kii_object(row, MAPPING, OWNERS)


def test_new_apps_client_id_travels_in_the_client_id_field() -> None:
    reading = Reading.model_validate(
        {
            "item": {
                "client_id": "phone-42:7",
                "type": "weight",
                "measured_at": "2024-05-01T07:00:00+09:00",
                "values": {"weight": 70.5, "unit": "kg"},
            }
        }
    ).item
    row = reading_row(reading, user_id="u-0001", device_id="d-0002", source="app", created_at=_at(LATEST_MS))
    record = to_kii_object(row, MAPPING, OWNERS)
    assert record["scope"] == {"type": "APP_AND_USER", "userID": "a1a1a1a1a1a1-0000-0000-0000-00000001"}
    assert record["bucket"] == "weight_records"
    body = record["object"]
    assert body["vitalsyncClientId"] == "phone-42:7"
    assert body["_id"] == record["objectID"] != "phone-42:7"
    assert (body["weight"], body["unit"], body["deviceSerial"], body["measuredAt"]) == (
        70.5,
        "kg",
        "100000002",
        1_714_514_400_000,
    )
