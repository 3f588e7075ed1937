"""Settings of the stats service (environment prefix ``VITALSYNC_``)."""

from __future__ import annotations

from shared.settings import CommonSettings


class StatsSettings(CommonSettings):
    """Everything the stats service reads from the environment; grows with the service."""
