"""Settings of the auth service (environment prefix ``VITALSYNC_``)."""

from __future__ import annotations

from shared.settings import CommonSettings


class AuthSettings(CommonSettings):
    """Everything the auth service reads from the environment; grows with the service."""
