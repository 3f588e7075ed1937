"""Field-level differences between an expected row and the stored one, each classified into a pattern.

Per compared column at most one difference is reported (the first path that differs inside a JSON
document, with the number of others in the detail). Patterns:

- ``TRUNCATED``: the stored value lost content and kept the rest: a string that is a strict prefix of
  the expected one, a JSON document missing members or list items, every other member equal;
- ``VALUE_MISMATCH:<column>``: any other difference (``field`` names the JSON path when inside a document).

Numbers compare in micro-units, like the checksums (canonical.micro_units); true is not 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.validation.canonical import DATETIME_FORMAT, TableSpec, micro_units
from services.validation.findings import TRUNCATED, VALUE_MISMATCH

MISSING = object()


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One differing column: its pattern, the field (column or JSON path), a detail and both values."""

    pattern: str
    field: str
    detail: str
    expected: Any
    actual: Any


@dataclass(frozen=True, slots=True)
class _Leaf:
    path: str
    expected: Any
    actual: Any
    truncated: bool


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_scalar(expected: Any, actual: Any) -> bool:
    if _is_number(expected) and _is_number(actual):
        return micro_units(float(expected)) == micro_units(float(actual))
    return type(expected) is type(actual) and bool(expected == actual)


def _is_prefix(expected: Any, actual: Any) -> bool:
    return (
        isinstance(expected, str)
        and isinstance(actual, str)
        and len(actual) < len(expected)
        and expected.startswith(actual)
    )


def json_leaves(expected: Any, actual: Any, path: str) -> list[_Leaf]:
    """Where two JSON values differ, depth first; dict members in the expected order, then extra ones."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        leaves: list[_Leaf] = []
        for name, value in expected.items():
            if name not in actual:
                leaves.append(_Leaf(f"{path}.{name}", value, MISSING, True))
            else:
                leaves.extend(json_leaves(value, actual[name], f"{path}.{name}"))
        for name, value in actual.items():
            if name not in expected:
                leaves.append(_Leaf(f"{path}.{name}", MISSING, value, False))
        return leaves
    if isinstance(expected, list) and isinstance(actual, list):
        leaves = []
        for index, value in enumerate(expected):
            if index >= len(actual):
                leaves.append(_Leaf(f"{path}[{index}]", value, MISSING, True))
            else:
                leaves.extend(json_leaves(value, actual[index], f"{path}[{index}]"))
        leaves.extend(_Leaf(f"{path}[{i}]", MISSING, actual[i], False) for i in range(len(expected), len(actual)))
        return leaves
    if isinstance(expected, dict | list) or isinstance(actual, dict | list):
        return [] if expected == actual else [_Leaf(path, expected, actual, False)]
    if _same_scalar(expected, actual):
        return []
    return [_Leaf(path, expected, actual, _is_prefix(expected, actual))]


def _shown(value: Any) -> str:
    return "(absent)" if value is MISSING else repr(value)


def _value(value: Any) -> Any:
    return "(absent)" if value is MISSING else value


def _shift(expected: str, actual: str) -> str:
    try:
        seconds = (
            datetime.strptime(actual, DATETIME_FORMAT) - datetime.strptime(expected, DATETIME_FORMAT)
        ).total_seconds()
    except ValueError:
        return ""
    return f" (shifted {seconds:+g} s)"


def _column_diff(column: str, kind: str, expected: Any, actual: Any) -> FieldDiff | None:
    if kind == "json":
        if expected is None or actual is None:
            if expected is actual:
                return None
            return FieldDiff(
                f"{VALUE_MISMATCH}:{column}",
                column,
                f"expected {_shown(expected)}, found {_shown(actual)}",
                expected,
                actual,
            )
        leaves = json_leaves(expected, actual, column)
        if not leaves:
            return None
        truncated_only = all(leaf.truncated for leaf in leaves)
        first = leaves[0] if truncated_only else next(leaf for leaf in leaves if not leaf.truncated)
        more = f"; {len(leaves) - 1} more difference(s) in {column}" if len(leaves) > 1 else ""
        if truncated_only:
            detail = f"{first.path} cut: expected {_shown(first.expected)}, found {_shown(first.actual)}{more}"
            return FieldDiff(TRUNCATED, first.path, detail, _value(first.expected), _value(first.actual))
        detail = f"expected {_shown(first.expected)}, found {_shown(first.actual)}{more}"
        return FieldDiff(f"{VALUE_MISMATCH}:{column}", first.path, detail, _value(first.expected), _value(first.actual))
    if expected is None or actual is None:
        same = expected is None and actual is None
    elif kind == "float":
        same = micro_units(float(expected)) == micro_units(float(actual))
    else:
        same = expected == actual
    if same:
        return None
    if kind == "text" and _is_prefix(expected, actual):
        return FieldDiff(TRUNCATED, column, f"cut to {len(actual)} of {len(expected)} characters", expected, actual)
    detail = f"expected {_shown(expected)}, found {_shown(actual)}"
    if kind == "datetime" and isinstance(expected, str) and isinstance(actual, str):
        detail += _shift(expected, actual)
    return FieldDiff(f"{VALUE_MISMATCH}:{column}", column, detail, expected, actual)


def diff_row(spec: TableSpec, expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[FieldDiff]:
    """The differing columns of one row, in column order (empty: equal, whatever the checksums said)."""
    diffs = []
    for column in spec.columns:
        found = _column_diff(column.name, column.kind, expected.get(column.name), actual.get(column.name))
        if found is not None:
            diffs.append(found)
    return diffs
