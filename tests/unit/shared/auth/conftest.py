"""Keys, a real JWKS server and token factories for the token-verifier tests.

The JWKS server is an aiohttp app on a real socket: it serves the local provider's keys at
``/.well-known/jwks.json`` and a Cognito pool's keys at ``/{pool}/.well-known/jwks.json`` (moto's
layout), counts requests per path, and can be switched to failing or held at a gate.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from shared.auth.issuers import TrustedIssuer, cognito_issuer
from shared.auth.jwks import JwksCache
from shared.auth.verifier import TokenVerifier

NOW = 1_750_000_000.0  # the wall clock every verifier in these tests reads
LOCAL_ISSUER = "vitalsync-local"
LOCAL_AUDIENCE = "vitalsync"
COGNITO_REGION = "eu-west-1"
COGNITO_POOL = "eu-west-1_TestPool1"
COGNITO_CLIENT_ID = "3n4hclientid0example"
LOCAL_JWKS_PATH = "/.well-known/jwks.json"
COGNITO_JWKS_PATH = f"/{COGNITO_POOL}/.well-known/jwks.json"
DROP = object()  # claim override meaning "leave this claim out"


@dataclass(frozen=True)
class SigningKey:
    """A private key with its kid and algorithm; ``jwk`` is what the JWKS publishes."""

    kid: str
    alg: str
    private_key: Any

    @property
    def jwk(self) -> dict[str, Any]:
        public = json.loads(jwt.get_algorithm_by_name(self.alg).to_jwk(self.private_key.public_key()))
        return {**public, "kid": self.kid, "alg": self.alg, "use": "sig"}

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, claims: dict[str, Any], **headers: Any) -> str:
        # Signs the JSON as given (PyJWT's jwt.encode would refuse some of the bad claims we test).
        payload = json.dumps(claims).encode()
        return jwt.api_jws.encode(payload, self.private_key, algorithm=self.alg, headers={"kid": self.kid, **headers})


def es256_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def rs256_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048))


def eddsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "EdDSA", ed25519.Ed25519PrivateKey.generate())


@dataclass(frozen=True)
class Keys:
    """Generated once per session: RSA generation is the slow part of these tests."""

    local_es: SigningKey
    local_es_next: SigningKey
    local_rs: SigningKey
    local_ed: SigningKey
    cognito_rs: SigningKey
    cognito_rs_next: SigningKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        local_es=es256_key("local-2025-01"),
        local_es_next=es256_key("local-2025-02"),
        local_rs=rs256_key("local-rsa-1"),
        local_ed=eddsa_key("local-ed-1"),
        cognito_rs=rs256_key("cognito-1"),
        cognito_rs_next=rs256_key("cognito-2"),
    )


def local_claims(**overrides: Any) -> dict[str, Any]:
    """A valid local-provider access token's claims at NOW, with overrides (DROP removes one)."""
    claims = {
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "sub": "user-0001",
        "iat": int(NOW),
        "exp": int(NOW) + 900,
        "jti": "jti-0001",
        "token_use": "access",
        "roles": ["operator"],
    }
    return _apply(claims, overrides)


def cognito_claims(**overrides: Any) -> dict[str, Any]:
    """A Cognito (or moto) access token's claims: no aud, client_id and username instead."""
    claims = {
        "iss": f"https://cognito-idp.{COGNITO_REGION}.amazonaws.com/{COGNITO_POOL}",
        "sub": "5f1c2a9e-cognito-subject",
        "client_id": COGNITO_CLIENT_ID,
        "username": "user-0002",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": int(NOW),
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
        "jti": "jti-0002",
        "cognito:groups": ["clinician"],
    }
    return _apply(claims, overrides)


def _apply(claims: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {**claims, **overrides}
    return {name: value for name, value in merged.items() if value is not DROP}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS with whatever header and signature an attacker chooses."""
    segments = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join([*(b64url(s) for s in segments), b64url(signature)])


@dataclass
class JwksServer:
    """The state behind the JWKS app; tests change the published keys and failure mode directly."""

    published: dict[str, Any] = field(default_factory=dict)  # path -> JWKS document served there
    requests: Counter[str] = field(default_factory=Counter)
    mode: str = "up"  # "up", "error" (HTTP 503) or "garbage" (200 with a non-JSON body)
    gate: asyncio.Event | None = None  # when set to an unset Event, requests wait for it
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    server: TestServer | None = None

    def publish(self, path: str, *signing_keys: SigningKey) -> None:
        self.published[path] = {"keys": [key.jwk for key in signing_keys]}

    def url(self, path: str) -> str:
        assert self.server is not None
        return str(self.server.make_url(path))

    async def handle(self, request: web.Request) -> web.Response:
        self.requests[request.path] += 1
        self.arrived.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.mode == "error":
            return web.json_response({"message": "unavailable"}, status=503)
        if self.mode == "garbage":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if request.path not in self.published:
            raise web.HTTPNotFound()
        return web.json_response(self.published[request.path])

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(LOCAL_JWKS_PATH, self.handle)
        app.router.add_get("/{pool}/.well-known/jwks.json", self.handle)
        return app


@pytest.fixture
async def jwks_server(aiohttp_server: Callable[..., Any], keys: Keys) -> JwksServer:
    state = JwksServer()
    state.publish(LOCAL_JWKS_PATH, keys.local_es, keys.local_rs, keys.local_ed)
    state.publish(COGNITO_JWKS_PATH, keys.cognito_rs)
    state.server = await aiohttp_server(state.app())
    return state


def local_trusted(server: JwksServer) -> TrustedIssuer:
    return TrustedIssuer(
        issuer=LOCAL_ISSUER,
        jwks_url=server.url(LOCAL_JWKS_PATH),
        audience=LOCAL_AUDIENCE,
        algorithms=("ES256", "RS256", "EdDSA"),
    )


def cognito_trusted(server: JwksServer) -> TrustedIssuer:
    assert server.server is not None
    return cognito_issuer(
        COGNITO_REGION, COGNITO_POOL, COGNITO_CLIENT_ID, endpoint_url=str(server.server.make_url("/"))
    )


@dataclass
class FakeClock:
    """Wall clock for the verifier and monotonic clock for the cache, moved only by the test."""

    now: float = NOW

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def issuers(jwks_server: JwksServer) -> list[TrustedIssuer]:
    return [local_trusted(jwks_server), cognito_trusted(jwks_server)]


@pytest.fixture
async def cache(
    http_session: aiohttp.ClientSession, issuers: list[TrustedIssuer], clock: FakeClock
) -> AsyncIterator[JwksCache]:
    cache = JwksCache(http_session, issuers, min_refresh_interval_s=30.0, monotonic=clock)
    yield cache
    await cache.aclose()


@pytest.fixture
def verifier(issuers: list[TrustedIssuer], cache: JwksCache, clock: FakeClock) -> TokenVerifier:
    return TokenVerifier(issuers, cache, leeway_s=30, clock=clock)
