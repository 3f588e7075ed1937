"""Typed app keys of the stats service (the consumer's and scheduler's live beside them)."""

from __future__ import annotations

from aiohttp import web

from services.stats.config import StatsSettings

STATS_SETTINGS = web.AppKey("stats_settings", StatsSettings)
