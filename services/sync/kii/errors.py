"""Domain errors of the Kii facade; each carries the Kii ``errorCode`` string old SDKs switch on.

Only the facade's error middleware turns these into HTTP responses (CONVENTIONS "Errors"); the
statuses quoted below come from the JS SDK's ``SERVER_ERROR_CODES`` table (reference/kii-api.md
section 5), which is what clients derive the status from.
"""

from __future__ import annotations

# HTTP 400: the request body does not follow the documented QueryRequest shape or limits.
INVALID_INPUT_DATA = "INVALID_INPUT_DATA"
# HTTP 400: a well-formed query that this server does not execute (Kii's own code for such queries,
# e.g. a COUNT aggregation sent with a paginationKey, KiiCloudUnitySDK TestObjectCount Test_2_6).
QUERY_NOT_SUPPORTED = "QUERY_NOT_SUPPORTED"


class KiiError(Exception):
    """A failure the facade reports as ``{"errorCode": code, "message": message}``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class KiiQueryError(KiiError):
    """A bucket query the facade refuses; ``code`` is INVALID_INPUT_DATA or QUERY_NOT_SUPPORTED (both 400)."""
