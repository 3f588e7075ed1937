"""What the stats consumer may remember between batches: committed facts that stay true while it runs.

Membership rows are never deleted (except by ``stats rebuild``, which runs with the consumer stopped), a
device's model never changes, a last-seen time only grows (a remembered one is a lower bound), and nothing
is remembered before the transaction that wrote or read it committed. Bounded: the oldest entries go first.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

DEFAULT_KNOWN_ROWS = 100_000
K = TypeVar("K", bound=Hashable)

Group = tuple[date, str, str, str]  # day, region, model, reading type
Member = tuple[date, str, str, str, str, str]  # group + user_id, device_id ('' for the user marker)
RegionMember = tuple[date, str, str]  # day, region, user_id


class Bounded(OrderedDict[K, Any]):
    """A mapping that forgets its oldest entries beyond ``limit`` (insertion order)."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: K, value: Any = True) -> None:
        if self.limit <= 0 or key in self:
            return
        self[key] = value
        if len(self) > self.limit:
            self.popitem(last=False)


class KnownRows:
    """Committed facts the consumer may reuse across batches (bounded; see the module docstring)."""

    def __init__(self, limit: int = DEFAULT_KNOWN_ROWS) -> None:
        self.members: Bounded[Member] = Bounded(limit)
        self.region_members: Bounded[RegionMember] = Bounded(limit)
        self.devices: Bounded[str] = Bounded(limit)  # device id -> (model, last seen)

    def learn(self, learned: Learned) -> None:
        """Called after a commit with what the batch read or wrote."""
        for member in learned.members:
            self.members.remember(member)
        for region_member in learned.region_members:
            self.region_members.remember(region_member)
        for device_id, known in learned.devices.items():
            self.devices.pop(device_id, None)  # last seen moves: replace, newest last
            self.devices.remember(device_id, known)


@dataclass
class Learned:
    """What one batch wrote or read, remembered once its transaction committed."""

    members: set[Member] = field(default_factory=set)
    region_members: set[RegionMember] = field(default_factory=set)
    devices: dict[str, tuple[str, datetime | None]] = field(default_factory=dict)
