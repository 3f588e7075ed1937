"""Settings every process shares: where the database, Kafka, AWS and the other services live.

All values come from the environment with the prefix ``VITALSYNC_`` (DESIGN section 3 defaults), so
the launcher, docker compose and ECS task definitions configure processes the same way. Each
service's ``config.py`` subclasses :class:`CommonSettings` with what only it needs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.auth.issuers import TrustedIssuer, cognito_issuer, local_issuer

DEV_DB_PASSWORD = "vitalsync-dev"  # noqa: S105 - the local stack's documented development password


class CommonSettings(BaseSettings):
    """Connection settings for shared infrastructure; defaults match the local stack."""

    model_config = SettingsConfigDict(env_prefix="VITALSYNC_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    region: str = "eu"
    log_level: str = "INFO"

    db_host: str = "127.0.0.1"
    db_port: int = 3306
    db_user: str = "vitalsync"
    db_password: SecretStr = SecretStr(DEV_DB_PASSWORD)
    db_name: str = "vitalsync"
    db_pool_max: int = Field(default=10, ge=1)
    # a local server's socket file: skips loopback TCP, whose cost lands on the sending (service) process
    db_unix_socket: str | None = None

    kafka_bootstrap: str = "127.0.0.1:9092"
    events_topic: str = "vitalsync.events.v1"

    aws_endpoint_url: str | None = "http://127.0.0.1:5000"
    aws_region: str = "eu-west-1"

    edge_port: int = 8080
    auth_port: int = 8081
    sync_port: int = 8082
    stats_port: int = 8083
    relay_port: int = 8086  # the outbox relay's healthz/readyz/metrics
    bind_host: str = "127.0.0.1"

    # access tokens every service accepts (DESIGN section 4): the local provider's issuer, plus the
    # Cognito pool's when configured; an explicit VITALSYNC_TRUSTED_ISSUERS list replaces both
    token_issuer: str = "vitalsync-local"  # noqa: S105 - an issuer name, not a secret
    token_audience: str = "vitalsync"  # noqa: S105 - an audience name
    cognito_user_pool_id: str | None = None
    cognito_client_id: str | None = None
    trusted_issuers: list[TrustedIssuer] = Field(default_factory=list)

    # Kii-compatible facade (DESIGN section 6): application id -> application key; auth serves its
    # users and tokens, sync its buckets, so both read the same map
    kii_apps: dict[str, str] = Field(default_factory=lambda: {"vitalsync": "devkey"})

    ready_timeout_s: float = Field(default=2.0, gt=0)
    shutdown_timeout_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> CommonSettings:
        if self.environment == "production" and self.db_password.get_secret_value() == DEV_DB_PASSWORD:
            raise ValueError("VITALSYNC_DB_PASSWORD still has the development default; set a real secret")
        return self


def accepted_issuers(settings: CommonSettings) -> list[TrustedIssuer]:
    """The issuers whose access tokens this process accepts."""
    if settings.trusted_issuers:
        return list(settings.trusted_issuers)
    issuers = [local_issuer(settings.token_issuer, f"http://127.0.0.1:{settings.auth_port}", settings.token_audience)]
    if settings.cognito_user_pool_id and settings.cognito_client_id:
        issuers.append(
            cognito_issuer(
                settings.aws_region,
                settings.cognito_user_pool_id,
                settings.cognito_client_id,
                endpoint_url=settings.aws_endpoint_url,
            )
        )
    return issuers
