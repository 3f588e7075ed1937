"""Conditional requests of the Kii facade: ``If-Match`` / ``If-None-Match`` in, ``ETag`` out.

kii-api.md 2.3 and 8: the ETag of an object is its ``_version`` in quotes (``"3"``). Clients send
``If-Match`` back either verbatim (``"3"``) or as the bare ``_version`` (``3``), both of which match;
``If-None-Match: *`` on PUT means create only. The two headers cannot be combined.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import formatdate

from aiohttp import web

from shared.kii.errors import KiiError

_ANY = "*"


@dataclass(frozen=True, slots=True)
class Conditions:
    """The preconditions of a write: If-Match tags (``("*",)`` for any version) and If-None-Match: *."""

    if_match: tuple[str, ...] | None
    create_only: bool

    def matches(self, version: int) -> bool:
        """Whether the stored version satisfies If-Match (True when there is none)."""
        if self.if_match is None:
            return True
        return _ANY in self.if_match or str(version) in self.if_match


def conditions(request: web.Request) -> Conditions:
    """Parse the request's preconditions; 400 for a combination Kii refuses."""
    if_match = request.headers.get("If-Match")
    if_none_match = request.headers.get("If-None-Match")
    if if_match is not None and if_none_match is not None:
        raise KiiError(400, "INVALID_INPUT_DATA", "If-Match and If-None-Match cannot be combined")
    create_only = False
    if if_none_match is not None:
        if if_none_match.strip() != _ANY:
            raise KiiError(400, "INVALID_INPUT_DATA", "If-None-Match supports only * (create only)")
        create_only = True
    tags = tuple(_tag(part) for part in if_match.split(",")) if if_match is not None else None
    return Conditions(tags, create_only)


def _tag(raw: str) -> str:
    """``W/"3"``, ``"3"`` and ``3`` are all version 3."""
    tag = raw.strip()
    tag = tag.removeprefix("W/")
    if len(tag) >= 2 and tag[0] == tag[-1] == '"':
        tag = tag[1:-1]
    return tag.strip()


def etag(version: int) -> str:
    """The ETag header of an object at ``version``."""
    return f'"{version}"'


def http_date(epoch_ms: int) -> str:
    """An epoch-milliseconds time as an HTTP date (Last-Modified)."""
    return formatdate(epoch_ms / 1000, usegmt=True)
