"""``vitalsync migrate status`` and ``vitalsync cutover check``: where the migration stands, what blocks.

Lag is the export topic's end offset minus migration_offsets per partition (what the master has yet to
upsert and send); queue depths come from SQS's approximate counts (visible + in flight); counts are
raw objects per bucket and outcome, processed rows per table and reading type, failures per pattern.

The gate also compares the region's schema with the migrations (`shared.db.schema_check`): the legacy
migration's Singapore go-live met 99 % database CPU because an index added during load tests never
reached production, and only the slow-query log told. A region with a missing index, a pending
migration or any other drift does not cut over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomysql
import pymysql
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from services.migration import repo
from services.migration.config import MigrationSettings
from services.migration.errors import KafkaUnavailableError, TopicMissingError
from services.migration.queue import QueueDepth, WorkQueue
from services.validation.report import Report
from shared.db.connection import connect
from shared.db.schema_check import SCRATCH_SUFFIX, check_schema
from shared.kafka_topics import TopicNotFoundError, end_offsets


@dataclass
class MigrationStatus:
    """Everything `status` shows."""

    region: str
    topic: str
    lag: dict[int, dict[str, int]] = field(default_factory=dict)
    queue: QueueDepth | None = None
    dlq: QueueDepth | None = None
    raw: dict[str, dict[str, int]] = field(default_factory=dict)
    processed: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    started: bool = False  # change capture has a stored position (the snapshot was loaded)

    @property
    def total_lag(self) -> int:
        """Records on the topic the master has not committed yet."""
        return sum(entry["lag"] for entry in self.lag.values())

    def to_json(self) -> dict[str, Any]:
        """The status as JSON (`migrate status --json`)."""

        def depth(value: QueueDepth | None) -> dict[str, int] | None:
            if value is None:
                return None
            return {"visible": value.visible, "in_flight": value.in_flight, "total": value.total}

        return {
            "region": self.region,
            "topic": self.topic,
            "change_capture_started": self.started,
            "lag": {str(p): entry for p, entry in sorted(self.lag.items())},
            "total_lag": self.total_lag,
            "queue": depth(self.queue),
            "dlq": depth(self.dlq),
            "raw": self.raw,
            "pending": self.pending,
            "processed": self.processed,
            "failures": self.failures,
        }


async def topic_end_offsets(settings: MigrationSettings, topic: str) -> dict[int, int]:
    """The end offset (next offset to be written) of each partition of topic."""
    try:
        return await end_offsets(settings.kafka_bootstrap, topic)
    except KafkaError as error:
        raise KafkaUnavailableError(settings.kafka_bootstrap, error) from error
    except TopicNotFoundError as error:
        raise TopicMissingError(error) from None


async def read_status(settings: MigrationSettings, pool: aiomysql.Pool, queue: WorkQueue) -> MigrationStatus:
    """Collect the status from Kafka, SQS and the database."""
    topic = settings.migration_topic
    status = MigrationStatus(settings.region, topic)
    async with pool.acquire() as conn, conn.cursor() as cur:
        committed = await repo.read_offsets(cur, topic)
        status.started = bool(committed)
        await cur.execute(
            "SELECT bucket, COALESCE(outcome, 'pending'), COUNT(*) FROM raw_kii_objects GROUP BY bucket, outcome"
        )
        for bucket, outcome, count in await cur.fetchall():
            status.raw.setdefault(bucket, {"total": 0})
            status.raw[bucket][outcome] = int(count)
            status.raw[bucket]["total"] += int(count)
        await cur.execute(
            "SELECT COUNT(*) FROM raw_kii_objects WHERE applied_version IS NULL OR applied_version < version"
        )
        status.pending = int((await cur.fetchone())[0])
        await cur.execute("SELECT type, COUNT(*) FROM readings WHERE source = 'migration' GROUP BY type")
        status.processed = {f"readings.{kind}": int(count) for kind, count in await cur.fetchall()}
        for table in ("devices", "device_settings", "migration_things"):
            await cur.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 - fixed table names
            status.processed[table] = int((await cur.fetchone())[0])
        await cur.execute("SELECT pattern, COUNT(*) FROM migration_failures GROUP BY pattern ORDER BY pattern")
        status.failures = {pattern: int(count) for pattern, count in await cur.fetchall()}
        await conn.rollback()
    ends = await topic_end_offsets(settings, topic)
    for partition in sorted(set(ends) | set(committed)):
        end, done = ends.get(partition, 0), committed.get(partition, 0)
        status.lag[partition] = {"end": end, "committed": done, "lag": max(end - done, 0)}
    status.queue = await queue.depth()
    if queue.dlq_url is not None:
        status.dlq = await queue.depth(queue.dlq_url)
    return status


def validation_blockers(report: Path | None, status: MigrationStatus, database: str) -> list[str]:
    """Why the validation report cannot vouch for this region now: none given, a failing verdict, another
    database or topic, or change records that change capture applied after the ones it compared."""
    if report is None:
        return ["validation not run (pass the report of `vitalsync validate` with --report report.json)"]
    try:
        validated = Report.model_validate_json(report.read_text(encoding="utf-8"))
    except OSError as error:
        return [f"validation report {report} is unreadable ({error})"]
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the document"
        return [f"validation report {report} is not a vitalsync validation report ({where}: {first['msg']})"]
    inputs, blockers = validated.inputs, []
    if validated.verdict != "pass":
        blockers.append(f"validation verdict is {validated.verdict!r} in {report}, not 'pass'")
    if inputs.database != database:
        blockers.append(f"validation report {report} compared database {inputs.database!r}, not {database!r}")
    if inputs.snapshot_topic != status.topic:
        blockers.append(f"validation report {report} compared topic {inputs.snapshot_topic}, not {status.topic}")
    if not inputs.covered_offsets:
        blockers.append(
            f"validation report {report} does not say up to which offsets it compared the topic (an older "
            "version wrote it): run `vitalsync validate` again"
        )
        return blockers
    since = {
        partition: (inputs.covered_offsets.get(str(partition), 0), entry["committed"])
        for partition, entry in sorted(status.lag.items())
        if entry["committed"] > inputs.covered_offsets.get(str(partition), 0)
    }
    if since:
        count = sum(committed - covered for covered, committed in since.values())
        where = ", ".join(
            f"partition {p} compared up to {covered}, applied up to {done}" for p, (covered, done) in since.items()
        )
        blockers.append(
            f"validation report {report} predates {count} change record(s) applied since ({where}): "
            "run `vitalsync validate` again"
        )
    return blockers


async def schema_blockers(settings: MigrationSettings) -> list[str]:
    """The region database's drift from the migrations, one blocker each; a check that cannot run blocks too
    (it builds the declared schema in a scratch database, which the database user must be allowed)."""
    database = settings.db_name
    conn = await connect(settings, multi_statements=True)
    try:
        drifts = await check_schema(conn, database)
    except ValueError as error:
        return [f"schema not checked: {error}"]
    except pymysql.err.MySQLError as error:
        reason = error.args[-1] if error.args else type(error).__name__
        return [
            f"schema not checked ({reason}): the database user needs CREATE and DROP on "
            f"`{database}{SCRATCH_SUFFIX}`, where the check builds the schema the migrations declare"
        ]
    finally:
        conn.close()
    return [f"schema drift in {database}: {drift} (`vitalsync db check` lists every drift)" for drift in drifts]


def cutover_blockers(status: MigrationStatus, report: Path | None, database: str, schema: list[str]) -> list[str]:
    """Everything that stands between this region and its switch; empty when it may cut over.

    schema: the `schema_blockers` of the region's database."""
    blockers = [
        f"lag {entry['lag']} on partition {partition} of {status.topic} (end {entry['end']}, "
        f"committed {entry['committed']})"
        for partition, entry in sorted(status.lag.items())
        if entry["lag"] > 0
    ]
    if not status.started:
        blockers.append(f"no change-capture position for {status.topic}: the snapshot was not loaded")
    if status.queue is None or status.queue.total > 0:
        count = "unknown" if status.queue is None else status.queue.total
        blockers.append(f"records queue not drained ({count} message(s) waiting or in flight)")
    if status.dlq is not None and status.dlq.total > 0:
        blockers.append(f"dead-letter queue holds {status.dlq.total} message(s)")
    if status.pending > 0:
        blockers.append(f"{status.pending} raw object(s) not processed yet")
    return blockers + schema + validation_blockers(report, status, database)
