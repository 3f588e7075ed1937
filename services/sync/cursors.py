"""Opaque cursors: clients pass them back unchanged; a tampered one is a 400, not a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

from shared.web.errors import ApiError


def encode(kind: str, value: Any) -> str:
    raw = json.dumps({"k": kind, "v": value}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, cursor: str) -> Any:
    """The value inside a cursor of ``kind``; 400 INVALID_CURSOR for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["k"] == kind:
            return data["v"]
    except (ValueError, KeyError, TypeError):
        pass
    raise ApiError(400, "INVALID_CURSOR", "cursor is not one this endpoint issued; start again without it")
