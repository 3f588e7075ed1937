"""Typed app keys of the sync service."""

from __future__ import annotations

from aiohttp import web

from services.sync.config import SyncSettings

SYNC_SETTINGS = web.AppKey("sync_settings", SyncSettings)
