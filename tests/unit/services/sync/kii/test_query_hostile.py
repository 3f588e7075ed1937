"""Hostile values never reach the SQL text: random clause trees whose strings carry quotes, backslashes,
``%``, NULs and any Unicode come out as ``%s`` placeholders with the values among the parameters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.sync.kii.query_model import FIELD_NAME_PATTERN, FieldType, parse_query
from services.sync.kii.query_sql import ObjectScope, build_count_sql, build_sql, page_from_rows

SCOPE = ObjectScope(app_id="app1", scope_type="thing", scope_id="th.1", bucket="readings")
# Every generated string starts with this marker; the SQL text must never contain it.
MARKER = "zq9"

hostile_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["'", "\\", "%", "%s", "_", "!", "\\'; DROP TABLE kii_objects; --", '"', "`", "\x00", "$.", "\u202e", "😀"]
)
hostile_strings = hostile_text.map(lambda text: MARKER + text)
numbers = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.decimals(min_value=-(10**20), max_value=10**20, places=8, allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e20, max_value=1e20, allow_nan=False),
)
scalars = st.one_of(hostile_strings, numbers, st.booleans())
field_names = st.one_of(
    st.from_regex(FIELD_NAME_PATTERN, fullmatch=True).filter(lambda name: len(name) <= 250),
    st.sampled_from(["_id", "_owner", "_created", "_modified", "_version"]),
)


@st.composite
def range_clauses(draw: st.DrawFn) -> dict[str, Any]:
    limits = draw(st.sampled_from([hostile_strings, numbers]))
    clause: dict[str, Any] = {"type": "range", "field": draw(field_names)}
    for side in draw(st.sampled_from([("lower",), ("upper",), ("lower", "upper")])):
        clause[f"{side}Limit"] = draw(limits)
        clause[f"{side}Included"] = draw(st.booleans())
    return clause


leaves = st.one_of(
    st.builds(lambda f, v: {"type": "eq", "field": f, "value": v}, field_names, scalars),
    st.builds(
        lambda f, vs: {"type": "in", "field": f, "values": vs}, field_names, st.lists(scalars, min_size=1, max_size=5)
    ),
    range_clauses(),
    st.builds(lambda f, p: {"type": "prefix", "field": f, "prefix": p}, field_names, hostile_strings),
    st.builds(
        lambda f, t: {"type": "hasField", "field": f, "fieldType": t},
        field_names,
        st.sampled_from([t.value for t in FieldType]),
    ),
)
trees = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"type": "not", "clause": c}, children),
        st.builds(lambda cs: {"type": "and", "clauses": cs}, st.lists(children, min_size=1, max_size=4)),
        st.builds(lambda cs: {"type": "or", "clauses": cs}, st.lists(children, min_size=1, max_size=4)),
    ),
    max_leaves=10,
)


def expected_params(node: object, key: str = "") -> list[bytes]:
    """How each client string of a clause tree must be bound: UTF-8, prefixes as escaped LIKE patterns.

    System fields are skipped: a string compared with an integer column is dropped as UNKNOWN.
    """
    if isinstance(node, dict) and str(node.get("field", "")).startswith("_"):
        return []
    if isinstance(node, dict):
        return [
            p for k, value in node.items() if k not in ("type", "field", "fieldType") for p in expected_params(value, k)
        ]
    if isinstance(node, list):
        return [p for value in node for p in expected_params(value, key)]
    if not isinstance(node, str):
        return []
    if key == "prefix":
        return ["".join("!" + c if c in "!%_" else c for c in node).encode() + b"%"]
    return [node.encode()]


def assert_only_placeholders(sql: str, params: tuple[object, ...]) -> None:
    assert sql.isascii() and MARKER not in sql
    assert sql.count("%s") == len(params) and "%" not in sql.replace("%s", "")
    assert all(isinstance(param, str | int | bytes) and not isinstance(param, bool) for param in params)


@given(clause=trees, order_by=st.none() | field_names, descending=st.booleans())
def test_hostile_values_are_always_bound(clause: dict[str, Any], order_by: str | None, descending: bool) -> None:
    options = {"orderBy": order_by, "descending": descending} if order_by else {}
    query = parse_query({"bucketQuery": {"clause": clause, **options}, "bestEffortLimit": 1})
    for sql, params in (build_sql(query, SCOPE), build_count_sql(query, SCOPE)):
        assert_only_placeholders(sql, params)
        bound = {param if isinstance(param, bytes) else str(param).encode() for param in params}
        assert set(expected_params(clause)) <= bound


@given(last_value=hostile_strings, last_id=st.integers(1, 2**64 - 1), number=numbers)
def test_hostile_sort_keys_resume_as_parameters(last_value: str, last_id: int, number: object) -> None:
    query = parse_query({"bucketQuery": {"clause": {"type": "all"}, "orderBy": "name"}, "bestEffortLimit": 1})
    rank_number_text = (3, Decimal(str(number)), last_value.encode())
    rows = [("a", 1, None, "{}", 1, 1, *rank_number_text, last_id), ("b", 1, None, "{}", 1, 1, 0, 0, b"", 1)]
    key = page_from_rows(query, rows).next_pagination_key
    assert key is not None and MARKER not in key
    sql, params = build_sql(
        parse_query({**{"bucketQuery": {"clause": {"type": "all"}, "orderBy": "name"}}, "paginationKey": key}), SCOPE
    )
    assert_only_placeholders(sql, params)
    assert last_value.encode() in params and last_id in params
