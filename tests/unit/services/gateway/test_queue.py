"""The offline queue on a temporary SQLite file: dedup by client id, oldest first, sync's answers, reopen."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.gateway.profiles import BLOOD_GLUCOSE, BLOOD_PRESSURE
from services.gateway.queue import OfflineQueue, UploadResult
from services.gateway.records import DeviceIdentity, QueueItem, build_item

from .test_records import BP_FRAME, BP_NAN_FRAME, GLUCOSE_FRAME

CUFF = DeviceIdentity("VS-BPM-200", "SN1")
METER = DeviceIdentity("VS-GM-7", "SN2")


def item(client_id: str, sendable: bool = True) -> QueueItem:
    payload = {"client_id": client_id, "type": "weight", "measured_at": "2025-01-01T00:00:00Z", "values": {}}
    return QueueItem(
        client_id=client_id,
        type="weight",
        sequence_number=None,
        measured_at="2025-01-01T00:00:00Z",
        payload=payload if sendable else None,
        reason=None if sendable else "special_value: weight=NaN",
        flags=(),
        decoded={},
        frame_hex="00",
    )


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueue]:
    async with OfflineQueue(tmp_path / "state" / "queue.sqlite3") as opened:
        await opened.upsert_device(CUFF, "blood_pressure", "VS-BPM-001", "C0:5E:53:00:00:01")
        await opened.upsert_device(METER, "blood_glucose", "VS-GM-001", None)
        yield opened


async def test_wal_mode_and_schema(queue: OfflineQueue) -> None:
    with sqlite3.connect(queue.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "1"


async def test_same_client_id_is_stored_once(queue: OfflineQueue) -> None:
    first = build_item(CUFF, BLOOD_PRESSURE, BP_FRAME, dt.UTC)
    assert await queue.add(CUFF.key, [first]) == 1
    assert await queue.add(CUFF.key, [first, build_item(CUFF, BLOOD_PRESSURE, BP_FRAME, dt.UTC)]) == 0
    assert await queue.counts() == {"pending": 1, "sent": 0, "rejected": 0, "unsendable": 0}


async def test_unsendable_rows_are_kept_but_never_batched(queue: OfflineQueue) -> None:
    await queue.add(CUFF.key, [build_item(CUFF, BLOOD_PRESSURE, BP_NAN_FRAME, dt.UTC)])
    assert await queue.next_batch(500) is None
    problems = await queue.problems()
    assert [(p["status"], p["reason"].split(":")[0], p["flags"]) for p in problems] == [
        ("unsendable", "special_value", ["body_movement"])
    ]
    assert problems[0]["decoded"]["systolic"] == "NaN"
    assert problems[0]["device"] == {"model": "VS-BPM-200", "serial": "SN1", "name": "VS-BPM-001"}


async def test_batches_are_per_device_oldest_first_and_bounded(queue: OfflineQueue) -> None:
    await queue.add(METER.key, [item("m1"), item("m2")])
    await queue.add(CUFF.key, [item(f"c{n}") for n in range(5)])
    await queue.add(METER.key, [item("m3"), item("bad", sendable=False)])
    batch = await queue.next_batch(2)
    assert batch is not None
    assert batch.device.device_key == METER.key
    assert [r.client_id for r in batch.readings] == ["m1", "m2"]
    await queue.mark_results({"m1": UploadResult("accepted", 10), "m2": UploadResult("duplicate", 7)})
    batch = await queue.next_batch(500)
    assert batch is not None and batch.device.device_key == CUFF.key  # c0 is older than m3
    assert [r.client_id for r in batch.readings] == [f"c{n}" for n in range(5)]
    assert batch.readings[0].payload["client_id"] == "c0"


async def test_results_mark_sent_or_rejected_with_the_server_code(queue: OfflineQueue) -> None:
    await queue.add(CUFF.key, [item("a"), item("b"), item("c")])
    await queue.mark_results(
        {
            "a": UploadResult("accepted", 1),
            "b": UploadResult("rejected", None, {"code": "VALUE_OUT_OF_RANGE", "message": "weight 900 outside"}),
        }
    )
    assert await queue.counts() == {"pending": 1, "sent": 1, "rejected": 1, "unsendable": 0}
    (rejected,) = await queue.problems()
    assert rejected["client_id"] == "b" and rejected["reason"] == "VALUE_OUT_OF_RANGE: weight 900 outside"
    # A later answer for a row that is no longer pending changes nothing.
    await queue.mark_results({"a": UploadResult("rejected", None, {"code": "X"})})
    assert (await queue.counts())["sent"] == 1


async def test_pending_rows_survive_a_reopen(queue: OfflineQueue, tmp_path: Path) -> None:
    await queue.add(CUFF.key, [item("kept")])
    async with OfflineQueue(queue.path) as reopened:  # a second connection, as after a restart
        batch = await reopened.next_batch(500)
        assert batch is not None and [r.client_id for r in batch.readings] == ["kept"]


async def test_racp_cursor_only_moves_forward_with_the_rows(queue: OfflineQueue) -> None:
    glucose = build_item(METER, BLOOD_GLUCOSE, GLUCOSE_FRAME, dt.UTC)
    await queue.add(METER.key, [glucose], racp_next_sequence=2)
    await queue.add(METER.key, [], racp_next_sequence=1)
    device = await queue.device(METER.key)
    assert device is not None and device.racp_next_sequence == 2
    assert (await queue.device(CUFF.key)).racp_next_sequence is None  # type: ignore[union-attr]


async def test_device_rows_and_user_binding(queue: OfflineQueue) -> None:
    await queue.set_sync_device_id(CUFF.key, "dev-1")
    assert not await queue.bind_user("user-a")  # first user: nothing to forget
    assert (await queue.device(CUFF.key)).sync_device_id == "dev-1"  # type: ignore[union-attr]
    assert not await queue.bind_user("user-a")
    assert await queue.bind_user("user-b")  # another user: device ids belong to the old one
    assert (await queue.device(CUFF.key)).sync_device_id is None  # type: ignore[union-attr]
    again = await queue.upsert_device(DeviceIdentity("VS-BPM-200", "SN1", firmware="2.0"), "blood_pressure", None, None)
    assert again.firmware == "2.0" and again.name == "VS-BPM-001"
