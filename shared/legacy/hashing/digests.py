"""Fast digest schemes: keyed HMAC-SHA256, salted SHA-256 and PBKDF2-HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from shared.legacy.hashing.fields import check_param_names, int_param
from shared.legacy.hashing.limits import PBKDF2_MAX_ITERATIONS
from shared.legacy.hashing.model import ParamValue, RandomBytes
from shared.legacy.hashing.salted import SaltedDigestScheme

SHA256_BYTES = 32
PBKDF2_DEFAULT_ITERATIONS = 10_000


class _NoParams(SaltedDigestScheme[None]):
    """A digest scheme without parameters: any params given are a mapping mistake."""

    def settings(self, params: Mapping[str, object]) -> None:
        """Refuse any parameter."""
        check_param_names(params, (), scheme=self.name)

    def canonical_params(self, settings: None) -> dict[str, ParamValue]:
        """Nothing to store."""
        return {}

    def digest_size(self, settings: None) -> int:
        """SHA-256 output size."""
        return SHA256_BYTES


class HmacSha256Scheme(_NoParams):
    """hash = base64(HMAC-SHA256(platform key, salt || password)); the key is a secret given separately."""

    name = "hmac-sha256"
    requires_key = True

    def compute(self, secret: bytes, salt: bytes, settings: None, key: bytes) -> bytes:
        """Keyed digest over salt then password, in the legacy platform's order."""
        return hmac.new(key, salt + secret, hashlib.sha256).digest()


class Sha256SaltedScheme(_NoParams):
    """hash = base64(SHA-256(salt || password)); weak, which is why it is only ever verified once."""

    name = "sha256-salted"

    def compute(self, secret: bytes, salt: bytes, settings: None, key: bytes) -> bytes:
        """Plain digest over salt then password."""
        return hashlib.sha256(salt + secret).digest()


class Pbkdf2Sha256Scheme(SaltedDigestScheme[int]):
    """hash = base64(PBKDF2-HMAC-SHA256(password, salt, iterations, 32 bytes)); settings = iterations."""

    name = "pbkdf2-sha256"

    def settings(self, params: Mapping[str, object]) -> int:
        """Iterations, bounded so one verify stays within seconds."""
        check_param_names(params, ("iterations",), scheme=self.name)
        return int_param(params, "iterations", scheme=self.name, minimum=1, maximum=PBKDF2_MAX_ITERATIONS)

    def canonical_params(self, settings: int) -> dict[str, ParamValue]:
        """Store the iteration count."""
        return {"iterations": settings}

    def digest_size(self, settings: int) -> int:
        """The import format fixes a 32-byte derived key."""
        return SHA256_BYTES

    def compute(self, secret: bytes, salt: bytes, settings: int, key: bytes) -> bytes:
        """Derive the key with hashlib's OpenSSL-backed PBKDF2."""
        return hashlib.pbkdf2_hmac("sha256", secret, salt, settings, dklen=SHA256_BYTES)

    def generation_params(self, params: Mapping[str, object], rng: RandomBytes) -> Mapping[str, object]:
        """Default to a moderate iteration count; pass params to mimic a specific platform."""
        return {"iterations": PBKDF2_DEFAULT_ITERATIONS, **params}
