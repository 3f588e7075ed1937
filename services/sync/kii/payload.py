"""Request bodies of the Kii facade: content type, size, JSON, and the object rules Kii applies.

- Content types (kii-api.md 1.2, 2.3): ``application/json`` and any ``application/vnd.*+json``; an
  object sent as ``application/vnd.{appID}.{type}+json`` gets that ``_dataType``. The JS SDK v3
  appends a stray ``"`` to typed content types (2.3), which is tolerated. Anything else: 400.
- Size: an object is at most 65,534 characters of compact JSON (Kii's limit, 2.1): 413 beyond.
- An object is a top-level JSON object; client keys starting with ``_`` are the system's and are
  dropped, as Kii drops them. Malformed JSON is 400 INVALID_JSON; valid JSON the store cannot hold
  (not an object, nested deeper than MariaDB's 32 levels, numbers beyond a double, lone surrogates)
  is 400 INVALID_INPUT_DATA.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.sync.kii.objects_repo import dump_body
from shared.kii.errors import KiiError

MAX_OBJECT_CHARS = 65_534
# Raw bytes read for an object: its 65,534 characters may arrive as 6-byte \uXXXX escapes, and a
# client may indent; beyond this the body cannot be a valid object and is refused unread.
MAX_OBJECT_BODY_BYTES = 1024 * 1024
MAX_QUERY_BODY_BYTES = 256 * 1024
# MariaDB refuses JSON documents deeper than 32 levels (JSON_DEPTH counts a scalar as 1).
MAX_JSON_DEPTH = 32
_JSON_TYPES = re.compile(r"application/(?:json|vnd\.[A-Za-z0-9!#$&^_.+-]+\+json)", re.IGNORECASE)
_DATA_TYPE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_MAX_DATA_TYPE_CHARS = 64


@dataclass(frozen=True, slots=True)
class ObjectPayload:
    """A checked object body: client fields only, the media type sent and the data type it names."""

    fields: dict[str, Any]
    media_type: str
    data_type: str | None


class _NonFiniteNumberError(ValueError):
    pass


def media_type(request: web.Request) -> str:
    """The request's JSON media type without parameters; 400 unless Kii would accept it."""
    raw = request.headers.get("Content-Type", "")
    media = raw.split(";", 1)[0].strip().rstrip('"').strip()
    if not _JSON_TYPES.fullmatch(media):
        raise KiiError(400, "INVALID_INPUT_DATA", "the Content-Type must be application/json or application/vnd.*+json")
    return media


def data_type_of(media: str, app_id: str) -> str | None:
    """``mydata`` of ``application/vnd.{appID}.mydata+json``; None for other media types."""
    prefix = f"application/vnd.{app_id}."
    if not media.lower().startswith(prefix.lower()) or not media.lower().endswith("+json"):
        return None
    name = media[len(prefix) : -len("+json")]
    if len(name) > _MAX_DATA_TYPE_CHARS or not _DATA_TYPE.fullmatch(name):
        raise KiiError(400, "INVALID_INPUT_DATA", "the data type in the Content-Type is not a valid name")
    return name


async def read_object(request: web.Request, app_id: str) -> ObjectPayload:
    """The object a create, replace or patch request carries."""
    media = media_type(request)
    document = await _read_json(request, MAX_OBJECT_BODY_BYTES)
    if not isinstance(document, dict):
        raise KiiError(400, "INVALID_INPUT_DATA", "an object must be a JSON object")
    fields = {key: value for key, value in document.items() if not key.startswith("_")}
    check_object(fields)
    return ObjectPayload(fields, media, data_type_of(media, app_id))


async def read_query(request: web.Request) -> Any:
    """The parsed body of a query request (``parse_query`` checks its shape)."""
    media_type(request)
    return await _read_json(request, MAX_QUERY_BODY_BYTES)


def check_object(body: dict[str, Any]) -> None:
    """413 over Kii's size, 400 when MariaDB could not store it; run again on a merged object."""
    if json_depth(body) > MAX_JSON_DEPTH:
        raise KiiError(400, "INVALID_INPUT_DATA", f"an object may nest at most {MAX_JSON_DEPTH} levels deep")
    try:
        text = dump_body(body)
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise KiiError(400, "INVALID_INPUT_DATA", "the object holds text that is not valid Unicode") from None
    if len(text) > MAX_OBJECT_CHARS:
        raise KiiError(
            413,
            "REQUEST_ENTITY_TOO_LARGE",
            f"an object is at most {MAX_OBJECT_CHARS} characters of JSON; this one has {len(text)}",
        )


async def _read_json(request: web.Request, max_bytes: int) -> Any:
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    chunks: list[bytes] = []
    received = 0
    while chunk := await request.content.read(max_bytes + 1 - received):
        chunks.append(chunk)
        received += len(chunk)
        if received > max_bytes:  # a chunked body without Content-Length
            raise _too_large(max_bytes)
    raw = b"".join(chunks)
    if not raw.strip():
        raise KiiError(400, "INVALID_JSON", "the request body is empty; send a JSON object")
    try:
        return json.loads(raw.decode("utf-8"), parse_float=_finite_float, parse_constant=_no_constant)
    except _NonFiniteNumberError:
        raise KiiError(400, "INVALID_INPUT_DATA", "a number is too large to store") from None
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; absurd nesting exhausts the recursion.
    except (ValueError, RecursionError):
        raise KiiError(400, "INVALID_JSON", "the request body is not valid JSON") from None


def _too_large(max_bytes: int) -> KiiError:
    return KiiError(413, "REQUEST_ENTITY_TOO_LARGE", f"the request body is over {max_bytes} bytes")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFiniteNumberError(text)
    return value


def _no_constant(name: str) -> Any:
    # NaN, Infinity and -Infinity are Python's extension, not JSON (RFC 8259 section 6).
    raise ValueError(f"{name} is not JSON")


def json_depth(value: Any) -> int:
    """JSON nesting depth as MariaDB's JSON_DEPTH counts it: a scalar or empty container is 1."""
    deepest, stack = 1, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            deepest = max(deepest, depth + 1)
            if deepest > MAX_JSON_DEPTH:
                return deepest
            stack.append((child, depth + 1))
    return deepest
