"""JwksCache against a real JWKS server: rotation, rate limits, single flight, and outages."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

import aiohttp
import jwt
import pytest

from shared.auth.errors import JwksUnavailableError, TokenError, TokenErrorCode
from shared.auth.issuers import TrustedIssuer
from shared.auth.jwks import MAX_JWKS_BYTES, JwksCache
from shared.auth.verifier import TokenVerifier

from .conftest import (
    LOCAL_ISSUER,
    LOCAL_JWKS_PATH,
    FakeClock,
    JwksServer,
    Keys,
    b64url,
    local_claims,
)

WAIT_S = 5.0


async def eventually(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    """Wait until ``predicate()`` holds, failing after ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        while not predicate():  # noqa: ASYNC110 - the state lives in the code under test, no event to wait on
            await asyncio.sleep(0.005)


async def warm(verifier: TokenVerifier, keys: Keys, server: JwksServer) -> None:
    await verifier.verify(keys.local_es.sign(local_claims()))
    assert server.requests[LOCAL_JWKS_PATH] == 1


async def test_keys_are_fetched_once_and_cached(verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer) -> None:
    for n in range(5):
        await verifier.verify(keys.local_es.sign(local_claims(sub=f"user-{n}")))
        await verifier.verify(keys.local_rs.sign(local_claims(sub=f"user-{n}")))
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 1


async def test_unknown_kid_refresh_picks_up_rotated_key(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer, clock: FakeClock
) -> None:
    await warm(verifier, keys, jwks_server)
    jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es_next, keys.local_es)
    clock.advance(30)
    principal = await verifier.verify(keys.local_es_next.sign(local_claims(exp=int(clock.now) + 60)))
    assert principal.user_id == "user-0001"
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 2


async def test_rotated_out_key_verifies_while_listed_and_not_after(
    verifier: TokenVerifier, cache: JwksCache, keys: Keys, jwks_server: JwksServer
) -> None:
    jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es_next, keys.local_es)
    old_token = keys.local_es.sign(local_claims())
    assert await verifier.verify(keys.local_es_next.sign(local_claims()))
    assert await verifier.verify(old_token)

    jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es_next)
    assert await cache.refresh(LOCAL_ISSUER) is True
    assert cache.known_kids(LOCAL_ISSUER) == {keys.local_es_next.kid}
    with pytest.raises(TokenError) as caught:
        await verifier.verify(old_token)
    assert caught.value.code == TokenErrorCode.TOKEN_INVALID


async def test_flood_of_unknown_kids_refreshes_at_most_once_per_interval(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer, clock: FakeClock
) -> None:
    await warm(verifier, keys, jwks_server)

    async def flood(count: int) -> None:
        for _ in range(count):
            token = keys.local_es.sign(local_claims(), kid=uuid.uuid4().hex)
            with pytest.raises(TokenError):
                await verifier.verify(token)

    await flood(50)  # the warm-up fetch just happened: no refresh allowed yet
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 1
    clock.advance(30)
    await flood(50)
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 2
    clock.advance(29)
    await flood(50)
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 2

    # The price of the limit: a key published mid-interval is seen only when the interval is over.
    jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es_next, keys.local_es)
    new_key_token = keys.local_es_next.sign(local_claims())
    with pytest.raises(TokenError):
        await verifier.verify(new_key_token)
    clock.advance(1)
    assert await verifier.verify(new_key_token)
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 3


async def test_concurrent_requests_for_an_unknown_kid_share_one_fetch(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer, clock: FakeClock
) -> None:
    await warm(verifier, keys, jwks_server)
    jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es_next, keys.local_es)
    clock.advance(30)
    jwks_server.gate, jwks_server.arrived = asyncio.Event(), asyncio.Event()

    tokens = [keys.local_es_next.sign(local_claims(sub=f"user-{n}")) for n in range(25)]
    tasks = [asyncio.create_task(verifier.verify(token)) for token in tokens]
    async with asyncio.timeout(WAIT_S):
        await jwks_server.arrived.wait()
    jwks_server.gate.set()
    principals = await asyncio.gather(*tasks)

    assert [p.user_id for p in principals] == [f"user-{n}" for n in range(25)]
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 2


async def test_cold_start_burst_shares_one_fetch(verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer) -> None:
    tokens = [keys.local_es.sign(local_claims(sub=f"user-{n}")) for n in range(25)]
    await asyncio.gather(*(verifier.verify(token) for token in tokens))
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 1


async def test_cancelled_waiter_does_not_cancel_the_shared_fetch(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer
) -> None:
    jwks_server.gate = asyncio.Event()
    first = asyncio.create_task(verifier.verify(keys.local_es.sign(local_claims())))
    second = asyncio.create_task(verifier.verify(keys.local_es.sign(local_claims(sub="user-2"))))
    async with asyncio.timeout(WAIT_S):
        await jwks_server.arrived.wait()
    first.cancel()
    jwks_server.gate.set()
    assert (await second).user_id == "user-2"
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert first.cancelled()
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 1


@pytest.mark.parametrize("outage", ["error", "garbage", "closed"])
async def test_jwks_outage_keeps_cached_keys(
    verifier: TokenVerifier,
    cache: JwksCache,
    keys: Keys,
    jwks_server: JwksServer,
    clock: FakeClock,
    outage: str,
) -> None:
    await warm(verifier, keys, jwks_server)
    if outage == "closed":
        assert jwks_server.server is not None
        await jwks_server.server.close()
    else:
        jwks_server.mode = outage
    clock.advance(30)

    assert await cache.refresh(LOCAL_ISSUER) is False
    assert await verifier.verify(keys.local_rs.sign(local_claims()))
    # An unknown kid now may be a rotation we cannot see: that is our outage, not a bad token.
    clock.advance(30)
    with pytest.raises(JwksUnavailableError):
        await verifier.verify(keys.local_es_next.sign(local_claims()))
    assert await verifier.verify(keys.local_es.sign(local_claims()))


