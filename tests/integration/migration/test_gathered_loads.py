"""GatheredLoads (services/migration/inserts.py) on the real database: the rows of held tables wait for
`flush` and then go as one LOAD DATA per table and escaping, in the order they came; other tables and
numbered loads go at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiomysql
import pytest

from services.migration.bulk import CHANGE_LOG, OUTBOX
from services.migration.inserts import GatheredLoads, LocalInfileInserter, RowLines
from shared.db.pool import create_pool
from shared.settings import CommonSettings
from tests.integration.migration.test_pipeline import reset_database

pytestmark = pytest.mark.integration

USER = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
async def cur(settings: CommonSettings, scratch_db: str) -> AsyncIterator[aiomysql.Cursor]:
    """A cursor of the loader's kind of pool (LOCAL files allowed) on the emptied scratch database; its
    transaction is rolled back afterwards."""
    await reset_database(settings, scratch_db)
    pool = await create_pool(
        settings.model_copy(update={"db_name": scratch_db}), no_backslash_escapes=True, local_infile=True
    )
    try:
        async with pool.acquire() as conn, conn.cursor() as cursor:
            yield cursor
            await conn.rollback()
    finally:
        pool.close()
        await pool.wait_closed()


async def _loads(cur: aiomysql.Cursor) -> int:
    await cur.execute("SHOW SESSION STATUS LIKE 'Com_load'")
    (_, count) = await cur.fetchone()
    return int(count)


async def _change_log(cur: aiomysql.Cursor) -> list[tuple[str, str]]:
    await cur.execute("SELECT entity, entity_id FROM change_log ORDER BY id")
    return [(entity, entity_id) for entity, entity_id in await cur.fetchall()]


async def test_held_rows_go_at_flush_as_one_load_per_table_in_order(cur: aiomysql.Cursor) -> None:
    with LocalInfileInserter() as inserter:
        loads = GatheredLoads(inserter, (CHANGE_LOG,))
        before = await _loads(cur)
        await loads.insert(cur, CHANGE_LOG, [(USER, "device", "d-1", "upsert"), (USER, "device", "d-2", "upsert")])
        await loads.load(cur, CHANGE_LOG, RowLines.of([f"{USER}\treading\t7\tupsert\n"], escaped=False))
        await loads.insert(cur, OUTBOX, [("e-1", "vitalsync.events.v1", USER, '{"type":"device.paired"}')])
        assert await _change_log(cur) == []  # held
        assert await _loads(cur) == before + 1  # the outbox row went at once
        await loads.insert(cur, CHANGE_LOG, [(USER, "settings", "d-1", "upsert")])
        await loads.flush(cur)
        assert await _loads(cur) == before + 2  # all four change_log rows in one LOAD DATA
        assert await _change_log(cur) == [
            ("device", "d-1"),
            ("device", "d-2"),
            ("reading", "7"),
            ("settings", "d-1"),
        ]
        await loads.flush(cur)  # nothing held any more: nothing loaded twice
        assert await _loads(cur) == before + 2
        assert len(await _change_log(cur)) == 4


async def test_lines_escaped_and_plain_go_as_two_files_each_exact(cur: aiomysql.Cursor) -> None:
    with LocalInfileInserter() as inserter:
        loads = GatheredLoads(inserter, (CHANGE_LOG,))
        before = await _loads(cur)
        # a tab in a value makes its file use LOAD DATA's escapes; a backslash in a plain file is a character
        await loads.insert(cur, CHANGE_LOG, [(USER, "device", "tab\there", "upsert")])
        await loads.insert(cur, CHANGE_LOG, [(USER, "device", "back\\slash", "upsert")])
        await loads.insert(cur, CHANGE_LOG, [(USER, "device", "new\nline", "upsert")])
        await loads.flush(cur)
        assert await _loads(cur) == before + 2
        assert sorted(entity_id for _, entity_id in await _change_log(cur)) == sorted(
            ["tab\there", "back\\slash", "new\nline"]
        )


async def test_numbered_loads_are_never_held(cur: aiomysql.Cursor) -> None:
    with LocalInfileInserter() as inserter:
        loads = GatheredLoads(inserter, (CHANGE_LOG,))
        rows = RowLines.of([f"{USER}\treading\t{n}\tupsert\n" for n in range(3)], escaped=False)
        ids = await loads.load(cur, CHANGE_LOG, rows, numbered=True)
        assert len(ids) == 3 and ids == list(range(ids[0], ids[0] + 3))
        await cur.execute("SELECT id FROM change_log ORDER BY id")
        assert [row_id for (row_id,) in await cur.fetchall()] == ids
