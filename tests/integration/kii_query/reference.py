"""A plain-Python evaluator of Kii query semantics as ``query_sql`` documents them: type-strict
comparisons, three-valued logic (None is UNKNOWN), and the type-ranked sort order with ``id`` last."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.sync.kii.query_model import (
    AllClause,
    AndClause,
    Clause,
    EqClause,
    HasFieldClause,
    InClause,
    KiiQuery,
    NotClause,
    OrClause,
    PrefixClause,
    RangeClause,
    Scalar,
)
from tests.integration.kii_query.store import Stored

MISSING = object()
SYSTEM_FIELDS = ("_id", "_owner", "_created", "_modified", "_version")
TYPE_RANKS = {"BOOLEAN": 1, "INTEGER": 2, "DECIMAL": 2, "STRING": 3}


def field_value(obj: Stored, name: str) -> object:
    """The value a query sees for ``name``: a system column or a path into the body; MISSING if absent."""
    system = {
        "_id": obj.object_id,
        "_owner": obj.owner,
        "_created": obj.created,
        "_modified": obj.modified,
        "_version": obj.version,
    }
    if name in system:
        value = system[name]
        return MISSING if value is None else value
    current: object = obj.body
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return MISSING
        current = current[part]
    return current


def json_type(value: object) -> str | None:
    """Kii's field type of a stored value; None for absent, null, arrays and objects."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, Decimal):
        return "DECIMAL"
    if isinstance(value, str):
        return "STRING"
    return None


def matches(clause: Clause, obj: Stored) -> bool | None:
    """True, False or None (UNKNOWN)."""
    match clause:
        case AllClause():
            return True
        case NotClause(inner):
            result = matches(inner, obj)
            return None if result is None else not result
        case AndClause(children):
            results = [matches(child, obj) for child in children]
            return False if False in results else None if None in results else True
        case OrClause(children):
            return _any([matches(child, obj) for child in children])
        case EqClause(field, value):
            return _equals(field_value(obj, field), value)
        case InClause(field, values):
            return _any([_equals(field_value(obj, field), value) for value in values])
        case RangeClause(field, lower, lower_included, upper, upper_included):
            stored = field_value(obj, field)
            if _family(stored) is None or _family(stored) != _family(lower if lower is not None else upper):
                return None
            value: Any = _number(stored) if _family(stored) == "NUMBER" else stored
            above = lower is None or (value >= lower if lower_included else value > lower)
            below = upper is None or (value <= upper if upper_included else value < upper)
            return above and below
        case PrefixClause(field, prefix):
            stored = field_value(obj, field)
            return stored.startswith(prefix) if isinstance(stored, str) else None
        case HasFieldClause(field, field_type):
            return json_type(field_value(obj, field)) == field_type.value
    raise AssertionError(clause)


def sort_key(obj: Stored, order_by: str | None) -> tuple[Any, ...]:
    """Rank by JSON type (absent first), then value (strings by code point), then id."""
    name = order_by or "_created"
    value = field_value(obj, name)
    if name == "_owner":
        return (0, b"", obj.id) if value is MISSING else (1, str(value).encode(), obj.id)
    if name == "_id":
        return (obj.object_id.encode(), obj.id)
    if name in SYSTEM_FIELDS:
        return (value, obj.id)
    kind = json_type(value)
    rank = TYPE_RANKS.get(kind or "", 0)
    if kind == "BOOLEAN":
        numeric = Decimal(int(value is True))
    else:
        numeric = _number(value) if rank == 2 else Decimal(0)
    return (rank, numeric, value.encode() if isinstance(value, str) else b"", obj.id)


def expected_ids(objects: list[Stored], query: KiiQuery) -> list[str]:
    """Object ids the query must return, in order."""
    hits = [obj for obj in objects if matches(query.clause, obj) is True]
    hits.sort(key=lambda obj: sort_key(obj, query.order_by), reverse=query.descending)
    return [obj.object_id for obj in hits]


def _family(value: object) -> str | None:
    kind = json_type(value)
    return "NUMBER" if kind in ("INTEGER", "DECIMAL") else kind


def _number(value: object) -> Decimal:
    assert isinstance(value, int | Decimal)
    return Decimal(value)


def _equals(stored: object, wanted: Scalar) -> bool | None:
    if _family(stored) is None or _family(stored) != _family(wanted):
        return None
    return _number(stored) == wanted if _family(wanted) == "NUMBER" else stored == wanted


def _any(results: list[bool | None]) -> bool | None:
    return True if True in results else None if None in results else False
