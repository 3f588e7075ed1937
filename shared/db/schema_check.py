"""Compare a live database with the schema the migrations declare, and list every drift.

The declared schema is built, not hand-written: the migration files are applied to a scratch
database on the same server, and both are read back from ``information_schema``. Comparing two
databases of one server makes the check dialect-proof (MariaDB reports JSON as ``longtext`` plus a
check constraint, MySQL as ``json``; both sides use the same spelling). The guard exists because an
index added during load tests never reached production in the legacy migration (DESIGN section 7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import aiomysql

from shared.db.migrations import Migration, applied_migrations, load_migrations, migrate, verify_history

SCRATCH_SUFFIX = "_schemacheck"
# Identifiers cannot be bound as parameters; the scratch name is interpolated only after this check.
_IDENTIFIER_RE = re.compile(r"^[A-Za-z0-9_]{1,48}$")


@dataclass(frozen=True)
class Column:
    """A column as the server reports it."""

    type: str
    nullable: bool
    default: str | None
    extra: str

    def describe(self) -> str:
        null = "NULL" if self.nullable else "NOT NULL"
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        extra = f" {self.extra}" if self.extra else ""
        return f"{self.type} {null}{default}{extra}"


@dataclass(frozen=True)
class Index:
    """An index: uniqueness and the ordered column list (with prefix lengths)."""

    unique: bool
    columns: tuple[str, ...]

    def describe(self) -> str:
        return f"{'UNIQUE ' if self.unique else ''}({', '.join(self.columns)})"


@dataclass
class Table:
    """A table's columns, indexes and foreign keys."""

    columns: dict[str, Column] = field(default_factory=dict)
    indexes: dict[str, Index] = field(default_factory=dict)
    foreign_keys: dict[str, str] = field(default_factory=dict)


Schema = dict[str, Table]


async def read_schema(conn: aiomysql.Connection, database: str) -> Schema:
    """Read tables, columns, indexes and foreign keys of ``database`` from information_schema."""
    schema: Schema = {}
    async with conn.cursor() as cur:
        await cur.execute(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'",
            (database,),
        )
        for (name,) in await cur.fetchall():
            schema[name] = Table()
        await cur.execute(
            "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
            "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s ORDER BY TABLE_NAME, ORDINAL_POSITION",
            (database,),
        )
        for table, column, ctype, nullable, default, extra in await cur.fetchall():
            if table in schema:
                schema[table].columns[column] = Column(
                    _text(ctype).lower(), nullable == "YES", _default(default), _text(extra).lower()
                )
        await cur.execute(
            "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART "
            "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = %s "
            "ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
            (database,),
        )
        parts: dict[tuple[str, str], tuple[bool, list[str]]] = {}
        for table, index, non_unique, column, sub_part in await cur.fetchall():
            unique, cols = parts.setdefault((table, index), (not int(non_unique), []))
            cols.append(f"{column}({sub_part})" if sub_part else column)
        for (table, index), (unique, cols) in parts.items():
            if table in schema:
                schema[table].indexes[index] = Index(unique, tuple(cols))
        await cur.execute(
            "SELECT k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME, k.REFERENCED_TABLE_NAME, "
            "k.REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE k "
            "WHERE k.TABLE_SCHEMA = %s AND k.REFERENCED_TABLE_NAME IS NOT NULL "
            "ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
            (database,),
        )
        for table, name, column, ref_table, ref_column in await cur.fetchall():
            if table in schema:
                previous = schema[table].foreign_keys.get(name)
                link = f"{column} -> {ref_table}.{ref_column}"
                schema[table].foreign_keys[name] = f"{previous}, {link}" if previous else link
    return schema


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _default(value: Any) -> str | None:
    """MariaDB quotes literal defaults and reports NULL as the string 'NULL'; MySQL does neither."""
    if value is None:
        return None
    text = _text(value)
    return None if text == "NULL" else text


def diff_schemas(declared: Schema, live: Schema) -> list[str]:
    """Every difference, one line each, naming table and column or index; empty when identical."""
    drifts: list[str] = []
    for table in sorted(declared.keys() - live.keys()):
        drifts.append(f"missing table {table}")
    for table in sorted(live.keys() - declared.keys()):
        drifts.append(f"extra table {table}")
    for table in sorted(declared.keys() & live.keys()):
        want, have = declared[table], live[table]
        drifts += _diff_members(table, "column", want.columns, have.columns)
        drifts += _diff_members(table, "index", want.indexes, have.indexes)
        drifts += _diff_members(table, "foreign key", want.foreign_keys, have.foreign_keys)
    return drifts


def _diff_members(table: str, kind: str, want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    def show(value: Any) -> str:
        return value if isinstance(value, str) else value.describe()

    lines = [f"missing {kind} {table}.{name} {show(want[name])}" for name in want if name not in have]
    lines += [f"extra {kind} {table}.{name} {show(have[name])}" for name in have if name not in want]
    lines += [
        f"{kind} {table}.{name} differs: declared {show(want[name])}, live {show(have[name])}"
        for name in want
        if name in have and want[name] != have[name]
    ]
    return lines


async def check_schema(
    conn: aiomysql.Connection, database: str, declared_migrations: list[Migration] | None = None
) -> list[str]:
    """All drifts of ``database``: migration history problems, pending migrations and schema diffs.

    ``conn`` must allow multi-statements and its user must be able to create and drop the scratch
    database ``<database>_schemacheck``.
    """
    if not _IDENTIFIER_RE.match(database):
        raise ValueError(f"database name {database!r} must match {_IDENTIFIER_RE.pattern}")
    declared_migrations = load_migrations() if declared_migrations is None else declared_migrations
    await conn.select_db(database)
    applied = await applied_migrations(conn)
    drifts = verify_history(declared_migrations, applied)
    drifts += [
        f"pending migration {m.version:04d}_{m.name} (run `vitalsync db migrate`)"
        for m in declared_migrations
        if m.version not in applied
    ]
    scratch = database + SCRATCH_SUFFIX
    await _drop_if_exists(conn, scratch)  # a crashed earlier check may have left one
    async with conn.cursor() as cur:
        await cur.execute(f"CREATE DATABASE `{scratch}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    try:
        await conn.select_db(scratch)
        await migrate(conn, declared_migrations)
        declared = await read_schema(conn, scratch)
        live = await read_schema(conn, database)
    finally:
        await _drop_if_exists(conn, scratch)
        await conn.select_db(database)
    return drifts + diff_schemas(declared, live)


async def _drop_if_exists(conn: aiomysql.Connection, database: str) -> None:
    """Drop a database only when present (``IF EXISTS`` would raise a server warning otherwise)."""
    async with conn.cursor() as cur:
        await cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,))
        (exists,) = await cur.fetchone()
        if exists:
            await cur.execute(f"DROP DATABASE `{database}`")
