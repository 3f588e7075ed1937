"""The client's address as the edge saw it, for per-address throttling."""

from __future__ import annotations

from aiohttp import web


def client_address(request: web.Request, trusted_proxies: list[str]) -> str:
    """The direct peer, or the rightmost X-Forwarded-For hop when the peer is a trusted proxy.

    Only the hop our own edge appended is trusted; anything left of it is client-controlled.
    """
    peer = request.remote or "unknown"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if peer in trusted_proxies and forwarded:
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer
