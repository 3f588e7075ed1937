"""The auth service's app factory: accounts, tokens and password flows (DESIGN sections 4-6).

Resources open in cleanup contexts, in dependency order (pool, identity provider and keys, mailer,
legacy client, token verifier) and close in reverse.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import aiohttp
import aiomysql
import pymysql
from aiohttp import web

from services.auth.config import AuthSettings
from services.auth.keys import AUTH_SERVICE, AUTH_SETTINGS, KEYRING, PROVIDER
from services.auth.legacy_passwords import LegacyLoginClient, LegacyPasswords
from services.auth.mailer import Mailer
from services.auth.providers.base import IdentityProvider
from services.auth.providers.cognito import CognitoIdentityProvider
from services.auth.providers.factory import build_provider
from services.auth.reset_codes import ResetCodes
from services.auth.routes import kii, protocol
from services.auth.sealing import Sealer
from services.auth.service import AuthService
from services.auth.sessions import SessionStore
from services.auth.throttle import Throttle
from shared.auth.issuers import TrustedIssuer, cognito_issuer, local_issuer
from shared.auth.middleware import JWKS_CACHE, auth_context
from shared.db.pool import DB_POOL
from shared.kii.errors import kii_error_middleware
from shared.web.app import create_base_app
from shared.web.openapi import OpenApiDocument, serve_openapi

SERVICE = "auth"
log = logging.getLogger(__name__)


def trusted_issuers(settings: AuthSettings, provider: IdentityProvider) -> list[TrustedIssuer]:
    """The issuer whose tokens this deployment's provider mints."""
    if isinstance(provider, CognitoIdentityProvider):
        return [
            cognito_issuer(
                settings.aws_region,
                provider.user_pool_id,
                provider.client_id,
                endpoint_url=settings.aws_endpoint_url,
            )
        ]
    return [local_issuer(settings.token_issuer, f"http://127.0.0.1:{settings.auth_port}", settings.token_audience)]


def _services_context(settings: AuthSettings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            pool = app[DB_POOL]
            sealer = Sealer(settings.auth_secret.get_secret_value())
            provider, keyring = await build_provider(settings, pool, sealer)
            if keyring is not None:
                app[KEYRING] = keyring
            stack.push_async_callback(provider.close)
            mailer = Mailer(settings)
            await mailer.start()
            stack.push_async_callback(mailer.close)
            api = None
            if settings.legacy_login_url:
                session = await stack.enter_async_context(aiohttp.ClientSession())
                api = LegacyLoginClient(settings, session)
            hash_key = settings.legacy_hash_key_file.read_bytes() if settings.legacy_hash_key_file else None
            app[PROVIDER] = provider
            app[AUTH_SERVICE] = AuthService(
                settings,
                pool,
                provider,
                SessionStore(sealer, settings.refresh_token_ttl_s),
                Throttle(pool, settings.lockout_base_s, settings.lockout_max_s),
                LegacyPasswords(hash_key, api),
                ResetCodes(
                    settings.auth_secret.get_secret_value().encode(),
                    settings.reset_code_ttl_s,
                    settings.reset_code_max_attempts,
                ),
                mailer,
            )
            issuers = trusted_issuers(settings, provider)
            verifier = asynccontextmanager(auth_context(issuers))
            await stack.enter_async_context(verifier(app))
            if KEYRING in app:
                # verify our own tokens from the ring itself: no HTTP round trip to ourselves
                reloader = asyncio.create_task(_keep_keys_current(app, pool, issuers[0].issuer, settings))
                stack.push_async_callback(_cancel, reloader)
            yield

    return ctx


async def _keep_keys_current(app: web.Application, pool: aiomysql.Pool, issuer: str, settings: AuthSettings) -> None:
    """Publish the ring to our own verifier now and after every reload (keys another replica made)."""
    keyring, cache = app[KEYRING], app[JWKS_CACHE]
    while True:
        cache.install(issuer, keyring.jwks())
        await asyncio.sleep(settings.keyring_reload_s)
        try:
            await keyring.reload(pool)
        except (OSError, pymysql.err.MySQLError) as exc:
            log.warning("signing keys not reloaded (database unavailable): %s", type(exc).__name__)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def create_app(settings: AuthSettings) -> web.Application:
    """Build the app without I/O; resources open in cleanup contexts when it starts."""
    app = create_base_app(SERVICE, settings)
    app[AUTH_SETTINGS] = settings
    app.middlewares.append(kii_error_middleware(kii.kii_error_for))
    app.middlewares.append(protocol.protocol_errors)
    app.cleanup_ctx.append(_services_context(settings))
    app.router.add_routes(protocol.routes)
    app.router.add_routes(kii.routes)
    doc = OpenApiDocument("VitalSync auth")
    protocol.describe(doc)
    serve_openapi(app, doc)
    return app
