"""Parsing and validation of Kii QueryRequest bodies: the model built, and the errorCode of each refusal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.sync.kii.errors import INVALID_INPUT_DATA, QUERY_NOT_SUPPORTED, KiiQueryError
from services.sync.kii.query_model import (
    DEFAULT_PAGE_SIZE,
    FIELD_NAME_PATTERN,
    MAX_CLAUSE_DEPTH,
    MAX_CLAUSES,
    MAX_PAGE_SIZE,
    AllClause,
    AndClause,
    EqClause,
    FieldType,
    HasFieldClause,
    InClause,
    KiiQuery,
    NotClause,
    OrClause,
    PrefixClause,
    RangeClause,
    parse_query,
)

# The querying sample of the Kii REST guide (reference/kii-api.md 2.4, docs.kii.com querying-sample).
KII_GUIDE_SAMPLE = {
    "bucketQuery": {
        "clause": {
            "type": "and",
            "clauses": [
                {
                    "type": "or",
                    "clauses": [
                        {"type": "range", "field": "age", "upperLimit": 18, "upperIncluded": True},
                        {"type": "range", "field": "age", "lowerLimit": 65, "lowerIncluded": False},
                    ],
                },
                {"type": "eq", "field": "gender", "value": "Female"},
            ],
        },
        "orderBy": "age",
        "descending": True,
    },
    "bestEffortLimit": 100,
}

# What the Unity SDK sends for bucket.Count(query) (KiiCloudUnitySDK TestObjectCount Test_2_2).
UNITY_COUNT = {
    "bucketQuery": {
        "clause": {"type": "eq", "field": "key", "value": "value"},
        "aggregations": [{"type": "COUNT", "putAggregationInto": "count_field"}],
    }
}


def where(clause: object, **options: Any) -> dict[str, Any]:
    return {"bucketQuery": {"clause": clause, **options}}


def nested_nots(depth: int) -> dict[str, Any]:
    clause: dict[str, Any] = {"type": "all"}
    for _ in range(depth - 1):
        clause = {"type": "not", "clause": clause}
    return clause


def test_parses_the_kii_guide_sample() -> None:
    assert parse_query(KII_GUIDE_SAMPLE) == KiiQuery(
        clause=AndClause(
            (
                OrClause(
                    (
                        RangeClause("age", None, True, Decimal(18), True),
                        RangeClause("age", Decimal(65), False, None, True),
                    )
                ),
                EqClause("gender", "Female"),
            )
        ),
        order_by="age",
        descending=True,
        limit=100,
    )


def test_parses_every_clause_type() -> None:
    clause = {
        "type": "or",
        "clauses": [
            {"type": "all"},
            {"type": "not", "clause": {"type": "eq", "field": "on", "value": True}},
            {"type": "in", "field": "n", "values": [1, 2.5, "x", False]},
            {"type": "prefix", "field": "name", "prefix": "Jo"},
            {"type": "hasField", "field": "a.b", "fieldType": "DECIMAL"},
        ],
    }
    assert parse_query(where(clause)).clause == OrClause(
        (
            AllClause(),
            NotClause(EqClause("on", True)),
            InClause("n", (Decimal(1), Decimal("2.5"), "x", False)),
            PrefixClause("name", "Jo"),
            HasFieldClause("a.b", FieldType.DECIMAL),
        )
    )


def test_parses_what_the_sdks_send() -> None:
    assert parse_query(where({"type": "all"})) == KiiQuery(AllClause())  # JS KiiQuery.toDict() of all()
    assert parse_query(UNITY_COUNT) == KiiQuery(EqClause("key", "value"), count_field="count_field")
    assert parse_query({**where({"type": "all"}), "paginationKey": ""}).pagination_key is None


def test_numbers_keep_the_decimal_the_client_wrote() -> None:
    raw = [0.1, 10, 10.0, 1e-7, 2**63, 5.879326759561209e-38, Decimal("-1.50")]
    values = parse_query(where({"type": "in", "field": "n", "values": raw})).clause
    expected = ["0.1", "10", "10.0", "1E-7", str(2**63), "5.879326759561209E-38", "-1.50"]
    assert values == InClause("n", tuple(Decimal(text) for text in expected))
    assert parse_query(where({"type": "eq", "field": "n", "value": True})).clause == EqClause("n", True)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (None, DEFAULT_PAGE_SIZE),
        (1, 1),
        (200, 200),
        (201, MAX_PAGE_SIZE),
        (10**9, MAX_PAGE_SIZE),
        (0, DEFAULT_PAGE_SIZE),
        (-5, DEFAULT_PAGE_SIZE),
    ],
)
def test_best_effort_limit_is_clamped(limit: int | None, expected: int) -> None:
    assert parse_query({**where({"type": "all"}), "bestEffortLimit": limit}).limit == expected


def test_descending_without_order_by_has_no_effect() -> None:
    assert parse_query(where({"type": "all"}, descending=True)).descending is False


def test_range_bounds_are_inclusive_unless_said_otherwise() -> None:
    clause = parse_query(where({"type": "range", "field": "s", "lowerLimit": "a", "upperLimit": "b"})).clause
    assert clause == RangeClause("s", "a", True, "b", True)


def test_limits_hold_at_their_edges() -> None:
    parse_query(where(nested_nots(MAX_CLAUSE_DEPTH)))
    parse_query(where({"type": "and", "clauses": [{"type": "all"}] * (MAX_CLAUSES - 1)}))
    parse_query(where({"type": "in", "field": "n", "values": list(range(200))}))
    parse_query(where({"type": "eq", "field": "f" * 250, "value": 1}))


def field(name: object) -> dict[str, Any]:
    return where({"type": "eq", "field": name, "value": 1})


def value(raw: object) -> dict[str, Any]:
    return where({"type": "eq", "field": "f", "value": raw})


@pytest.mark.parametrize(
    ("body", "location"),
    [
        ([], "the request body"),
        ({}, "bucketQuery"),
        ({"bucketQuery": []}, "bucketQuery"),
        ({"bucketQuery": {}}, "bucketQuery.clause"),
        (where("all"), "bucketQuery.clause"),
        (where({"field": "a"}), "bucketQuery.clause.type"),
        (where({"type": 1}), "bucketQuery.clause.type"),
        (where({"type": "eq", "value": 1}), "bucketQuery.clause.field"),
        (field(""), "bucketQuery.clause.field"),
        (field("a b"), "bucketQuery.clause.field"),
        (field("a-b"), "bucketQuery.clause.field"),
        (field("a..b"), "bucketQuery.clause.field"),
        (field(".a"), "bucketQuery.clause.field"),
        (field("a."), "bucketQuery.clause.field"),
        (field("a\n"), "bucketQuery.clause.field"),
        (field("a'b"), "bucketQuery.clause.field"),
        (field('a"b'), "bucketQuery.clause.field"),
        (field("a`b"), "bucketQuery.clause.field"),
        (field("é"), "bucketQuery.clause.field"),
        (field("$.a"), "bucketQuery.clause.field"),
        (field("a[0]"), "bucketQuery.clause.field"),
        (field("f" * 251), "bucketQuery.clause.field"),
        (field(5), "bucketQuery.clause.field"),
        (value(None), "bucketQuery.clause.value"),
        (value([1]), "bucketQuery.clause.value"),
        (value({"a": 1}), "bucketQuery.clause.value"),
        (value(float("nan")), "bucketQuery.clause.value"),
        (value(float("inf")), "bucketQuery.clause.value"),
        (value(1e35), "bucketQuery.clause.value"),
        (value(10**35), "bucketQuery.clause.value"),
        (value(10**5000), "bucketQuery.clause.value"),
        (value(Decimal("NaN")), "bucketQuery.clause.value"),
        (value("\ud800"), "bucketQuery.clause.value"),
        (where({"type": "in", "field": "f", "values": []}), "bucketQuery.clause.values"),
        (where({"type": "in", "field": "f", "values": 1}), "bucketQuery.clause.values"),
        (where({"type": "in", "field": "f"}), "bucketQuery.clause.values"),
        (where({"type": "in", "field": "f", "values": list(range(201))}), "bucketQuery.clause.values"),
        (where({"type": "in", "field": "f", "values": [1, None]}), "bucketQuery.clause.values[1]"),
        (where({"type": "range", "field": "f"}), "bucketQuery.clause"),
        (where({"type": "range", "field": "f", "lowerLimit": None, "upperLimit": None}), "bucketQuery.clause"),
        (where({"type": "range", "field": "f", "lowerLimit": True}), "bucketQuery.clause.lowerLimit"),
        (where({"type": "range", "field": "f", "lowerLimit": 1, "upperLimit": "z"}), "bucketQuery.clause"),
        (
            where({"type": "range", "field": "f", "upperLimit": 1, "upperIncluded": "yes"}),
            "bucketQuery.clause.upperIncluded",
        ),
        (where({"type": "prefix", "field": "f"}), "bucketQuery.clause.prefix"),
        (where({"type": "prefix", "field": "f", "prefix": 1}), "bucketQuery.clause.prefix"),
        (where({"type": "hasField", "field": "f", "fieldType": "LONG"}), "bucketQuery.clause.fieldType"),
        (where({"type": "hasField", "field": "f", "fieldType": "string"}), "bucketQuery.clause.fieldType"),
        (where({"type": "hasField", "field": "f"}), "bucketQuery.clause.fieldType"),
        (where({"type": "and", "clauses": []}), "bucketQuery.clause.clauses"),
        (where({"type": "or", "clauses": {"type": "all"}}), "bucketQuery.clause.clauses"),
        (where({"type": "or", "clauses": [{"type": "all"}, "all"]}), "bucketQuery.clause.clauses[1]"),
        (where({"type": "not"}), "bucketQuery.clause.clause"),
        (
            where({"type": "not", "clause": {"type": "eq", "field": "x y", "value": 1}}),
            "bucketQuery.clause.clause.field",
        ),
        (where({"type": "all"}, orderBy="a b"), "bucketQuery.orderBy"),
        (where({"type": "all"}, orderBy=5), "bucketQuery.orderBy"),
        (where({"type": "all"}, descending="true"), "bucketQuery.descending"),
        ({**where({"type": "all"}), "bestEffortLimit": "10"}, "bestEffortLimit"),
        ({**where({"type": "all"}), "bestEffortLimit": 1.5}, "bestEffortLimit"),
        ({**where({"type": "all"}), "bestEffortLimit": True}, "bestEffortLimit"),
        ({**where({"type": "all"}), "paginationKey": 5}, "paginationKey"),
        ({**where({"type": "all"}), "paginationKey": "k" * 5000}, "paginationKey"),
        (where({"type": "all"}, aggregations={"type": "COUNT"}), "bucketQuery.aggregations"),
        (where({"type": "all"}, aggregations=["COUNT"]), "bucketQuery.aggregations[0]"),
        (where({"type": "all"}, aggregations=[{"type": "COUNT"}]), "bucketQuery.aggregations[0].putAggregationInto"),
        (
            where({"type": "all"}, aggregations=[{"type": "COUNT", "putAggregationInto": "a b"}]),
            "bucketQuery.aggregations[0].putAggregationInto",
        ),
    ],
)
def test_malformed_requests_are_invalid_input_data(body: Any, location: str) -> None:
    with pytest.raises(KiiQueryError) as caught:
        parse_query(body)
    assert caught.value.code == INVALID_INPUT_DATA
    assert caught.value.message.startswith(location + " ")


@pytest.mark.parametrize(
    ("body", "location"),
    [
        (where({"type": "geobox", "field": "loc", "box": {}}), "bucketQuery.clause.type"),
        (where({"type": "geodistance", "field": "loc"}), "bucketQuery.clause.type"),
        (where({"type": "contains", "field": "userOwners"}), "bucketQuery.clause.type"),
        (where({"type": "EQ", "field": "f", "value": 1}), "bucketQuery.clause.type"),
        (where(nested_nots(MAX_CLAUSE_DEPTH + 1)), "bucketQuery" + ".clause" * (MAX_CLAUSE_DEPTH + 1)),
        (
            where({"type": "and", "clauses": [{"type": "all"}] * MAX_CLAUSES}),
            f"bucketQuery.clause.clauses[{MAX_CLAUSES - 1}]",
        ),
        (
            where({"type": "all"}, aggregations=[{"type": "SUM", "putAggregationInto": "s"}]),
            "bucketQuery.aggregations[0].type",
        ),
        (
            where({"type": "all"}, aggregations=[{"type": "COUNT", "putAggregationInto": "c"}] * 2),
            "bucketQuery.aggregations",
        ),
        ({**UNITY_COUNT, "paginationKey": "pkey"}, "paginationKey"),  # Kii's answer (Unity Test_2_6)
    ],
)
def test_queries_beyond_this_server_are_query_not_supported(body: Any, location: str) -> None:
    with pytest.raises(KiiQueryError) as caught:
        parse_query(body)
    assert caught.value.code == QUERY_NOT_SUPPORTED
    assert caught.value.message.startswith(location + ":")


def test_messages_never_echo_client_input() -> None:
    # The JS SDK loses the errorCode of a message holding a raw % (reference section 8).
    for body in (field("100%' OR 1=1"), where({"type": "100%", "field": "f"})):
        with pytest.raises(KiiQueryError) as caught:
            parse_query(body)
        assert "%" not in caught.value.message and "OR 1=1" not in caught.value.message
    with pytest.raises(KiiQueryError) as caught:
        parse_query(where({"type": "geohash"}))
    assert "geohash is not a supported clause type" in caught.value.message


@given(st.text(max_size=40))
def test_a_field_name_is_accepted_exactly_when_it_is_a_safe_path(name: str) -> None:
    safe = FIELD_NAME_PATTERN.fullmatch(name) is not None and len(name) <= 250
    try:
        assert parse_query(field(name)).clause == EqClause(name, Decimal(1))
        assert safe
    except KiiQueryError as error:
        assert not safe and error.code == INVALID_INPUT_DATA


CLAUSE_KEYS = [
    "type",
    "field",
    "value",
    "values",
    "clause",
    "clauses",
    "lowerLimit",
    "lowerIncluded",
    "upperLimit",
    "upperIncluded",
    "prefix",
    "fieldType",
]
CLAUSE_TYPES = ["all", "eq", "not", "and", "or", "range", "in", "prefix", "hasField", "geobox", "x%"]
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.sampled_from([*CLAUSE_TYPES, "a", "a.b", "STRING", "INTEGER"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(CLAUSE_KEYS), children, max_size=5),
    ),
    max_leaves=12,
)


@given(
    clause=json_values,
    options=st.dictionaries(st.sampled_from(["orderBy", "descending", "aggregations"]), json_values, max_size=2),
    extra=st.dictionaries(st.sampled_from(["bestEffortLimit", "paginationKey"]), json_values, max_size=2),
)
def test_any_json_parses_or_fails_with_a_kii_error(clause: Any, options: dict[str, Any], extra: dict[str, Any]) -> None:
    try:
        parse_query({**where(clause, **options), **extra})
    except KiiQueryError as error:
        assert error.code in (INVALID_INPUT_DATA, QUERY_NOT_SUPPORTED)
        assert "%" not in error.message
