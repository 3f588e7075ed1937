"""Canonical units (mmHg, kg, degrees Celsius, mg/dL) and conversions from the other wire units."""

from __future__ import annotations

from collections.abc import Callable

KPA_TO_MMHG = 7.500615758  # 1 kPa = 760 / 101.325 mmHg
LB_TO_KG = 0.45359237  # exact, by definition
IN_TO_M = 0.0254  # exact, by definition
# glucose molar mass 180.156 g/mol: 1 mmol/L = 18.0156 mg/dL
MMOL_L_TO_MG_DL = 18.0156

CANONICAL = {"pressure": "mmHg", "mass": "kg", "temperature": "C", "glucose": "mg/dL", "length": "m"}

CONVERSIONS: dict[str, dict[str, Callable[[float], float]]] = {
    "pressure": {"mmHg": lambda v: v, "kPa": lambda v: v * KPA_TO_MMHG},
    "mass": {"kg": lambda v: v, "lb": lambda v: v * LB_TO_KG},
    "temperature": {"C": lambda v: v, "F": lambda v: (v - 32.0) * 5.0 / 9.0},
    "glucose": {"mg/dL": lambda v: v, "mmol/L": lambda v: v * MMOL_L_TO_MG_DL},
    "length": {"m": lambda v: v, "cm": lambda v: v / 100.0, "in": lambda v: v * IN_TO_M},
}


def to_canonical(quantity: str, unit: str, value: float) -> float:
    """``value`` in ``unit`` converted to the canonical unit of ``quantity``; KeyError for unknown units."""
    return CONVERSIONS[quantity][unit](value)
