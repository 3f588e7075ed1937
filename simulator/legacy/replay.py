"""The legacy platform's final state, rebuilt from its export records: the migration's ground truth.

Rule (DESIGN section 10): per key (scope + bucket + objectID) the record with the highest version
wins, whatever order records arrive in and however often they repeat; a DELETE is kept as a
tombstone at its version, so a late or replayed older CREATE/UPDATE cannot bring the object back,
while a re-CREATE at a higher version does. Records of equal version are the same write replayed,
so the first one seen stays.

Pure and dependent only on the record model, so the validator can share it (it moves to
shared/legacy when that second user appears, CONVENTIONS "shared/").
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.legacy.model import ExportRecord, Op


class LegacyState:
    """The newest record per key, tombstones included."""

    def __init__(self) -> None:
        self._latest: dict[str, ExportRecord] = {}

    def apply(self, record: ExportRecord) -> bool:
        """Take record into account; True when it is newer than what the key had."""
        key = record.key
        current = self._latest.get(key)
        if current is not None and current.version >= record.version:
            return False
        self._latest[key] = record
        return True

    def apply_all(self, records: Iterable[ExportRecord]) -> LegacyState:
        """Apply every record in turn; returns self for chaining."""
        for record in records:
            self.apply(record)
        return self

    def latest(self, key: str) -> ExportRecord | None:
        """The newest record of key, a DELETE tombstone included, or None when never seen."""
        return self._latest.get(key)

    def live(self) -> dict[str, ExportRecord]:
        """Key -> newest record, for the objects that exist at the end (no tombstones)."""
        return {key: record for key, record in self._latest.items() if record.op is not Op.DELETE}


def replay(records: Iterable[ExportRecord]) -> dict[str, ExportRecord]:
    """The final legacy state of a record stream (snapshot then changes): record key text -> record."""
    return LegacyState().apply_all(records).live()
