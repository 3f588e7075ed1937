"""Small SQL helpers of the stats consumer: IN-list chunks and pre-escaped VALUES lists."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

import aiomysql

IN_CHUNK = 500  # tuples per IN (...) list: well inside the range optimizer's memory, few round trips
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def placeholders(width: int, count: int) -> str:
    row = "(" + ", ".join(["%s"] * width) + ")"
    return ", ".join([row] * count)


def values_sql(conn: aiomysql.Connection, rows: Iterable[tuple[Any, ...]], shared: int) -> str:
    """The VALUES list of ``rows`` with the driver's escaping; the first ``shared`` columns repeat across
    rows (a group's day, region, model, type), so their literals are built once per distinct prefix."""
    escape = conn.escape
    heads: dict[tuple[Any, ...], str] = {}
    parts = []
    for row in rows:
        head = row[:shared]
        literal = heads.get(head)
        if literal is None:
            literal = heads[head] = "(" + ", ".join(escape(v) for v in head)
        parts.append(literal + "".join(", " + escape(v) for v in row[shared:]) + ")")
    return ", ".join(parts)
