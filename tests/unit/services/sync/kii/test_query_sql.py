"""Shape of the SQL the query translation generates: scope first, typed expressions, bound values."""

from __future__ import annotations

from typing import Any

import pytest

from services.sync.kii.query_fields import SYSTEM_COLUMNS, ColumnSpec
from services.sync.kii.query_model import FieldType, parse_query
from services.sync.kii.query_sql import ObjectScope, SqlQuery, build_count_sql, build_sql

SCOPE = ObjectScope(app_id="app1", scope_type="user", scope_id="user-1", bucket="readings")
SCOPE_SQL = "`app_id` = %s AND `scope_type` = %s AND `scope_id` = %s AND `bucket` = %s"
SCOPE_PARAMS = ("app1", "user", "user-1", "readings")
S_TYPE = "COALESCE(JSON_TYPE(JSON_EXTRACT(body, '$.\"s\"')), '')"
S_TEXT = "JSON_UNQUOTE(JSON_EXTRACT(body, '$.\"s\"'))"


def where(clause: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"bucketQuery": {"clause": clause, **options}}


def count_sql(clause: dict[str, Any]) -> SqlQuery:
    return build_count_sql(parse_query(where(clause)), SCOPE)


def condition(clause: dict[str, Any]) -> tuple[str, tuple[object, ...]]:
    """The clause's own condition and parameters, after the scope's."""
    sql, params = count_sql(clause)
    prefix = f"SELECT COUNT(*) FROM kii_objects WHERE {SCOPE_SQL} AND "
    assert sql.startswith(prefix) and params[:4] == SCOPE_PARAMS
    return sql.removeprefix(prefix), params[4:]


def test_count_of_everything_filters_by_scope_only() -> None:
    assert count_sql({"type": "all"}) == (f"SELECT COUNT(*) FROM kii_objects WHERE {SCOPE_SQL}", SCOPE_PARAMS)


def test_string_equality_compares_bytes_of_a_string_typed_value() -> None:
    assert condition({"type": "eq", "field": "s", "value": "O'Reilly"}) == (
        f"CASE WHEN {S_TYPE} = 'STRING' THEN CAST({S_TEXT} AS BINARY) END = %s",
        (b"O'Reilly",),
    )


def test_numbers_are_bound_as_decimal_text() -> None:
    sql, params = condition({"type": "in", "field": "n", "values": [0.1, 7]})
    assert sql.endswith("IN (CAST(%s AS DECIMAL(65,30)), CAST(%s AS DECIMAL(65,30)))")
    assert "'INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL'" in sql
    assert params == ("0.1", "7")


def test_booleans_are_bound_as_one_or_zero() -> None:
    sql, params = condition({"type": "eq", "field": "b", "value": False})
    assert sql.endswith("= 'BOOLEAN' THEN JSON_UNQUOTE(JSON_EXTRACT(body, '$.\"b\"')) = 'true' END = %s")
    assert params == (0,)


def test_mixed_in_lists_test_each_json_type_separately() -> None:
    sql, params = condition({"type": "in", "field": "x", "values": ["a", 1, True, "b"]})
    assert sql.startswith("(CASE WHEN") and sql.count(" OR ") == 2
    assert params == (b"a", b"b", "1", 1)


def test_nested_fields_become_quoted_json_paths() -> None:
    sql, _ = condition({"type": "hasField", "field": "a.b1.2c", "fieldType": "STRING"})
    assert sql == "COALESCE(JSON_TYPE(JSON_EXTRACT(body, '$.\"a\".\"b1\".\"2c\"')), '') = 'STRING'"


def test_has_field_integer_excludes_exponent_spellings() -> None:
    sql, _ = condition({"type": "hasField", "field": "n", "fieldType": "INTEGER"})
    assert "IN ('INTEGER', 'UNSIGNED INTEGER') AND LOCATE('e', LOWER(" in sql and sql.endswith(") = 0)")


def test_prefix_escapes_like_wildcards() -> None:
    sql, params = condition({"type": "prefix", "field": "s", "prefix": "5%_!x"})
    assert sql == f"CASE WHEN {S_TYPE} = 'STRING' THEN CAST({S_TEXT} AS BINARY) END LIKE %s ESCAPE '!'"
    assert params == (b"5!%!_!!x%",)


def test_range_bounds() -> None:
    sql, params = condition(
        {"type": "range", "field": "s", "lowerLimit": "a", "lowerIncluded": False, "upperLimit": "b"}
    )
    assert sql.startswith("(CASE WHEN") and " END > %s AND CASE WHEN" in sql and sql.endswith(" END <= %s)")
    assert params == (b"a", b"b")


def test_not_and_or_keep_their_structure() -> None:
    sql, _ = condition(
        {
            "type": "not",
            "clause": {
                "type": "or",
                "clauses": [
                    {"type": "hasField", "field": "a", "fieldType": "BOOLEAN"},
                    {
                        "type": "and",
                        "clauses": [{"type": "all"}, {"type": "hasField", "field": "b", "fieldType": "BOOLEAN"}],
                    },
                ],
            },
        }
    )
    assert sql.startswith("NOT ((COALESCE(") and " OR (TRUE AND COALESCE(" in sql and sql.endswith("'BOOLEAN')))")


