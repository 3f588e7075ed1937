"""Hypothesis strategies for random Kii clause trees over the fields and values of ``store``'s objects,
so that random queries hit, miss and mistype the fixture values in every combination."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from services.sync.kii.query_model import FieldType
from tests.integration.kii_query.reference import SYSTEM_FIELDS
from tests.integration.kii_query.store import FIRST_CREATED_MS

FIELDS = ["n", "s", "flag", "score", "nested.a.b.c", "nested.a.b", "a.b", "nothing", *SYSTEM_FIELDS]
NUMBERS = [
    0,
    5,
    7,
    10,
    10.0,
    10.5,
    -3,
    -0.5,
    0.1,
    0.0025,
    1000,
    100,
    12,
    77,
    77.5,
    2,
    3,
    9007199254740992,
    9007199254740993,
    FIRST_CREATED_MS + 5000,
    FIRST_CREATED_MS + 900_000,
]
STRINGS = [
    "",
    "a",
    "a ",
    "A",
    "b",
    "ab",
    "ab%",
    "a_c",
    "a%c",
    "abc",
    "é",
    "😀",
    "10",
    "5",
    "true",
    "m",
    "M",
    "zz",
    "n-int-10",
    "user-1",
    "user-2",
    "2",
    "日本語",
    " a",
    "O'Reilly",
]
PREFIXES = ["", "a", "ab", "a_", "a%", "ab%", "A", "é", "x", "n-", "flag-", "user", "1"]

numbers = st.one_of(st.sampled_from(NUMBERS), st.integers(-20, 20))
strings = st.one_of(st.sampled_from(STRINGS), st.text(max_size=3))
scalars = st.one_of(numbers, strings, st.booleans())
field_names = st.sampled_from(FIELDS)


@st.composite
def range_clauses(draw: st.DrawFn) -> dict[str, Any]:
    limits = draw(st.sampled_from([numbers, strings]))
    clause: dict[str, Any] = {"type": "range", "field": draw(field_names)}
    for side in draw(st.sampled_from([("lower",), ("upper",), ("lower", "upper")])):
        clause[f"{side}Limit"] = draw(limits)
        included = draw(st.sampled_from([None, True, False]))
        if included is not None:
            clause[f"{side}Included"] = included
    return clause


leaf_clauses = st.one_of(
    st.builds(lambda f, v: {"type": "eq", "field": f, "value": v}, field_names, scalars),
    st.builds(
        lambda f, vs: {"type": "in", "field": f, "values": vs}, field_names, st.lists(scalars, min_size=1, max_size=4)
    ),
    range_clauses(),
    st.builds(lambda f, p: {"type": "prefix", "field": f, "prefix": p}, field_names, st.sampled_from(PREFIXES)),
    st.builds(
        lambda f, t: {"type": "hasField", "field": f, "fieldType": t},
        field_names,
        st.sampled_from([t.value for t in FieldType]),
    ),
    st.just({"type": "all"}),
)
clause_trees = st.recursive(
    leaf_clauses,
    lambda children: st.one_of(
        st.builds(lambda c: {"type": "not", "clause": c}, children),
        st.builds(lambda cs: {"type": "and", "clauses": cs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda cs: {"type": "or", "clauses": cs}, st.lists(children, min_size=1, max_size=3)),
    ),
    max_leaves=8,
)


def depth(clause: dict[str, Any]) -> int:
    """Nesting depth of a clause tree, 1 for a leaf."""
    children = [clause["clause"]] if "clause" in clause else clause.get("clauses", [])
    return 1 + max((depth(child) for child in children), default=0)
