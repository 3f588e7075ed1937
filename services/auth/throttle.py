"""Brute-force protection per account and per source address, with a growing lockout.

Counters live in MySQL so every replica sees them. After ``threshold`` failures within the window a
key locks for ``base * 2^(failures - threshold)`` seconds, capped; a success clears the account's
counter (not the address's, so one valid account cannot launder a password-spraying address).
Unknown login names get a counter too, so a locked answer reveals nothing about existence.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import aiomysql

from services.auth.errors import AccountLockedError

_WINDOW = timedelta(hours=1)


def account_key(user_id: str | None, username: str) -> str:
    return f"acct:{user_id}" if user_id else f"name:{username.strip().lower()[:150]}"


def address_key(address: str) -> str:
    return f"addr:{address[:150]}"


class Throttle:
    """Lockout state in ``auth_throttle``; writes use their own transaction so failures always count."""

    def __init__(self, pool: aiomysql.Pool, base_s: float, max_s: float) -> None:
        self._pool = pool
        self._base_s = base_s
        self._max_s = max_s

    async def check(self, keys: list[str]) -> None:
        """Raise AccountLockedError while any key is locked."""
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            placeholders = ", ".join(["%s"] * len(keys))
            await cur.execute(
                f"SELECT MAX(locked_until) FROM auth_throttle WHERE throttle_key IN ({placeholders})",  # noqa: S608
                keys,
            )
            (locked_until,) = await cur.fetchone()
            await conn.commit()
        now = datetime.now(UTC).replace(tzinfo=None)
        if locked_until is not None and locked_until > now:
            raise AccountLockedError(max(1, math.ceil((locked_until - now).total_seconds())))

    async def record_failure(self, key: str, threshold: int) -> None:
        """Count a failure; lock the key once it reaches ``threshold``."""
        now = datetime.now(UTC).replace(tzinfo=None)
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute(
                "INSERT INTO auth_throttle (throttle_key, failures, last_failure_at) VALUES (%s, 1, %s) "
                "ON DUPLICATE KEY UPDATE failures = IF(last_failure_at < %s, 1, failures + 1), last_failure_at = %s",
                (key, now, now - _WINDOW, now),
            )
            await cur.execute("SELECT failures FROM auth_throttle WHERE throttle_key = %s", (key,))
            (failures,) = await cur.fetchone()
            if failures >= threshold:
                lock_s = min(self._max_s, self._base_s * 2 ** (failures - threshold))
                await cur.execute(
                    "UPDATE auth_throttle SET locked_until = %s WHERE throttle_key = %s",
                    (now + timedelta(seconds=lock_s), key),
                )
            await conn.commit()

    async def clear(self, key: str) -> None:
        async with self._pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("DELETE FROM auth_throttle WHERE throttle_key = %s", (key,))
            await conn.commit()
