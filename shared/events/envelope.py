"""The event envelope on ``vitalsync.events.v1`` (DESIGN section 8): ``{id, type, occurred_at,
user_id, region, data}``. Consumers are idempotent by ``id``; the Kafka key is the user id so one
user's events stay ordered."""

from __future__ import annotations

import uuid
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


class Event(BaseModel):
    """One domain event, versioned by its topic name (``.v1``)."""

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: EventType
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    user_id: str
    region: str
    data: dict[str, Any] = Field(default_factory=dict)
