"""Self-describing hash strings that carry their own salt and cost: bcrypt and argon2."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Mapping

import bcrypt
from argon2 import PasswordHasher, Type, low_level
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from shared.legacy.hashing.errors import LegacyHashErrorCode
from shared.legacy.hashing.fields import (
    check_param_names,
    choice_param,
    draw_random,
    encode_password,
    format_error,
    int_param,
    require_text,
)
from shared.legacy.hashing.limits import (
    ARGON2_MAX_HASH_BYTES,
    ARGON2_MAX_MEMORY_KIB,
    ARGON2_MAX_PARALLELISM,
    ARGON2_MAX_TIME_COST,
    ARGON2_MIN_HASH_BYTES,
    ARGON2_MIN_SALT_BYTES,
    BCRYPT_MAX_COST,
    BCRYPT_MIN_COST,
    MAX_SALT_BYTES,
)
from shared.legacy.hashing.model import LegacyHash, RandomBytes

Code = LegacyHashErrorCode

_BCRYPT_RE = re.compile(r"\$(2[aby])\$(\d\d)\$[./A-Za-z0-9]{53}")
_BCRYPT_SALT_BYTES = 16
# bcrypt only ever reads 72 password bytes; legacy libraries dropped the rest silently, bcrypt>=5 raises.
_BCRYPT_MAX_PASSWORD_BYTES = 72
_BCRYPT_DEFAULT_COST = 10
_BCRYPT_VARIANTS = ("2a", "2b", "2y")
_BCRYPT_TO_ALPHABET = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
)

_ARGON2_RE = re.compile(
    r"\$(argon2id|argon2i|argon2d)\$(?:v=(\d{1,3})\$)?m=(\d{1,10}),t=(\d{1,10}),p=(\d{1,3})"
    r"\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
_ARGON2_TYPES = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
# 0x10 (hashes without a v= field) and 0x13, the two versions libargon2 verifies.
_ARGON2_VERSIONS = (16, 19)
# libargon2 needs at least 8 KiB of memory per lane.
_ARGON2_MIN_KIB_PER_LANE = 8
_ARGON2_DEFAULT_SALT_BYTES = 16
# argon2-cffi's defaults (RFC 9106 low-memory profile).
_ARGON2_DEFAULTS: Mapping[str, object] = {
    "variant": "argon2id",
    "time_cost": 3,
    "memory_cost": 65536,
    "parallelism": 4,
    "hash_len": 32,
}


def _check_no_salt_no_params(scheme: str, salt: object, params: Mapping[str, object]) -> None:
    """The string carries salt and cost, so separate ones mean a mis-mapped export."""
    check_param_names(params, (), scheme=scheme)
    if salt is not None and salt != "":
        raise format_error(scheme, Code.MALFORMED_SALT, "salt", "must be empty: the hash string carries its salt")


def _check_scheme(scheme: str, legacy: LegacyHash) -> None:
    """Refuse a value meant for another scheme (a programming error, not bad data)."""
    if legacy.scheme != scheme:
        raise ValueError(f"this LegacyHash is not a {scheme} hash")


def _unpadded_b64_len(scheme: str, text: str, field: str) -> int:
    """Decoded length of unpadded base64 (argon2's PHC encoding), refusing impossible lengths."""
    if len(text) % 4 == 1:
        raise format_error(scheme, Code.MALFORMED_HASH, "hash", f"has a malformed {field} encoding")
    return len(text) * 3 // 4


class BcryptScheme:
    """OpenBSD bcrypt strings ($2a$, $2b$, $2y$), checked by pyca/bcrypt."""

    name = "bcrypt"

    def parse(self, hash: object, salt: object, params: Mapping[str, object]) -> LegacyHash:
        """Validate the bcrypt string and its cost; salt and params must be empty."""
        _check_no_salt_no_params(self.name, salt, params)
        legacy = LegacyHash(self.name, require_text(hash, scheme=self.name, code=Code.MALFORMED_HASH, field="hash"))
        self._decode(legacy)
        return legacy

    def verify(self, password: str, legacy: LegacyHash, key: bytes | None = None) -> bool:
        """bcrypt.checkpw over the first 72 password bytes, as the legacy library saw them."""
        stored = self._decode(legacy)
        secret = encode_password(password)
        if secret is None:
            return False
        try:
            return bcrypt.checkpw(secret[:_BCRYPT_MAX_PASSWORD_BYTES], stored)
        except ValueError:
            raise format_error(self.name, Code.MALFORMED_HASH, "hash", "is not a valid bcrypt string") from None

    def generate(
        self,
        password: str,
        *,
        salt: bytes | None = None,
        params: Mapping[str, object] | None = None,
        key: bytes | None = None,
        rng: RandomBytes = secrets.token_bytes,
    ) -> LegacyHash:
        """Hash with params cost (default 10) and variant (2a/2b/2y); deterministic for a 16-byte salt."""
        params = params or {}
        check_param_names(params, ("cost", "variant"), scheme=self.name)
        cost = int_param(
            params,
            "cost",
            scheme=self.name,
            minimum=BCRYPT_MIN_COST,
            maximum=BCRYPT_MAX_COST,
            default=_BCRYPT_DEFAULT_COST,
        )
        variant = choice_param(params, "variant", scheme=self.name, choices=_BCRYPT_VARIANTS, default="2b")
        raw_salt = draw_random(rng, _BCRYPT_SALT_BYTES) if salt is None else bytes(salt)
        if len(raw_salt) != _BCRYPT_SALT_BYTES:
            raise format_error(self.name, Code.MALFORMED_SALT, "salt", f"must be {_BCRYPT_SALT_BYTES} bytes")
        # bcrypt's own base64 alphabet, unpadded: 16 bytes -> 22 characters.
        salt_chars = base64.b64encode(raw_salt).rstrip(b"=").translate(_BCRYPT_TO_ALPHABET)
        setting = f"${variant}${cost:02d}$".encode("ascii") + salt_chars
        hashed = bcrypt.hashpw(password.encode("utf-8")[:_BCRYPT_MAX_PASSWORD_BYTES], setting)
        return LegacyHash(self.name, hashed.decode("ascii"))

    def _decode(self, legacy: LegacyHash) -> bytes:
        """Check prefix, shape and cost limit; return the string as bytes for bcrypt."""
        _check_scheme(self.name, legacy)
        _check_no_salt_no_params(self.name, legacy.salt, legacy.params)
        match = _BCRYPT_RE.fullmatch(legacy.hash)
        if match is None:
            raise format_error(self.name, Code.MALFORMED_HASH, "hash", "must be a $2a$, $2b$ or $2y$ bcrypt string")
        cost = int(match[2])
        if not BCRYPT_MIN_COST <= cost <= BCRYPT_MAX_COST:
            raise format_error(
                self.name,
                Code.INVALID_PARAMS,
                "hash.cost",
                f"must be between {BCRYPT_MIN_COST} and {BCRYPT_MAX_COST}",
            )
        return legacy.hash.encode("ascii")


class Argon2Scheme:
    """PHC argon2 strings ($argon2id$, $argon2i$, $argon2d$), checked by argon2-cffi."""

    name = "argon2"

    def parse(self, hash: object, salt: object, params: Mapping[str, object]) -> LegacyHash:
        """Validate the argon2 string and its costs; salt and params must be empty."""
        _check_no_salt_no_params(self.name, salt, params)
        legacy = LegacyHash(self.name, require_text(hash, scheme=self.name, code=Code.MALFORMED_HASH, field="hash"))
        self._decode(legacy)
        return legacy

    def verify(self, password: str, legacy: LegacyHash, key: bytes | None = None) -> bool:
        """PasswordHasher.verify, which picks the argon2 type from the string's prefix."""
        self._decode(legacy)
        secret = encode_password(password)
        if secret is None:
            return False
        try:
            return PasswordHasher().verify(legacy.hash, secret)
        except VerifyMismatchError:
            return False
        except (InvalidHashError, VerificationError):
            raise format_error(self.name, Code.MALFORMED_HASH, "hash", "is not a valid argon2 string") from None

    def generate(
        self,
        password: str,
        *,
        salt: bytes | None = None,
        params: Mapping[str, object] | None = None,
        key: bytes | None = None,
        rng: RandomBytes = secrets.token_bytes,
    ) -> LegacyHash:
        """Hash with variant, time_cost, memory_cost (KiB), parallelism and hash_len; repeatable per salt."""
        given = {**_ARGON2_DEFAULTS, **(params or {})}
        check_param_names(given, tuple(_ARGON2_DEFAULTS), scheme=self.name)
        variant = choice_param(given, "variant", scheme=self.name, choices=tuple(_ARGON2_TYPES), default="argon2id")
        time_cost = int_param(given, "time_cost", scheme=self.name, minimum=1, maximum=ARGON2_MAX_TIME_COST)
        parallelism = int_param(given, "parallelism", scheme=self.name, minimum=1, maximum=ARGON2_MAX_PARALLELISM)
        memory_cost = int_param(
            given,
            "memory_cost",
            scheme=self.name,
            minimum=_ARGON2_MIN_KIB_PER_LANE * parallelism,
            maximum=ARGON2_MAX_MEMORY_KIB,
        )
        hash_len = int_param(
            given, "hash_len", scheme=self.name, minimum=ARGON2_MIN_HASH_BYTES, maximum=ARGON2_MAX_HASH_BYTES
        )
        raw_salt = draw_random(rng, _ARGON2_DEFAULT_SALT_BYTES) if salt is None else bytes(salt)
        if not ARGON2_MIN_SALT_BYTES <= len(raw_salt) <= MAX_SALT_BYTES:
            raise format_error(
                self.name,
                Code.MALFORMED_SALT,
                "salt",
                f"must be {ARGON2_MIN_SALT_BYTES} to {MAX_SALT_BYTES} bytes",
            )
        encoded = low_level.hash_secret(
            password.encode("utf-8"),
            raw_salt,
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            hash_len=hash_len,
            type=_ARGON2_TYPES[variant],
        )
        return LegacyHash(self.name, encoded.decode("ascii"))

    def _decode(self, legacy: LegacyHash) -> None:
        """Check prefix, version, encodings and cost limits before libargon2 allocates anything."""
        _check_scheme(self.name, legacy)
        _check_no_salt_no_params(self.name, legacy.salt, legacy.params)
        match = _ARGON2_RE.fullmatch(legacy.hash)
        if match is None:
            raise format_error(
                self.name,
                Code.MALFORMED_HASH,
                "hash",
                "must be an $argon2id$, $argon2i$ or $argon2d$ PHC string",
            )
        _, version, memory, time_cost, parallelism, salt_text, digest_text = match.groups()
        if int(version or 16) not in _ARGON2_VERSIONS:
            raise format_error(self.name, Code.MALFORMED_HASH, "hash", "has an unsupported argon2 version")
        lanes = int(parallelism)
        self._check_cost("hash.p", lanes, 1, ARGON2_MAX_PARALLELISM)
        self._check_cost("hash.t", int(time_cost), 1, ARGON2_MAX_TIME_COST)
        self._check_cost("hash.m", int(memory), _ARGON2_MIN_KIB_PER_LANE * lanes, ARGON2_MAX_MEMORY_KIB)
        if not ARGON2_MIN_SALT_BYTES <= _unpadded_b64_len(self.name, salt_text, "salt") <= MAX_SALT_BYTES:
            raise format_error(
                self.name,
                Code.MALFORMED_HASH,
                "hash",
                f"salt must be {ARGON2_MIN_SALT_BYTES} to {MAX_SALT_BYTES} bytes",
            )
        digest_bytes = _unpadded_b64_len(self.name, digest_text, "digest")
        if not ARGON2_MIN_HASH_BYTES <= digest_bytes <= ARGON2_MAX_HASH_BYTES:
            raise format_error(
                self.name,
                Code.MALFORMED_HASH,
                "hash",
                f"digest must be {ARGON2_MIN_HASH_BYTES} to {ARGON2_MAX_HASH_BYTES} bytes",
            )

    def _check_cost(self, field: str, value: int, minimum: int, maximum: int) -> None:
        """Refuse an argon2 cost outside the safety limits."""
        if not minimum <= value <= maximum:
            raise format_error(self.name, Code.INVALID_PARAMS, field, f"must be between {minimum} and {maximum}")
