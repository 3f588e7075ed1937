"""How the snapshot loader inserts its bulk rows: multi-row statements, or LOAD DATA LOCAL INFILE.

The loader's biggest tables (raw rows, readings, change_log, outbox) get rows that do not exist yet.
Sent as multi-row INSERTs, every value passes through the driver's escaping (a fifth of the loader's CPU)
and MariaDB parses a statement of literals; sent as a tab-separated file (C `%` formatting, about 2 µs
per row) with LOAD DATA LOCAL INFILE, both costs mostly go.

LOAD DATA LOCAL has one catch: a row it cannot insert (duplicate key, foreign key, value too long) is
a warning, and the row is skipped or clipped while the statement succeeds. `LocalInfileInserter`
therefore demands that every row landed and no warning was raised; otherwise it raises `LoadMismatch`,
and the caller rolls the chunk back and writes it with statements, which either upsert what
exists or fail with the real error. Nothing is ever half written.

LOAD DATA LOCAL also needs the client's consent (the loader's pool enables it; the server then may ask
for any file the process can read, so only the loader's own connection to our own database enables it)
and the server's (`local_infile`, on in MariaDB, off by default in MySQL 8 / RDS parameter groups):
when refused, `LocalInfileRefused` tells the loader to use statements for the rest of the run.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import aiomysql
import pymysql

from services.migration.errors import MigrationError

# the server or the client refuses LOAD DATA LOCAL (disabled, or not allowed with this version)
_REFUSED = frozenset({1148, 2068, 3948, 4166})


class LocalInfileRefused(MigrationError):
    """The server (or the connection) does not allow LOAD DATA LOCAL INFILE."""


class LoadMismatch(MigrationError):
    """LOAD DATA skipped or changed rows (reported as warnings): the chunk must be written with statements."""


@dataclass(frozen=True)
class Table:
    """A table the loader inserts into: its columns, those that may be NULL, and the statement path's SQL."""

    name: str
    columns: tuple[str, ...]
    statement: str
    nullable: frozenset[str] = frozenset()

    def load_sql(self, *, escaped: bool) -> str:
        """LOAD DATA of a file with one line per row; an empty field of a nullable column is NULL.

        escaped: the file escapes tab, newline and backslash with a backslash (LOAD DATA's own escaping);
        otherwise nothing in it is special but the tab and the newline that end fields and lines. The
        file and the separators travel as parameters, so the driver quotes them for the session's
        sql_mode (the migration's sessions use NO_BACKSLASH_ESCAPES).
        """
        targets = [f"@{column}" if column in self.nullable else column for column in self.columns]
        assignments = [f"{column} = NULLIF(@{column}, '')" for column in self.columns if column in self.nullable]
        escape = "%s" if escaped else "''"
        # the tab and newline are real characters inside the quotes: the same in every sql_mode
        sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {self.name} CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY '\t' ESCAPED BY {escape} LINES TERMINATED BY '\n' ({', '.join(targets)})"
        )
        return f"{sql} SET {', '.join(assignments)}" if assignments else sql

    @cached_property
    def required(self) -> tuple[int, ...]:
        """Indexes of the columns that take no NULL."""
        return tuple(index for index, column in enumerate(self.columns) if column not in self.nullable)

    @property
    def line_format(self) -> str:
        """A row as a line of the unescaped file (`%` formatting: a string as it is, a number or
        datetime as `str` gives it, which is what MariaDB reads back)."""
        return "\t".join(["%s"] * len(self.columns)) + "\n"


