"""The new database's side: one function per query, all read-only (DESIGN section 7 schema).

Only migrated users' rows are in scope (``users.legacy_user_id IS NOT NULL``): accounts opened in the
new system have no legacy counterpart. Segments are prefixes of ``user_id``; a prefix restriction is
``user_id LIKE 'prefix%'``, a range on the (user_id, ...) unique keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiomysql

from services.validation.canonical import TableSpec, as_int, checksum_sql, db_values, select_columns
from services.validation.json_encodings import Dialect, JsonEncoding

_SCOPE = "t.user_id IN (SELECT u.id FROM users u WHERE u.legacy_user_id IS NOT NULL)"
_KEYS_PER_QUERY = 500


@dataclass(frozen=True, slots=True)
class SegmentSum:
    """Rows and checksum sum of one segment (and one type, where the table has types)."""

    segment: str
    type: str
    count: int
    total: int


@dataclass(frozen=True, slots=True)
class LeafRow:
    """One stored row's key, type and checksum."""

    user_id: str
    key: str
    type: str
    checksum: int


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching values that start with prefix."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _type_sql(spec: TableSpec) -> str:
    return f"t.{spec.type_column}" if spec.type_column else f"'{spec.type_label}'"


async def server_dialect(conn: aiomysql.Connection) -> tuple[Dialect, str]:
    """("mariadb" | "mysql", version text) of the server."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT VERSION()")
        (version,) = await cur.fetchone()
    return ("mariadb" if "mariadb" in str(version).lower() else "mysql"), str(version)


async def migrated_users(conn: aiomysql.Connection) -> dict[str, str]:
    """Legacy user id -> VitalSync user id of every migrated user."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT legacy_user_id, id FROM users WHERE legacy_user_id IS NOT NULL")
        return {str(legacy): str(user_id) for legacy, user_id in await cur.fetchall()}


_TELLING = "(CHAR_LENGTH({c}) <> LENGTH({c}) OR LOCATE('\\\\u', {c}) > 0)"
_SAMPLE_QUERIES = (
    f"SELECT t.reading_values FROM readings t WHERE {_SCOPE} LIMIT %s",  # noqa: S608
    f"SELECT t.document FROM device_settings t WHERE {_SCOPE} LIMIT %s",  # noqa: S608
)
# Readings: a primary-key range at the start of the table, joined to users in that order, so the cost
# stays bounded whatever the table's size (an IN (SELECT ...) could be planned users-first).
_TELLING_QUERIES = (
    "SELECT t.reading_values FROM readings t STRAIGHT_JOIN users u ON u.id = t.user_id "  # noqa: S608
    "WHERE t.id < (SELECT MIN(r.id) FROM readings r) + 200000 AND u.legacy_user_id IS NOT NULL "
    f"AND {_TELLING.format(c='t.reading_values')} LIMIT %s",
    f"SELECT t.document FROM device_settings t WHERE {_SCOPE} AND {_TELLING.format(c='t.document')} LIMIT %s",  # noqa: S608
)


async def json_samples(conn: aiomysql.Connection, limit: int = 200, telling: int = 20) -> list[str]:
    """Stored JSON texts of migrated rows, as the server returns them: some of each table, plus a few
    with non-ASCII characters or \\u escapes (they tell whether the writer escaped), looked for in the
    first 200,000 readings only (bounded cost) and in all device settings."""
    samples: list[str] = []
    async with conn.cursor() as cur:
        for sql, count in [*((q, limit) for q in _SAMPLE_QUERIES), *((q, telling) for q in _TELLING_QUERIES)]:
            await cur.execute(sql, (count,))
            for (value,) in await cur.fetchall():
                samples.append(value.decode() if isinstance(value, bytes) else str(value))
    return samples


async def segment_sums(
    conn: aiomysql.Connection, spec: TableSpec, encoding: JsonEncoding, chars: int, prefix: str | None = None
) -> list[SegmentSum]:
    """Per user_id prefix of `chars` characters (within prefix, if given) and type: rows and checksum sum."""
    if prefix is None:
        return await _whole_table_sums(conn, spec, encoding, chars)
    sql = (
        f"SELECT LEFT(t.user_id, %s) AS seg, {_type_sql(spec)} AS typ, COUNT(*), SUM({checksum_sql(spec, encoding)}) "  # noqa: S608
        f"FROM {spec.name} t WHERE {_SCOPE} AND t.user_id LIKE %s GROUP BY seg, typ"
    )
    async with conn.cursor() as cur:
        await cur.execute(sql, (chars, like_prefix(prefix)))
        return [SegmentSum(str(s), str(t), int(count), as_int(total)) for s, t, count, total in await cur.fetchall()]


async def _whole_table_sums(
    conn: aiomysql.Connection, spec: TableSpec, encoding: JsonEncoding, chars: int
) -> list[SegmentSum]:
    """Level 1: one plain scan of the table, minus the rows of users who were not migrated.

    Sums are additive, so (all rows) - (rows of non-migrated users) is the migrated users' sum, and the
    scan needs no per-row semi-join (the second query starts from the few non-migrated users).
    """
    select = f"LEFT(t.user_id, %s) AS seg, {_type_sql(spec)} AS typ, COUNT(*), SUM({checksum_sql(spec, encoding)})"
    whole = f"SELECT {select} FROM {spec.name} t GROUP BY seg, typ"  # noqa: S608
    outside = (
        f"SELECT {select} FROM users u JOIN {spec.name} t ON t.user_id = u.id "  # noqa: S608
        "WHERE u.legacy_user_id IS NULL GROUP BY seg, typ"
    )
    sums: dict[tuple[str, str], list[int]] = {}
    async with conn.cursor() as cur:
        for query, sign in ((whole, 1), (outside, -1)):
            await cur.execute(query, (chars,))
            for seg, typ, count, total in await cur.fetchall():
                entry = sums.setdefault((str(seg), str(typ)), [0, 0])
                entry[0] += sign * int(count)
                entry[1] += sign * as_int(total)
    return [SegmentSum(seg, typ, count, total) for (seg, typ), (count, total) in sums.items() if count]


async def leaf_rows(conn: aiomysql.Connection, spec: TableSpec, encoding: JsonEncoding, prefix: str) -> list[LeafRow]:
    """Key, type and checksum of every in-scope row whose user_id starts with prefix."""
    sql = (
        f"SELECT t.user_id, t.{spec.key_column}, {_type_sql(spec)}, {checksum_sql(spec, encoding)} "  # noqa: S608
        f"FROM {spec.name} t WHERE {_SCOPE} AND t.user_id LIKE %s"
    )
    async with conn.cursor() as cur:
        await cur.execute(sql, (like_prefix(prefix),))
        return [LeafRow(str(u), str(k), str(typ), int(c)) for u, k, typ, c in await cur.fetchall()]


async def full_rows(
    conn: aiomysql.Connection, spec: TableSpec, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The compared values of the rows with these (user_id, key) pairs."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    async with conn.cursor() as cur:
        for start in range(0, len(keys), _KEYS_PER_QUERY):
            batch = keys[start : start + _KEYS_PER_QUERY]
            condition = " OR ".join([f"(t.user_id = %s AND t.{spec.key_column} = %s)"] * len(batch))
            await cur.execute(
                f"SELECT {select_columns(spec)} FROM {spec.name} t WHERE {condition}",  # noqa: S608
                tuple(value for key in batch for value in key),
            )
            for row in await cur.fetchall():
                values = db_values(spec, row)
                found[(values["user_id"], str(values[spec.key_column]))] = values
    return found
