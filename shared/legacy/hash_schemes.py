"""Legacy password-hash schemes: verify an imported hash once at first login, generate them for the emulator.

Users leave the legacy platform keeping their passwords (DESIGN.md section 4). Import stores each
user's legacy hash as a `LegacyHash` (scheme, hash, salt, params), validated here so a malformed or
hostile line is refused at import with a machine-readable code rather than at someone's login. At the
first successful login the auth service calls `verify_legacy_password` once; on True it sets the
password in the identity provider and erases the legacy hash, so these (often weak) schemes never
outlive the migration. The legacy-platform emulator uses `generate_legacy_hash` to seed users the same
way, so auth and emulator cannot drift apart.

Everything is pure and synchronous; a verify is CPU-bound (bounded by the limits in
`shared.legacy.hashing.limits`), so async callers should run it in a worker thread.

Decisions (the import issue is silent on these):
- Passwords are encoded as UTF-8 without Unicode normalisation (no NFC/NFKC): the legacy platform
  hashed the bytes its clients sent, and normalising would lock out users whose keyboards produced
  the other form. Text with no UTF-8 form (lone surrogates) simply does not match.
- bcrypt sees only the first 72 password bytes, as the legacy libraries did (bcrypt>=5 would raise).
- Base64 fields are strict standard base64 with padding; scheme names ignore case and outer spaces;
  decimal text is accepted for integer params (CSV exports); unknown param names are refused.
- An empty or missing salt is allowed for the base64 schemes (it is what the platform stored);
  bcrypt and argon2 strings carry their own salt, so a separate salt or params is refused.
- Costs beyond the limits (PBKDF2 10M iterations, scrypt 256 MiB, bcrypt cost 16, argon2 256 MiB /
  t=10 / p=16) are refused with INVALID_PARAMS at import, and re-checked before every verify.
- Error messages and `LegacyHash.__repr__` never contain hash, salt, key or signer-key material, nor
  the offending input value; `code` and `field` say what is wrong.
"""

from __future__ import annotations

from shared.legacy.hashing.errors import (
    LegacyHashError,
    LegacyHashErrorCode,
    LegacyHashFormatError,
    LegacyHashKeyError,
)
from shared.legacy.hashing.model import LegacyHash, LegacyHashScheme, RandomBytes
from shared.legacy.hashing.registry import (
    REGISTRY,
    SCHEMES,
    generate_legacy_hash,
    get_scheme,
    verify_legacy_password,
)

__all__ = [
    "REGISTRY",
    "SCHEMES",
    "LegacyHash",
    "LegacyHashError",
    "LegacyHashErrorCode",
    "LegacyHashFormatError",
    "LegacyHashKeyError",
    "LegacyHashScheme",
    "RandomBytes",
    "generate_legacy_hash",
    "get_scheme",
    "verify_legacy_password",
]
