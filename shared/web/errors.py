"""The one error shape of the mobile-sync protocol: ``{"error": {"code", "message", "details"}}``.

Routes raise :class:`ApiError` (or let aiohttp raise its ``HTTPException``); the middleware in
:mod:`shared.web.middleware` is the only place that turns either into a response (DESIGN section 5).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """A client-facing failure with a machine-readable code; never carries secrets."""

    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}


# Where Python's status names are dated, use the current RFC 9110 name (also what the edge sends).
_CODE_OVERRIDES = {413: "PAYLOAD_TOO_LARGE"}


def code_for_status(status: int) -> str:
    """``404`` -> ``NOT_FOUND``: the default code when aiohttp itself rejects a request."""
    if status in _CODE_OVERRIDES:
        return _CODE_OVERRIDES[status]
    try:
        return HTTPStatus(status).name
    except ValueError:
        return "HTTP_ERROR"


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    """Build the JSON error body with the given status."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return web.Response(
        status=status, text=json.dumps({"error": body}), content_type="application/json", headers=headers
    )
