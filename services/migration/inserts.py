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
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from pathlib import Path
from typing import Any, Protocol

import aiomysql
import pymysql

from services.migration.errors import MigrationError

# the server or the client refuses LOAD DATA LOCAL (disabled, or not allowed with this version)
_REFUSED = frozenset({1148, 2068, 3948, 4166})
_MAX_PACKET_PAYLOAD = 2**24 - 1  # a payload this long means "continued in the next packet"
_PACKET_MARGIN = 1024  # the packet header and the server's own accounting


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


@dataclass(frozen=True)
class RowLines:
    """Rows as a LOAD DATA file: its bytes, where each row's line ends, and whether the lines use LOAD
    DATA's backslash escapes. Built where the rows are made (the snapshot's preparer process builds them
    for the loader: bytes cross a pipe as they are), sent by `LocalInfileInserter.load`."""

    data: bytes
    ends: list[int]  # offset after each line's newline
    escaped: bool

    @classmethod
    def of(cls, lines: list[str], *, escaped: bool, text: str | None = None) -> RowLines:
        """The file of these lines (each with its newline); text: their join, when the caller has it."""
        text = "".join(lines) if text is None else text
        data = text.encode("utf-8")
        sizes = map(len, lines) if len(data) == len(text) else (len(line.encode("utf-8")) for line in lines)
        return cls(data, list(accumulate(sizes)), escaped)

    @classmethod
    def joined(cls, parts: Sequence[RowLines]) -> RowLines:
        """One file of several, in order (all escaped alike)."""
        ends: list[int] = []
        size = 0
        for part in parts:
            ends.extend([end + size for end in part.ends])
            size += len(part.data)
        return cls(b"".join(part.data for part in parts), ends, parts[0].escaped)

    def __len__(self) -> int:
        return len(self.ends)

    def halves(self) -> tuple[RowLines, RowLines]:
        """The first half of the rows and the rest, as two files."""
        middle = len(self.ends) // 2
        cut = self.ends[middle - 1]
        rest = [end - cut for end in self.ends[middle:]]
        return RowLines(self.data[:cut], self.ends[:middle], self.escaped), RowLines(
            self.data[cut:], rest, self.escaped
        )


def row_lines(table: Table, rows: Sequence[tuple[Any, ...]]) -> RowLines:
    """rows as a file: unescaped when no value holds a tab or a newline, else with LOAD DATA's own
    escaping; None blanked (`_blanked`, which raises `LoadMismatch` for None in a column that takes none)."""
    rows = [row if None not in row else _blanked(table, row) for row in rows]
    line = table.line_format
    lines = [line % row for row in rows]
    text = "".join(lines)
    if text.count("\n") == len(rows) and text.count("\t") == len(rows) * (len(table.columns) - 1):
        return RowLines.of(lines, escaped=False, text=text)
    return RowLines.of(_escaped_lines(rows), escaped=True)  # a value holds a tab or a newline: escape them


class Inserter(Protocol):
    """Inserts rows (tuples in `Table.columns` order) in the caller's transaction."""

    async def insert(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> None: ...

    async def insert_numbered(
        self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]
    ) -> list[int] | None:
        """Insert rows into a table with an AUTO_INCREMENT id; the rows' ids in row order when they can be
        counted from the first one, None when the caller must read them back."""
        ...

    async def flush(self, cur: aiomysql.Cursor) -> None:
        """Insert the rows held back so far (`GatheredLoads`); the others hold none."""
        ...


class StatementInserter:
    """Multi-row statements (the driver splits them at its packet size): `Table.statement`, which may upsert."""

    async def insert(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            await cur.executemany(table.statement, rows)

    async def insert_numbered(
        self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]
    ) -> list[int] | None:
        """See `Inserter.insert_numbered`: never known (an upsert that updates a row takes no new id)."""
        await self.insert(cur, table, rows)
        return None

    async def flush(self, cur: aiomysql.Cursor) -> None:
        """Nothing is held back."""


STATEMENTS = StatementInserter()


