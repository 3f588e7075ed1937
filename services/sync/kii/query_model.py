"""Parse and validate a Kii bucket ``QueryRequest`` body into immutable clause objects.

The body (reference/kii-api.md section 2.4; JS SDK ``KiiQuery.toDict``)::

    {"bucketQuery": {"clause": {...}, "orderBy": "score", "descending": true,
                     "aggregations": [{"type": "COUNT", "putAggregationInto": "count_field"}]},
     "bestEffortLimit": 10, "paginationKey": "..."}

:func:`parse_query` raises :class:`KiiQueryError` whose ``code`` is the Kii errorCode the facade
returns; both are HTTP 400 in the JS SDK's errorCode table (reference section 5):

- ``INVALID_INPUT_DATA``: the body breaks the documented shape or limits: not an object, no
  ``bucketQuery`` or ``clause``, a missing or malformed ``field``, a value of the wrong JSON type, an
  empty or over-long (> 200) ``in`` list, a ``range`` without limits or with limits of different
  types, an unknown ``fieldType``, a non-integer ``bestEffortLimit``, a non-boolean ``descending``, a
  malformed aggregation, a number that is not finite or not below 10^35, text that is not valid Unicode,
  and (raised by ``build_sql``) a ``paginationKey`` this server did not issue for this query.
- ``QUERY_NOT_SUPPORTED``: a well-formed query this server does not execute: an unknown clause type,
  ``geobox`` / ``geodistance``, clauses nested deeper than 10 levels or more than 200 clauses, an
  aggregation other than one COUNT, and COUNT with a ``paginationKey`` (Kii's own answer to that,
  KiiCloudUnitySDK TestObjectCount Test_2_6).

Messages name the location (``bucketQuery.clause.clauses[2].field``) but never echo client input:
the JS SDK 2.4.19 loses the errorCode of an error body whose message holds a raw ``%`` (section 8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, NoReturn

from services.sync.kii.errors import INVALID_INPUT_DATA, QUERY_NOT_SUPPORTED, KiiQueryError

# Kii leaves the server page size undocumented (reference "Gaps"); SDKs say a larger or zero
# bestEffortLimit gets "the limit defined in server" (JS SDK KiiThingQuery.setLimit), so we clamp.
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = MAX_PAGE_SIZE
MAX_CLAUSE_DEPTH = 10
MAX_CLAUSES = 200
MAX_IN_VALUES = 200  # SDK guides: inClause takes "up to 200 values"
# Kii does not index keys longer than 250 bytes (REST reference, object resource).
MAX_FIELD_NAME_LENGTH = 250
MAX_PAGINATION_KEY_LENGTH = 4096
# Dots separate nested names; nothing else may reach a JSON path literal in the SQL text.
FIELD_NAME_PATTERN = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")
_AGGREGATION_NAME_PATTERN = re.compile(r"[A-Za-z0-9_]{1,250}")
_ECHOABLE_CLAUSE_TYPE = re.compile(r"[A-Za-z]{1,32}")
# Numbers are compared as DECIMAL(65,30) in SQL: exact below 10**35 to 30 decimal places (finer
# digits round alike on both sides of a comparison); larger query values are refused.
NUMBER_LIMIT = Decimal(10) ** 35


class FieldType(StrEnum):
    """The ``fieldType`` values of a ``hasField`` clause (JS SDK ``KiiClause.hasField``)."""

    STRING = "STRING"
    INTEGER = "INTEGER"
    DECIMAL = "DECIMAL"
    BOOLEAN = "BOOLEAN"


# Numbers are held as Decimal so that 0.1 stays the decimal the client wrote, and bool never
# passes for an int.
Scalar = str | bool | Decimal


@dataclass(frozen=True, slots=True)
class AllClause:
    """``{"type": "all"}``: every object of the bucket."""


@dataclass(frozen=True, slots=True)
class EqClause:
    """``{"type": "eq", "field", "value"}``: the field holds exactly this value, of this JSON type."""

    field: str
    value: Scalar


@dataclass(frozen=True, slots=True)
class NotClause:
    """``{"type": "not", "clause"}``: the inner clause is false (not merely unknown)."""

    clause: Clause


@dataclass(frozen=True, slots=True)
class AndClause:
    """``{"type": "and", "clauses": [...]}``."""

    clauses: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class OrClause:
    """``{"type": "or", "clauses": [...]}``."""

    clauses: tuple[Clause, ...]


@dataclass(frozen=True, slots=True)
class RangeClause:
    """``{"type": "range", "field", "lowerLimit", "lowerIncluded", "upperLimit", "upperIncluded"}``."""

    field: str
    lower: str | Decimal | None
    lower_included: bool
    upper: str | Decimal | None
    upper_included: bool


@dataclass(frozen=True, slots=True)
class InClause:
    """``{"type": "in", "field", "values": [...]}``: the field equals one of the values."""

    field: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class PrefixClause:
    """``{"type": "prefix", "field", "prefix"}``: a string field starting with ``prefix``."""

    field: str
    prefix: str


@dataclass(frozen=True, slots=True)
class HasFieldClause:
    """``{"type": "hasField", "field", "fieldType"}``: the field exists with this JSON type."""

    field: str
    field_type: FieldType


Clause = (
    AllClause | EqClause | NotClause | AndClause | OrClause | RangeClause | InClause | PrefixClause | HasFieldClause
)


@dataclass(frozen=True, slots=True)
class KiiQuery:
    """A validated query; ``count_field`` set means the COUNT aggregation instead of objects."""

    clause: Clause
    order_by: str | None = None
    descending: bool = False
    limit: int = DEFAULT_PAGE_SIZE
    pagination_key: str | None = None
    count_field: str | None = None


def parse_query(body: Mapping[str, Any]) -> KiiQuery:
    """Validate a QueryRequest body; raise KiiQueryError with the code Kii would answer."""
    if not isinstance(body, Mapping):
        _invalid("the request body", "must be a JSON object")
    bucket_query = body.get("bucketQuery")
    if not isinstance(bucket_query, Mapping):
        _invalid("bucketQuery", "must be a JSON object")
    clause = _ClauseParser().parse(bucket_query.get("clause"), "bucketQuery.clause", depth=1)
    order_by = bucket_query.get("orderBy")
    if order_by is not None:
        order_by = _field_name(order_by, "bucketQuery.orderBy")
    descending = bucket_query.get("descending")
    if descending is not None and not isinstance(descending, bool):
        _invalid("bucketQuery.descending", "must be true or false")
    pagination_key = _pagination_key(body.get("paginationKey"))
    count_field = _count_field(bucket_query.get("aggregations"))
    if count_field is not None and pagination_key is not None:
        _unsupported("paginationKey", "a COUNT aggregation cannot be paginated")
    return KiiQuery(
        clause=clause,
        order_by=order_by,
        # The REST reference: descending "has no effect if the orderBy is not provided".
        descending=bool(descending) and order_by is not None,
        limit=_page_size(body.get("bestEffortLimit")),
        pagination_key=pagination_key,
        count_field=count_field,
    )


class _ClauseParser:
    """Recursive descent over the clause tree, counting clauses so a hostile tree stays small."""

    def __init__(self) -> None:
        self._count = 0

    def parse(self, raw: object, where: str, depth: int) -> Clause:
        """Parse one clause object at ``where``; ``depth`` is 1 for the top clause."""
        if depth > MAX_CLAUSE_DEPTH:
            _unsupported(where, f"clauses nest deeper than {MAX_CLAUSE_DEPTH} levels")
        self._count += 1
        if self._count > MAX_CLAUSES:
            _unsupported(where, f"a query may hold at most {MAX_CLAUSES} clauses")
        if not isinstance(raw, Mapping):
            _invalid(where, "must be a JSON object")
        kind = raw.get("type")
        if not isinstance(kind, str):
            _invalid(f"{where}.type", "must be a string")
        match kind:
            case "all":
                return AllClause()
            case "eq":
                return EqClause(_field(raw, where), _scalar(raw.get("value"), f"{where}.value"))
            case "not":
                return NotClause(self.parse(raw.get("clause"), f"{where}.clause", depth + 1))
            case "and":
                return AndClause(self._children(raw, where, depth))
            case "or":
                return OrClause(self._children(raw, where, depth))
            case "range":
                return _range(raw, where)
            case "in":
                return InClause(_field(raw, where), _in_values(raw.get("values"), f"{where}.values"))
            case "prefix":
                prefix = raw.get("prefix")
                if not isinstance(prefix, str):
                    _invalid(f"{where}.prefix", "must be a string")
                return PrefixClause(_field(raw, where), _text(prefix, f"{where}.prefix"))
            case "hasField":
                return HasFieldClause(_field(raw, where), _field_type(raw.get("fieldType"), where))
            case "geobox" | "geodistance":
                _unsupported(f"{where}.type", f"{kind} clauses are not supported by this server")
            case _:
                shown = kind if _ECHOABLE_CLAUSE_TYPE.fullmatch(kind) else "this clause type"
                _unsupported(
                    f"{where}.type",
                    f"{shown} is not a supported clause type (all, eq, not, and, or, range, in, prefix, hasField)",
                )

    def _children(self, raw: Mapping[str, Any], where: str, depth: int) -> tuple[Clause, ...]:
        clauses = raw.get("clauses")
        if not isinstance(clauses, list) or not clauses:
            _invalid(f"{where}.clauses", "must be a non-empty list of clauses")
        return tuple(self.parse(child, f"{where}.clauses[{index}]", depth + 1) for index, child in enumerate(clauses))


def _range(raw: Mapping[str, Any], where: str) -> RangeClause:
    field = _field(raw, where)
    lower = _range_limit(raw.get("lowerLimit"), f"{where}.lowerLimit")
    upper = _range_limit(raw.get("upperLimit"), f"{where}.upperLimit")
    if lower is None and upper is None:
        _invalid(where, "a range clause needs lowerLimit, upperLimit or both")
    if lower is not None and upper is not None and type(lower) is not type(upper):
        _invalid(where, "lowerLimit and upperLimit must both be numbers or both be strings")
    return RangeClause(
        field=field,
        lower=lower,
        # Omitted flags mean inclusive, as in Kii's Thing-IF query clauses (thing-if-JSSDK Range).
        lower_included=_flag(raw.get("lowerIncluded"), f"{where}.lowerIncluded"),
        upper=upper,
        upper_included=_flag(raw.get("upperIncluded"), f"{where}.upperIncluded"),
    )


def _range_limit(raw: object, where: str) -> str | Decimal | None:
    if raw is None:
        return None
    value = _scalar(raw, where)
    if isinstance(value, bool):
        _invalid(where, "must be a number or a string")
    return value


def _flag(raw: object, where: str) -> bool:
    if raw is None:
        return True
    if not isinstance(raw, bool):
        _invalid(where, "must be true or false")
    return raw


def _in_values(raw: object, where: str) -> tuple[Scalar, ...]:
    if not isinstance(raw, list) or not raw:
        _invalid(where, "must be a non-empty list")
    if len(raw) > MAX_IN_VALUES:
        _invalid(where, f"may hold at most {MAX_IN_VALUES} values")
    return tuple(_scalar(value, f"{where}[{index}]") for index, value in enumerate(raw))


def _field_type(raw: object, where: str) -> FieldType:
    if isinstance(raw, str) and raw in FieldType.__members__:
        return FieldType(raw)
    _invalid(f"{where}.fieldType", "must be one of STRING, INTEGER, DECIMAL, BOOLEAN")


def _field(raw: Mapping[str, Any], where: str) -> str:
    return _field_name(raw.get("field"), f"{where}.field")


def _field_name(raw: object, where: str) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_FIELD_NAME_LENGTH or not FIELD_NAME_PATTERN.fullmatch(raw):
        _invalid(
            where,
            f"must be a field name of at most {MAX_FIELD_NAME_LENGTH} ASCII letters, digits and "
            "underscores, with dots between nested names",
        )
    return raw


def _scalar(raw: object, where: str) -> Scalar:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        return _text(raw, where)
    if isinstance(raw, int | float | Decimal):
        return _number(raw, where)
    _invalid(where, "must be a string, a number or a boolean")


def _number(raw: int | float | Decimal, where: str) -> Decimal:
    problem = "must be a finite number less than 10^35 in magnitude"
    if isinstance(raw, int):
        if abs(raw) >= NUMBER_LIMIT:  # before Decimal(): an int of thousands of digits is slow to convert
            _invalid(where, problem)
        return Decimal(raw)
    # repr() is the shortest text that round-trips the float: 0.1 stays 0.1, not its binary expansion.
    value = Decimal(repr(raw)) if isinstance(raw, float) else raw
    if not value.is_finite() or abs(value) >= NUMBER_LIMIT:
        _invalid(where, problem)
    return value


def _text(raw: str, where: str) -> str:
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        _invalid(where, "must be valid Unicode text (it holds a lone surrogate)")
    return raw


def _page_size(raw: object) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if isinstance(raw, bool) or not isinstance(raw, int):
        _invalid("bestEffortLimit", "must be an integer")
    # SDKs send nothing for a limit <= 0 and document the server limit for 0 or too large a value.
    if raw <= 0:
        return DEFAULT_PAGE_SIZE
    return min(raw, MAX_PAGE_SIZE)


def _pagination_key(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_PAGINATION_KEY_LENGTH:
        _invalid("paginationKey", "is not a pagination key issued by this server")
    return raw


def _count_field(raw: object) -> str | None:
    if raw is None or raw == []:
        return None
    where = "bucketQuery.aggregations"
    if not isinstance(raw, list):
        _invalid(where, "must be a list")
    if len(raw) > 1:
        _unsupported(where, "only one aggregation per query is supported")
    aggregation = raw[0]
    if not isinstance(aggregation, Mapping) or not isinstance(aggregation.get("type"), str):
        _invalid(f"{where}[0]", "must be an object with a string type")
    if aggregation["type"] != "COUNT":
        _unsupported(f"{where}[0].type", "only the COUNT aggregation is supported")
    name = aggregation.get("putAggregationInto")
    if not isinstance(name, str) or not _AGGREGATION_NAME_PATTERN.fullmatch(name):
        _invalid(f"{where}[0].putAggregationInto", "must be a name of ASCII letters, digits and underscores")
    return name


def _invalid(where: str, problem: str) -> NoReturn:
    raise KiiQueryError(INVALID_INPUT_DATA, f"{where} {problem}")


def _unsupported(where: str, problem: str) -> NoReturn:
    raise KiiQueryError(QUERY_NOT_SUPPORTED, f"{where}: {problem}")
