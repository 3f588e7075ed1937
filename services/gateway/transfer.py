"""What a transfer hands over: received records, the sink they go to, and how the transfer ended."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReceivedRecord:
    """A measurement frame as received, its glucose context frame, and whether the RACP request asked for it."""

    frame: bytes
    context_frame: bytes | None = None
    solicited: bool = False


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    """How a transfer ended: records received, and whether the device finished (vs. the link dropping)."""

    records: int
    complete: bool
    ended_by: str


RecordSink = Callable[[ReceivedRecord], Awaitable[None]]
