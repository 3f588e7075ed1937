"""The scheme registry: scheme name -> scheme object, plus the verify/generate entry points."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from types import MappingProxyType

from shared.legacy.hashing.digests import HmacSha256Scheme, Pbkdf2Sha256Scheme, Sha256SaltedScheme
from shared.legacy.hashing.errors import LegacyHashErrorCode, LegacyHashFormatError
from shared.legacy.hashing.model import LegacyHash, LegacyHashScheme, RandomBytes
from shared.legacy.hashing.modular import Argon2Scheme, BcryptScheme
from shared.legacy.hashing.scrypt import FirebaseScryptScheme, ScryptScheme

# A new legacy platform's scheme is one class implementing LegacyHashScheme plus one entry here.
_ALL: tuple[LegacyHashScheme, ...] = (
    HmacSha256Scheme(),
    Sha256SaltedScheme(),
    Pbkdf2Sha256Scheme(),
    BcryptScheme(),
    ScryptScheme(),
    FirebaseScryptScheme(),
    Argon2Scheme(),
)

REGISTRY: Mapping[str, LegacyHashScheme] = MappingProxyType({scheme.name: scheme for scheme in _ALL})
SCHEMES: tuple[str, ...] = tuple(REGISTRY)


def get_scheme(name: str) -> LegacyHashScheme:
    """Look a scheme up by its import-record name (case and surrounding spaces ignored)."""
    canonical = name.strip().lower() if isinstance(name, str) else None
    scheme = REGISTRY.get(canonical) if canonical is not None else None
    if scheme is None:
        # The given name is not echoed: a mis-mapped column could put a hash in this field.
        raise LegacyHashFormatError(
            LegacyHashErrorCode.UNKNOWN_SCHEME,
            f"hash_scheme is not one of: {', '.join(SCHEMES)}",
            field="hash_scheme",
        )
    return scheme


def verify_legacy_password(password: str, legacy: LegacyHash, key: bytes | None = None) -> bool:
    """Check a first-login password against the imported legacy hash (key: the platform's hash key file)."""
    return get_scheme(legacy.scheme).verify(password, legacy, key)


def generate_legacy_hash(
    scheme: str,
    password: str,
    *,
    salt: bytes | None = None,
    params: Mapping[str, object] | None = None,
    key: bytes | None = None,
    rng: RandomBytes = secrets.token_bytes,
) -> LegacyHash:
    """Produce a legacy hash as the old platform would have stored it (emulator seeding, tests)."""
    return get_scheme(scheme).generate(password, salt=salt, params=params, key=key, rng=rng)
