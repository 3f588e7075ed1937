"""The cut-over gate's blockers (pure: a status snapshot and a validation report file)."""

from __future__ import annotations

import json
from pathlib import Path

from services.migration.queue import QueueDepth
from services.migration.status import MigrationStatus, cutover_blockers


def _ready() -> MigrationStatus:
    status = MigrationStatus("eu", "legacy.export.v1")
    status.lag = {0: {"end": 10, "committed": 10, "lag": 0}, 1: {"end": 5, "committed": 5, "lag": 0}}
    status.queue, status.dlq = QueueDepth(0, 0), QueueDepth(0, 0)
    return status


def test_ready_only_with_a_passing_verdict(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"verdict": "pass"}))
    assert cutover_blockers(_ready(), report) == []
    assert cutover_blockers(_ready(), None) == [
        "validation not run (pass the report of `vitalsync validate` with --report report.json)"
    ]
    report.write_text(json.dumps({"verdict": "fail"}))
    assert cutover_blockers(_ready(), report) == [f"validation verdict is 'fail' in {report}, not 'pass'"]


def test_every_blocker_is_listed(tmp_path: Path) -> None:
    status = _ready()
    status.lag[1] = {"end": 9, "committed": 5, "lag": 4}
    status.queue, status.dlq, status.pending = QueueDepth(3, 2), QueueDepth(1, 0), 7
    blockers = cutover_blockers(status, tmp_path / "missing.json")
    assert blockers[0] == "lag 4 on partition 1 of legacy.export.v1 (end 9, committed 5)"
    assert blockers[1] == "records queue not drained (5 message(s) waiting or in flight)"
    assert blockers[2] == "dead-letter queue holds 1 message(s)"
    assert blockers[3] == "7 raw object(s) not processed yet"
    assert blockers[4].startswith("validation report ") and "unreadable" in blockers[4]