class Inserter(Protocol):
    """Inserts rows (tuples in `Table.columns` order) in the caller's transaction."""

    async def insert(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> None: ...

    async def insert_numbered(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> int | None:
        """Insert rows into a table with an AUTO_INCREMENT id; the id of the first row when the rows got
        consecutive ids in their order, None when the caller must read them back."""
        ...


class StatementInserter:
    """Multi-row statements (the driver splits them at its packet size): `Table.statement`, which may upsert."""

    async def insert(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            await cur.executemany(table.statement, rows)

    async def insert_numbered(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> int | None:
        """See `Inserter.insert_numbered`: never known (an upsert that updates a row takes no new id)."""
        await self.insert(cur, table, rows)
        return None


STATEMENTS = StatementInserter()


class LocalInfileInserter:
    """LOAD DATA LOCAL INFILE of each table's rows, written as a file in a private directory.

    Values are written as `str` gives them (datetimes in ISO form), unescaped when no value holds a tab or
    a newline, else by `csv` with LOAD DATA's own backslash escaping; every string arrives exactly. None
    becomes an empty field, which the table's nullable columns (never holding an empty string) read as
    NULL; a None in any other column is left to the statements, which reject it as MariaDB would.
    """

    def __init__(self) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="vitalsync-load-"))  # mode 0700
        self._file = self._directory / "rows.tsv"
        self._consecutive: bool | None = None

    async def insert(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        rows = [row if None not in row else _blanked(table, row) for row in rows]
        line = table.line_format
        text, escaped = "".join([line % row for row in rows]), False
        if text.count("\n") != len(rows) or text.count("\t") != len(rows) * (len(table.columns) - 1):
            text, escaped = _escaped_tsv(rows), True  # a value holds a tab or a newline: escape them
        self._file.write_bytes(text.encode("utf-8"))
        parameters = (str(self._file), "\\") if escaped else (str(self._file),)
        try:
            await cur.execute(table.load_sql(escaped=escaped), parameters)
        except pymysql.err.OperationalError as error:
            if error.args and error.args[0] in _REFUSED:
                raise LocalInfileRefused(f"LOAD DATA LOCAL INFILE refused ({error})") from None
            raise
        warnings = cur._result.warning_count if cur._result is not None else 0  # the driver keeps it there only
        if cur.rowcount != len(rows) or warnings:
            raise LoadMismatch(f"LOAD DATA into {table.name}: {cur.rowcount} of {len(rows)} rows, {warnings} warnings")

    async def insert_numbered(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> int | None:
        """See `Inserter.insert_numbered`. LOAD DATA is a bulk insert: with innodb_autoinc_lock_mode 0 or
        1 (MariaDB's default) InnoDB holds the table's AUTO-INC lock to the end of the statement, so the
        rows take consecutive ids in file order from LAST_INSERT_ID(), one step of auto_increment_increment
        apart. Mode 2 (MySQL 8's default) interleaves other inserts' ids: the caller reads them back."""
        await self.insert(cur, table, rows)
        if not rows or not await self._numbers_consecutively(cur):
            return None
        await cur.execute("SELECT LAST_INSERT_ID()")
        (first,) = await cur.fetchone()
        return int(first)

    async def _numbers_consecutively(self, cur: aiomysql.Cursor) -> bool:
        if self._consecutive is None:
            await cur.execute("SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment")
            mode, increment = await cur.fetchone()
            self._consecutive = int(mode) <= 1 and int(increment) == 1
        return self._consecutive

    def __enter__(self) -> LocalInfileInserter:
        return self

    def __exit__(self, *_: object) -> None:
        """Remove the scratch file and its directory."""
        self._file.unlink(missing_ok=True)
        os.rmdir(self._directory)


def _blanked(table: Table, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """row with None as an empty field; LoadMismatch (the statements decide) for None in a NOT NULL column."""
    for index in table.required:
        if row[index] is None:
            raise LoadMismatch(f"a row for {table.name} has NULL in a column that takes none")
    return tuple(["" if value is None else value for value in row])


def _escaped_tsv(rows: Sequence[tuple[Any, ...]]) -> str:
    """The rows with LOAD DATA's backslash escapes (the `csv` writer inspects every character: three times
    the cost of the unescaped form on JSON bodies, so only when a value needs it)."""
    text = io.StringIO()
    writer = csv.writer(
        text, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, escapechar="\\", lineterminator="\n"
    )
    writer.writerows(rows)
    return text.getvalue()
