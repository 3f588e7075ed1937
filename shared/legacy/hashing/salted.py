"""Shared shape of the schemes whose hash and salt are separate base64 fields of the import record."""

from __future__ import annotations

import hmac
import secrets
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Generic, TypeVar

from shared.legacy.hashing.errors import LegacyHashErrorCode, LegacyHashKeyError
from shared.legacy.hashing.fields import (
    decode_b64,
    draw_random,
    encode_b64,
    encode_password,
    format_error,
    require_text,
)
from shared.legacy.hashing.limits import MAX_SALT_BYTES
from shared.legacy.hashing.model import LegacyHash, ParamValue, RandomBytes

Code = LegacyHashErrorCode
Settings = TypeVar("Settings")

DEFAULT_SALT_BYTES = 16


class SaltedDigestScheme(ABC, Generic[Settings]):
    """hash = base64(f(password, salt, params[, key])) with a base64 salt; subclasses supply f and params."""

    name: str
    requires_key: bool = False

    @abstractmethod
    def settings(self, params: Mapping[str, object]) -> Settings:
        """Validate the scheme parameters (names, types, safety limits) into a typed value."""

    @abstractmethod
    def canonical_params(self, settings: Settings) -> dict[str, ParamValue]:
        """Render settings as the params mapping a LegacyHash stores."""

    @abstractmethod
    def digest_size(self, settings: Settings) -> int:
        """Number of bytes the stored hash must decode to, so truncated exports are caught at import."""

    @abstractmethod
    def compute(self, secret: bytes, salt: bytes, settings: Settings, key: bytes) -> bytes:
        """Recompute the legacy digest from the password bytes."""

    def generation_params(self, params: Mapping[str, object], rng: RandomBytes) -> Mapping[str, object]:
        """Fill defaults for generate(); the defaults mimic a typical legacy deployment."""
        return params

    def parse(self, hash: object, salt: object, params: Mapping[str, object]) -> LegacyHash:
        """Validate loose record fields and return the canonical LegacyHash."""
        settings = self.settings(params)
        hash_text = require_text(hash, scheme=self.name, code=Code.MALFORMED_HASH, field="hash")
        salt_text = "" if salt is None else require_text(salt, scheme=self.name, code=Code.MALFORMED_SALT, field="salt")
        legacy = LegacyHash(self.name, hash_text, salt_text, self.canonical_params(settings))
        self._decode(legacy)
        return legacy

    def verify(self, password: str, legacy: LegacyHash, key: bytes | None = None) -> bool:
        """Recompute the digest and compare it with hmac.compare_digest."""
        salt, expected, settings = self._decode(legacy)
        mac_key = self._key(key)
        secret = encode_password(password)
        if secret is None:
            return False
        return hmac.compare_digest(self.compute(secret, salt, settings, mac_key), expected)

    def generate(
        self,
        password: str,
        *,
        salt: bytes | None = None,
        params: Mapping[str, object] | None = None,
        key: bytes | None = None,
        rng: RandomBytes = secrets.token_bytes,
    ) -> LegacyHash:
        """Hash password as the legacy platform did; deterministic when salt (and key params) are given."""
        settings = self.settings(self.generation_params(params or {}, rng))
        mac_key = self._key(key)
        raw_salt = draw_random(rng, DEFAULT_SALT_BYTES) if salt is None else bytes(salt)
        if len(raw_salt) > MAX_SALT_BYTES:
            raise format_error(self.name, Code.MALFORMED_SALT, "salt", f"is longer than {MAX_SALT_BYTES} bytes")
        digest = self.compute(password.encode("utf-8"), raw_salt, settings, mac_key)
        return LegacyHash(self.name, encode_b64(digest), encode_b64(raw_salt), self.canonical_params(settings))

    def _decode(self, legacy: LegacyHash) -> tuple[bytes, bytes, Settings]:
        """Re-check a stored value before any work, so a row edited after import cannot bypass the limits."""
        if legacy.scheme != self.name:
            raise ValueError(f"this LegacyHash is not a {self.name} hash")
        settings = self.settings(legacy.params)
        size = self.digest_size(settings)
        salt = decode_b64(
            legacy.salt or "",
            scheme=self.name,
            code=Code.MALFORMED_SALT,
            field="salt",
            max_bytes=MAX_SALT_BYTES,
        )
        digest = decode_b64(legacy.hash, scheme=self.name, code=Code.MALFORMED_HASH, field="hash", max_bytes=size)
        if len(digest) != size:
            raise format_error(self.name, Code.MALFORMED_HASH, "hash", f"must decode to {size} bytes")
        return salt, digest, settings

    def _key(self, key: bytes | None) -> bytes:
        """Return the platform hash key for keyed schemes; other schemes ignore it."""
        if not self.requires_key:
            return b""
        if not key:
            raise LegacyHashKeyError(f"{self.name} needs the legacy platform's hash key, which is not configured")
        return bytes(key)
