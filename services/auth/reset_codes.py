"""One-time password-reset codes: 8 digits, stored as a keyed digest, limited lifetime and attempts."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

import aiomysql

from services.auth.errors import InvalidResetCodeError

CODE_DIGITS = 8


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class ResetCodes:
    """A new request replaces the previous code; a used, expired or over-tried code is refused."""

    def __init__(self, pepper: bytes, ttl_s: int, max_attempts: int) -> None:
        self._pepper = pepper
        self._ttl = timedelta(seconds=ttl_s)
        self._max_attempts = max_attempts

    def _digest(self, user_id: str, code: str) -> str:
        return hmac.new(self._pepper, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()

    async def issue(self, cur: aiomysql.Cursor, user_id: str) -> str:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        await cur.execute(
            "INSERT INTO password_reset_codes (user_id, code_hash, expires_at, attempts) VALUES (%s, %s, %s, 0) "
            "ON DUPLICATE KEY UPDATE code_hash = VALUES(code_hash), expires_at = VALUES(expires_at), attempts = 0",
            (user_id, self._digest(user_id, code), _now() + self._ttl),
        )
        return code

    async def redeem(self, cur: aiomysql.Cursor, user_id: str, code: str) -> None:
        """Consume the code or raise InvalidResetCodeError; a wrong guess counts an attempt, so the
        caller commits before passing the error on."""
        await cur.execute(
            "SELECT code_hash, expires_at, attempts FROM password_reset_codes WHERE user_id = %s FOR UPDATE",
            (user_id,),
        )
        found = await cur.fetchone()
        if found is None:
            raise InvalidResetCodeError("reset code is wrong or expired")
        code_hash, expires_at, attempts = found
        if expires_at <= _now() or attempts >= self._max_attempts:
            await cur.execute("DELETE FROM password_reset_codes WHERE user_id = %s", (user_id,))
            raise InvalidResetCodeError("reset code is wrong or expired")
        if not hmac.compare_digest(code_hash, self._digest(user_id, code)):
            await cur.execute("UPDATE password_reset_codes SET attempts = attempts + 1 WHERE user_id = %s", (user_id,))
            raise InvalidResetCodeError("reset code is wrong or expired")
        await cur.execute("DELETE FROM password_reset_codes WHERE user_id = %s", (user_id,))
