"""The local identity provider's JWT signing keys: ES256, a key id per key, rotation.

Keys live in ``signing_keys`` (private half sealed). A new key is published ``publish_ahead_s``
before it signs, so every verifier's cached JWKS (refreshed every few minutes) knows it first; the
newest activated key signs; a replaced key stays published until every token it signed has expired.
Rotation never breaks a session. Replicas reload the ring periodically; creation runs under a
database lock so two replicas never create two keys at once.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiomysql
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.auth.sealing import Sealer

log = logging.getLogger(__name__)
ALGORITHM = "ES256"
_LOCK = "vitalsync_signing_keys"


@dataclass
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_jwk: dict[str, Any]
    created_at: datetime
    activates_at: datetime


class KeyRing:
    """Signs access tokens with the active key and publishes the verification keys."""

    def __init__(self, sealer: Sealer, max_age_s: int, token_ttl_s: int, publish_ahead_s: int) -> None:
        self._sealer = sealer
        self._max_age = timedelta(seconds=max_age_s)
        self._token_ttl = timedelta(seconds=token_ttl_s)
        self._publish_ahead = timedelta(seconds=publish_ahead_s)
        self._keys: list[SigningKey] = []

    async def load(self, pool: aiomysql.Pool) -> None:
        """Read the ring; create the first key, or a successor when the newest one is too old."""
        async with pool.acquire() as conn, conn.cursor() as cur:
            self._keys = await self._read(cur)
            await conn.commit()
        if not self._keys:
            await self.rotate(pool, publish_ahead=timedelta(0))  # nothing to sign with otherwise
        elif _now() - self._keys[0].created_at > self._max_age:
            await self.rotate(pool)

    async def rotate(self, pool: aiomysql.Pool, publish_ahead: timedelta | None = None) -> str:
        """Publish a successor key that starts signing after ``publish_ahead``; returns its key id."""
        activates_at = _now() + (self._publish_ahead if publish_ahead is None else publish_ahead)
        async with pool.acquire() as conn, conn.cursor() as cur:
            await cur.execute("SELECT GET_LOCK(%s, 10)", (_LOCK,))
            try:
                private_key = ec.generate_private_key(ec.SECP256R1())
                kid = f"{time.strftime('%Y%m%d')}-{secrets.token_hex(4)}"
                jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
                jwk.update(kid=kid, alg=ALGORITHM, use="sig")
                pem = private_key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                await cur.execute(
                    "UPDATE signing_keys SET retired_at = %s WHERE retired_at IS NULL",
                    (_naive(activates_at),),
                )
                await cur.execute(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, public_jwk, activates_at) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (kid, ALGORITHM, self._sealer.seal(pem), json.dumps(jwk), _naive(activates_at)),
                )
                await conn.commit()
            finally:
                await cur.execute("SELECT RELEASE_LOCK(%s)", (_LOCK,))
                await cur.fetchall()
            self._keys = await self._read(cur)
            await conn.commit()
        log.info("signing key rotated, new kid %s", kid)
        return kid

    async def reload(self, pool: aiomysql.Pool) -> None:
        """Pick up keys another replica created."""
        async with pool.acquire() as conn, conn.cursor() as cur:
            self._keys = await self._read(cur)
            await conn.commit()

    async def _read(self, cur: aiomysql.Cursor) -> list[SigningKey]:
        await cur.execute(
            "SELECT kid, private_key, public_jwk, created_at, activates_at FROM signing_keys "
            "WHERE retired_at IS NULL OR retired_at > %s ORDER BY activates_at DESC, created_at DESC",
            (_naive(_now() - self._token_ttl - timedelta(minutes=5)),),
        )
        keys = []
        for kid, sealed, jwk, created_at, activates_at in await cur.fetchall():
            private_key = serialization.load_pem_private_key(self._sealer.open(bytes(sealed)), password=None)
            assert isinstance(private_key, ec.EllipticCurvePrivateKey)
            keys.append(
                SigningKey(
                    kid,
                    private_key,
                    json.loads(jwk),
                    created_at.replace(tzinfo=UTC),
                    activates_at.replace(tzinfo=UTC),
                )
            )
        return keys

    def _active(self) -> SigningKey | None:
        """The newest key whose activation time has come."""
        now = _now()
        return next((k for k in self._keys if k.activates_at <= now), None)

    def sign(self, claims: dict[str, Any]) -> str:
        """A JWT over ``claims`` with the active key's id in the header."""
        active = self._active()
        if active is None:
            raise RuntimeError("no active signing key; KeyRing.load() must run at start-up")
        return jwt.encode(claims, active.private_key, algorithm=ALGORITHM, headers={"kid": active.kid})

    def jwks(self) -> dict[str, Any]:
        """The public keys that verify tokens still in circulation."""
        return {"keys": [k.public_jwk for k in self._keys]}


def _now() -> datetime:
    return datetime.now(UTC)


def _naive(moment: datetime) -> datetime:
    """UTC without tzinfo, as DATETIME columns hold it."""
    return moment.astimezone(UTC).replace(tzinfo=None)
