"""IEEE 11073 SFLOAT/FLOAT: every special, every SFLOAT code, public encoder vectors, round trips."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.ble.errors import InvalidValueError
from shared.ble.ieee11073 import (
    Float32,
    SFloat,
    Special,
    decode_float32,
    decode_sfloat,
    encode_float32,
    encode_sfloat,
    json_converted,
    json_number,
)

from .strategies import ROUND_TRIP

# Special codes: Nordic Android-BLE-Library ble/src/main/java/no/nordicsemi/android/ble/data/MutableData.java
# (SFLOAT_* and FLOAT_* constants); the same table is in Wireshark's IEEE 11073 float ftype.
SFLOAT_SPECIALS = {
    0x07FF: Special.NAN,
    0x0800: Special.NRES,
    0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY,
    0x0801: Special.RESERVED,
}
FLOAT_SPECIALS = {
    0x007FFFFF: Special.NAN,
    0x00800000: Special.NRES,
    0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY,
    0x00800001: Special.RESERVED,
}

# Raw SFLOAT codes and their (mantissa, exponent): nrfconnect/sdk-nrf tests/lib/sfloat/src/main.c
# (test_sfloat_from_float), whose comments give each code's 10^e * m.
NCS_SFLOAT_CODES = {
    0xA2A6: (678, -6),
    0xAD5A: (-678, -6),
    0xA4CE: (1230, -6),
    0xAB32: (-1230, -6),
    0xC1DB: (475, -4),
    0xD33B: (827, -3),
    0xE113: (275, -2),
    0xEEED: (-275, -2),
    0xE406: (1030, -2),
    0x0187: (391, 0),
    0x0E79: (-391, 0),
    0x11FB: (507, 1),
    0x23C1: (961, 2),
    0x3116: (278, 3),
    0x43B7: (951, 4),
    0x4C49: (-951, 4),
    0xF423: (1059, -1),
    0xF7BB: (1979, -1),
    0xF845: (-1979, -1),
    0x8064: (100, -8),
    0x8F9B: (-101, -8),
    0x77FF: (2047, 7),
    0x7800: (-2048, 7),
    0x10CD: (205, 1),
    0x1F33: (-205, 1),
}

# Inputs where our encoder picks the same code as the NCS encoder (same source file).
NCS_ENCODER_AGREES = {
    0.000678: 0xA2A6,
    -0.000678: 0xAD5A,
    0.0475: 0xC1DB,
    -0.0475: 0xCE25,
    0.827: 0xD33B,
    2.75: 0xE113,
    -2.75: 0xEEED,
    391.0: 0x0187,
    -391.0: 0x0E79,
    5070.0: 0x11FB,
    -5070.0: 0x1E05,
    96100.0: 0x23C1,
    278000.0: 0x3116,
    9510000.0: 0x43B7,
    105.899: 0xF423,
    -105.899: 0xFBDD,
    197.850: 0xF7BB,
    -197.850: 0xF845,
    153.249: 0xF5FC,
    -153.249: 0xFA04,
    171.601: 0xF6B4,
    -171.601: 0xF94C,
    0.00000101: 0x8065,
    -0.00000101: 0x8F9B,
    20470000000.0: 0x77FF,
    20469000000.0: 0x77FF,
    -20480000000.0: 0x7800,
    -20479000000.0: 0x7800,
    2048.0: 0x10CD,
    2047.5: 0x10CD,
    2048.5: 0x10CD,
    -2048.5: 0x1F33,
}

# NCS encodes these onto special codes (2047.0 -> 0x07FF is NaN on the wire, -2047.0 -> 0x0801 reserved,
# -2048.0 and -2047.5 -> 0x0800 NRes); we round to the nearest finite code instead.
NCS_SPECIAL_COLLISIONS = {2047.0: 0x10CD, -2047.0: 0x1F33, -2048.0: 0x1F33, -2047.5: 0x1F33}

# Nordic Android-BLE-Library ble/src/test/java/no/nordicsemi/android/ble/data/DataTest.java
NORDIC_SFLOAT_10_1 = bytes([0x65, 0xF0])
NORDIC_FLOAT_12345_67 = bytes([0x87, 0xD6, 0x12, 0xFE])
NORDIC_FLOAT_1_0 = bytes([0x01, 0x00, 0x00, 0x00])


@pytest.mark.parametrize(("raw", "special"), SFLOAT_SPECIALS.items())
def test_sfloat_special_codes_decode_to_specials_and_back(raw: int, special: Special) -> None:
    assert decode_sfloat(raw) is special
    assert encode_sfloat(special) == raw


@pytest.mark.parametrize(("raw", "special"), FLOAT_SPECIALS.items())
def test_float_special_codes_decode_to_specials_and_back(raw: int, special: Special) -> None:
    assert decode_float32(raw) is special
    assert encode_float32(special) == raw


@pytest.mark.parametrize("mantissa", [2047, -2048, 2046, -2046, -2047])
def test_special_mantissas_with_exponent_zero_are_not_numbers(mantissa: int) -> None:
    with pytest.raises(InvalidValueError) as caught:
        SFloat(mantissa, 0)
    assert caught.value.field == "SFLOAT"


def test_special_mantissas_with_another_exponent_are_numbers() -> None:
    assert decode_sfloat(0x17FF) == SFloat(2047, 1)
    assert decode_float32(0x017FFFFF) == Float32(0x7FFFFF, 1)


@pytest.mark.parametrize(("mantissa", "exponent"), [(0, 8), (0, -9), (2048, 1), (-2049, 1)])
def test_sfloat_range_is_checked(mantissa: int, exponent: int) -> None:
    with pytest.raises(InvalidValueError):
        SFloat(mantissa, exponent)


def test_every_sfloat_code_decodes_and_encodes_to_itself() -> None:
    for raw in range(0x10000):
        assert encode_sfloat(decode_sfloat(raw)) == raw


@pytest.mark.parametrize(("raw", "parts"), NCS_SFLOAT_CODES.items())
def test_ncs_sfloat_codes_decode(raw: int, parts: tuple[int, int]) -> None:
    assert decode_sfloat(raw) == SFloat(*parts)


@pytest.mark.parametrize(("number", "raw"), NCS_ENCODER_AGREES.items())
def test_encoder_matches_ncs_vectors(number: float, raw: int) -> None:
    encoded = SFloat.from_float(number)
    assert isinstance(encoded, SFloat)
    assert encoded.raw == raw


@pytest.mark.parametrize(("number", "raw"), NCS_SPECIAL_COLLISIONS.items())
def test_encoder_never_lands_on_a_special_code(number: float, raw: int) -> None:
    assert encode_sfloat(SFloat.from_float(number)) == raw


def test_encoder_picks_the_exponent_closest_to_zero() -> None:
    # NCS sends 0.00123 as 1230e-6 and 10.3 as 1030e-2: the same numbers, a different code.
    assert SFloat.from_float(0.00123) == SFloat(123, -5)
    assert SFloat.from_float(10.3) == SFloat(103, -1)
    assert SFloat.from_float(120.0) == SFloat(120, 0)
    assert SFloat.from_float(2e8) == SFloat(2000, 5)
    assert SFloat.from_float(-0.0) == SFloat(0, 0)


def test_nordic_data_test_vectors() -> None:
    assert encode_sfloat(SFloat.from_float(10.1)).to_bytes(2, "little") == NORDIC_SFLOAT_10_1
    assert encode_float32(Float32.from_float(12345.67)).to_bytes(4, "little") == NORDIC_FLOAT_12345_67
    assert encode_float32(Float32.from_float(1.0)).to_bytes(4, "little") == NORDIC_FLOAT_1_0
    # Rounding cases of the same file (setValue_SFLOAT_roundUp / roundDown / cutPrecision / roundUp_500).
    assert SFloat.from_float(123.45) == SFloat(1235, -1)
    assert SFloat.from_float(0.12344) == SFloat(1234, -4)
    assert SFloat.from_float(1000400.0) == SFloat(1000, 3)
    assert SFloat.from_float(1000500.0) == SFloat(1001, 3)
    assert SFloat.from_float(10000000.0) == SFloat(1000, 4)


def test_nordic_temperature_float_decodes_with_its_exponent() -> None:
    # 37.60 degC as sent in Nordic's TemperatureMeasurementDataCallbackTest: mantissa 3760, exponent -2.
    assert decode_float32(0xFE000EB0) == Float32(3760, -2)
    assert decode_float32(0xFE000EB0).value == 37.6


def test_explicit_exponent_mimics_devices() -> None:
    # shared/reference/ble-gatt.md §1.5: 120 mg/dL = 0.0012 kg/L as mantissa 120, exponent -5 (78 B0).
    assert encode_sfloat(SFloat.from_float(0.0012, exponent=-5)) == 0xB078
    with pytest.raises(InvalidValueError):
        SFloat.from_float(0.0012, exponent=-8)


@pytest.mark.parametrize(
    ("number", "special"),
    [(math.nan, Special.NAN), (math.inf, Special.POSITIVE_INFINITY), (-math.inf, Special.NEGATIVE_INFINITY)],
)
def test_non_finite_floats_become_specials(number: float, special: Special) -> None:
    assert SFloat.from_float(number) is special
    assert Float32.from_float(number) is special


def test_values_just_past_the_edge_round_to_the_edge() -> None:
    # NCS answers NRes for these two (same source file); they round to the largest codes instead.
    assert SFloat.from_float(20470010000.0) == SFloat(2047, 7)
    assert SFloat.from_float(-20480010000.0) == SFloat(-2048, 7)


@pytest.mark.parametrize("number", [2.1e10, -2.1e10, 1e-13, -1e-12])
def test_unrepresentable_numbers_are_refused(number: float) -> None:
    with pytest.raises(InvalidValueError) as caught:
        SFloat.from_float(number)
    assert "Special.NRES" in str(caught.value)


def test_encoding_the_wrong_width_is_refused() -> None:
    with pytest.raises(InvalidValueError):
        encode_sfloat(Float32(1, 0))  # type: ignore[arg-type]


def test_json_rendering() -> None:
    assert json_number(SFloat(120, 0)) == 120
    assert json_number(SFloat(5, 2)) == 500
    assert json_number(SFloat(376, -1)) == 37.6
    assert [json_number(special) for special in Special] == [
        "NaN",
        "NRes",
        "+INFINITY",
        "-INFINITY",
        "reserved",
    ]
    assert json_converted(Special.NRES, lambda value: value * 2) == "NRes"
    assert json_converted(SFloat(12, -4), lambda value: value * 100_000) == 120.0
    assert json_converted(SFloat(12, -4), None) == 0.0012


@ROUND_TRIP
@given(st.integers(0, 0xFFFF).map(decode_sfloat).filter(lambda value: isinstance(value, SFloat)))
def test_from_float_of_a_value_gives_the_same_number(value: SFloat) -> None:
    again = SFloat.from_float(value.value)
    assert isinstance(again, SFloat)
    assert again.value == value.value
    assert SFloat.from_float(again.value) == again  # canonical form is a fixed point


@ROUND_TRIP
@given(st.floats(min_value=-2e10, max_value=2e10, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-7))
def test_from_float_rounds_to_within_half_a_step(number: float) -> None:
    encoded = SFloat.from_float(number)
    assert isinstance(encoded, SFloat)
    # Allow one ulp of slack: the step is taken from the decimal repr, not the binary value.
    assert abs(encoded.value - number) <= 10.0**encoded.exponent / 2 + abs(number) * 1e-15


@ROUND_TRIP
@given(st.integers(0, 0xFFFFFFFF))
def test_every_float_code_round_trips(raw: int) -> None:
    assert encode_float32(decode_float32(raw)) == raw


@ROUND_TRIP
@given(st.floats(min_value=-1e30, max_value=1e30, allow_nan=False).filter(lambda x: x == 0 or abs(x) > 1e-100))
def test_float32_from_float_round_trips_through_bytes(number: float) -> None:
    encoded = Float32.from_float(number)
    assert decode_float32(encode_float32(encoded)) == encoded
