"""Kii query translation on the real MariaDB: every clause type, the type-strict three-valued
semantics, ordering and keyset pagination, each checked against the reference evaluator over the
fixture objects of ``store``, and random clause trees compared with it through hypothesis."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.sync.kii.errors import INVALID_INPUT_DATA, KiiQueryError
from services.sync.kii.query_fields import ColumnSpec
from services.sync.kii.query_model import MAX_CLAUSE_DEPTH, FieldType, parse_query
from services.sync.kii.query_sql import build_count_sql, build_sql, page_from_rows
from shared.settings import CommonSettings
from tests.integration.kii_query.reference import (
    TYPE_RANKS,
    expected_ids,
    field_value,
    json_type,
    sort_key,
)
from tests.integration.kii_query.store import (
    ALL_IDS,
    FIRST_CREATED_MS,
    INSERT_OBJECT,
    OBJECTS,
    SCOPE,
    Database,
)
from tests.integration.kii_query.strategies import FIELDS, clause_trees, depth

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db() -> Iterator[Database]:
    """The scratch database with the fixture objects, dropped after the module."""
    database = Database(CommonSettings())
    try:
        database.load()
        yield database
    finally:
        database.drop()


def run(db: Database, request: dict[str, Any], column_map: Mapping[str, ColumnSpec] | None = None) -> list[str]:
    """Object ids of every page of ``request``, following nextPaginationKey to the end."""
    ids: list[str] = []
    key: str | None = request.get("paginationKey")
    for _ in range(len(OBJECTS) + 2):
        query = parse_query({**request, "paginationKey": key})
        sql, params = build_sql(query, SCOPE, column_map)
        page = page_from_rows(query, db.rows(sql, params), column_map)
        assert len(page.rows) <= query.limit
        ids += [str(row[0]) for row in page.rows]
        if page.next_pagination_key is None:
            return ids
        key = page.next_pagination_key
    raise AssertionError("pagination did not end")


def count(db: Database, request: dict[str, Any]) -> int:
    """The COUNT aggregation of ``request``."""
    aggregations = [{"type": "COUNT", "putAggregationInto": "n"}]
    query = parse_query({**request, "bucketQuery": {**request["bucketQuery"], "aggregations": aggregations}})
    return int(db.rows(*build_count_sql(query, SCOPE))[0][0])


def where(clause: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"bucketQuery": {"clause": clause, **options}}


def eq(field: str, value: object) -> dict[str, Any]:
    return {"type": "eq", "field": field, "value": value}


def check(db: Database, request: dict[str, Any], expected: set[str] | None = None) -> list[str]:
    """Run the query: it must agree with the reference, with ``expected`` if given, and with COUNT."""
    got = run(db, request)
    assert got == expected_ids(db.objects, parse_query(request))
    if expected is not None:
        assert set(got) == expected
    assert len(set(got)) == len(got)
    assert count(db, request) == len(got)
    return got


# --- Clause semantics ---------------------------------------------------------------------------


def test_all_sees_exactly_the_scope(db: Database) -> None:
    assert set(check(db, where({"type": "all"}))) == ALL_IDS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, {"n-int-10", "n-dec-10"}),  # integers and decimals are one type for comparison
        (10.0, {"n-int-10", "n-dec-10"}),
        ("10", {"n-str-10"}),  # type-strict: "10" != 10
        (10.5, {"n-dec-10-5"}),
        (0.1, {"n-tenth"}),
        (0, {"n-zero", "n-minus-zero"}),
        (1000, {"n-exp"}),
        (9007199254740993, {"n-big-odd"}),  # beyond double precision, still exact
        (True, {"n-true"}),
        (99, set()),
    ],
)
def test_eq_is_type_strict(db: Database, value: object, expected: set[str]) -> None:
    check(db, where(eq("n", value)), expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, {"n-int-10", "flag-true", "mixed-1"}),  # JSON true, not 1 nor "true"
        (False, {"n-dec-10", "flag-false", "mixed-2"}),
        (1, {"flag-one"}),
        ("true", {"flag-str"}),
    ],
)
def test_eq_on_booleans(db: Database, value: object, expected: set[str]) -> None:
    check(db, where(eq("flag", value)), expected)


def test_eq_on_strings_is_exact(db: Database) -> None:
    check(db, where(eq("s", "a")), {"n-int-10"})  # not "a " (PAD SPACE) nor "A"
    check(db, where(eq("s", "A")), {"n-str-10"})
    check(db, where(eq("s", "é")), {"n-array"})
    check(db, where(eq("s", "O'Reilly")), {"n-tenth"})
    check(db, where(eq("s", "back\\slash")), {"n-neg-half"})
    check(db, where(eq("s", 'quote"d')), {"n-minus-zero"})
    check(db, where(eq("s", "x" * 300)), {"long-string"})


def test_absent_and_null_fields_never_match_a_comparison(db: Database) -> None:
    check(db, where(eq("nothing", 1)), set())
    check(db, where({"type": "not", "clause": eq("nothing", 1)}), set())
    assert "flag-null" not in check(db, where({"type": "not", "clause": eq("flag", True)}))


def test_not_matches_only_objects_holding_a_comparable_value(db: Database) -> None:
    got = set(check(db, where({"type": "not", "clause": eq("n", 10)})))
    assert {"n-neg", "n-tenth", "mixed-2", "n-big-odd"} <= got
    # Absent, null, array, object, string and boolean values are UNKNOWN, and not UNKNOWN is UNKNOWN.
    unknown = {"n-str-10", "n-null", "n-array", "n-object", "n-true", "empty-body"}
    assert not got & ({"n-int-10", "n-dec-10"} | unknown)


def test_not_of_has_field_finds_objects_without_the_field(db: Database) -> None:
    has_integer_score = {"type": "hasField", "field": "score", "fieldType": "INTEGER"}
    got = set(check(db, where({"type": "not", "clause": has_integer_score})))
    assert got == ALL_IDS - {"mixed-1", "mixed-4", "mixed-5"}


def test_and_or_nesting(db: Database) -> None:
    clause = {
        "type": "or",
        "clauses": [
            {"type": "and", "clauses": [eq("s", "m"), {"type": "range", "field": "n", "lowerLimit": 5}]},
            {"type": "and", "clauses": [eq("s", "zz"), {"type": "not", "clause": eq("flag", True)}]},
        ],
    }
    check(db, where(clause), {"mixed-1", "mixed-2", "flag-false"})


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({"lowerLimit": 5, "upperLimit": 10, "upperIncluded": False}, {"mixed-1", "mixed-2", "mixed-4", "mixed-5"}),
        ({"lowerLimit": 5, "lowerIncluded": False, "upperLimit": 10}, {"mixed-4", "mixed-5", "n-int-10", "n-dec-10"}),
        ({"upperLimit": 0, "upperIncluded": False}, {"n-neg", "n-neg-half"}),
        ({"lowerLimit": 0, "upperLimit": 0.1}, {"n-zero", "n-minus-zero", "n-exp-frac", "n-tenth"}),
        ({"lowerLimit": 9007199254740993}, {"n-big-odd"}),
        ({"lowerLimit": 1e-40, "lowerIncluded": False, "upperLimit": 0.01}, {"n-exp-frac"}),  # 1e-40 rounds to 0
    ],
)
def test_range_on_numbers(db: Database, limits: dict[str, Any], expected: set[str]) -> None:
    check(db, where({"type": "range", "field": "n", **limits}), expected)


def test_range_on_strings_uses_code_point_order(db: Database) -> None:
    a_to_b = {"type": "range", "field": "s", "lowerLimit": "a", "upperLimit": "b", "upperIncluded": False}
    check(
        db,
        where(a_to_b),
        {"n-int-10", "n-dec-10", "n-neg", "n-exp", "n-exp-frac", "n-true", "n-null", "s-abd", "s-tab"},
    )
    check(
        db,
        where({"type": "range", "field": "s", "lowerLimit": "z", "lowerIncluded": False}),
        {"flag-true", "flag-false", "n-array", "n-object", "unicode"},
    )
    # A string range never matches the number 10, only strings such as "10".
    check(db, where({"type": "range", "field": "n", "lowerLimit": "0", "upperLimit": "9"}), {"n-str-10", "mixed-3"})


def test_in_on_numbers_strings_and_mixed(db: Database) -> None:
    check(
        db,
        where({"type": "in", "field": "n", "values": [10, -3, 7]}),
        {"n-int-10", "n-dec-10", "n-neg", "mixed-4", "mixed-5"},
    )
    check(db, where({"type": "in", "field": "s", "values": ["a", "A", "é"]}), {"n-int-10", "n-str-10", "n-array"})
    check(db, where({"type": "in", "field": "n", "values": ["5", 12, True]}), {"mixed-3", "unicode", "n-true"})


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("ab%", {"n-exp"}),  # % and _ are literal, not LIKE wildcards
        ("a_", {"n-exp-frac"}),
        ("a%", {"n-true"}),
        ("b", {"n-dec-10-5", "n-upper-exp", "n-neg-half"}),
        ("日本", {"unicode"}),
        ("x" * 250, {"long-string"}),
    ],
)
def test_prefix(db: Database, prefix: str, expected: set[str]) -> None:
    check(db, where({"type": "prefix", "field": "s", "prefix": prefix}), expected)


def test_prefix_ignores_non_strings(db: Database) -> None:
    check(db, where({"type": "prefix", "field": "n", "prefix": "1"}), {"n-str-10"})


@pytest.mark.parametrize(
    ("field_type", "expected"),
    [
        (
            "INTEGER",
            {"n-int-10", "n-neg", "n-zero", "n-big-odd", "n-big-even", "mixed-1", "mixed-4", "mixed-5", "unicode"},
        ),
        # 1e3 and 1E2 are doubles to Kii even though MariaDB's JSON_TYPE calls them INTEGER.
        (
            "DECIMAL",
            {
                "n-dec-10",
                "n-dec-10-5",
                "n-exp",
                "n-exp-frac",
                "n-tenth",
                "n-neg-half",
                "n-minus-zero",
                "n-upper-exp",
                "mixed-2",
            },
        ),
        ("STRING", {"n-str-10", "mixed-3"}),
        ("BOOLEAN", {"n-true"}),
    ],
)
def test_has_field_tells_json_types_apart(db: Database, field_type: str, expected: set[str]) -> None:
    check(db, where({"type": "hasField", "field": "n", "fieldType": field_type}), expected)


def test_nested_fields(db: Database) -> None:
    check(db, where(eq("nested.a.b.c", 2)), {"nest-int"})
    check(db, where(eq("nested.a.b.c", "2")), {"nest-str"})
    check(db, where({"type": "hasField", "field": "nested.a.b", "fieldType": "INTEGER"}), {"nest-short"})
    check(db, where({"type": "hasField", "field": "nested.a.b.c", "fieldType": "INTEGER"}), {"n-int-10", "nest-int"})
    check(db, where(eq("a.b", 1)), set())  # a key named "a.b" is not the path a -> b


def test_system_fields_map_to_columns(db: Database) -> None:
    check(db, where(eq("_id", "n-int-10")), {"n-int-10"})
    check(db, where(eq("_id", "N-INT-10")), set())  # case-sensitive despite the column's ci collation
    check(db, where(eq("_id", "né")), set())
    check(
        db,
        where({"type": "in", "field": "_id", "values": ["mixed-1", "mixed-2", "MIXED-3", "é"]}),
        {"mixed-1", "mixed-2"},
    )
    check(
        db,
        where({"type": "prefix", "field": "_id", "prefix": "flag-"}),
        {"flag-true", "flag-false", "flag-one", "flag-zero", "flag-str", "flag-null"},
    )
    check(db, where(eq("_version", 2)))
    created_range = {
        "type": "range",
        "field": "_created",
        "lowerLimit": FIRST_CREATED_MS + 3000,
        "upperLimit": FIRST_CREATED_MS + 4000,
    }
    check(db, where(created_range), {object_id for object_id, _ in OBJECTS[6:10]})
    check(db, where(eq("_created", str(FIRST_CREATED_MS))), set())  # type-strict on columns too
    check(
        db,
        where({"type": "hasField", "field": "_owner", "fieldType": "STRING"}),
        {obj.object_id for obj in db.objects if obj.owner is not None},
    )
    check(
        db,
        where({"type": "not", "clause": eq("_owner", "user-1")}),
        {obj.object_id for obj in db.objects if obj.owner == "user-2"},
    )


def test_column_map_adds_typed_columns(db: Database) -> None:
    column_map = {"createdAt": ColumnSpec("created_at", FieldType.INTEGER)}
    limit = FIRST_CREATED_MS + 2000
    mapped = where({"type": "range", "field": "createdAt", "upperLimit": limit}, orderBy="createdAt", descending=True)
    system = where({"type": "range", "field": "_created", "upperLimit": limit}, orderBy="_created", descending=True)
    expected = run(db, system)
    assert run(db, mapped, column_map) == expected
    assert len(expected) == 6


# --- Ordering and pagination --------------------------------------------------------------------


@pytest.mark.parametrize("order_by", [None, "n", "s", "flag", "nested.a.b.c", "_id", "_owner", "_modified"])
@pytest.mark.parametrize("descending", [False, True])
def test_pages_of_three_walk_the_whole_order(db: Database, order_by: str | None, descending: bool) -> None:
    options: dict[str, Any] = {"orderBy": order_by, "descending": descending} if order_by else {}
    whole = check(db, where({"type": "all"}, **options))
    assert run(db, {**where({"type": "all"}, **options), "bestEffortLimit": 3}) == whole
    assert len(whole) == len(ALL_IDS)


def test_order_by_a_json_field_puts_absent_values_first_then_by_type(db: Database) -> None:
    ordered = run(db, where({"type": "all"}, orderBy="n"))
    by_id = {obj.object_id: obj for obj in db.objects}
    ranks = [TYPE_RANKS.get(json_type(field_value(by_id[i], "n")) or "", 0) for i in ordered]
    assert ranks == sorted(ranks) and ranks[0] == 0 and ranks[-1] == 3
    numbers = ["n-neg", "n-neg-half", "n-zero", "n-tenth", "mixed-1", "n-int-10", "n-exp"]
    assert [i for i in ordered if i in numbers] == numbers


def test_keyset_pages_survive_concurrent_inserts(db: Database) -> None:
    request = {**where({"type": "all"}), "bestEffortLimit": 5}
    first = parse_query(request)
    page = page_from_rows(first, db.rows(*build_sql(first, SCOPE)))
    scope = (SCOPE.app_id, SCOPE.scope_type, SCOPE.scope_id, SCOPE.bucket)
    try:
        db.rows(INSERT_OBJECT, (*scope, "late-early", 1, None, "{}", 0, 1))  # before the cursor: never served
        db.rows(INSERT_OBJECT, (*scope, "late-last", 1, None, "{}", 2 * FIRST_CREATED_MS, 1))  # served last
        rest = run(db, {**request, "paginationKey": page.next_pagination_key})
    finally:
        db.rows("DELETE FROM kii_objects WHERE object_id IN (%s, %s)", ("late-early", "late-last"))
    in_order = [obj.object_id for obj in sorted(db.objects, key=lambda obj: sort_key(obj, None))]
    assert [str(row[0]) for row in page.rows] + rest == [*in_order, "late-last"]


def test_a_key_for_another_query_is_refused(db: Database) -> None:
    query = parse_query({**where(eq("s", "m")), "bestEffortLimit": 1})
    key = page_from_rows(query, db.rows(*build_sql(query, SCOPE))).next_pagination_key
    assert key is not None
    with pytest.raises(KiiQueryError) as caught:
        build_sql(parse_query({**where(eq("s", "n")), "paginationKey": key}), SCOPE)
    assert caught.value.code == INVALID_INPUT_DATA


# --- Random clause trees against the reference ----------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    clause=clause_trees,
    order_by=st.sampled_from([None, *FIELDS]),
    descending=st.booleans(),
    limit=st.sampled_from([None, 1, 2, 3, 7, 50]),
)
def test_random_queries_match_the_reference(
    db: Database, clause: dict[str, Any], order_by: str | None, descending: bool, limit: int | None
) -> None:
    assume(depth(clause) <= MAX_CLAUSE_DEPTH)
    options: dict[str, Any] = {"orderBy": order_by, "descending": descending} if order_by else {}
    request = {**where(clause, **options), "bestEffortLimit": limit}
    reference = expected_ids(db.objects, parse_query(request))
    assert run(db, request) == reference
    assert count(db, request) == len(reference)


@pytest.mark.parametrize("order_by", ["_created", "_modified"])
def test_a_later_page_reads_from_its_key_not_from_the_bucket_start(db: Database, order_by: str) -> None:
    """Keyset pagination is a range read from the paginationKey: a page costs its own rows, whatever
    its depth (without the index hint MariaDB walked every earlier page's rows again)."""
    request = where({"type": "all"}, orderBy=order_by, descending=True)
    request["bestEffortLimit"] = 3
    key = None
    for _ in range(4):  # to the fifth page
        query = parse_query({**request, "paginationKey": key})
        key = page_from_rows(query, db.rows(*build_sql(query, SCOPE))).next_pagination_key
    sql, params = build_sql(parse_query({**request, "paginationKey": key}), SCOPE)
    (plan,) = db.rows("ANALYZE FORMAT=JSON " + sql, params)[0]
    table = json.loads(plan)["query_block"]["nested_loop"][0]["table"]
    assert table["access_type"] == "range"
    assert table["r_rows"] <= 4  # bestEffortLimit + the one extra row that says a next page exists
