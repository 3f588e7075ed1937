"""Build the identity provider this deployment is configured for (used by the app and the CLI)."""

from __future__ import annotations

import aiomysql
from argon2 import PasswordHasher

from services.auth.config import AuthSettings
from services.auth.providers.base import IdentityProvider
from services.auth.providers.cognito import CognitoIdentityProvider
from services.auth.providers.local import LocalIdentityProvider
from services.auth.sealing import Sealer
from services.auth.signing import KeyRing


async def build_provider(
    settings: AuthSettings, pool: aiomysql.Pool, sealer: Sealer
) -> tuple[IdentityProvider, KeyRing | None]:
    """The started provider, and the local provider's key ring (None for Cognito)."""
    provider: IdentityProvider
    keyring = None
    if settings.identity_provider == "cognito":
        provider = CognitoIdentityProvider(settings)
    else:
        keyring = KeyRing(
            sealer, settings.signing_key_max_age_s, settings.access_token_ttl_s, settings.signing_key_publish_ahead_s
        )
        await keyring.load(pool)
        hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        provider = LocalIdentityProvider(
            keyring, settings.token_issuer, settings.token_audience, settings.access_token_ttl_s, hasher
        )
    await provider.start()
    return provider, keyring