class _FileInserter(ABC):
    """An inserter that sends rows as LOAD DATA files: `insert` and `insert_numbered` of `row_lines`."""

    async def insert(self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        """See `Inserter.insert`."""
        if rows:
            await self.load(cur, table, row_lines(table, rows))

    async def insert_numbered(
        self, cur: aiomysql.Cursor, table: Table, rows: Sequence[tuple[Any, ...]]
    ) -> list[int] | None:
        """See `Inserter.insert_numbered`."""
        if not rows:
            return None
        return await self.load_numbered(cur, table, row_lines(table, rows))

    @abstractmethod
    async def load(self, cur: aiomysql.Cursor, table: Table, rows: RowLines, *, numbered: bool = False) -> list[int]:
        """LOAD DATA of the lines; their ids when numbered."""

    @abstractmethod
    async def load_numbered(self, cur: aiomysql.Cursor, table: Table, rows: RowLines) -> list[int] | None:
        """`load` into a table with an AUTO_INCREMENT id; the rows' ids, or None when not counted."""


class LocalInfileInserter(_FileInserter):
    """LOAD DATA LOCAL INFILE of each table's rows, written as a file in a private directory.

    Values are written as `str` gives them (datetimes in ISO form), unescaped when no value holds a tab or
    a newline, else by `csv` with LOAD DATA's own backslash escaping; every string arrives exactly. None
    becomes an empty field, which the table's nullable columns (never holding an empty string) read as
    NULL; a None in any other column is left to the statements, which reject it as MariaDB would.

    A file is at most one protocol packet (`max_file_bytes`, by default what the server allows, at most
    16 MiB - 1); more rows go in several files, in row order. aiomysql sends a file in packets of exactly
    16 MiB - 1 bytes, which the protocol reads as one packet continued in the next: past the server's
    max_allowed_packet (64 MiB here, 4 MiB in old MySQL) the server drops the load and the driver fails
    with "Packet sequence number wrong". A chunk of 2,000 objects near Kii's 64 KB limit is 128 MB.
    """

    def __init__(self, max_file_bytes: int | None = None) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="vitalsync-load-"))  # mode 0700
        self._file = self._directory / "rows.tsv"
        self._max_file_bytes = max_file_bytes
        self._consecutive: bool | None = None

    async def load_numbered(self, cur: aiomysql.Cursor, table: Table, rows: RowLines) -> list[int] | None:
        """`load` into a table with an AUTO_INCREMENT id; the rows' ids in row order, or None when the
        server does not number a bulk insert consecutively. LOAD DATA is a bulk insert: with
        innodb_autoinc_lock_mode 0 or 1 (MariaDB's default) InnoDB holds the table's AUTO-INC lock to the
        end of the statement, so a file's rows take consecutive ids in file order from LAST_INSERT_ID().
        Mode 2 (MySQL 8's default) or an auto_increment_increment other than 1 interleave or space them."""
        if not await self.numbers_consecutively(cur):
            await self.load(cur, table, rows)
            return None
        return await self.load(cur, table, rows, numbered=True)

    async def load(self, cur: aiomysql.Cursor, table: Table, rows: RowLines, *, numbered: bool = False) -> list[int]:
        """LOAD DATA of the lines, halved until each file fits; their ids when numbered."""
        if not rows:
            return []
        if len(rows.data) > await self._file_limit(cur) and len(rows) > 1:
            first, rest = rows.halves()
            return await self.load(cur, table, first, numbered=numbered) + await self.load(
                cur, table, rest, numbered=numbered
            )
        self._file.write_bytes(rows.data)
        parameters = (str(self._file), "\\") if rows.escaped else (str(self._file),)
        try:
            await cur.execute(table.load_sql(escaped=rows.escaped), parameters)
        except pymysql.err.OperationalError as error:
            if error.args and error.args[0] in _REFUSED:
                raise LocalInfileRefused(f"LOAD DATA LOCAL INFILE refused ({error})") from None
            raise
        warnings = cur._result.warning_count if cur._result is not None else 0  # the driver keeps it there only
        if cur.rowcount != len(rows) or warnings:
            raise LoadMismatch(f"LOAD DATA into {table.name}: {cur.rowcount} of {len(rows)} rows, {warnings} warnings")
        if not numbered:
            return []
        await cur.execute("SELECT LAST_INSERT_ID()")
        (first_id,) = await cur.fetchone()
        return list(range(int(first_id), int(first_id) + len(rows)))

    async def flush(self, cur: aiomysql.Cursor) -> None:
        """Nothing is held back."""

    async def _file_limit(self, cur: aiomysql.Cursor) -> int:
        if self._max_file_bytes is None:
            self._max_file_bytes = await max_file_bytes(cur)
        return self._max_file_bytes

    async def numbers_consecutively(self, cur: aiomysql.Cursor) -> bool:
        """Whether a LOAD DATA's rows take consecutive AUTO_INCREMENT ids (`load_numbered`)."""
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


