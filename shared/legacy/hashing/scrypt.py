"""scrypt schemes: plain scrypt (RFC 7914) and Firebase's variant (scrypt key, AES-CTR of a signer key)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import NamedTuple

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.legacy.hashing.errors import LegacyHashErrorCode
from shared.legacy.hashing.fields import (
    b64_param,
    check_param_names,
    draw_random,
    encode_b64,
    format_error,
    int_param,
)
from shared.legacy.hashing.limits import (
    FIREBASE_MAX_SIGNER_KEY_BYTES,
    MAX_SALT_BYTES,
    SCRYPT_MAX_DKLEN_BYTES,
    SCRYPT_MAX_MEMORY_BYTES,
    SCRYPT_MAX_WORK_BYTES,
    SCRYPT_MIN_DKLEN_BYTES,
)
from shared.legacy.hashing.model import ParamValue, RandomBytes
from shared.legacy.hashing.salted import SaltedDigestScheme

Code = LegacyHashErrorCode

# scrypt's block size unit: the working set is 128 * r * N bytes (RFC 7914 section 5).
_SCRYPT_BLOCK_BYTES = 128
_MAX_LOG2_N = 30
_MAX_R = 1 << 20
_MAX_P = 1 << 10
# Firebase derives an AES-256 key and runs CTR with an all-zero initial counter block
# (github.com/firebase/scrypt README and its C sources).
_FIREBASE_KEY_BYTES = 32
_FIREBASE_ZERO_NONCE = bytes(16)
_FIREBASE_DEFAULT_SALT_SEPARATOR = "Bw=="
_FIREBASE_DEFAULT_ROUNDS = 8
_FIREBASE_DEFAULT_MEM_COST = 14
_FIREBASE_GENERATED_SIGNER_KEY_BYTES = 64


def _check_cost(scheme: str, n: int, r: int, p: int) -> None:
    """Refuse scrypt costs whose memory or total work would let one import line stall a login."""
    memory = _SCRYPT_BLOCK_BYTES * r * n
    if memory > SCRYPT_MAX_MEMORY_BYTES:
        raise format_error(
            scheme,
            Code.INVALID_PARAMS,
            "params",
            f"needs more than {SCRYPT_MAX_MEMORY_BYTES} bytes (128 * r * N)",
        )
    if memory * p > SCRYPT_MAX_WORK_BYTES:
        raise format_error(
            scheme,
            Code.INVALID_PARAMS,
            "params",
            f"exceeds the work limit of {SCRYPT_MAX_WORK_BYTES} bytes (128 * r * N * p)",
        )


def _scrypt(secret: bytes, salt: bytes, *, n: int, r: int, p: int, dklen: int) -> bytes:
    """hashlib.scrypt with maxmem sized to the (already bounded) parameters, not OpenSSL's 32 MiB default."""
    # OpenSSL needs 128*r*(N+2) bytes for V plus 128*r*p for B; the spare 64 KiB covers rounding.
    maxmem = _SCRYPT_BLOCK_BYTES * r * (n + 2 + p) + 64 * 1024
    return hashlib.scrypt(secret, salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


class ScryptSettings(NamedTuple):
    """RFC 7914 parameters: CPU/memory cost N, block size r, parallelism p, output length dklen."""

    n: int
    r: int
    p: int
    dklen: int


class ScryptScheme(SaltedDigestScheme[ScryptSettings]):
    """hash = base64(scrypt(password, salt, N, r, p, dklen)), as hashlib.scrypt computes it."""

    name = "scrypt"

    def settings(self, params: Mapping[str, object]) -> ScryptSettings:
        """N (a power of two), r, p and dklen, bounded in memory and work."""
        check_param_names(params, ("n", "r", "p", "dklen"), scheme=self.name)
        n = int_param(params, "n", scheme=self.name, minimum=2, maximum=1 << _MAX_LOG2_N)
        if n & (n - 1):
            raise format_error(self.name, Code.INVALID_PARAMS, "params.n", "must be a power of two")
        r = int_param(params, "r", scheme=self.name, minimum=1, maximum=_MAX_R)
        p = int_param(params, "p", scheme=self.name, minimum=1, maximum=_MAX_P)
        dklen = int_param(
            params, "dklen", scheme=self.name, minimum=SCRYPT_MIN_DKLEN_BYTES, maximum=SCRYPT_MAX_DKLEN_BYTES
        )
        _check_cost(self.name, n, r, p)
        return ScryptSettings(n, r, p, dklen)

    def canonical_params(self, settings: ScryptSettings) -> dict[str, ParamValue]:
        """Store N, r, p and dklen."""
        return settings._asdict()

    def digest_size(self, settings: ScryptSettings) -> int:
        """The stored hash is the whole derived key."""
        return settings.dklen

    def compute(self, secret: bytes, salt: bytes, settings: ScryptSettings, key: bytes) -> bytes:
        """Derive the key."""
        return _scrypt(secret, salt, n=settings.n, r=settings.r, p=settings.p, dklen=settings.dklen)

    def generation_params(self, params: Mapping[str, object], rng: RandomBytes) -> Mapping[str, object]:
        """Default to the common interactive-login cost (N=2**14, r=8, p=1) and a 32-byte key."""
        return {"n": 1 << 14, "r": 8, "p": 1, "dklen": 32, **params}


class FirebaseSettings(NamedTuple):
    """A Firebase project's password hash config (base64 texts kept for storage, bytes for computing)."""

    signer_key_text: str
    signer_key: bytes
    salt_separator_text: str
    salt_separator: bytes
    rounds: int
    mem_cost: int


class FirebaseScryptScheme(SaltedDigestScheme[FirebaseSettings]):
    """Firebase Auth's scrypt: key = scrypt(pw, salt || separator, 2**mem_cost, rounds, 1, 32);
    hash = AES-256-CTR(key, zero counter block) encryption of the project's signer key.
    """

    name = "firebase-scrypt"

    def settings(self, params: Mapping[str, object]) -> FirebaseSettings:
        """The project's signer key, salt separator, rounds and mem_cost, bounded in memory."""
        check_param_names(params, ("signer_key", "salt_separator", "rounds", "mem_cost"), scheme=self.name)
        key_text, key = b64_param(
            params, "signer_key", scheme=self.name, min_bytes=1, max_bytes=FIREBASE_MAX_SIGNER_KEY_BYTES
        )
        separator_text, separator = b64_param(params, "salt_separator", scheme=self.name, max_bytes=MAX_SALT_BYTES)
        rounds = int_param(params, "rounds", scheme=self.name, minimum=1, maximum=_MAX_R)
        mem_cost = int_param(params, "mem_cost", scheme=self.name, minimum=1, maximum=_MAX_LOG2_N)
        _check_cost(self.name, 1 << mem_cost, rounds, 1)
        return FirebaseSettings(key_text, key, separator_text, separator, rounds, mem_cost)

    def canonical_params(self, settings: FirebaseSettings) -> dict[str, ParamValue]:
        """Store the hash config in the names Firebase's console shows."""
        return {
            "signer_key": settings.signer_key_text,
            "salt_separator": settings.salt_separator_text,
            "rounds": settings.rounds,
            "mem_cost": settings.mem_cost,
        }

    def digest_size(self, settings: FirebaseSettings) -> int:
        """CTR mode keeps the signer key's length."""
        return len(settings.signer_key)

    def compute(self, secret: bytes, salt: bytes, settings: FirebaseSettings, key: bytes) -> bytes:
        """Derive the AES key with scrypt, then encrypt the signer key with it."""
        derived = _scrypt(
            secret,
            salt + settings.salt_separator,
            n=1 << settings.mem_cost,
            r=settings.rounds,
            p=1,
            dklen=_FIREBASE_KEY_BYTES,
        )
        encryptor = Cipher(algorithms.AES(derived), modes.CTR(_FIREBASE_ZERO_NONCE)).encryptor()
        return encryptor.update(settings.signer_key) + encryptor.finalize()

    def generation_params(self, params: Mapping[str, object], rng: RandomBytes) -> Mapping[str, object]:
        """Firebase's usual config; a random signer key unless the project's own is given."""
        filled: dict[str, object] = {
            "salt_separator": _FIREBASE_DEFAULT_SALT_SEPARATOR,
            "rounds": _FIREBASE_DEFAULT_ROUNDS,
            "mem_cost": _FIREBASE_DEFAULT_MEM_COST,
            **params,
        }
        if "signer_key" not in filled:
            filled["signer_key"] = encode_b64(draw_random(rng, _FIREBASE_GENERATED_SIGNER_KEY_BYTES))
        return filled
