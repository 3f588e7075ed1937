"""The pool's NO_BACKSLASH_ESCAPES option (the migration's), and the migration's LOAD DATA LOCAL inserter
(services/migration/inserts.py): strings still round-trip byte for byte."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiomysql
import pytest
from pymysql.constants import SERVER_STATUS

from services.migration.inserts import LoadMismatch, LocalInfileInserter, Table
from shared.db.connection import connect
from shared.db.pool import create_pool
from shared.settings import CommonSettings

pytestmark = pytest.mark.integration

NASTY = [
    "it's",
    "back\\slash at the end\\",
    "\\' quote after a backslash",
    "''; DROP TABLE t; --",
    'double "quotes" and \\"escaped\\" ones',
    "new\nline, tab\t, return\r, NUL \x00, ctrl-Z \x1a",
    "unicode: Zoë 北京 🩺",
    "",
]


@asynccontextmanager
async def _opened_pool(settings: CommonSettings, **options: bool) -> AsyncIterator[aiomysql.Pool]:
    """`create_pool` with these options, closed afterwards."""
    pool = await create_pool(settings, **options)
    try:
        yield pool
    finally:
        pool.close()
        await pool.wait_closed()


@asynccontextmanager
async def _scratch_table(settings: CommonSettings, columns: str) -> AsyncIterator[str]:
    """A table of these columns under a random name, dropped afterwards."""
    name = f"pool_t{uuid.uuid4().hex[:10]}"
    conn = await connect(settings)
    async with conn.cursor() as cur:
        await cur.execute(f"CREATE TABLE {name} ({columns})")
    try:
        yield name
    finally:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP TABLE {name}")
        conn.close()


@pytest.fixture
async def table(settings: CommonSettings) -> AsyncIterator[str]:
    """A scratch table: a text column that may be NULL, one that may not, and a JSON column."""
    columns = "id INT PRIMARY KEY, maybe TEXT NULL, text_value TEXT NOT NULL, doc JSON"
    async with _scratch_table(settings, columns) as name:
        yield name


@pytest.fixture
async def long_table(settings: CommonSettings) -> AsyncIterator[str]:
    """A scratch table with an AUTO_INCREMENT id and a LONGTEXT column."""
    async with _scratch_table(settings, "id BIGINT AUTO_INCREMENT PRIMARY KEY, body LONGTEXT NOT NULL") as name:
        yield name


@pytest.mark.parametrize("no_backslash_escapes", [True, False])
async def test_strings_round_trip_exactly(settings: CommonSettings, table: str, no_backslash_escapes: bool) -> None:
    async with _opened_pool(settings, no_backslash_escapes=no_backslash_escapes) as pool:
        async with pool.acquire() as conn:
            flagged = bool(conn.server_status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES)
            assert flagged is no_backslash_escapes
            rows = [(i, text, json.dumps({"v": text}, ensure_ascii=False)) for i, text in enumerate(NASTY)]
            async with conn.cursor() as cur:
                await cur.executemany(f"INSERT INTO {table} (id, text_value, doc) VALUES (%s, %s, %s)", rows)
                await cur.execute(f"UPDATE {table} SET text_value = %s WHERE id = %s", (NASTY[2] + "!", 2))
                await conn.commit()
                await cur.execute(f"SELECT id, text_value, doc FROM {table} ORDER BY id")
                found = await cur.fetchall()
            await conn.commit()
    expected = [(i, NASTY[2] + "!" if i == 2 else text, {"v": text}) for i, text in enumerate(NASTY)]
    assert [(i, text, json.loads(doc)) for i, text, doc in found] == expected
    assert await _count(settings, table) == len(NASTY)  # the injection attempt stayed a value


async def _count(settings: CommonSettings, table: str) -> int:
    conn = await connect(settings)
    async with conn.cursor() as cur:
        await cur.execute(f"SELECT COUNT(*) FROM {table}")
        (count,) = await cur.fetchone()
    conn.close()
    return int(count)


@pytest.mark.parametrize("no_backslash_escapes", [True, False])
@pytest.mark.parametrize("strings", ["plain", "with tabs and newlines"])
async def test_strings_survive_load_data_exactly(
    settings: CommonSettings, table: str, no_backslash_escapes: bool, strings: str
) -> None:
    texts = [t for t in NASTY if ("\t" in t or "\n" in t) == (strings != "plain")] + [
        "a\\tb \\N \\\\n",
        "carriage\rreturn alone",
        "NUL \x00 and ctrl-Z \x1a alone",
    ]
    rows = [
        (i, None if i % 3 == 0 else f"{text}.", text, json.dumps({"v": text}, ensure_ascii=False))
        for i, text in enumerate(texts)
    ]
    spec = Table(table, ("id", "maybe", "text_value", "doc"), "unused", nullable=frozenset({"maybe"}))
    async with _opened_pool(settings, no_backslash_escapes=no_backslash_escapes, local_infile=True) as pool:
        async with pool.acquire() as conn:
            with LocalInfileInserter() as inserter:
                async with conn.cursor() as cur:
                    await inserter.insert(cur, spec, rows)
                    await conn.commit()
                    await cur.execute(f"SELECT id, maybe, text_value, doc FROM {table} ORDER BY id")
                    found = await cur.fetchall()
            await conn.commit()
    assert [(i, maybe, text, json.loads(doc)) for i, maybe, text, doc in found] == [
        (i, maybe, text, json.loads(doc)) for i, maybe, text, doc in rows
    ]


async def test_load_data_leaves_null_in_a_not_null_column_to_the_statements(
    settings: CommonSettings, table: str
) -> None:
    spec = Table(table, ("id", "maybe", "text_value", "doc"), "unused", nullable=frozenset({"maybe"}))
    async with _opened_pool(settings, local_infile=True) as pool:
        async with pool.acquire() as conn, conn.cursor() as cur:
            with LocalInfileInserter() as inserter, pytest.raises(LoadMismatch, match="NULL in a column"):
                await inserter.insert(cur, spec, [(1, None, None, "{}")])  # '' would pass for a string
            await conn.rollback()
    assert await _count(settings, table) == 0


@pytest.mark.parametrize("increment", [1, 2])
async def test_load_data_numbers_rows_from_last_insert_id_only_when_consecutive(
    settings: CommonSettings, increment: int
) -> None:
    name = f"pool_n{uuid.uuid4().hex[:10]}"
    spec = Table(name, ("label",), "unused")
    async with _opened_pool(settings, local_infile=True) as pool:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(f"CREATE TABLE {name} (id BIGINT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(10))")
            await cur.execute(f"INSERT INTO {name} (label) VALUES ('before')")
            # a session stepping ids by 2 (as a multi-primary cluster does): the inserter must not count by 1
            await cur.execute("SET SESSION auto_increment_increment = %s", (increment,))
            with LocalInfileInserter() as inserter:
                numbered = await inserter.insert_numbered(cur, spec, [(f"r{n}",) for n in range(5)])
            await cur.execute(f"SELECT label, id FROM {name} WHERE label <> 'before'")
            ids = dict(await cur.fetchall())
            await cur.execute(f"DROP TABLE {name}")
            await cur.execute("SET SESSION auto_increment_increment = 1")
    if increment == 1:
        assert numbered == [ids[f"r{n}"] for n in range(5)] and numbered == list(range(numbered[0], numbered[0] + 5))
    else:
        assert numbered is None and len(set(ids.values())) == 5


@pytest.mark.parametrize("text", ["plain", "tab\tand\nnewline"])
async def test_rows_over_the_file_limit_go_in_several_files_in_order(
    settings: CommonSettings, long_table: str, text: str
) -> None:
    spec = Table(long_table, ("body",), "unused")
    rows = [(f"{n:03d} {text} " + "x" * 300,) for n in range(40)]  # ~12 KB, files of at most 2 KB
    async with _opened_pool(settings, local_infile=True) as pool:
        async with pool.acquire() as conn, conn.cursor() as cur:
            loads = await _status(cur, "Com_load")
            with LocalInfileInserter(max_file_bytes=2048) as inserter:
                numbered = await inserter.insert_numbered(cur, spec, rows)
            assert await _status(cur, "Com_load") - loads >= 6
            await cur.execute(f"SELECT id, body FROM {long_table} ORDER BY id")
            found = await cur.fetchall()
            await conn.commit()
    assert [body for _, body in found] == [body for (body,) in rows]
    assert numbered == [row_id for row_id, _ in found]


async def test_a_load_past_max_allowed_packet_lands(settings: CommonSettings, long_table: str) -> None:
    # 70 MB in one file: aiomysql sent it as 16 MiB packets the server joined into one, past its 64 MiB
    # max_allowed_packet, and failed with "Packet sequence number wrong"
    spec = Table(long_table, ("body",), "unused")
    rows = [(f"{n:02d}" + "y" * 1_000_000,) for n in range(70)]
    async with _opened_pool(settings, local_infile=True) as pool:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT @@max_allowed_packet")
            (allowed,) = await cur.fetchone()
            assert int(allowed) < 70_000_000  # the server's limit is what this load crosses
            with LocalInfileInserter() as inserter:
                await inserter.insert(cur, spec, rows)
            await cur.execute(
                f"SELECT COUNT(*), SUM(LENGTH(body)), MIN(LEFT(body, 2)), MAX(LEFT(body, 2)) FROM {long_table}"
            )
            found = await cur.fetchone()
            await conn.commit()
    assert (found[0], int(found[1]), found[2], found[3]) == (70, 70 * 1_000_002, "00", "69")


async def _status(cur: Any, name: str) -> int:
    await cur.execute("SHOW SESSION STATUS LIKE %s", (name,))
    return int((await cur.fetchone())[1])
