"""Encryption at rest for secrets the auth service must keep: private signing keys and the
identity provider's refresh tokens. Fernet (AES-128-CBC + HMAC) keyed from ``VITALSYNC_AUTH_SECRET``."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SealError(ValueError):
    """A sealed value does not open with this secret (rotated secret or tampered row)."""


class Sealer:
    """Seal and open small secrets with a key derived from the configured auth secret."""

    def __init__(self, secret: str) -> None:
        key = base64.urlsafe_b64encode(hashlib.sha256(b"vitalsync-seal\0" + secret.encode()).digest())
        self._fernet = Fernet(key)

    def seal(self, plaintext: bytes) -> bytes:
        return self._fernet.encrypt(plaintext)

    def open(self, sealed: bytes) -> bytes:
        try:
            return self._fernet.decrypt(sealed)
        except InvalidToken as exc:
            raise SealError("sealed value does not open with the configured VITALSYNC_AUTH_SECRET") from exc
