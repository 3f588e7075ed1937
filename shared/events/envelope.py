"""The event envelope on ``vitalsync.events.v1`` (DESIGN section 8): ``{id, type, occurred_at,
user_id, region, data}``. Consumers are idempotent by ``id``; the Kafka key is the user id so one
user's events stay ordered."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

EventType = Literal[
    "reading.created",
    "device.paired",
    "device.unpaired",
    "settings.changed",
    "user.registered",
    "user.migrated",
]


def new_event_id() -> str:
    """A random (version 4) UUID in its text form, made from 16 random bytes directly: a fifth of the cost
    of `str(uuid.uuid4())`, which builds a UUID object first (the snapshot loader makes an event for
    nearly every record it loads)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


class Event(BaseModel):
    """One domain event, versioned by its topic name (``.v1``)."""

    id: str = Field(default_factory=new_event_id)
    type: EventType
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    user_id: str
    region: str
    data: dict[str, Any] = Field(default_factory=dict)
