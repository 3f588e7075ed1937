"""Reading request bodies into pydantic models with protocol errors, never echoing the input.

Validation details name the field and the rule but not the value: a rejected body may hold a
password or a token, and error bodies end up in client logs.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from shared.web.errors import ApiError

M = TypeVar("M", bound=BaseModel)
_FORM = "application/x-www-form-urlencoded"


def validation_details(exc: ValidationError) -> list[dict[str, str]]:
    """``[{"field": "a.b", "message": ..., "type": ...}]`` without the offending input."""
    return [
        {
            "field": ".".join(str(p) for p in error["loc"]) or "(body)",
            "message": error["msg"],
            "type": error["type"],
        }
        for error in exc.errors(include_input=False, include_url=False)
    ]


async def read_json(request: web.Request, *, allow_form: bool = False) -> Any:
    """The parsed body: JSON, or a form when ``allow_form`` (OAuth token endpoints accept both)."""
    if allow_form and request.content_type == _FORM:
        return dict(await request.post())
    raw = await request.read()
    if not raw:
        raise ApiError(400, "INVALID_JSON", "request body is empty; send a JSON object")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "INVALID_JSON", "request body is not valid JSON") from None


async def parse_body(request: web.Request, model: type[M], *, allow_form: bool = False) -> M:
    """Validate the body against ``model``; 400 INVALID_JSON or VALIDATION_FAILED otherwise."""
    data = await read_json(request, allow_form=allow_form)
    if not isinstance(data, dict):
        raise ApiError(400, "VALIDATION_FAILED", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(400, "VALIDATION_FAILED", "request body is invalid", validation_details(exc)) from None
