"""How JSON columns enter a row's canonical text: the writer's json.dumps options, or a normal form.

MariaDB stores a JSON document as the text its writer sent, MySQL 8 re-serialises it. Hashing the stored
text is cheap; it only matches the expected side when Python writes the same text, so the validator
probes stored documents (`pick_encoding`) for the json.dumps options that reproduce them, and otherwise
falls back to MariaDB's JSON_NORMALIZE (a replica here, tested against the server) or MySQL's own form.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Dialect = Literal["mariadb", "mysql"]


def _normal_number(text: str) -> str:
    """A JSON number as MariaDB's JSON_NORMALIZE writes it: d.dddE<exp>, digits as written, 0 unsigned."""
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    mantissa, _, exponent_text = text.lower().partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    exponent = (int(exponent_text) if exponent_text else 0) + len(whole) - 1
    significant = digits.lstrip("0")
    exponent -= len(digits) - len(significant)
    significant = significant.rstrip("0")
    if not significant:
        return "0.0E0"
    return f"{sign}{significant[0]}.{significant[1:] or '0'}E{exponent}"


def _mariadb_normal(value: Any, ensure_ascii: bool) -> str:
    """MariaDB's JSON_NORMALIZE of the text a json.dumps writer stored (strings keep their escapes)."""
    if isinstance(value, dict):
        # keys are ordered by their text as stored (escapes included), without the quotes
        members = sorted(
            ((json.dumps(key, ensure_ascii=ensure_ascii), item) for key, item in value.items()),
            key=lambda member: member[0][1:-1],
        )
        return "{" + ",".join(f"{key}:{_mariadb_normal(item, ensure_ascii)}" for key, item in members) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_mariadb_normal(item, ensure_ascii) for item in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=ensure_ascii)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return _normal_number(json.dumps(value))


_MYSQL_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _mysql_string(text: str) -> str:
    out = []
    for char in text:
        if char in _MYSQL_ESCAPES:
            out.append(_MYSQL_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _mysql_text(value: Any) -> str:
    """MySQL 8's text of a JSON value (keys by length then bytes, ', ' and ': ', doubles keep '.0').

    Written from MySQL's documentation, not checked against a server here: a mismatch costs time only.
    """
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return "{" + ", ".join(f"{_mysql_string(key)}: {_mysql_text(value[key])}" for key in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_mysql_text(item) for item in value) + "]"
    if isinstance(value, str):
        return _mysql_string(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float):
        text = repr(value).replace("e+", "e")
        return text if ("." in text or "e" in text) else text + ".0"
    return str(value)


@dataclass(frozen=True, slots=True)
class JsonEncoding:
    """How JSON columns enter the canonical text: Python's function and the SQL expression around a column."""

    name: str
    python: Callable[[Any], str]
    sql_template: str
    dialects: tuple[Dialect, ...]

    def sql(self, column_sql: str) -> str:
        """The SQL expression of a JSON column under this encoding."""
        return self.sql_template.format(column_sql)


def _dumps(**options: Any) -> Callable[[Any], str]:
    return lambda value: json.dumps(value, allow_nan=False, **options)


_COMPACT = {"separators": (",", ":")}
# In probe order: the writers we know first (the migration writes compact UTF-8, shared/store compact
# ASCII: the same text unless a document has non-ASCII characters), then the unusual ones.
JSON_ENCODINGS: Mapping[str, JsonEncoding] = {
    encoding.name: encoding
    for encoding in (
        JsonEncoding("compact-utf8", _dumps(ensure_ascii=False, **_COMPACT), "{}", ("mariadb",)),
        JsonEncoding("compact", _dumps(**_COMPACT), "{}", ("mariadb",)),
        JsonEncoding("spaced-utf8", _dumps(ensure_ascii=False), "{}", ("mariadb",)),
        JsonEncoding("spaced", _dumps(), "{}", ("mariadb",)),
        JsonEncoding("compact-utf8-sorted", _dumps(ensure_ascii=False, sort_keys=True, **_COMPACT), "{}", ("mariadb",)),
        JsonEncoding("compact-sorted", _dumps(sort_keys=True, **_COMPACT), "{}", ("mariadb",)),
        JsonEncoding("spaced-utf8-sorted", _dumps(ensure_ascii=False, sort_keys=True), "{}", ("mariadb",)),
        JsonEncoding("spaced-sorted", _dumps(sort_keys=True), "{}", ("mariadb",)),
        JsonEncoding("normalized", lambda value: _mariadb_normal(value, True), "JSON_NORMALIZE({})", ("mariadb",)),
        JsonEncoding(
            "normalized-utf8", lambda value: _mariadb_normal(value, False), "JSON_NORMALIZE({})", ("mariadb",)
        ),
        JsonEncoding("mysql", _mysql_text, "CAST({} AS CHAR)", ("mysql",)),
    )
}
DEFAULT_ENCODING: Mapping[Dialect, str] = {"mariadb": "compact-utf8", "mysql": "mysql"}


def _objects(value: Any) -> list[dict[str, Any]]:
    """Every JSON object inside value, value itself included."""
    if isinstance(value, dict):
        return [value, *(obj for item in value.values() for obj in _objects(item))]
    if isinstance(value, list):
        return [obj for item in value for obj in _objects(item)]
    return []


def pick_encoding(dialect: Dialect, samples: Sequence[str]) -> JsonEncoding:
    """The first encoding that reproduces every sampled stored JSON text from its parsed value.

    MariaDB keeps the text a writer sent, so the writer's json.dumps options can be recognised and the
    raw column hashed (cheap); when none fits, JSON_NORMALIZE with the escaping the samples show.
    MySQL 8 re-serialises every document, so its own text form is the only candidate.
    """
    if dialect == "mysql":
        return JSON_ENCODINGS["mysql"]
    if not samples:
        return JSON_ENCODINGS[DEFAULT_ENCODING[dialect]]
    parsed = [(text, json.loads(text)) for text in samples]
    # Parsing keeps the stored key order, so an unsorted encoding reproduces sorted text too. The
    # transform's reading documents are not in key order, so objects of 3+ keys that are all sorted mean
    # the writer sorted; small objects (2 keys) are sorted by chance too often to tell.
    evidence = [obj for _, value in parsed for obj in _objects(value) if len(obj) >= 3]
    writer_sorted = bool(evidence) and all(list(obj) == sorted(obj) for obj in evidence)
    candidates = sorted(
        JSON_ENCODINGS.values(), key=lambda encoding: encoding.name.endswith("-sorted") != writer_sorted
    )
    for encoding in candidates:
        if dialect in encoding.dialects and encoding.sql_template == "{}":
            try:
                if all(encoding.python(value) == text for text, value in parsed):
                    return encoding
            except ValueError:
                continue
    raw_unicode = any(not text.isascii() for text in samples)
    return JSON_ENCODINGS["normalized-utf8" if raw_unicode else "normalized"]