def test_system_fields_use_their_columns() -> None:
    assert condition({"type": "range", "field": "_created", "lowerLimit": 5}) == ("(`created_at` >= %s)", (5,))
    assert condition({"type": "range", "field": "_modified", "upperLimit": 5.5}) == (
        "(`modified_at` <= CAST(%s AS DECIMAL(65,30)))",
        ("5.5",),
    )
    # A redundant collation match keeps the unique index usable; the bytes decide.
    assert condition({"type": "eq", "field": "_id", "value": "Ab"}) == (
        "(`object_id` = %s AND CAST(`object_id` AS BINARY) = %s)",
        ("Ab", b"Ab"),
    )
    # ...but not for values an ASCII column cannot hold, which would be a collation error.
    assert condition({"type": "eq", "field": "_id", "value": "é"}) == (
        "CAST(`object_id` AS BINARY) = %s",
        (b"\xc3\xa9",),
    )
    assert condition({"type": "hasField", "field": "_owner", "fieldType": "STRING"}) == ("`owner_id` IS NOT NULL", ())
    assert condition({"type": "hasField", "field": "_version", "fieldType": "INTEGER"}) == ("TRUE", ())


def test_comparisons_a_column_type_cannot_satisfy_are_unknown() -> None:
    assert condition({"type": "eq", "field": "_created", "value": "5"}) == ("NULL", ())
    assert condition({"type": "eq", "field": "_id", "value": True}) == ("NULL", ())
    assert condition({"type": "prefix", "field": "_version", "prefix": "1"}) == ("NULL", ())
    assert condition({"type": "range", "field": "_id", "lowerLimit": 1}) == ("NULL", ())
    assert condition({"type": "hasField", "field": "_created", "fieldType": "DECIMAL"}) == ("FALSE", ())


def test_select_defaults_to_created_ascending_and_fetches_one_extra_row() -> None:
    sql, params = build_sql(parse_query({**where({"type": "all"}), "bestEffortLimit": 10}), SCOPE)
    assert sql == (
        "SELECT `object_id`, `version`, `owner_id`, `body`, `created_at`, `modified_at`, "
        f"`created_at` AS `_k0`, `id` AS `_k1` FROM kii_objects FORCE INDEX (ix_kii_objects_created) WHERE {SCOPE_SQL} "
        "ORDER BY `created_at` ASC, `id` ASC LIMIT %s"
    )
    assert params == (*SCOPE_PARAMS, 11)


def test_select_orders_by_json_type_value_then_id() -> None:
    sql, params = build_sql(
        parse_query(where({"type": "eq", "field": "s", "value": "x"}, orderBy="s", descending=True)), SCOPE
    )
    order = sql.split(" ORDER BY ")[1]
    assert order.count(" DESC") == 4 and order.endswith("`id` DESC LIMIT %s")
    assert order.startswith(f"CASE WHEN {S_TYPE} = 'BOOLEAN' THEN 1 WHEN")
    assert params == (*SCOPE_PARAMS, b"x", 201)


def test_order_by_a_nullable_column_ranks_absent_values_first() -> None:
    sql, _ = build_sql(parse_query(where({"type": "all"}, orderBy="_owner")), SCOPE)
    assert sql.endswith(
        "ORDER BY CASE WHEN `owner_id` IS NULL THEN 0 ELSE 1 END ASC, "
        "COALESCE(CAST(`owner_id` AS BINARY), CAST('' AS BINARY)) ASC, `id` ASC LIMIT %s"
    )


def test_column_map_adds_and_overrides_fields() -> None:
    column_map = {
        "deviceId": ColumnSpec("device_id", FieldType.STRING, nullable=True),
        "_created": ColumnSpec("measured_at", FieldType.INTEGER),
    }
    query = parse_query(where({"type": "eq", "field": "deviceId", "value": "d1"}))
    sql, _ = build_sql(query, SCOPE, column_map)
    assert "(`device_id` = %s AND CAST(`device_id` AS BINARY) = %s)" in sql
    assert "ORDER BY `measured_at` ASC, `id` ASC" in sql
    assert build_count_sql(query, SCOPE, column_map).sql.endswith(
        "(`device_id` = %s AND CAST(`device_id` AS BINARY) = %s)"
    )
    assert SYSTEM_COLUMNS["_created"].column == "created_at"


@pytest.mark.parametrize(
    "arguments",
    [
        ("app1", "org", "x", "b"),
        ("app1", "app", "x", "b"),
        ("app1", "user", "", "b"),
        ("appé", "app", "", "b"),
        ("a" * 65, "app", "", "b"),
        ("app1", "app", "", ""),
        ("app1", "app", "", "b" * 65),
    ],
)
def test_object_scope_refuses_impossible_scopes(arguments: tuple[str, str, str, str]) -> None:
    with pytest.raises(ValueError):
        ObjectScope(*arguments)


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("created_at; DROP", FieldType.INTEGER),
        ("`x`", FieldType.STRING),
        ("Created", FieldType.INTEGER),
        ("score", FieldType.DECIMAL),
        ("on", FieldType.BOOLEAN),
    ],
)
def test_column_spec_refuses_unsafe_names_and_unsupported_kinds(column: str, kind: FieldType) -> None:
    with pytest.raises(ValueError):
        ColumnSpec(column, kind)
