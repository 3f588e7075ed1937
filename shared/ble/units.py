"""Canonical units: every measurement is also reported in one unit per quantity, whatever the wire used.

Canonical units: mmHg (pressure), kg (mass), m (height), degrees Celsius (temperature), mg/dL (glucose).
"""

from __future__ import annotations

# 1 mmHg = 133.322387415 Pa exactly (conventional millimetre of mercury, 13.5951 x 9.80665), the factor
# Nordic's BloodPressureTypes.java uses; the torr (101.325 kPa / 760) differs from it in the 7th digit.
KPA_PER_MMHG = 0.133322387415
# The international avoirdupois pound and inch are exact by definition (1959 agreement).
KG_PER_LB = 0.45359237
M_PER_INCH = 0.0254
# Glucose C6H12O6: 180.156 g/mol. mol/L x g/mol = g/L, and 1 g/L = 100 mg/dL.
GLUCOSE_MOLAR_MASS_G_PER_MOL = 180.156
MG_PER_DL_PER_G_PER_L = 100.0
# 1 kg/L = 10**6 mg per 10 dL (Nordic GlucoseMeasurementCallback.toMgPerDecilitre uses the same factor).
MG_PER_DL_PER_KG_PER_L = 100_000.0


def kpa_to_mmhg(kpa: float) -> float:
    """Blood pressure in mmHg, the unit clinicians and our storage use, from kPa."""
    return kpa / KPA_PER_MMHG


def lb_to_kg(pounds: float) -> float:
    """Mass in kg from pounds, for scales in imperial mode."""
    return pounds * KG_PER_LB


def inch_to_m(inches: float) -> float:
    """Height in metres from inches, for scales in imperial mode."""
    return inches * M_PER_INCH


def fahrenheit_to_celsius(fahrenheit: float) -> float:
    """Body temperature in degrees Celsius from degrees Fahrenheit."""
    return (fahrenheit - 32.0) * 5.0 / 9.0


def kg_per_l_to_mg_per_dl(kg_per_l: float) -> float:
    """Glucose in mg/dL from the SI mass concentration the Glucose Measurement carries (flags bit 2 = 0)."""
    return kg_per_l * MG_PER_DL_PER_KG_PER_L


def mol_per_l_to_mg_per_dl(mol_per_l: float) -> float:
    """Glucose in mg/dL from mol/L (flags bit 2 = 1), using the glucose molar mass 180.156 g/mol."""
    return mol_per_l * GLUCOSE_MOLAR_MASS_G_PER_MOL * MG_PER_DL_PER_G_PER_L


def kg_to_g(kg: float) -> float:
    """Carbohydrate in grams from the kilograms the Glucose Measurement Context carries."""
    return kg * 1_000.0


def kg_to_mg(kg: float) -> float:
    """Medication in milligrams from kilograms (Glucose Measurement Context flags bit 5 = 0)."""
    return kg * 1_000_000.0


def litre_to_ml(litres: float) -> float:
    """Medication in millilitres from litres (Glucose Measurement Context flags bit 5 = 1)."""
    return litres * 1_000.0
