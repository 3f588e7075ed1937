"""Readiness probes: can this process reach its database and Kafka right now?

``/healthz`` only says the process is alive; ``/readyz`` runs these checks, each bounded by
``ready_timeout_s`` so a hung dependency makes the probe fail rather than hang the orchestrator.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import aiomysql
from aiokafka import AIOKafkaClient

log = logging.getLogger(__name__)


class ReadinessCheck(Protocol):
    """A named dependency check; raises (any error, or timeout) when the dependency is unusable."""

    name: str

    async def check(self) -> None: ...


class DatabaseCheck:
    """``SELECT 1`` through the service's own pool, dropping the connection if it failed."""

    name = "database"

    def __init__(self, pool: aiomysql.Pool) -> None:
        self._pool = pool

    async def check(self) -> None:
        conn = await self._pool.acquire()
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
                await cur.fetchone()
        except BaseException:
            conn.close()  # a broken socket must not go back into the pool
            raise
        finally:
            self._pool.release(conn)


class KafkaCheck:
    """Bootstraps a short-lived client: proves a broker answers metadata requests."""

    name = "kafka"

    def __init__(self, bootstrap_servers: str, timeout_s: float) -> None:
        self._bootstrap = bootstrap_servers
        self._timeout_ms = int(timeout_s * 1000)

    async def check(self) -> None:
        client = AIOKafkaClient(
            bootstrap_servers=self._bootstrap,
            request_timeout_ms=self._timeout_ms,
            connections_max_idle_ms=self._timeout_ms * 2,
        )
        try:
            await client.bootstrap()
        finally:
            await client.close()


async def run_checks(checks: list[ReadinessCheck], timeout_s: float) -> dict[str, str]:
    """Run all checks concurrently; map each name to ``ok`` or a short, secret-free reason."""

    async def one(check: ReadinessCheck) -> tuple[str, str]:
        try:
            await asyncio.wait_for(check.check(), timeout_s)
        except TimeoutError:
            return check.name, f"timeout after {timeout_s:g}s"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the reason is reported
            log.info("readiness check %s failed: %s", check.name, type(exc).__name__)
            return check.name, type(exc).__name__
        return check.name, "ok"

    return dict(await asyncio.gather(*(one(c) for c in checks)))
