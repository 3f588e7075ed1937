"""The messages `migrate requeue` plans from failure rows (pure: no database, no queue)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from typer.testing import CliRunner

from services.migration.cli import app
from services.migration.records import WorkMessage
from services.migration.repo import FailureRow
from services.migration.requeue import plan_requeue
from shared.legacy.transform import default_mapping

SEEN = datetime(2026, 11, 26, 12, 0, 0, 123456)


def _failure(key: str, bucket: str, pattern: str = "ORPHAN_OWNER", scope: tuple[str, str] | None = None) -> FailureRow:
    scope_type, scope_id = scope if scope else (None, None)
    return FailureRow(key, bucket, pattern, 3, SEEN, scope_type, scope_id, 2, 40, 1_700_000_000_000)


USER = ("APP_AND_USER", "u-1")
FAILURES = [
    _failure("kiicloud://users/u-1/buckets/bp_records/objects/a", "bp_records", scope=USER),
    _failure("kiicloud://users/u-1/buckets/devices/objects/d", "devices", scope=USER),
    _failure("kiicloud://things/t-1/buckets/settings/objects/s", "settings", scope=("APP_AND_THING", "t-1")),
    _failure("kiicloud://users/u-1/buckets/weight_records/objects/w", "weight_records", "INVALID_TIMESTAMP", USER),
    _failure("kafka://legacy.export.v1/0/17", "", "MALFORMED_RECORD"),
]


def test_requeue_groups_by_owner_scope_with_devices_first() -> None:
    plan = plan_requeue(FAILURES, default_mapping(), max_items=50)
    assert plan.requeued == {"INVALID_TIMESTAMP": 1, "ORPHAN_OWNER": 3}
    assert plan.without_raw == {"MALFORMED_RECORD": 1}
    assert plan.records == 4
    by_group = {m.group_id: WorkMessage.decode(m.body) for m in plan.messages}
    assert set(by_group) == {"APP_AND_USER:u-1", "APP_AND_THING:t-1"}
    user = by_group["APP_AND_USER:u-1"]
    assert user.requeue is True
    assert [item.key.rsplit("/", 3)[1] for item in user.items] == ["devices", "bp_records", "weight_records"]
    assert (user.items[0].version, user.items[0].partition, user.items[0].offset) == (3, 2, 40)


def test_the_deduplication_id_is_stable_for_the_same_rows_and_never_the_masters() -> None:
    first = plan_requeue(FAILURES, default_mapping(), max_items=2)
    again = plan_requeue(list(reversed(FAILURES)), default_mapping(), max_items=2)
    assert [m.deduplication_id for m in first.messages] == [m.deduplication_id for m in again.messages]
    assert all(m.deduplication_id.startswith("requeue-") and len(m.deduplication_id) <= 128 for m in first.messages)
    assert len({m.deduplication_id for m in first.messages}) == len(first.messages)
    # the rows failed again since (last_seen_at moved): a new requeue is a new message
    failed_again = [dataclasses.replace(f, last_seen_at=datetime(2026, 11, 26, 13, 0)) for f in FAILURES]
    later = plan_requeue(failed_again, default_mapping(), max_items=2)
    assert not {m.deduplication_id for m in later.messages} & {m.deduplication_id for m in first.messages}


def test_an_unknown_pattern_is_refused_before_anything_runs() -> None:
    result = CliRunner().invoke(app, ["requeue", "--pattern", "orphan_owner", "--pattern", "ORPHAN_OWNERS"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert message.startswith("error: unknown failure pattern ORPHAN_OWNERS: use one of DATABASE_REJECTED, ")
    assert "ORPHAN_OWNER," in message and "UNREADABLE_MESSAGE" in message
