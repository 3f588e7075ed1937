"""Settings of the sync service (environment prefix ``VITALSYNC_``)."""

from __future__ import annotations

from shared.settings import CommonSettings


class SyncSettings(CommonSettings):
    """Everything the sync service reads from the environment; grows with the service."""