class GatheredLoads(_FileInserter):
    """A `LocalInfileInserter` that holds back the rows of some tables and loads them, one file per table,
    at `flush`: the tables several parts of a chunk write (its devices, readings and settings each have
    change_log rows, events and raw rows). Every LOAD DATA costs a file, a round of the LOCAL INFILE
    exchange and the server's setup of a statement: five fewer per chunk took 0.462 -> 0.486 of LOAD DATA
    (BENCHMARKS.md). The rows of other tables, and numbered loads, go at once."""

    def __init__(self, inserter: LocalInfileInserter, tables: Collection[Table]) -> None:
        self._inserter = inserter
        self._held = frozenset(table.name for table in tables)
        self._pending: dict[tuple[str, bool], tuple[Table, list[RowLines]]] = {}  # in the order first held

    async def load_numbered(self, cur: aiomysql.Cursor, table: Table, rows: RowLines) -> list[int] | None:
        """See `LocalInfileInserter.load_numbered` (never held: the ids are wanted now)."""
        return await self._inserter.load_numbered(cur, table, rows)

    async def numbers_consecutively(self, cur: aiomysql.Cursor) -> bool:
        """See `LocalInfileInserter.numbers_consecutively`."""
        return await self._inserter.numbers_consecutively(cur)

    async def load(self, cur: aiomysql.Cursor, table: Table, rows: RowLines, *, numbered: bool = False) -> list[int]:
        """See `LocalInfileInserter.load`; the lines of a held table wait for `flush` (and return no ids)."""
        if numbered or table.name not in self._held:
            return await self._inserter.load(cur, table, rows, numbered=numbered)
        if rows:
            self._pending.setdefault((table.name, rows.escaped), (table, []))[1].append(rows)
        return []

    async def flush(self, cur: aiomysql.Cursor) -> None:
        """Load the held rows: per table (and escaping), one file of them in the order they came."""
        pending, self._pending = self._pending, {}
        for table, parts in pending.values():
            await self._inserter.load(cur, table, RowLines.joined(parts))


async def max_file_bytes(cur: aiomysql.Cursor) -> int:
    """The largest file aiomysql can send to this server for LOAD DATA LOCAL (see `LocalInfileInserter`)."""
    await cur.execute("SELECT @@max_allowed_packet")
    (allowed,) = await cur.fetchone()
    return min(int(allowed), _MAX_PACKET_PAYLOAD) - _PACKET_MARGIN


def _blanked(table: Table, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """row with None as an empty field; LoadMismatch (the statements decide) for None in a NOT NULL column."""
    for index in table.required:
        if row[index] is None:
            raise LoadMismatch(f"a row for {table.name} has NULL in a column that takes none")
    return tuple(["" if value is None else value for value in row])


def _escaped_lines(rows: Sequence[tuple[Any, ...]]) -> list[str]:
    """The rows' lines with LOAD DATA's backslash escapes (the `csv` writer inspects every character: three
    times the cost of the unescaped form on JSON bodies, so only when a value needs it)."""
    text = io.StringIO()
    writer = csv.writer(
        text, delimiter="\t", quoting=csv.QUOTE_NONE, quotechar=None, escapechar="\\", lineterminator="\n"
    )
    lines = []
    for row in rows:
        writer.writerow(row)
        lines.append(text.getvalue())
        text.seek(0)
        text.truncate()
    return lines
