"""Malformed events go to the dead-letter topic with the reason, and the consumer keeps going."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime

import aiomysql
import pytest

from services.stats.consumer import StatsConsumer
from tests.integration.stats.conftest import (
    Scratch,
    add_readings,
    add_user,
    eventually,
    pair,
    produce_raw,
    publish_outbox,
    read_topic,
    snapshot,
)

pytestmark = pytest.mark.integration


def _reading(user: str, device: str | None, **overrides: object) -> dict[str, object]:
    event: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "type": "reading.created",
        "occurred_at": "2026-03-10T08:00:00Z",
        "user_id": user,
        "region": "eu",
        "data": {
            "reading_id": 1,
            "device_id": device,
            "type": "blood_pressure",
            "measured_at": "2026-03-10T08:00:00Z",
            "primary_value": 128,
        },
    }
    event.update(overrides)
    return event


async def test_malformed_events_are_dead_lettered_and_the_consumer_keeps_going(
    scratch: Scratch, pool: aiomysql.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    user = await add_user(pool, "eu")
    device = await pair(pool, scratch.events_topic, user, "eu", "BP-1")
    await publish_outbox(pool, scratch.settings)  # device.paired
    key = user.encode()
    missing = _reading(user, device)
    missing["data"] = {"reading_id": 2}  # device_id, type, measured_at missing
    bad = [
        b'{"id": "e-1", "type": "reading.created", ',  # bad JSON
        json.dumps(_reading(user, device, type="reading.deleted", id="e-unknown")).encode(),  # unknown type
        json.dumps(missing).encode(),
        json.dumps(_reading(user, "no-such-device", id="e-ghost")).encode(),  # well-formed, names an unknown device
    ]
    good = [json.dumps(_reading(user, device)).encode() for _ in range(2)]
    # all on one key, so one partition: the good events after the bad ones prove the consumer went on
    await produce_raw(
        scratch.settings, scratch.events_topic, [(key, good[0]), *[(key, v) for v in bad], (key, good[1])]
    )

    consumer = StatsConsumer(pool, scratch.settings, group_id=scratch.group)
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="services.stats.consumer")
    task = asyncio.create_task(consumer.run(stop))
    try:

        async def readings_applied(expected: int) -> bool:
            rows = (await snapshot(pool))["stats_daily"]
            return bool(rows) and rows[0][4] == expected

        await eventually(lambda: readings_applied(2), 30, "the two good readings")
        letters = await _dead_letters(scratch, 4)
        reasons = {record.offset: dict(record.headers)["error"].decode() for record in letters}
        assert sorted(reasons.values()) == sorted(
            [
                "invalid JSON",
                "unknown event type",
                "missing field data.device_id; missing field data.type; missing field data.measured_at",
                "unknown device",
            ]
        )
        for record in letters:
            headers = dict(record.headers)
            assert headers["source-topic"].decode() == scratch.events_topic
            assert headers["consumer-group"].decode() == scratch.group
            assert record.key == key
        assert sorted(record.value for record in letters) == sorted(bad)  # the original bytes, for reprocessing
        # nothing of the payloads in the logs: only ids and positions
        assert "128" not in caplog.text and "e-ghost" in caplog.text

        # still consuming after the dead letters
        await add_readings(pool, scratch.events_topic, user, "eu", device, [datetime(2026, 3, 10, 9)])
        await publish_outbox(pool, scratch.settings)
        await eventually(lambda: readings_applied(3), 30, "a reading sent after the dead letters")
        assert not task.done()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
    assert consumer.dead_lettered_total == 4


async def _dead_letters(scratch: Scratch, count: int) -> list:  # type: ignore[type-arg]
    records: list = []  # type: ignore[type-arg]

    async def arrived() -> bool:
        nonlocal records
        records = await read_topic(scratch.settings, scratch.dlq_topic)
        return len(records) >= count

    await eventually(arrived, 30, f"{count} dead letters")
    assert len(records) == count
    return records
