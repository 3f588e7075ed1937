"""Translate a parsed Kii bucket query into parameterised SQL over ``kii_objects`` (DESIGN 6-7).

Every client value is a bound parameter; the SQL text holds only fixed keywords, checked column
names, validated JSON paths and ``%s`` placeholders (expressions: ``query_fields``).

Semantics, with the reference/kii-api.md section each rests on:

- Comparisons (eq, in, range, prefix) are type-strict (2.4; the SDK guides: the value's type "must
  match with the type of the JSON field"): a field of another JSON type ("10" against 10, 1
  against true), JSON null, an object, an array or an absent field makes the comparison UNKNOWN,
  which is SQL's NULL. Integers and decimals are one type for comparisons (10 equals 10.0).
- and / or / not follow SQL's three-valued logic, so ``not`` over a comparison never matches an
  object lacking the field: the SDK guides say notEquals, sent as ``not`` + ``eq``
  (kii-rest-client4j ``KiiQueryClause.neq``), "does not match if the specified field does not
  exist". hasField is never UNKNOWN, so ``not`` + ``hasField`` finds objects without the field.
- prefix: the string ``LIKE`` bytes with ``!`` escaping ``!``, ``%`` and ``_``; ``ESCAPE '!'``
  avoids backslashes, whose meaning depends on the NO_BACKSLASH_ESCAPES mode.
- Order: ``orderBy``, or ``_created`` when it is absent (Kii leaves that order unspecified);
  ascending unless ``descending`` (the REST reference's default, 2.4). Objects rank by the JSON type
  of the sort field (absent, null, object or array first; then booleans, false before true; then
  numbers; then strings by code point), then by value, then by ``id``; ``descending`` reverses the
  whole order. Objects lacking the field thus come first ascending and last descending, as NULLs
  sort in MySQL, on which Kii's index limits (strings over 190 bytes are not indexed) suggest it
  ran. Kii documents none of this.
- Pagination: keyset on that total order (format and rationale: ``query_cursor``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from services.sync.kii.query_cursor import KeyKind, KeyValue, decode_pagination_key, encode_pagination_key
from services.sync.kii.query_fields import Binder, ColumnSpec, Field, FieldResolver, SortKey, membership
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

TABLE = "kii_objects"
# Every row build_sql selects starts with these; the sort key columns that follow feed the cursor.
RESULT_COLUMNS = ("object_id", "version", "owner_id", "body", "created_at", "modified_at")
SCOPE_TYPES = frozenset({"app", "user", "group", "thing"})
DEFAULT_ORDER_FIELD = "_created"
# The index that walks a system sort column in order inside one bucket (then `id`, the tiebreaker).
# Left to itself MariaDB reads a page after a paginationKey with `ref` on the bucket prefix, not a range
# from the key, so page n scanned all n-1 pages before it (13 ms at page 50 of 100,000 objects; 0.3 ms
# with the hint). kii_objects has no other index a query could prefer: body fields are never indexed.
_ORDER_INDEXES = {"`created_at`": "ix_kii_objects_created", "`modified_at`": "ix_kii_objects_modified"}
_LIKE_ESCAPE = "!"


@dataclass(frozen=True, slots=True)
class ObjectScope:
    """The bucket a query runs in: app, scope (``''`` id for the app scope) and bucket name."""

    app_id: str
    scope_type: str
    scope_id: str
    bucket: str

    def __post_init__(self) -> None:
        if self.scope_type not in SCOPE_TYPES:
            raise ValueError(f"scope_type must be one of {sorted(SCOPE_TYPES)}")
        if (self.scope_type == "app") != (self.scope_id == ""):
            raise ValueError("scope_id is '' exactly for the app scope")
        # The key columns are ASCII: a non-ASCII literal against them is a collation error.
        for name in ("app_id", "scope_id"):
            value = getattr(self, name)
            if len(value) > 64 or not value.isascii():
                raise ValueError(f"{name} must be at most 64 ASCII characters")
        if not 0 < len(self.bucket) <= 64:
            raise ValueError("bucket must be 1 to 64 characters")


class SqlQuery(NamedTuple):
    """SQL text with ``%s`` placeholders (aiomysql / PyMySQL style) and its parameters."""

    sql: str
    params: tuple[object, ...]


class QueryPage(NamedTuple):
    """One page of results: rows of RESULT_COLUMNS, and the key of the next page if there is one."""

    rows: list[tuple[object, ...]]
    next_pagination_key: str | None


def build_sql(query: KiiQuery, scope: ObjectScope, column_map: Mapping[str, ColumnSpec] | None = None) -> SqlQuery:
    """SELECT one page of matching objects, limit + 1 rows so the caller knows whether more follow.

    ``column_map`` adds to or overrides SYSTEM_COLUMNS. Each row holds RESULT_COLUMNS, then the
    sort key columns; hand the rows to :func:`page_from_rows` with the same ``column_map``.
    Raises KiiQueryError (INVALID_INPUT_DATA) for a paginationKey not issued for this query.
    """
    fields = FieldResolver(column_map)
    keys = _sort_keys(query, fields)
    binder = Binder()
    columns = [f"`{column}`" for column in RESULT_COLUMNS]
    selected = ", ".join(columns + [f"{expr} AS `_k{i}`" for i, (expr, _) in enumerate(keys)])
    conditions = _conditions(query, scope, fields, binder)
    if query.pagination_key is not None:
        start = decode_pagination_key(query, [kind for _, kind in keys])
        conditions.append(_after(keys, start, query.descending, binder))
    direction = "DESC" if query.descending else "ASC"
    order = ", ".join(f"{expr} {direction}" for expr, _ in keys)
    where = " AND ".join(conditions)
    limit = binder.bind(query.limit + 1)
    # S608 is a false alarm here: only keywords, checked names and placeholders reach the text.
    index = _ORDER_INDEXES.get(keys[0][0]) if len(keys) == 2 else None
    source = f"{TABLE} FORCE INDEX ({index})" if index else TABLE
    sql = f"SELECT {selected} FROM {source} WHERE {where} ORDER BY {order} LIMIT {limit}"  # noqa: S608
    return SqlQuery(sql, tuple(binder.params))


def build_count_sql(
    query: KiiQuery, scope: ObjectScope, column_map: Mapping[str, ColumnSpec] | None = None
) -> SqlQuery:
    """SELECT COUNT(*) of the matching objects, for the COUNT aggregation (reference 2.4)."""
    binder = Binder()
    where = " AND ".join(_conditions(query, scope, FieldResolver(column_map), binder))
    return SqlQuery(f"SELECT COUNT(*) FROM {TABLE} WHERE {where}", tuple(binder.params))  # noqa: S608


def page_from_rows(
    query: KiiQuery, rows: Sequence[Sequence[object]], column_map: Mapping[str, ColumnSpec] | None = None
) -> QueryPage:
    """Cut the rows of :func:`build_sql` to one page; an extra row means a nextPaginationKey."""
    width = len(RESULT_COLUMNS)
    if len(rows) <= query.limit:
        return QueryPage([tuple(row[:width]) for row in rows], None)
    kinds = [kind for _, kind in _sort_keys(query, FieldResolver(column_map))]
    page = rows[: query.limit]
    next_key = encode_pagination_key(query, kinds, page[-1][width : width + len(kinds)])
    return QueryPage([tuple(row[:width]) for row in page], next_key)


def _conditions(query: KiiQuery, scope: ObjectScope, fields: FieldResolver, binder: Binder) -> list[str]:
    # The scope columns lead every kii_objects index, in index order.
    conditions = [
        f"`app_id` = {binder.bind(scope.app_id)} AND `scope_type` = {binder.bind(scope.scope_type)} "
        f"AND `scope_id` = {binder.bind(scope.scope_id)} AND `bucket` = {binder.bind(scope.bucket)}"
    ]
    if not isinstance(query.clause, AllClause):
        conditions.append(_predicate(query.clause, fields, binder))
    return conditions


def _predicate(clause: Clause, fields: FieldResolver, binder: Binder) -> str:
    match clause:
        case AllClause():
            return "TRUE"
        case NotClause(inner):
            return f"NOT ({_predicate(inner, fields, binder)})"
        case AndClause(children) | OrClause(children):
            joiner = " AND " if isinstance(clause, AndClause) else " OR "
            return "(" + joiner.join(_predicate(child, fields, binder) for child in children) + ")"
        case EqClause(field, value):
            return _equals_any(fields(field), (value,), binder)
        case InClause(field, values):
            return _equals_any(fields(field), values, binder)
        case RangeClause():
            return _range(fields(clause.field), clause, binder)
        case PrefixClause(field, prefix):
            expr = fields(field).string()
            if expr is None:
                return "NULL"
            return f"{expr} LIKE {binder.bind(_like_prefix(prefix))} ESCAPE '{_LIKE_ESCAPE}'"
        case HasFieldClause(field, field_type):
            return fields(field).has_type(field_type)


def _equals_any(field: Field, values: Sequence[Scalar], binder: Binder) -> str:
    """OR of one type-strict membership test per JSON type among the values; NULL if impossible."""
    strings = [value for value in values if isinstance(value, str)]
    numbers = [value for value in values if isinstance(value, Decimal)]
    booleans = [value for value in values if isinstance(value, bool)]
    tests = []
    if strings:
        expr = field.string()
        if expr is None:
            tests.append("NULL")
        else:
            hint = field.index_hint(strings, binder)
            test = membership(expr, [binder.text(value) for value in strings])
            tests.append(f"({hint} AND {test})" if hint is not None else test)
    if numbers:
        expr = field.number()
        placeholders = [field.number_param(value, binder) for value in numbers] if expr is not None else []
        tests.append(membership(expr, placeholders) if expr is not None else "NULL")
    if booleans:
        expr = field.boolean()
        placeholders = [binder.bind(int(value)) for value in booleans] if expr is not None else []
        tests.append(membership(expr, placeholders) if expr is not None else "NULL")
    return tests[0] if len(tests) == 1 else "(" + " OR ".join(tests) + ")"


def _range(field: Field, clause: RangeClause, binder: Binder) -> str:
    limit = clause.lower if clause.lower is not None else clause.upper
    expr = field.string() if isinstance(limit, str) else field.number()
    if expr is None:
        return "NULL"

    def bound(value: str | Decimal) -> str:
        return binder.text(value) if isinstance(value, str) else field.number_param(value, binder)

    tests = []
    if clause.lower is not None:
        tests.append(f"{expr} {'>=' if clause.lower_included else '>'} {bound(clause.lower)}")
    if clause.upper is not None:
        tests.append(f"{expr} {'<=' if clause.upper_included else '<'} {bound(clause.upper)}")
    return "(" + " AND ".join(tests) + ")"


def _like_prefix(prefix: str) -> bytes:
    escaped = "".join(_LIKE_ESCAPE + char if char in "!%_" else char for char in prefix)
    return (escaped + "%").encode("utf-8")


def _sort_keys(query: KiiQuery, fields: FieldResolver) -> list[SortKey]:
    """The ORDER BY expressions with ``id`` last as the tiebreaker."""
    return [*fields(query.order_by or DEFAULT_ORDER_FIELD).sort_keys(), ("`id`", KeyKind.INT)]


def _after(keys: list[SortKey], start: list[KeyValue], descending: bool, binder: Binder) -> str:
    """Rows strictly after ``start`` in the sort order: a lexicographic keyset comparison.

    The leading ``k1 >= v1 AND`` repeats what the OR chain implies so that the optimizer sees a
    range on the first key (``created_at`` and ``modified_at`` are indexed).
    """
    beyond = "<" if descending else ">"

    def placeholder(index: int) -> str:
        value = start[index]
        if keys[index][1] is KeyKind.DECIMAL and isinstance(value, Decimal):
            return binder.decimal(value)
        return binder.bind(value)

    leading = f"{keys[0][0]} {beyond}= {placeholder(0)}"
    alternatives = []
    for i, (expr, _) in enumerate(keys):
        tests = [f"{keys[j][0]} = {placeholder(j)}" for j in range(i)]
        tests.append(f"{expr} {beyond} {placeholder(i)}")
        alternatives.append("(" + " AND ".join(tests) + ")")
    return f"({leading} AND ({' OR '.join(alternatives)}))"
