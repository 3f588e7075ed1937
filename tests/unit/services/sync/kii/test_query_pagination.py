"""The opaque paginationKey: cutting pages, the keyset condition it resumes with, refusing foreign keys."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.sync.kii.errors import INVALID_INPUT_DATA, KiiQueryError
from services.sync.kii.query_model import parse_query
from services.sync.kii.query_sql import ObjectScope, build_sql, page_from_rows

SCOPE = ObjectScope(app_id="app1", scope_type="app", scope_id="", bucket="readings")


def request(**options: Any) -> dict[str, Any]:
    return {"bucketQuery": {"clause": {"type": "eq", "field": "kind", "value": "bp"}, **options}, "bestEffortLimit": 2}


def row(object_id: str, *sort_key: object) -> tuple[object, ...]:
    return (object_id, 1, None, "{}", 1000, 2000, *sort_key)


def next_key(options: dict[str, Any], rows: list[tuple[object, ...]]) -> str:
    page = page_from_rows(parse_query(request(**options)), rows)
    assert page.next_pagination_key is not None
    return page.next_pagination_key


def test_no_key_when_the_extra_row_is_absent() -> None:
    query = parse_query(request())
    page = page_from_rows(query, [row("a", 1000, 1), row("b", 1000, 2)])
    assert page == ([row("a")[:6], row("b")[:6]], None)


def test_the_extra_row_yields_a_key_and_is_not_served() -> None:
    page = page_from_rows(parse_query(request()), [row("a", 1000, 1), row("b", 1000, 2), row("c", 1001, 3)])
    assert [r[0] for r in page.rows] == ["a", "b"] and page.next_pagination_key is not None
    assert set(page.next_pagination_key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_resuming_binds_the_last_sort_key() -> None:
    key = next_key({}, [row("a", 1000, 1), row("b", 1000, 2), row("c", 1001, 3)])
    sql, params = build_sql(parse_query({**request(), "paginationKey": key}), SCOPE)
    assert "AND (`created_at` >= %s AND ((`created_at` > %s) OR (`created_at` = %s AND `id` > %s))) ORDER BY" in sql
    assert params[-5:] == (1000, 1000, 1000, 2, 3)


def test_resuming_a_json_sort_key_restores_decimal_and_bytes() -> None:
    options = {"orderBy": "reading.value", "descending": True}
    key = next_key(
        options,
        [
            row("a", 2, Decimal("9.5"), b"", 7),
            row("b", 3, Decimal(0), b"\xc3\xa9'", 4),
            row("c", 3, Decimal(0), b"a", 9),
        ],
    )
    sql, params = build_sql(parse_query({**request(**options), "paginationKey": key}), SCOPE)
    assert sql.count("CAST(%s AS DECIMAL(65,30))") == 3  # the three comparisons with the decimal key
    assert params[5:-1] == (3, 3, 3, "0", 3, "0", b"\xc3\xa9'", 3, "0", b"\xc3\xa9'", 4)
    assert b"\xc3\xa9'".decode() not in sql


def test_a_key_survives_a_new_limit_but_not_a_new_order_or_clause() -> None:
    key = next_key({"orderBy": "_modified"}, [row("a", 2000, 1), row("b", 2000, 2), row("c", 2001, 3)])
    resumed = {**request(orderBy="_modified"), "paginationKey": key}
    build_sql(parse_query({**resumed, "bestEffortLimit": 50}), SCOPE)
    for changed in (
        {**resumed, "bucketQuery": {**resumed["bucketQuery"], "descending": True}},
        {**resumed, "bucketQuery": {**resumed["bucketQuery"], "orderBy": "_created"}},
        {
            **resumed,
            "bucketQuery": {**resumed["bucketQuery"], "clause": {"type": "eq", "field": "kind", "value": "bq"}},
        },
    ):
        with pytest.raises(KiiQueryError) as caught:
            build_sql(parse_query(changed), SCOPE)
        assert caught.value.code == INVALID_INPUT_DATA


def _reencode(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _tampered_keys(key: str) -> list[str]:
    document = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))
    flipped = key[:-3] + ("A" if key[-3] != "A" else "B") + key[-2:]
    return [
        flipped,
        key[:-4],
        key + "!",
        "not a key",
        "",
        _reencode({**document, "k": [document["k"][0] + 1, document["k"][1]]}),  # moved cursor, stale digest
        _reencode({**document, "k": document["k"][:1]}),
        _reencode({**document, "v": 2}),
        _reencode({**document, "h": 5}),
        _reencode({**document, "h": "é" * 32}),
        _reencode([document]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _reencode({"v": 1, "k": "[" * 1500}),
        base64.urlsafe_b64encode(b"[" * 2000).decode(),
    ]


def test_tampered_keys_are_invalid_input_data() -> None:
    key = next_key({}, [row("a", 1000, 1), row("b", 1000, 2), row("c", 1001, 3)])
    for tampered in _tampered_keys(key):
        body = {**request(), "paginationKey": tampered}
        if tampered == "":
            assert parse_query(body).pagination_key is None
            continue
        with pytest.raises(KiiQueryError) as caught:
            build_sql(parse_query(body), SCOPE)
        assert caught.value.code == INVALID_INPUT_DATA
        assert caught.value.message == "paginationKey was not issued by this server for this query"


@given(
    st.text(min_size=1, max_size=300)
    | st.binary(min_size=1, max_size=300).map(lambda raw: base64.urlsafe_b64encode(raw).decode())
)
def test_any_other_key_is_invalid_input_data(key: str) -> None:
    query = parse_query({**request(orderBy="reading.value"), "paginationKey": key})
    with pytest.raises(KiiQueryError) as caught:
        build_sql(query, SCOPE)
    assert caught.value.code == INVALID_INPUT_DATA


def test_a_row_without_its_sort_key_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        page_from_rows(parse_query(request()), [row("a"), row("b"), row("c")])
    with pytest.raises(TypeError):
        page_from_rows(parse_query(request()), [row("a", 1, 1), row("b", "1000", 2), row("c", 1, 3)])
