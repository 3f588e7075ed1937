"""The SQL side of the checksums computes what the Python side computes, on the real server.

Property tests: random JSON documents through MariaDB's JSON_NORMALIZE equal the Python replica, and
random rows (unicode, NULLs, awkward floats and datetimes) get the same CRC32 from `checksum_sql`
as from `row_checksum`, under every encoding the server supports.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import aiomysql
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from services.validation import target
from services.validation.canonical import (
    DEVICE_SETTINGS,
    READINGS,
    checksum_sql,
    datetime_text,
    db_values,
    row_checksum,
    select_columns,
)
from services.validation.json_encodings import JSON_ENCODINGS, pick_encoding
from shared.db.connection import connect
from shared.settings import CommonSettings

from .migrated import create_database, drop_database

pytestmark = pytest.mark.integration

MARIADB_ENCODINGS = [name for name, encoding in JSON_ENCODINGS.items() if "mariadb" in encoding.dialects]
text = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
numbers = st.one_of(
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.1, 128.0, 1e-7, 1e21, -0.0, 52.3, 36.55]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, text)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(text, children, max_size=5)),
    max_leaves=12,
)
SERVER_EXAMPLES = hyp_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
async def scratch(settings: CommonSettings) -> AsyncIterator[aiomysql.Connection]:
    name = await create_database(settings)
    conn = await connect(settings, name)
    try:
        yield conn
    finally:
        conn.close()
        await drop_database(settings, name)


@pytest.mark.parametrize("ensure_ascii", [True, False], ids=["ascii", "utf8"])
async def test_json_normalize_replica(scratch: aiomysql.Connection, ensure_ascii: bool) -> None:
    encoding = JSON_ENCODINGS["normalized" if ensure_ascii else "normalized-utf8"]
    seen: list[tuple[Any, str, str]] = []

    @SERVER_EXAMPLES
    @given(document=st.dictionaries(text, documents, max_size=6))
    def collect(document: dict[str, Any]) -> None:
        stored = json.dumps(document, ensure_ascii=ensure_ascii, separators=(",", ":"))
        seen.append((document, stored, encoding.python(document)))

    collect()
    async with scratch.cursor() as cur:
        for document, stored, python in seen:
            await cur.execute("SELECT JSON_NORMALIZE(%s)", (stored,))
            (server,) = await cur.fetchone()
            assert server == python, (document, stored)


def _reading(
    values: dict[str, Any], owner: str, number: int, moment: datetime, primary: float | None
) -> dict[str, Any]:
    return {
        "user_id": owner,
        "client_id": f"kii:bp_records/{number}-{secrets.token_hex(3)}",
        "device_id": None if number % 2 else owner,
        "type": "blood_pressure",
        "measured_at": datetime_text(moment),
        "primary_value": primary,
        "original_unit": None if number % 3 else "mmHg",
        "reading_values": values,
        "source": "migration",
    }


@pytest.mark.parametrize("encoding_name", MARIADB_ENCODINGS)
async def test_row_checksums_agree_with_the_server(scratch: aiomysql.Connection, encoding_name: str) -> None:
    encoding = JSON_ENCODINGS[encoding_name]
    owner = "0a0b0c0d-0000-4000-8000-000000000001"
    rows: list[dict[str, Any]] = []

    @SERVER_EXAMPLES
    @given(
        values=st.dictionaries(text, documents, max_size=5),
        micros=st.integers(0, 10**15),
        primary=st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
    )
    def collect(values: dict[str, Any], micros: int, primary: float | None) -> None:
        moment = datetime(2000, 1, 1) + timedelta(microseconds=micros)
        rows.append(_reading(values, owner, len(rows), moment, primary))

    collect()
    writer = encoding.python if encoding.sql_template == "{}" else JSON_ENCODINGS["compact"].python
    if encoding_name == "normalized-utf8":
        writer = JSON_ENCODINGS["compact-utf8"].python
    async with scratch.cursor() as cur:
        await cur.execute(
            "INSERT INTO users (id, login_name, region, profile, idp, legacy_user_id) "
            "VALUES (%s, 'checksums', 'eu', '{}', 'local', 'legacy-checksums')",
            (owner,),
        )
        await cur.execute(
            "INSERT INTO devices (id, user_id, kind, model, serial, paired_at) "
            "VALUES (%s, %s, 'blood_pressure', 'M', 'S', '2020-01-01')",
            (owner, owner),
        )
        await cur.executemany(
            "INSERT INTO readings (user_id, client_id, device_id, type, measured_at, primary_value, original_unit, "
            "reading_values, source) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    r["user_id"],
                    r["client_id"],
                    r["device_id"],
                    r["type"],
                    r["measured_at"],
                    r["primary_value"],
                    r["original_unit"],
                    writer(r["reading_values"]),
                    r["source"],
                )
                for r in rows
            ],
        )
        await cur.execute(
            f"SELECT {select_columns(READINGS)}, {checksum_sql(READINGS, encoding)} FROM readings t",
            (),
        )
        stored = await cur.fetchall()
    assert len(stored) == len(rows)
    by_client = {r["client_id"]: r for r in rows}
    for *columns, server_checksum in stored:
        values = db_values(READINGS, columns)
        assert values == by_client[values["client_id"]]
        assert row_checksum(READINGS, by_client[values["client_id"]], encoding) == server_checksum, values


async def test_settings_checksum_agrees_with_the_server(scratch: aiomysql.Connection) -> None:
    encoding = JSON_ENCODINGS["compact"]
    owner, device = "0a0b0c0d-0000-4000-8000-000000000002", "0a0b0c0d-0000-4000-8000-000000000003"
    document = {"language": "日本語", "autoTransfer": True, "alarms": [{"at": "07:30", "on": False}], "n": 1.5}
    async with scratch.cursor() as cur:
        await cur.execute(
            "INSERT INTO users (id, login_name, region, profile, idp, legacy_user_id) "
            "VALUES (%s, 'settings', 'eu', '{}', 'local', 'legacy-settings')",
            (owner,),
        )
        await cur.execute(
            "INSERT INTO devices (id, user_id, kind, model, serial, paired_at) "
            "VALUES (%s, %s, 'weight', 'M', 'S2', '2020-01-01')",
            (device, owner),
        )
        await cur.execute(
            "INSERT INTO device_settings (device_id, user_id, version, document) VALUES (%s, %s, 7, %s)",
            (device, owner, encoding.python(document)),
        )
        await cur.execute(f"SELECT {checksum_sql(DEVICE_SETTINGS, encoding)} FROM device_settings t", ())
        (server,) = await cur.fetchone()
    values = {"device_id": device, "user_id": owner, "version": 7, "document": document}
    assert row_checksum(DEVICE_SETTINGS, values, encoding) == server


@pytest.mark.parametrize(("ensure_ascii", "picked"), [(True, "compact"), (False, "compact-utf8")])
async def test_the_probe_finds_the_writers_escaping(
    scratch: aiomysql.Connection, ensure_ascii: bool, picked: str
) -> None:
    """Documents with non-ASCII text are sampled on purpose: they tell json.dumps' ensure_ascii apart."""
    owner = "0a0b0c0d-0000-4000-8000-000000000004"
    async with scratch.cursor() as cur:
        await cur.execute(
            "INSERT INTO users (id, login_name, region, profile, idp, legacy_user_id) "
            "VALUES (%s, 'probe', 'eu', '{}', 'local', 'legacy-probe')",
            (owner,),
        )
        rows = []
        for n in range(300):
            values = {"unit": "kg", "weight": 60.0 + n, "legacy": {"notes": "朝食後" if n == 250 else "ok"}}
            rows.append(
                (owner, f"kii:weight_records/{n}", json.dumps(values, ensure_ascii=ensure_ascii, separators=(",", ":")))
            )
        await cur.executemany(
            "INSERT INTO readings (user_id, type, client_id, measured_at, reading_values, source) "
            "VALUES (%s, 'weight', %s, '2022-01-01', %s, 'migration')",
            rows,
        )
    samples = await target.json_samples(scratch)
    assert any("朝" in sample or "\\u671d" in sample for sample in samples)
    assert pick_encoding("mariadb", samples).name == picked
