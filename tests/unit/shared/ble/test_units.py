"""Canonical unit conversions."""

from __future__ import annotations

import pytest

from shared.ble.units import (
    GLUCOSE_MOLAR_MASS_G_PER_MOL,
    fahrenheit_to_celsius,
    inch_to_m,
    kg_per_l_to_mg_per_dl,
    kg_to_g,
    kg_to_mg,
    kpa_to_mmhg,
    lb_to_kg,
    litre_to_ml,
    mol_per_l_to_mg_per_dl,
)


def test_pressure() -> None:
    # 1 mmHg = 133.322387415 Pa by definition; one standard atmosphere (760 torr) is 759.9999 mmHg.
    assert kpa_to_mmhg(0.133322387415) == 1.0
    assert kpa_to_mmhg(101.325) == pytest.approx(759.99989, abs=1e-5)
    assert kpa_to_mmhg(16.0) == pytest.approx(120.01, abs=0.01)


def test_mass_and_length_are_exact_by_definition() -> None:
    assert lb_to_kg(1.0) == 0.45359237
    assert inch_to_m(1.0) == 0.0254
    assert kg_to_g(0.1) == 100.0
    assert kg_to_mg(0.000125) == pytest.approx(125.0)
    assert litre_to_ml(0.25) == 250.0


def test_temperature() -> None:
    assert fahrenheit_to_celsius(98.6) == pytest.approx(37.0)
    assert fahrenheit_to_celsius(32.0) == 0.0
    assert fahrenheit_to_celsius(-40.0) == -40.0


def test_glucose() -> None:
    # shared/reference/ble-gatt.md §1.5: 120 mg/dL = 0.0012 kg/L; mmol/L x 18.0156 = mg/dL (180.156 g/mol).
    assert GLUCOSE_MOLAR_MASS_G_PER_MOL == 180.156
    assert kg_per_l_to_mg_per_dl(0.0012) == pytest.approx(120.0)
    assert mol_per_l_to_mg_per_dl(0.0055) == pytest.approx(99.0858)
    assert mol_per_l_to_mg_per_dl(0.001) == pytest.approx(18.0156)
