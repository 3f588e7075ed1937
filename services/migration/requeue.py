"""``vitalsync migrate requeue``: send failed objects through the workers again once the cause is fixed.

A failure such as ORPHAN_OWNER (the owner was not imported yet) stays in ``migration_failures`` until
the object is processed again; after the fix (e.g. a late ``vitalsync users import``) this selects the
failures by pattern and bucket and sends their objects to the workers as the master would:

- the message format and grouping are the master's (`records.pack_items`): MessageGroupId = owner
  scope, so one owner's objects are still processed in order, and device objects go first in their
  group, as in a snapshot chunk, so the readings that name a device find it;
- the messages are flagged ``requeue``: the worker then processes an applied version that failed
  again (`processing.process_object` with retry). It processes the raw row's newest version
  (raw_kii_objects keeps only that), so a requeued failure never brings an older version back over a
  newer one; on success the failure row goes in the same transaction, on failure it is refreshed;
- the deduplication id is ``requeue-`` + a hash of the message's failure rows (key, version,
  last_seen_at), never the master's partition-offset, which SQS would drop as a duplicate within its
  5-minute window. Requeueing the same rows again within that window sends nothing new; a row that
  failed again since (last_seen_at moved) is sent again.

Failures without a raw row (MALFORMED_RECORD, UNREADABLE_MESSAGE: nothing of the object was stored)
are counted but cannot be requeued.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiomysql

from services.migration import repo
from services.migration.errors import PIPELINE_PATTERNS
from services.migration.queue import OutgoingMessage
from services.migration.records import WorkItem, WorkMessage, owner_scope, pack_items
from shared.legacy.transform import BucketMapping, DeviceBucket, FailurePattern

# every pattern a failure can have: a --pattern outside it is a typo, which would select nothing, silently
KNOWN_PATTERNS = tuple(sorted({*FailurePattern, *PIPELINE_PATTERNS}))


@dataclass(frozen=True)
class RequeuePlan:
    """What a requeue sends: the messages, and the failures they carry (or cannot carry) per pattern."""

    messages: list[OutgoingMessage]
    requeued: dict[str, int]
    without_raw: dict[str, int]

    @property
    def records(self) -> int:
        """Failed objects the messages carry."""
        return sum(self.requeued.values())

    def to_json(self, *, dry_run: bool) -> dict[str, Any]:
        """The plan as `migrate requeue --json` prints it."""
        return {
            "dry_run": dry_run,
            "records": self.records,
            "messages": len(self.messages),
            "requeued": self.requeued,
            "without_raw_row": self.without_raw,
        }


def deduplication_id(work: WorkMessage, failures: Mapping[str, repo.FailureRow]) -> str:
    """``requeue-`` + SHA-256 of the message's failure rows: stable for the same rows, new once one changed."""
    digest = hashlib.sha256()
    for item in work.items:
        seen = failures[item.key].last_seen_at.isoformat()
        digest.update(f"{item.key}\0{item.version}\0{seen}\n".encode())
    return f"requeue-{digest.hexdigest()}"


def plan_requeue(
    failures: Sequence[repo.FailureRow], mapping: BucketMapping, max_items: int, lanes: int = 0
) -> RequeuePlan:
    """The requeue messages of failures (pure: the caller sends them, or not for a dry run)."""

    def device_object(failure: repo.FailureRow) -> bool:
        entry = mapping.entry(failure.scope_type, failure.bucket) if failure.scope_type is not None else None
        return isinstance(entry, DeviceBucket)

    stored = sorted(
        ((owner_scope(f.scope_type, f.scope_id), f) for f in failures if f.scope_type is not None),
        key=lambda grouped: (not device_object(grouped[1]), grouped[1].key),
    )
    packed = pack_items(
        ((group, WorkItem(f.key, f.version, f.partition, f.offset, f.timestamp_ms)) for group, f in stored),
        max_items,
        requeue=True,
        lanes=lanes,
    )
    by_key = {f.key: f for _, f in stored}
    return RequeuePlan(
        messages=[OutgoingMessage(work.encode(), group, deduplication_id(work, by_key)) for group, work in packed],
        requeued=dict(sorted(Counter(f.pattern for _, f in stored).items())),
        without_raw=dict(sorted(Counter(f.pattern for f in failures if f.scope_type is None).items())),
    )


async def select_requeue(
    pool: aiomysql.Pool,
    mapping: BucketMapping,
    patterns: Sequence[str],
    bucket: str | None,
    max_items: int,
    lanes: int = 0,
) -> RequeuePlan:
    """Select the failures of patterns (all when empty) and bucket, and plan their messages."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        failures = await repo.select_failures(cur, patterns, bucket)
        await conn.rollback()
    return plan_requeue(failures, mapping, max_items, lanes)
