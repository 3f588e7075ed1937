"""The flaws real legacy exports have, as named categories, and the manifest that lists each occurrence.

Every deliberately odd user or object the generator makes is recorded here under its category, and
the generator makes no odd data anywhere else: a migration test can therefore expect exactly the
manifest's keys to need special handling (a failure pattern, a unit conversion, an orphan report).
Keys are kiicloud:// URIs (see `simulator.legacy.model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class EdgeCase(StrEnum):
    """Categories of the edge-case manifest."""

    UNICODE_NAME = "unicode_name"
    MISSING_OPTIONAL_FIELDS = "missing_optional_fields"
    TIMESTAMP_ZERO = "timestamp_zero"
    TIMESTAMP_UNPARSEABLE = "timestamp_unparseable"
    TIMESTAMP_NULL = "timestamp_null"
    UNKNOWN_UNIT = "unknown_unit"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    NON_CANONICAL_UNIT = "non_canonical_unit"
    SIZE_NEAR_LIMIT = "size_near_limit"
    SIZE_OVER_LIMIT = "size_over_limit"
    DELETED_AND_RECREATED = "deleted_and_recreated"
    ORPHAN_OWNER = "orphan_owner"


DESCRIPTIONS: Mapping[EdgeCase, str] = {
    EdgeCase.UNICODE_NAME: "users whose display name is not ASCII: Japanese, Chinese, Devanagari, "
    "emoji (with ZWJ sequences and variation selectors) and decomposed combining marks (NFD)",
    EdgeCase.MISSING_OPTIONAL_FIELDS: "users without email, locale or attributes; readings without "
    "pulse, bmi, statusFlags or userSlot; devices without firmware or bleAddress",
    EdgeCase.TIMESTAMP_ZERO: "readings whose measuredAt is 0",
    EdgeCase.TIMESTAMP_UNPARSEABLE: "readings whose measuredAt is a string that is no valid date",
    EdgeCase.TIMESTAMP_NULL: "readings whose measuredAt is null",
    EdgeCase.UNKNOWN_UNIT: "readings whose unit is none the app knows (e.g. mmHg2, stone)",
    EdgeCase.VALUE_OUT_OF_RANGE: "readings with physically impossible values (e.g. systolic 900, weight -3)",
    EdgeCase.NON_CANONICAL_UNIT: "valid readings in a known non-canonical unit (kPa, lb, F, mmol/L) "
    "that a migration must convert",
    EdgeCase.SIZE_NEAR_LIMIT: "objects whose compact JSON is 64000..65534 characters, just within Kii's limit",
    EdgeCase.SIZE_OVER_LIMIT: "objects whose compact JSON exceeds Kii's 65534-character limit",
    EdgeCase.DELETED_AND_RECREATED: "objects that the change stream deletes and then creates again "
    "with the same objectID and a higher version",
    EdgeCase.ORPHAN_OWNER: "user-scope objects whose owner is not in the user export (account deleted)",
}


class EdgeCaseLog:
    """Category -> keys, in the order the generator met them; every category is present, maybe empty."""

    def __init__(self) -> None:
        self._keys: dict[EdgeCase, list[str]] = {category: [] for category in EdgeCase}
        self._seen: set[tuple[EdgeCase, str]] = set()

    def add(self, category: EdgeCase, key: str) -> None:
        """Record one occurrence (a key is listed once per category)."""
        if (category, key) not in self._seen:
            self._seen.add((category, key))
            self._keys[category].append(key)

    def merge(self, other: EdgeCaseLog) -> None:
        """Append another log's keys."""
        for category, keys in other._keys.items():
            for key in keys:
                self.add(category, key)

    def as_dict(self) -> dict[str, list[str]]:
        """Plain category name -> keys, in the enum's order."""
        return {category.value: list(keys) for category, keys in self._keys.items()}
