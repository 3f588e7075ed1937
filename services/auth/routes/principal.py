"""The caller of an authenticated auth endpoint: a verified token whose user still accepts it.

Unlike sync and stats, the auth service owns the user rows, so it can honour revocation at once:
a token minted before the user's last password change or reset is refused (kii-api.md 1.4).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from aiohttp import web

from services.auth.errors import UserNotFoundError
from services.auth.keys import AUTH_SERVICE
from services.auth.repo.users import UserRow
from shared.auth.middleware import authenticate
from shared.web.errors import ApiError


async def authenticated_user(request: web.Request) -> UserRow:
    principal = await authenticate(request)
    try:
        user = await request.app[AUTH_SERVICE].get_user(principal.user_id)
    except UserNotFoundError:
        raise ApiError(401, "TOKEN_INVALID", "the token's user does not exist") from None
    if user.tokens_valid_after is not None and _minted_before(principal.issued_at, user.tokens_valid_after):
        raise ApiError(
            401,
            "TOKEN_REVOKED",
            "the token was revoked by a password change; refresh or log in again",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return user


def _minted_before(issued_at: float | None, cutoff: datetime) -> bool:
    """Local tokens carry a fractional ``iat`` and compare exactly; whole-second ones (Cognito) are
    refused only from earlier seconds, so a token minted in the second of the change still works."""
    limit = cutoff.replace(tzinfo=UTC).timestamp()
    if issued_at is None:
        return True
    if float(issued_at).is_integer():
        return issued_at < math.floor(limit)
    return issued_at < limit
