"""compact_json writes through orjson but must give json.dumps' exact text (the validator reproduces stored
documents with json.dumps): property-tested over JSON values, and at the numbers where the two differ."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.legacy.transform.records import compact_json


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# text without lone surrogates (UTF-8 cannot encode them: nothing stored holds one)
TEXT = st.text(st.characters(exclude_categories=["Cs"]))
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner) | st.dictionaries(TEXT, inner), max_leaves=30)


@given(VALUES)
def test_the_text_is_json_dumps_compact_form_for_any_json_value(value: Any) -> None:
    assert compact_json(value) == _json_dumps(value)


@given(st.floats(min_value=-1e-4, max_value=1e-4, allow_nan=False), st.sampled_from(["{}", "[]", "{{}}"]))
def test_numbers_under_1e_4_in_any_place_are_written_as_json_writes_them(number: float, shape: str) -> None:
    value = {"a": number} if shape == "{}" else [number] if shape == "[]" else {"a": [1, number], "b": 2}
    assert compact_json(value) == _json_dumps(value)


def test_the_numbers_and_texts_orjson_writes_its_own_way() -> None:
    value = {"a": [1e-05, 9.1e-08, 5e-324, 0.00012, 1e16, 2**64, -(2**63) - 1], "b": "e-5,0.0000", "c": "e-9c6f"}
    assert compact_json(value) == _json_dumps(value)
    assert compact_json(value) == (
        '{"a":[1e-05,9.1e-08,5e-324,0.00012,1e+16,18446744073709551616,-9223372036854775809],'
        '"b":"e-5,0.0000","c":"e-9c6f"}'
    )
    assert compact_json({"unicode": "血圧 é 😀", "control": "\t\n\x01\x7f"}) == (
        '{"unicode":"血圧 é 😀","control":"\\t\\n\\u0001\x7f"}'
    )
