"""Frame -> queue row: client ids, the reading sync gets, and what is kept as unsendable (and why).

Frames are named constants. They were produced by the ``shared.ble`` value classes the simulator uses
(``bytes(BloodPressureMeasurement(...))`` etc.) and cross-checked against the field tables of
BLS / WSS / HTS / GLS; each comment gives the values it encodes.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from pydantic import ValidationError

from services.gateway.profiles import BLOOD_GLUCOSE, BLOOD_PRESSURE, BODY_TEMPERATURE, WEIGHT
from services.gateway.records import DeviceIdentity, Reason, build_item, client_id, localize
from shared.ble.temperature import TemperatureType
from shared.protocol.readings import Reading

CUFF = DeviceIdentity(model="VS-BPM-200", serial="SNF9FEC0A8", manufacturer="VitalSync", firmware="1.4.2")
METER = DeviceIdentity(model="VS-GM-7", serial="SN411ED307")
UTC = dt.UTC
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")

# BLS: mmHg, 127/75 MAP 92, 2025-01-01 20:40:37, pulse 62, user 1, status irregular pulse (0x0004)
BP_FRAME = bytes.fromhex("1e7f004b005c00e90701011428253e00010400")
# BLS: every pressure and the pulse NaN (0x07FF), body movement: an interrupted inflation
BP_NAN_FRAME = bytes.fromhex("1eff07ff07ff07e9070105071e00ff07010100")
# WSS: SI, 49.15 kg (9830 x 0.005), 2025-01-06 07:11:41, user 1, BMI 17.3, height 1.687 m
WEIGHT_FRAME = bytes.fromhex("0e6626e9070106070b2901ad009706")
# The same with the RFU flag bit 7 set (a vendor quirk): the layout is unchanged
WEIGHT_RFU_FRAME = bytes.fromhex("8e6626e9070106070b2901ad009706")
# The same with RFU bit 7 set and one extra byte the unknown flag might have announced
WEIGHT_RFU_EXTRA_FRAME = bytes.fromhex("8e6626e9070106070b2901ad00970600")
# WSS: weight 0xFFFF (measurement unsuccessful), 2025-01-06 07:11:41, user 2
WEIGHT_UNSUCCESSFUL_FRAME = bytes.fromhex("06ffffe9070106070b2902")
# WSS: 49.15 kg with time stamp year 0, month 0, day 0, 07:11:41 (clock never set)
WEIGHT_YEAR_ZERO_FRAME = bytes.fromhex("0e662600000000070b2901ad009706")
# HTS: Celsius, 36.9 (FLOAT 369e-1), 2025-01-04 14:13:58, no type field
TEMPERATURE_FRAME = bytes.fromhex("02710100ffe90701040e0d3a")
# HTS: NaN (FLOAT 0x007FFFFF), 2025-01-04 14:13:58
TEMPERATURE_NAN_FRAME = bytes.fromhex("02ffff7f00e90701040e0d3a")
# GLS: seq 1, 2024-12-30 13:31:07, offset 0, 126 mg/dL (SFLOAT 126e-5 kg/L), capillary whole blood, finger,
# context follows
GLUCOSE_FRAME = bytes.fromhex("130100e8070c1e0d1f0700007eb011")
# GLS: seq 22, 2025-01-06 07:13:15, NaN concentration, sensor status sample size insufficient (0x0004)
GLUCOSE_NAN_FRAME = bytes.fromhex("1b1600e9070106070d0f0000ff07110400")
# GLS: seq 5, 2025-01-02 07:00:00, 5.5 mmol/L (SFLOAT 55e-4 mol/L), capillary whole blood, finger
GLUCOSE_MMOL_FRAME = bytes.fromhex("060500e907010207000037c011")
# GLS: seq 6, 2025-01-02 07:00:00, 126 mg/dL, status device battery low (0x0001): still a valid result
GLUCOSE_BATTERY_LOW_FRAME = bytes.fromhex("0a0600e90701020700007eb0110100")
# GLS: seq 7, 126 mg/dL, status result too high (0x0020): not a valid result
GLUCOSE_TOO_HIGH_FRAME = bytes.fromhex("0a0700e90701020700007eb0112000")
# GLS Context: seq 1, carbohydrate lunch 47 g (SFLOAT 47e-3 kg), meal postprandial, tester self, health none
GLUCOSE_CONTEXT_FRAME = bytes.fromhex("070100022fd00251")


def validates_for_sync(payload: dict[str, object] | None) -> None:
    """The payload passes the protocol model sync validates each batch item with."""
    assert payload is not None
    Reading.model_validate({"item": payload})


def test_client_ids_are_deterministic_and_fit_the_protocol() -> None:
    first = build_item(CUFF, BLOOD_PRESSURE, BP_FRAME, UTC)
    again = build_item(CUFF, BLOOD_PRESSURE, bytearray(BP_FRAME), UTC)
    other_device = build_item(METER, BLOOD_PRESSURE, BP_FRAME, UTC)
    assert first.client_id == again.client_id == f"vs1.{CUFF.key}.p20250101T204037-u1"
    assert other_device.client_id != first.client_id
    assert len(first.client_id) <= 128 and all(0x21 <= ord(c) <= 0x7E for c in first.client_id)
    assert client_id(CUFF, BLOOD_PRESSURE, "x") == f"vs1.{CUFF.key}.px"
    # The device part depends on model and serial only (DIS), not on firmware or the BLE address.
    assert DeviceIdentity("VS-BPM-200", "SNF9FEC0A8", firmware="9.9").key == CUFF.key


def test_glucose_client_id_carries_sequence_and_time() -> None:
    # A meter reset to sequence 1 later must not collide with the old record 1: the time differs.
    item = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_FRAME, UTC)
    assert item.client_id == f"vs1.{METER.key}.g1-20241230T133107"
    assert item.sequence_number == 1


def test_blood_pressure_reading() -> None:
    item = build_item(CUFF, BLOOD_PRESSURE, BP_FRAME, UTC)
    assert item.sendable and item.reason is None
    assert item.payload == {
        "client_id": item.client_id,
        "type": "blood_pressure",
        "measured_at": "2025-01-01T20:40:37+00:00",
        "values": {
            "systolic": 127,
            "diastolic": 75,
            "mean_arterial": 92,
            "pulse": 62,
            "unit": "mmHg",
            "status": ["irregular_pulse"],
            "user_slot": 1,
        },
    }
    assert item.flags == ("irregular_pulse",)
    validates_for_sync(item.payload)


def test_time_zone_gives_the_offset_of_the_device_clock() -> None:
    item = build_item(CUFF, BLOOD_PRESSURE, BP_FRAME, TOKYO)
    assert item.measured_at == "2025-01-01T20:40:37+09:00"
    assert localize(dt.datetime(2025, 7, 1, 12, 0), zoneinfo.ZoneInfo("Europe/Berlin")) == "2025-07-01T12:00:00+02:00"


def test_nan_blood_pressure_is_kept_unsendable_with_its_flags() -> None:
    item = build_item(CUFF, BLOOD_PRESSURE, BP_NAN_FRAME, UTC)
    assert not item.sendable and item.payload is None
    assert item.reason == f"{Reason.SPECIAL_VALUE}: systolic=NaN, diastolic=NaN, mean_arterial=NaN, pulse=NaN"
    assert item.flags == ("body_movement",)
    assert item.decoded["systolic"] == "NaN"  # kept as the special, never as 2047
    assert item.frame_hex == BP_NAN_FRAME.hex()
    assert item.measured_at == "2025-01-05T07:30:00+00:00"


def test_weight_reading_and_unsuccessful_weighing() -> None:
    item = build_item(CUFF, WEIGHT, WEIGHT_FRAME, UTC)
    assert item.payload is not None
    assert item.payload["values"] == {
        "weight": 49.15,
        "unit": "kg",
        "bmi": 17.3,
        "height": 1.687,
        "height_unit": "m",
        "user_slot": 1,
    }
    validates_for_sync(item.payload)
    failed = build_item(CUFF, WEIGHT, WEIGHT_UNSUCCESSFUL_FRAME, UTC)
    assert failed.reason == Reason.MEASUREMENT_UNSUCCESSFUL and failed.payload is None


def test_reserved_flag_bit_is_ignored_only_when_the_layout_still_fits() -> None:
    lenient = build_item(CUFF, WEIGHT, WEIGHT_RFU_FRAME, UTC)
    plain = build_item(CUFF, WEIGHT, WEIGHT_FRAME, UTC)
    assert lenient.payload == plain.payload
    assert lenient.flags == ("reserved_flag_bits_ignored:0x80",)
    # An RFU bit that (maybe) added a field: not misread, kept as undecodable under a frame hash.
    extra = build_item(CUFF, WEIGHT, WEIGHT_RFU_EXTRA_FRAME, UTC)
    assert extra.payload is None and extra.reason is not None
    assert extra.reason.startswith(f"{Reason.UNDECODABLE}: weight.flags: reserved flag bits 0x80 set")
    assert extra.client_id == build_item(CUFF, WEIGHT, WEIGHT_RFU_EXTRA_FRAME, UTC).client_id


def test_unknown_time_stamp_is_unsendable() -> None:
    item = build_item(CUFF, WEIGHT, WEIGHT_YEAR_ZERO_FRAME, UTC)
    assert item.reason == Reason.TIMESTAMP_UNKNOWN
    assert item.payload is None and item.measured_at is None
    assert item.client_id.endswith(".wunknown-u1")


def test_temperature_with_site_from_the_thermometer() -> None:
    item = build_item(CUFF, BODY_TEMPERATURE, TEMPERATURE_FRAME, UTC, temperature_site=TemperatureType.EAR)
    assert item.payload is not None
    assert item.payload["values"] == {"temperature": 36.9, "unit": "C", "site": "ear"}
    validates_for_sync(item.payload)
    gastro = build_item(CUFF, BODY_TEMPERATURE, TEMPERATURE_FRAME, UTC, temperature_site=TemperatureType(5))
    assert gastro.payload is not None and gastro.payload["values"]["site"] == "gastro"
    nan = build_item(CUFF, BODY_TEMPERATURE, TEMPERATURE_NAN_FRAME, UTC)
    assert nan.reason == f"{Reason.SPECIAL_VALUE}: temperature=NaN"


def test_glucose_reading_with_context_kept_locally() -> None:
    item = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_FRAME, UTC, context_frame=GLUCOSE_CONTEXT_FRAME)
    assert item.payload is not None
    assert item.payload["values"] == {
        "glucose": 126.0,
        "unit": "mg/dL",
        "sequence_number": 1,
        "sensor_status": [],
        "sample_type": "capillary_whole_blood",
        "location": "finger",
    }
    validates_for_sync(item.payload)
    # Sync has no field for the meal context; the queue keeps it with the decoded record.
    assert item.decoded["context"]["meal"] == "postprandial"
    assert item.context_hex == GLUCOSE_CONTEXT_FRAME.hex()


def test_glucose_units_and_status() -> None:
    mmol = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_MMOL_FRAME, UTC)
    assert mmol.payload is not None and mmol.payload["values"]["glucose"] == 5.5
    assert mmol.payload["values"]["unit"] == "mmol/L"
    validates_for_sync(mmol.payload)
    low_battery = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_BATTERY_LOW_FRAME, UTC)
    assert low_battery.payload is not None
    assert low_battery.payload["values"]["sensor_status"] == ["device_battery_low"]
    too_high = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_TOO_HIGH_FRAME, UTC)
    assert too_high.reason == f"{Reason.SENSOR_STATUS}: result_too_high" and too_high.payload is None
    nan = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_NAN_FRAME, UTC)
    assert nan.reason == f"{Reason.SPECIAL_VALUE}: glucose=NaN"
    assert nan.flags == ("sample_size_insufficient",)


def test_undecodable_frame_is_kept_with_the_error() -> None:
    item = build_item(METER, BLOOD_GLUCOSE, bytes.fromhex("0301"), UTC)
    assert item.payload is None and item.reason is not None
    assert item.reason.startswith(f"{Reason.UNDECODABLE}: glucose.")
    assert item.frame_hex == "0301"


def test_the_protocol_model_rejects_what_we_keep_unsendable() -> None:
    # Why NaN readings are not uploaded: sync would reject them (SPECIAL_VALUE), and must never see 2047.
    payload = {
        "client_id": "x",
        "type": "body_temperature",
        "measured_at": "2025-01-04T14:13:58+00:00",
        "values": {"temperature": "NaN", "unit": "C"},
    }
    with pytest.raises(ValidationError, match=r"special value"):
        Reading.model_validate({"item": payload})
