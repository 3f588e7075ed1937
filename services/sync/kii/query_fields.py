"""Typed SQL expressions for a Kii field, whether it lives in the JSON body or in a column.

A field name reaches the SQL text only after ``query_model`` matched it against
``FIELD_NAME_PATTERN``, and then only inside a JSON path literal ``'$."a"."b"'``; column names are
checked by :class:`ColumnSpec`. Values never do: :class:`Binder` turns them into ``%s``.

The expressions run unchanged on MariaDB 10.11 and MySQL 8 (DESIGN 7: no ``->>``, no
engine-only functions). With ``x`` = ``JSON_EXTRACT(body, P)``:

- JSON type: ``COALESCE(JSON_TYPE(x), '')``, '' for an absent field. Numbers are INTEGER or DOUBLE
  on MariaDB and INTEGER, UNSIGNED INTEGER, DOUBLE or DECIMAL on MySQL; all four count.
- string: ``CAST(JSON_UNQUOTE(x) AS BINARY)`` against UTF-8 bytes. Byte order is code point
  order, and unlike the PAD SPACE ``utf8mb4_bin`` collation of both engines ``'a'`` never equals
  ``'a '``.
- number: ``CAST(JSON_UNQUOTE(x) AS DECIMAL(65,30))`` against ``CAST(%s AS DECIMAL(65,30))`` with
  the decimal text: exact for 64-bit integers and for decimals to 30 places; finer digits round
  alike on both sides, so values closer than 1e-30 compare equal. ``query_model`` refuses query
  values of 10^35 or more; stored ones are clamped by the cast (with a warning).
- boolean: ``JSON_UNQUOTE(x) = 'true'`` (1 or 0) against 1 or 0.
- hasField INTEGER / DECIMAL: MariaDB types ``1e3`` INTEGER where MySQL and a Java JSON parser see
  a double, so an INTEGER whose text has an exponent (``LOCATE('e', LOWER(JSON_UNQUOTE(x)))``)
  counts as DECIMAL.
- sort key: ``(type rank, number, string)``: rank 0 absent / null / object / array, 1 boolean,
  2 number, 3 string; number is the value (booleans 0 / 1, others 0), string the bytes (others
  empty). Never NULL, so the keyset comparison of ``query_sql`` needs no NULL cases.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from services.sync.kii.query_cursor import KeyKind
from services.sync.kii.query_model import FieldType

_DECIMAL = "DECIMAL(65,30)"
_NUMBER_TYPES = "('INTEGER', 'UNSIGNED INTEGER', 'DOUBLE', 'DECIMAL')"
_INTEGER_TYPES = "('INTEGER', 'UNSIGNED INTEGER')"
_COLUMN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")

SortKey = tuple[str, KeyKind]


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """A Kii field stored in a typed column of ``kii_objects`` instead of the JSON body."""

    column: str
    kind: FieldType
    nullable: bool = False

    def __post_init__(self) -> None:
        if not _COLUMN_NAME.fullmatch(self.column):
            raise ValueError(f"column name {self.column!r} is not a plain lower-case SQL identifier")
        if self.kind not in (FieldType.STRING, FieldType.INTEGER):
            raise ValueError(f"{self.kind} columns are not supported yet; map STRING or INTEGER columns")


# The system fields a Kii object carries outside its body (reference/kii-api.md 2.3) and their columns.
SYSTEM_COLUMNS: Mapping[str, ColumnSpec] = MappingProxyType(
    {
        "_id": ColumnSpec("object_id", FieldType.STRING),
        "_version": ColumnSpec("version", FieldType.INTEGER),
        "_owner": ColumnSpec("owner_id", FieldType.STRING, nullable=True),
        "_created": ColumnSpec("created_at", FieldType.INTEGER),
        "_modified": ColumnSpec("modified_at", FieldType.INTEGER),
    }
)


class Binder:
    """Collects parameters in the order their placeholders appear in the SQL text."""

    def __init__(self) -> None:
        self.params: list[object] = []

    def bind(self, value: object) -> str:
        """Placeholder for ``value``."""
        self.params.append(value)
        return "%s"

    def decimal(self, value: Decimal) -> str:
        """Placeholder for a number compared as DECIMAL(65,30), bound as its exact text."""
        return f"CAST({self.bind(str(value))} AS {_DECIMAL})"

    def text(self, value: str) -> str:
        """Placeholder for a string compared bytewise, bound as UTF-8 whatever the connection charset."""
        return self.bind(value.encode("utf-8"))


class JsonField:
    """A field of the JSON body, addressed by a validated path."""

    def __init__(self, name: str) -> None:
        path = "'$." + ".".join(f'"{part}"' for part in name.split(".")) + "'"
        extract = f"JSON_EXTRACT(body, {path})"
        self._type = f"COALESCE(JSON_TYPE({extract}), '')"
        self._text = f"JSON_UNQUOTE({extract})"

    def string(self) -> str | None:
        """Bytes of a string value, else NULL."""
        return f"CASE WHEN {self._type} = 'STRING' THEN CAST({self._text} AS BINARY) END"

    def number(self) -> str | None:
        """DECIMAL of a number value, else NULL."""
        return f"CASE WHEN {self._type} IN {_NUMBER_TYPES} THEN CAST({self._text} AS {_DECIMAL}) END"

    def boolean(self) -> str | None:
        """1 / 0 for a boolean value, else NULL."""
        return f"CASE WHEN {self._type} = 'BOOLEAN' THEN {self._text} = 'true' END"

    def number_param(self, value: Decimal, binder: Binder) -> str:
        """Placeholder for a number this field is compared with."""
        return binder.decimal(value)

    def index_hint(self, values: Sequence[str], binder: Binder) -> str | None:
        """No index covers a JSON path."""
        return None

    def has_type(self, field_type: FieldType) -> str:
        """True when the field holds a value of this type, false otherwise (never NULL)."""
        exponent = f"LOCATE('e', LOWER({self._text}))"
        match field_type:
            case FieldType.STRING | FieldType.BOOLEAN:
                return f"{self._type} = '{field_type.value}'"
            case FieldType.INTEGER:
                return f"({self._type} IN {_INTEGER_TYPES} AND {exponent} = 0)"
            case FieldType.DECIMAL:
                return f"({self._type} IN ('DOUBLE', 'DECIMAL') OR {self._type} IN {_INTEGER_TYPES} AND {exponent} > 0)"

    def sort_keys(self) -> list[SortKey]:
        """(type rank, number, string), never NULL."""
        rank = (
            f"CASE WHEN {self._type} = 'BOOLEAN' THEN 1 WHEN {self._type} IN {_NUMBER_TYPES} THEN 2 "
            f"WHEN {self._type} = 'STRING' THEN 3 ELSE 0 END"
        )
        number = (
            f"CAST(CASE WHEN {self._type} IN {_NUMBER_TYPES} THEN {self._text} "
            f"WHEN {self._type} = 'BOOLEAN' AND {self._text} = 'true' THEN '1' ELSE '0' END AS {_DECIMAL})"
        )
        string = f"CASE WHEN {self._type} = 'STRING' THEN CAST({self._text} AS BINARY) ELSE CAST('' AS BINARY) END"
        return [(rank, KeyKind.INT), (number, KeyKind.DECIMAL), (string, KeyKind.BYTES)]


class ColumnField:
    """A field mapped to a typed column; NULL in a nullable column means the field is absent."""

    def __init__(self, spec: ColumnSpec) -> None:
        self._spec = spec
        self._column = f"`{spec.column}`"

    def string(self) -> str | None:
        """Bytes of a STRING column; None (never matches) for other kinds."""
        return f"CAST({self._column} AS BINARY)" if self._spec.kind is FieldType.STRING else None

    def number(self) -> str | None:
        """An INTEGER column as is; None for other kinds."""
        return self._column if self._spec.kind is FieldType.INTEGER else None

    def boolean(self) -> str | None:
        """No boolean columns yet."""
        return None

    def number_param(self, value: Decimal, binder: Binder) -> str:
        """A plain integer when possible, which keeps the comparison sargable on the column's index."""
        return binder.bind(int(value)) if value == value.to_integral_value() else binder.decimal(value)

    def index_hint(self, values: Sequence[str], binder: Binder) -> str | None:
        """A redundant collation-based ``IN`` that lets the optimizer use the column's index.

        ASCII values only: a non-ASCII literal against an ASCII column is an "illegal mix of
        collations" error, and could never match anyway.
        """
        if self._spec.kind is not FieldType.STRING or not all(value.isascii() for value in values):
            return None
        return membership(self._column, [binder.bind(value) for value in values])

    def has_type(self, field_type: FieldType) -> str:
        """The column's kind, and for a nullable column a value present."""
        if field_type is not self._spec.kind:
            return "FALSE"
        return f"{self._column} IS NOT NULL" if self._spec.nullable else "TRUE"

    def sort_keys(self) -> list[SortKey]:
        """The value (bytes for strings), after a presence rank when the column is nullable."""
        is_string = self._spec.kind is FieldType.STRING
        value = f"CAST({self._column} AS BINARY)" if is_string else self._column
        kind = KeyKind.BYTES if is_string else KeyKind.INT
        if not self._spec.nullable:
            return [(value, kind)]
        empty = "CAST('' AS BINARY)" if is_string else "0"
        return [
            (f"CASE WHEN {self._column} IS NULL THEN 0 ELSE 1 END", KeyKind.INT),
            (f"COALESCE({value}, {empty})", kind),
        ]


Field = JsonField | ColumnField


def membership(expr: str, placeholders: Sequence[str]) -> str:
    """``expr = %s`` for one placeholder, ``expr IN (%s, ...)`` for several."""
    if len(placeholders) == 1:
        return f"{expr} = {placeholders[0]}"
    return f"{expr} IN ({', '.join(placeholders)})"


class FieldResolver:
    """Maps a Kii field name to its column (SYSTEM_COLUMNS plus the caller's map) or JSON path."""

    def __init__(self, column_map: Mapping[str, ColumnSpec] | None) -> None:
        self._columns = {**SYSTEM_COLUMNS, **(column_map or {})}

    def __call__(self, name: str) -> Field:
        """The accessor of ``name``, a field name query_model validated."""
        spec = self._columns.get(name)
        return ColumnField(spec) if spec is not None else JsonField(name)
