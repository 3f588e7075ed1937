"""Kii's error shape: ``{"errorCode": "UPPER_SNAKE", "message": ...}`` plus context fields.

Old app versions derive behaviour from the code string (the JS SDK maps it to a status itself), so
codes and statuses follow the official SDK's table (kii-api.md section 5). Messages never contain
``%``: the JS SDK 2.4.19 loses the code when it meets one (kii-api.md section 8).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from aiohttp import web


class KiiError(Exception):
    """A Kii-shaped client error; routes of the facade raise it, its middleware renders it."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message.replace("%", " percent")
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        body = {"errorCode": self.code, "message": self.message, **self.extra}
        return web.Response(
            status=self.status, text=json.dumps(body), content_type="application/json", headers=self.headers
        )


def kii_error_middleware(translate: Any = None) -> Any:
    """Render KiiError on ``/api/`` paths; ``translate(exc)`` may turn a domain error into a KiiError."""

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await handler(request)
        try:
            return await handler(request)
        except KiiError as exc:
            return exc.response()
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            code = {404: "NOT_FOUND", 405: "OPERATION_NOT_SUPPORTED", 413: "REQUEST_ENTITY_TOO_LARGE"}
            return KiiError(exc.status, code.get(exc.status, "INVALID_INPUT_DATA"), exc.reason).response()
        except Exception as exc:
            translated = translate(exc) if translate else None
            if translated is None:
                raise
            return translated.response()

    return middleware


def check_app(request: web.Request, apps: dict[str, str], path_app: str | None = None) -> str:
    """The application id of a Kii request, with its key checked (headers, or Basic app:key)."""
    app_id = request.headers.get("X-Kii-AppID", "")
    app_key = request.headers.get("X-Kii-AppKey", "")
    if not app_id:
        app_id = path_app or ""
    if path_app is not None and app_id != path_app:
        raise KiiError(404, "APP_NOT_FOUND", "the application id in the path and the header differ")
    if app_id not in apps:
        raise KiiError(404, "APP_NOT_FOUND", "application not found", appID=app_id[:64])
    # SDKs send the key on every call; a bearer token authenticates on its own (kii-api.md 1.2)
    has_bearer = request.headers.get("Authorization", "").lower().startswith("bearer ")
    if (app_key or not has_bearer) and not hmac.compare_digest(app_key.encode(), apps[app_id].encode()):
        raise KiiError(401, "UNAUTHORIZED", "application key missing or not matching the application")
    return app_id
