"""Settings of the auth service (environment prefix ``VITALSYNC_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from shared.settings import CommonSettings

DEV_AUTH_SECRET = "vitalsync-dev-auth-secret-change-me"  # noqa: S105 - refused outside development


class AuthSettings(CommonSettings):
    """Everything the auth service reads from the environment."""

    # which identity provider this deployment uses: Cognito, or the self-hosted one (e.g. China)
    identity_provider: Literal["local", "cognito"] = "local"
    access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=3600)
    signing_key_max_age_s: int = Field(default=30 * 86_400, ge=3600)
    # above the verifiers' JWKS refresh interval (300 s), so they know a key before it signs
    signing_key_publish_ahead_s: int = Field(default=600, ge=0)
    keyring_reload_s: float = Field(default=60.0, gt=0)
    # encrypts private signing keys and provider refresh tokens at rest
    auth_secret: SecretStr = SecretStr(DEV_AUTH_SECRET)

    # cognito_user_pool_id / cognito_client_id (CommonSettings) are resolved by these names when unset
    cognito_user_pool_name: str = "vitalsync-users"
    cognito_client_name: str = "vitalsync-app"

    mail_sender: str = "no-reply@vitalsync.local"
    reset_code_ttl_s: int = Field(default=900, ge=60)
    reset_code_max_attempts: int = Field(default=5, ge=1)

    password_min_length: int = Field(default=8, ge=4)
    password_max_length: int = Field(default=128, le=1024)

    # brute-force protection: lockout grows 2^(failures - threshold) * base, capped
    lockout_account_threshold: int = Field(default=5, ge=1)
    lockout_address_threshold: int = Field(default=30, ge=1)
    lockout_base_s: float = Field(default=1.0, gt=0)
    lockout_max_s: float = Field(default=900.0, gt=0)
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # Client addresses never locked per address (per-account lockout still applies): the machine
    # itself (tests, the local gateway demo, health checks). Behind the edge the client address is the
    # forwarded one, so remote clients are never exempt.
    throttle_exempt_addresses: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # argon2id cost of the local provider (OWASP's recommended minimum: t=2, 19 MiB, p=1, about 16 ms of
    # CPU here); older hashes are upgraded at the next successful login
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19_456, ge=8_192)
    argon2_parallelism: int = Field(default=1, ge=1)

    # legacy platform: the hash key for hmac-sha256 imports, and the optional verify-once login API
    legacy_hash_key_file: Path | None = None
    legacy_login_url: str | None = None
    legacy_login_app_id: str = "vitalsync"
    legacy_login_app_key: SecretStr = SecretStr("devkey")
    legacy_login_concurrency: int = Field(default=8, ge=1)
    legacy_login_timeout_s: float = Field(default=5.0, gt=0)
    legacy_breaker_failures: int = Field(default=5, ge=1)
    legacy_breaker_reset_s: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _refuse_dev_auth_secret(self) -> AuthSettings:
        if self.environment == "production" and self.auth_secret.get_secret_value() == DEV_AUTH_SECRET:
            raise ValueError("VITALSYNC_AUTH_SECRET still has the development default; set a real secret")
        return self