async def test_first_fetch_failing_is_unavailable_then_recovers(
    verifier: TokenVerifier, keys: Keys, jwks_server: JwksServer, clock: FakeClock
) -> None:
    jwks_server.mode = "error"
    token = keys.local_es.sign(local_claims(exp=int(clock.now) + 600))
    with pytest.raises(JwksUnavailableError):
        await verifier.verify(token)
    with pytest.raises(JwksUnavailableError):  # within the retry interval: no new fetch
        await verifier.verify(token)
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 1
    # after a failure the retry comes sooner (1 s, not 30 s): an issuer that was still starting is
    # picked up at once, and a flood still costs at most one fetch per second
    clock.advance(1)
    with pytest.raises(JwksUnavailableError):
        await verifier.verify(token)
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 2
    jwks_server.mode = "up"
    clock.advance(1)
    assert await verifier.verify(token)
    assert jwks_server.requests[LOCAL_JWKS_PATH] == 3


async def test_unusable_entries_are_skipped(
    verifier: TokenVerifier, cache: JwksCache, keys: Keys, jwks_server: JwksServer
) -> None:
    secret = b"a-shared-secret-that-must-never-be-trusted"
    jwks_server.published[LOCAL_JWKS_PATH] = {
        "keys": [
            {"kty": "oct", "kid": "hmac-1", "k": b64url(secret), "alg": "HS256"},
            {**keys.local_rs.jwk, "kid": "enc-1", "use": "enc"},
            {k: v for k, v in keys.local_rs.jwk.items() if k != "kid"},
            {"kty": "RSA", "kid": "broken-1", "n": 12, "e": None},
            {"kty": "EC", "kid": "broken-2", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {**keys.local_rs.jwk, "kid": "ps-1", "alg": "PS256"},  # not in the issuer's algorithms
            "not-a-key",
            keys.local_es.jwk,
        ]
    }
    assert await cache.refresh(LOCAL_ISSUER) is True
    assert cache.known_kids(LOCAL_ISSUER) == {keys.local_es.kid}
    hmac_token = jwt.encode(local_claims(), secret, algorithm="HS256", headers={"kid": "hmac-1"})
    with pytest.raises(TokenError) as caught:
        await verifier.verify(hmac_token)
    assert caught.value.code == TokenErrorCode.TOKEN_INVALID


@pytest.mark.parametrize(
    "document",
    [{"keys": []}, {"keys": "nope"}, {"no": "keys"}, {"keys": [{"kty": "RSA", "pad": "x" * MAX_JWKS_BYTES}]}],
)
async def test_empty_or_invalid_document_keeps_old_keys(
    verifier: TokenVerifier,
    cache: JwksCache,
    keys: Keys,
    jwks_server: JwksServer,
    document: dict[str, object],
) -> None:
    await warm(verifier, keys, jwks_server)
    jwks_server.published[LOCAL_JWKS_PATH] = document
    assert await cache.refresh(LOCAL_ISSUER) is False
    assert await verifier.verify(keys.local_es.sign(local_claims()))


async def test_background_refresh_picks_up_new_keys(
    http_session: aiohttp.ClientSession, issuers: list[TrustedIssuer], keys: Keys, jwks_server: JwksServer
) -> None:
    cache = JwksCache(http_session, issuers, refresh_interval_s=0.02, min_refresh_interval_s=3600)
    refresher = asyncio.create_task(cache.refresh_forever())
    try:
        await eventually(lambda: cache.known_kids(LOCAL_ISSUER) == {"local-2025-01", "local-rsa-1", "local-ed-1"})
        jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es_next)
        await eventually(lambda: cache.known_kids(LOCAL_ISSUER) == {keys.local_es_next.kid})
    finally:
        refresher.cancel()
        await asyncio.wait([refresher])
        await cache.aclose()
    assert refresher.cancelled()


async def test_installed_keys_are_never_replaced_by_a_fetch(
    http_session: aiohttp.ClientSession, issuers: list[TrustedIssuer], keys: Keys, jwks_server: JwksServer
) -> None:
    """The auth service installs its own ring; the JWKS URL (another replica, not yet reloaded) lists only
    the old key, and neither the background refresh nor an unknown kid may swap the ring for it."""
    jwks_server.publish(LOCAL_JWKS_PATH, keys.local_es)
    cache = JwksCache(http_session, issuers, refresh_interval_s=0.01, min_refresh_interval_s=0)
    cache.install(LOCAL_ISSUER, {"keys": [keys.local_es.jwk, keys.local_es_next.jwk]})
    try:
        assert await cache.refresh(LOCAL_ISSUER)
        assert await cache.get_key(LOCAL_ISSUER, keys.local_es_next.kid) is not None
        assert await cache.get_key(LOCAL_ISSUER, "made-up-kid") is None
        assert cache.known_kids(LOCAL_ISSUER) == {keys.local_es.kid, keys.local_es_next.kid}
        assert jwks_server.requests[LOCAL_JWKS_PATH] == 0
    finally:
        await cache.aclose()


def test_cache_refuses_unknown_issuer_lookups(http_session: aiohttp.ClientSession) -> None:
    cache = JwksCache(http_session, [])
    with pytest.raises(ValueError, match="not configured"):
        cache.known_kids("nobody")


async def test_verifier_needs_every_issuer_in_the_cache(
    http_session: aiohttp.ClientSession, issuers: list[TrustedIssuer]
) -> None:
    with pytest.raises(ValueError, match="does not hold keys"):
        TokenVerifier(issuers, JwksCache(http_session, issuers[:1]))
