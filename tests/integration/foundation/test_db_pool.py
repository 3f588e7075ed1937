"""The pool's NO_BACKSLASH_ESCAPES option (the migration's), and the migration's LOAD DATA LOCAL inserter
(services/migration/inserts.py): strings still round-trip byte for byte."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator

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


@pytest.fixture
async def table(settings: CommonSettings) -> AsyncIterator[str]:
    """A scratch table: a text column that may be NULL, one that may not, and a JSON column."""
    name = f"pool_t{uuid.uuid4().hex[:10]}"
    conn = await connect(settings)
    async with conn.cursor() as cur:
        await cur.execute(
            f"CREATE TABLE {name} (id INT PRIMARY KEY, maybe TEXT NULL, text_value TEXT NOT NULL, doc JSON)"
        )
    try:
        yield name
    finally:
        async with conn.cursor() as cur:
            await cur.execute(f"DROP TABLE {name}")
        conn.close()


@pytest.mark.parametrize("no_backslash_escapes", [True, False])
async def test_strings_round_trip_exactly(settings: CommonSettings, table: str, no_backslash_escapes: bool) -> None:
    pool = await create_pool(settings, no_backslash_escapes=no_backslash_escapes)
    try:
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
    finally:
        pool.close()
        await pool.wait_closed()
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
    pool = await create_pool(settings, no_backslash_escapes=no_backslash_escapes, local_infile=True)
    try:
        async with pool.acquire() as conn:
            with LocalInfileInserter() as inserter:
                async with conn.cursor() as cur:
                    await inserter.insert(cur, spec, rows)
                    await conn.commit()
                    await cur.execute(f"SELECT id, maybe, text_value, doc FROM {table} ORDER BY id")
                    found = await cur.fetchall()
            await conn.commit()
    finally:
        pool.close()
        await pool.wait_closed()
    assert [(i, maybe, text, json.loads(doc)) for i, maybe, text, doc in found] == [
        (i, maybe, text, json.loads(doc)) for i, maybe, text, doc in rows
    ]


async def test_load_data_leaves_null_in_a_not_null_column_to_the_statements(
    settings: CommonSettings, table: str
) -> None:
    spec = Table(table, ("id", "maybe", "text_value", "doc"), "unused", nullable=frozenset({"maybe"}))
    pool = await create_pool(settings, local_infile=True)
    try:
        async with pool.acquire() as conn, conn.cursor() as cur:
            with LocalInfileInserter() as inserter, pytest.raises(LoadMismatch, match="NULL in a column"):
                await inserter.insert(cur, spec, [(1, None, None, "{}")])  # '' would pass for a string
            await conn.rollback()
    finally:
        pool.close()
        await pool.wait_closed()
    assert await _count(settings, table) == 0


@pytest.mark.parametrize("increment", [1, 2])
async def test_load_data_numbers_rows_from_last_insert_id_only_when_consecutive(
    settings: CommonSettings, increment: int
) -> None:
    name = f"pool_n{uuid.uuid4().hex[:10]}"
    spec = Table(name, ("label",), "unused")
    pool = await create_pool(settings, local_infile=True)
    try:
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(f"CREATE TABLE {name} (id BIGINT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(10))")
            await cur.execute(f"INSERT INTO {name} (label) VALUES ('before')")
            # a session stepping ids by 2 (as a multi-primary cluster does): the inserter must not count by 1
            await cur.execute("SET SESSION auto_increment_increment = %s", (increment,))
            with LocalInfileInserter() as inserter:
                first = await inserter.insert_numbered(cur, spec, [(f"r{n}",) for n in range(5)])
            await cur.execute(f"SELECT label, id FROM {name} WHERE label <> 'before'")
            ids = dict(await cur.fetchall())
            await cur.execute(f"DROP TABLE {name}")
            await cur.execute("SET SESSION auto_increment_increment = 1")
    finally:
        pool.close()
        await pool.wait_closed()
    if increment == 1:
        assert first is not None and ids == {f"r{n}": first + n for n in range(5)}
    else:
        assert first is None and len(set(ids.values())) == 5
