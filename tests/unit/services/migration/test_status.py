"""The cut-over gate's blockers (pure: a status snapshot and a validation report file)."""

from __future__ import annotations

import json
from pathlib import Path

from services.migration.queue import QueueDepth
from services.migration.status import MigrationStatus, cutover_blockers
from services.validation.report import write_report
from tests.unit.services.validation.samples import sample_report

DATABASE = "vitalsync"


def _ready() -> MigrationStatus:
    status = MigrationStatus("eu", "legacy.export.v1", started=True)
    status.lag = {0: {"end": 10, "committed": 10, "lag": 0}, 1: {"end": 5, "committed": 5, "lag": 0}}
    status.queue, status.dlq = QueueDepth(0, 0), QueueDepth(0, 0)
    return status


def _report(tmp_path: Path, verdict: str = "pass", **inputs: object) -> Path:
    """A report that compared the topic up to where `_ready` has applied it, unless inputs say otherwise."""
    report = sample_report(verdict)
    compared = {"covered_offsets": {"0": 10, "1": 5}, "database": DATABASE, **inputs}
    return write_report(report.model_copy(update={"inputs": report.inputs.model_copy(update=compared)}), tmp_path)


def test_ready_only_with_a_passing_current_report(tmp_path: Path) -> None:
    assert cutover_blockers(_ready(), _report(tmp_path), DATABASE, []) == []
    assert cutover_blockers(_ready(), None, DATABASE, []) == [
        "validation not run (pass the report of `vitalsync validate` with --report report.json)"
    ]
    failed = _report(tmp_path, "fail")
    assert cutover_blockers(_ready(), failed, DATABASE, []) == [f"validation verdict is 'fail' in {failed}, not 'pass'"]


def test_a_report_of_another_database_or_topic_does_not_count(tmp_path: Path) -> None:
    report = _report(tmp_path, database="vitalsync_jp", snapshot_topic="legacy.jp.v1")
    assert cutover_blockers(_ready(), report, DATABASE, []) == [
        f"validation report {report} compared database 'vitalsync_jp', not 'vitalsync'",
        f"validation report {report} compared topic legacy.jp.v1, not legacy.export.v1",
    ]


def test_changes_applied_after_the_report_block(tmp_path: Path) -> None:
    report = _report(tmp_path, covered_offsets={"0": 7, "1": 5})
    status = _ready()
    status.lag[2] = {"end": 3, "committed": 3, "lag": 0}  # a partition the report never saw a change on
    assert cutover_blockers(status, report, DATABASE, []) == [
        f"validation report {report} predates 6 change record(s) applied since (partition 0 compared up to 7, "
        "applied up to 10, partition 2 compared up to 0, applied up to 3): run `vitalsync validate` again"
    ]


def test_an_older_report_without_offsets_is_not_trusted(tmp_path: Path) -> None:
    report = _report(tmp_path, covered_offsets={})
    assert cutover_blockers(_ready(), report, DATABASE, []) == [
        f"validation report {report} does not say up to which offsets it compared the topic (an older version "
        "wrote it): run `vitalsync validate` again"
    ]


def test_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"verdict": "pass"}))
    (blocker,) = cutover_blockers(_ready(), report, DATABASE, [])
    assert blocker.startswith(f"validation report {report} is not a vitalsync validation report (")


def test_every_blocker_is_listed(tmp_path: Path) -> None:
    status = _ready()
    status.lag[1] = {"end": 9, "committed": 5, "lag": 4}
    status.queue, status.dlq, status.pending = QueueDepth(3, 2), QueueDepth(1, 0), 7
    blockers = cutover_blockers(status, tmp_path / "missing.json", DATABASE, [])
    assert blockers[0] == "lag 4 on partition 1 of legacy.export.v1 (end 9, committed 5)"
    assert blockers[1] == "records queue not drained (5 message(s) waiting or in flight)"
    assert blockers[2] == "dead-letter queue holds 1 message(s)"
    assert blockers[3] == "7 raw object(s) not processed yet"
    assert blockers[4].startswith("validation report ") and "unreadable" in blockers[4]


def test_before_the_snapshot_the_backlog_is_not_mistaken_for_a_position() -> None:
    status = _ready()
    status.started = False  # no stored offsets: the topic's records count as lag from 0
    status.lag = {0: {"end": 10, "committed": 0, "lag": 10}}
    blockers = cutover_blockers(status, None, DATABASE, [])
    assert blockers[:2] == [
        "lag 10 on partition 0 of legacy.export.v1 (end 10, committed 0)",
        "no change-capture position for legacy.export.v1: the snapshot was not loaded",
    ]


def test_schema_drift_blocks_with_the_rest(tmp_path: Path) -> None:
    drift = "schema drift in vitalsync: missing index readings.ix_readings_user_type_measured (...)"
    status = _ready()
    status.dlq = QueueDepth(1, 0)
    assert cutover_blockers(status, _report(tmp_path), DATABASE, [drift]) == [
        "dead-letter queue holds 1 message(s)",
        drift,
    ]
