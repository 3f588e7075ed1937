"""App keys of the auth service's long-lived objects (typed aiohttp AppKeys)."""

from __future__ import annotations

from aiohttp import web

from services.auth.config import AuthSettings
from services.auth.providers.base import IdentityProvider
from services.auth.service import AuthService
from services.auth.signing import KeyRing

AUTH_SETTINGS = web.AppKey("auth_settings", AuthSettings)
AUTH_SERVICE = web.AppKey("auth_service", AuthService)
PROVIDER = web.AppKey("identity_provider", IdentityProvider)
KEYRING = web.AppKey("keyring", KeyRing)
