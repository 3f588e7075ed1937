"""``vitalsync stats verify`` finds a deliberately corrupted aggregate; ``rebuild`` repairs it."""

from __future__ import annotations

import json
import subprocess
import sys

import aiomysql
import pytest

from tests.conftest import subprocess_env
from tests.integration.stats.conftest import DAY, Scratch, consume_to_end, publish_outbox, seed_fleet

pytestmark = pytest.mark.integration

WINDOW = ["--from", "2026-03-01", "--to", "2026-03-31"]


def _stats(scratch: Scratch, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "stats", *args, "--database", scratch.settings.db_name],
        capture_output=True,
        text=True,
        timeout=120,
        env=subprocess_env(),
        check=False,
    )


async def _execute(pool: aiomysql.Pool, sql: str, *params: object) -> str:
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute(sql, params)
        await conn.commit()
    return sql


async def test_verify_reports_each_corrupted_aggregate_and_rebuild_repairs_them(
    scratch: Scratch, pool: aiomysql.Pool
) -> None:
    await seed_fleet(pool, scratch.events_topic)
    await publish_outbox(pool, scratch.settings)
    await consume_to_end(pool, scratch)
    clean = _stats(scratch, "verify", *WINDOW, "--json")
    assert clean.returncode == 0, clean.stderr
    assert json.loads(clean.stdout)["ok"] is True and json.loads(clean.stdout)["groups_checked"] > 0

    await _execute(
        pool,
        "UPDATE stats_daily SET readings = readings + 1 WHERE day = %s AND region = 'eu' AND model = 'BP-1'",
        DAY.date(),
    )
    await _execute(
        pool,
        "UPDATE stats_daily_regions SET active_users = active_users - 1 WHERE day = %s AND region = 'jp'",
        DAY.date(),
    )
    async with pool.acquire() as conn, conn.cursor() as cur:
        await cur.execute("SELECT device_id FROM stats_devices ORDER BY device_id LIMIT 1")
        (device_id,) = await cur.fetchone()
        await cur.execute(
            "UPDATE stats_devices SET last_seen_at = '2026-03-30 00:00:00' WHERE device_id = %s", (device_id,)
        )
        await conn.commit()

    corrupted = _stats(scratch, "verify", *WINDOW, "--json")
    assert corrupted.returncode == 1
    report = json.loads(corrupted.stdout)
    assert report["ok"] is False
    found = {(d["table"], json.dumps(d["key"], sort_keys=True)): d for d in report["differences"]}
    assert len(found) == 3
    daily = found[
        (
            "stats_daily",
            json.dumps(
                {"day": "2026-03-10", "model": "BP-1", "reading_type": "blood_pressure", "region": "eu"}, sort_keys=True
            ),
        )
    ]
    assert daily["stream"]["readings"] == daily["recomputed"]["readings"] + 1
    regions = found[("stats_daily_regions", json.dumps({"day": "2026-03-10", "region": "jp"}, sort_keys=True))]
    assert regions["stream"]["active_users"] == regions["recomputed"]["active_users"] - 1
    device = found[("stats_devices", json.dumps({"device_id": device_id}))]
    assert device["stream"]["last_seen_at"] == "2026-03-30T00:00:00Z"

    human = _stats(scratch, "verify", *WINDOW)
    assert human.returncode == 1 and "3 difference(s)" in human.stderr

    repaired = _stats(scratch, "rebuild", *WINDOW)
    assert repaired.returncode == 0, repaired.stderr
    assert _stats(scratch, "verify", *WINDOW).returncode == 0
