"""Upper bounds on legacy hash parameters, so one hostile import line cannot stall a login for minutes.

Each bound sits well above what real platforms used (PBKDF2 <= 1.3M iterations, scrypt 16-64 MiB,
bcrypt cost <= 14, argon2 <= 64 MiB) and keeps one verification within a few seconds and a
bounded amount of memory. A line beyond them is refused at import with INVALID_PARAMS.
"""

from __future__ import annotations

from typing import Final

MIB_BYTES: Final = 1024 * 1024

# Encoded text longer than this is refused before any decoding work.
MAX_ENCODED_CHARS: Final = 8192
MAX_SALT_BYTES: Final = 1024

PBKDF2_MAX_ITERATIONS: Final = 10_000_000

# scrypt's working set is 128 * r * N bytes; p repeats the work p times.
SCRYPT_MAX_MEMORY_BYTES: Final = 256 * MIB_BYTES
SCRYPT_MAX_WORK_BYTES: Final = 4 * SCRYPT_MAX_MEMORY_BYTES
SCRYPT_MIN_DKLEN_BYTES: Final = 16
SCRYPT_MAX_DKLEN_BYTES: Final = 1024

FIREBASE_MAX_SIGNER_KEY_BYTES: Final = 1024

BCRYPT_MIN_COST: Final = 4
BCRYPT_MAX_COST: Final = 16

ARGON2_MAX_MEMORY_KIB: Final = 256 * 1024
ARGON2_MAX_TIME_COST: Final = 10
ARGON2_MAX_PARALLELISM: Final = 16
ARGON2_MIN_SALT_BYTES: Final = 8
ARGON2_MIN_HASH_BYTES: Final = 4
ARGON2_MAX_HASH_BYTES: Final = 1024
