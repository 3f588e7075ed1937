"""Errors of the legacy hash schemes; messages name fields and limits, never hash, salt or key bytes."""

from __future__ import annotations

from enum import StrEnum


class LegacyHashErrorCode(StrEnum):
    """Machine-readable reasons an import line is refused, grouped into patterns by the import report."""

    UNKNOWN_SCHEME = "UNKNOWN_SCHEME"
    MALFORMED_HASH = "MALFORMED_HASH"
    MALFORMED_SALT = "MALFORMED_SALT"
    INVALID_PARAMS = "INVALID_PARAMS"


class LegacyHashError(Exception):
    """Base of every error this package raises, so callers can catch the family at once."""


class LegacyHashFormatError(LegacyHashError, ValueError):
    """A legacy hash record has the wrong shape or out-of-limit parameters; the import should refuse it."""

    def __init__(self, code: LegacyHashErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code.value!r}, field={self.field!r}, message={self.message!r})"


class LegacyHashKeyError(LegacyHashError):
    """The platform hash key a keyed scheme needs is missing: a deployment fault, not a bad password."""
