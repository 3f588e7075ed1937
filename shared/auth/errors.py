"""Errors of token verification; messages describe the failure, never the token or its claims' values."""

from __future__ import annotations

from enum import StrEnum


class TokenErrorCode(StrEnum):
    """Machine-readable reasons a token is refused; also the ``code`` of the 401 response."""

    TOKEN_MISSING = "TOKEN_MISSING"  # noqa: S105 - an error code, not a secret
    TOKEN_MALFORMED = "TOKEN_MALFORMED"  # noqa: S105 - an error code, not a secret
    TOKEN_EXPIRED = "TOKEN_EXPIRED"  # noqa: S105 - an error code, not a secret
    TOKEN_INVALID = "TOKEN_INVALID"  # noqa: S105 - an error code, not a secret


class AuthError(Exception):
    """Base of every error this package raises, so callers can catch the family at once."""


class TokenError(AuthError):
    """The presented token cannot authenticate anyone: the client must obtain a new one."""

    def __init__(self, code: TokenErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, message={self.message!r})"


class JwksUnavailableError(AuthError):
    """An issuer's keys cannot be fetched right now: a server-side outage, not the client's fault."""

    def __init__(self, issuer: str) -> None:
        super().__init__(f"signing keys of issuer {issuer} are unavailable")
        self.issuer = issuer
