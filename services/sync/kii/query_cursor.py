"""The opaque ``paginationKey``: the sort key of the last object served, bound to its query.

Keyset pagination rather than an offset: a page starts strictly after the last object of the
previous page in the query's total order (sort keys, then ``id``), so objects created or deleted
between two calls never shift the window, and deep pages cost no more than the first.

Format: unpadded URL-safe base64 of compact JSON ``{"v": 1, "k": [...], "h": "..."}`` where ``k``
holds the sort key of the last object (integers as JSON integers, decimals as strings, byte
strings as standard base64) and ``h`` is a truncated SHA-256 over the query's clause and order
with ``k``. The digest is not a secret: it detects a truncated, edited or foreign key (one issued
for another clause or order) and turns it into INVALID_INPUT_DATA. A deliberately forged key gains
nothing, because the scope and clause are applied to every page anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from enum import Enum

from services.sync.kii.errors import INVALID_INPUT_DATA, KiiQueryError
from services.sync.kii.query_model import KiiQuery

_VERSION = 1
_DIGEST_HEX_CHARS = 32
_DIGEST_CONTEXT = b"vitalsync/kii-query-cursor/1\0"
_INT_RANGE = range(-(2**63), 2**64)


class KeyKind(Enum):
    """How one sort key travels: SQL integer, DECIMAL(65,30), or binary string."""

    INT = "int"
    DECIMAL = "decimal"
    BYTES = "bytes"


KeyValue = int | Decimal | bytes


def encode_pagination_key(query: KiiQuery, kinds: Sequence[KeyKind], values: Sequence[object]) -> str:
    """The key that resumes ``query`` after the row whose sort key columns hold ``values``."""
    if len(kinds) != len(values):
        raise ValueError(f"expected {len(kinds)} sort key values, got {len(values)}")
    encoded = [_encode_value(kind, value) for kind, value in zip(kinds, values, strict=True)]
    document = {"v": _VERSION, "k": encoded, "h": _digest(query, encoded)}
    raw = json.dumps(document, separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_pagination_key(query: KiiQuery, kinds: Sequence[KeyKind]) -> list[KeyValue]:
    """The sort key stored in ``query.pagination_key``; INVALID_INPUT_DATA unless issued for it."""
    key = query.pagination_key
    if key is None:
        raise ValueError("the query has no paginationKey")
    try:
        raw = base64.b64decode(key + "=" * (-len(key) % 4), altchars=b"-_", validate=True)
        document = json.loads(raw)
    # UnicodeDecodeError and JSONDecodeError are ValueErrors; a deeply nested list recurses.
    except (ValueError, binascii.Error, RecursionError):
        raise _foreign_key() from None
    if not isinstance(document, dict) or document.get("v") != _VERSION:
        raise _foreign_key()
    encoded, digest = document.get("k"), document.get("h")
    if (
        not isinstance(encoded, list)
        or len(encoded) != len(kinds)
        or not isinstance(digest, str)
        or not digest.isascii()  # compare_digest refuses non-ASCII text
        or not hmac.compare_digest(digest, _digest(query, encoded))
    ):
        raise _foreign_key()
    return [_decode_value(kind, value) for kind, value in zip(kinds, encoded, strict=True)]


def _digest(query: KiiQuery, encoded: list[object]) -> str:
    # repr() of the frozen clause dataclasses is deterministic and covers every field and value.
    identity = repr((query.clause, query.order_by, query.descending)).encode("utf-8")
    payload = json.dumps(encoded, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return hashlib.sha256(_DIGEST_CONTEXT + identity + b"\0" + payload).hexdigest()[:_DIGEST_HEX_CHARS]


def _encode_value(kind: KeyKind, value: object) -> object:
    match kind:
        case KeyKind.INT if isinstance(value, int) and not isinstance(value, bool):
            return value
        case KeyKind.DECIMAL if isinstance(value, Decimal | int) and not isinstance(value, bool):
            return str(Decimal(value))
        case KeyKind.BYTES if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"a {kind.value} sort key cannot hold {type(value).__name__}")


def _decode_value(kind: KeyKind, value: object) -> KeyValue:
    match kind:
        case KeyKind.INT if isinstance(value, int) and not isinstance(value, bool) and value in _INT_RANGE:
            return value
        case KeyKind.DECIMAL if isinstance(value, str):
            try:
                number = Decimal(value)
            except InvalidOperation:
                raise _foreign_key() from None
            if number.is_finite():
                return number
        case KeyKind.BYTES if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except binascii.Error:
                raise _foreign_key() from None
    raise _foreign_key()


def _foreign_key() -> KiiQueryError:
    return KiiQueryError(INVALID_INPUT_DATA, "paginationKey was not issued by this server for this query")
