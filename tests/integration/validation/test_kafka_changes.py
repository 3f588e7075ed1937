"""Changes read from the legacy export topic itself (`--kafka-topic`), produced by `vitalsync legacy export`."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from services.validation.legacy_state import read_header
from services.validation.validator import ValidateOptions, validate
from shared.settings import CommonSettings
from simulator.legacy.export_stream import CHANGES_FILE, export, read_changes

from .migrated import LegacyExport

pytestmark = pytest.mark.integration

PARTITIONS = 6


async def test_changes_from_the_topic_up_to_offsets(
    settings: CommonSettings, export: LegacyExport, database: str, tmp_path: Path
) -> None:
    topic = f"legacy.export.validation-test-{secrets.token_hex(4)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, replication_factor=1)])
        legacy = tmp_path / "legacy"
        legacy.mkdir()
        for name in ("snapshot.jsonl.gz", "users.jsonl"):
            shutil.copy(export.directory / name, legacy / name)
        # the real exporter: snapshot records, the header rewritten with the topic's offsets, then the changes
        await export_to(legacy, export, settings.kafka_bootstrap, topic)
        produced = read_changes(legacy)
        (legacy / CHANGES_FILE).unlink()  # the topic is the only source of changes now

        report = await validate(
            ValidateOptions(legacy, tmp_path / "all", settings, database=database, kafka_topic=topic)
        )
        assert report.verdict == "pass", report.verdict_reasons
        assert report.inputs.changes_applied == len(produced) == len(export.changes)

        start = read_header(legacy / "snapshot.jsonl.gz").partitions
        upto = {partition: offset + 10 for partition, offset in start.items()}
        cut = await validate(
            ValidateOptions(legacy, tmp_path / "cut", settings, database=database, kafka_topic=topic, upto_offsets=upto)
        )
        below = [p for p, offset, _, _ in produced if offset < upto[p]]
        assert cut.inputs.changes_applied == len(below) < len(produced)
        assert cut.verdict == "fail"
    finally:
        await admin.delete_topics([topic])
        await admin.close()


async def export_to(directory: Path, legacy: LegacyExport, bootstrap: str, topic: str) -> None:
    result = await export(directory, legacy.changes, bootstrap=bootstrap, topic=topic)
    assert result.changes == len(legacy.changes)
