"""Known-answer tests for every legacy hash scheme: published and reference-library vectors, edge cases."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from typing import NamedTuple

import bcrypt
import pytest

from shared.legacy.hash_schemes import (
    REGISTRY,
    SCHEMES,
    LegacyHash,
    LegacyHashError,
    LegacyHashKeyError,
    generate_legacy_hash,
    get_scheme,
    verify_legacy_password,
)


def _b64_of_hex(octets: str, size: int | None = None) -> str:
    """Base64 of hex octets as printed in an RFC (whitespace ignored), optionally cut to size bytes."""
    raw = bytes.fromhex(octets)
    return base64.b64encode(raw[:size] if size else raw).decode("ascii")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


class Vector(NamedTuple):
    """One stored legacy record and the password that produced it."""

    id: str
    scheme: str
    password: str
    hash: str
    salt: str | None = None
    params: dict[str, object] | None = None
    key: bytes | None = None


# --- Published vectors -------------------------------------------------------------------------------

# github.com/firebase/scrypt README.md, "Password Hashing": the sample project hash config and the
# exported account of user1@test.com (password "user1password").
FIREBASE_README_SIGNER_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
FIREBASE_README_PARAMS = {
    "signer_key": FIREBASE_README_SIGNER_KEY,
    "salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}
FIREBASE_README_SALT = "42xEC+ixf3L2lw=="
FIREBASE_README_HASH = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="

# RFC 7914 section 12, "Test Vectors for scrypt" (dkLen = 64).
RFC7914_SCRYPT_EMPTY = """
    77 d6 57 62 38 65 7b 20 3b 19 ca 42 c1 8a 04 97 f1 6b 48 44 e3 07 4a e8 df df fa 3f ed e2 14 42
    fc d0 06 9d ed 09 48 f8 32 6a 75 3a 0f c8 1f 17 e8 d3 e0 fb 2e 0d 36 28 cf 35 e2 0c 38 d1 89 06"""
RFC7914_SCRYPT_NACL = """
    fd ba be 1c 9d 34 72 00 78 56 e7 19 0d 01 e9 fe 7c 6a d7 cb c8 23 78 30 e7 73 76 63 4b 37 31 62
    2e af 30 d9 2e 22 a3 88 6f f1 09 27 9d 98 30 da c7 27 af b9 4a 83 ee 6d 83 60 cb df a2 cc 06 40"""
RFC7914_SCRYPT_SODIUM_CHLORIDE = """
    70 23 bd cb 3a fd 73 48 46 1c 06 cd 81 fd 38 eb fd a8 fb ba 90 4f 8e 3e a9 b5 43 f6 54 5d a1 f2
    d5 43 29 55 61 3f 0f cf 62 d4 97 05 24 2a 9a f9 e6 1e 85 dc 0d 65 1e 40 df cf 01 7b 45 57 58 87"""

# RFC 7914 section 11, "Test Vectors for PBKDF2 with HMAC-SHA-256" (dkLen = 64). The scheme stores a
# 32-byte key; PBKDF2's first 32-byte block T_1 does not depend on dkLen, so the first half is the vector.
RFC7914_PBKDF2_PASSWD_SALT_C1 = """
    55 ac 04 6e 56 e3 08 9f ec 16 91 c2 25 44 b6 05 f9 41 85 21 6d de 04 65 e6 8b 9d 57 c2 0d ac bc
    49 ca 9c cc f1 79 b6 45 99 16 64 b3 9d 77 ef 31 7c 71 b8 45 b1 e3 0b d5 09 11 20 41 d3 a1 97 83"""
RFC7914_PBKDF2_PASSWORD_NACL_C80000 = """
    4d dc d8 f6 0b 98 be 21 83 0c ee 5e f2 27 01 f9 64 1a 44 18 d0 4c 04 14 ae ff 08 87 6b 34 ab 56
    a1 d4 25 a1 22 58 33 54 9a db 84 1b 51 c9 b3 17 6a 27 2b de bb a1 d0 78 47 8f 62 b3 97 f3 3c 8d"""
# The commonly cited PBKDF2-HMAC-SHA256 vector (P="password", S="salt", c=4096, dkLen=32) from
# stackoverflow.com/questions/5130513 (pbkdf2-test-vectors.py), also used by many crypto test suites.
STACKOVERFLOW_PBKDF2_PASSWORD_SALT_C4096 = """
    c5 e4 78 d5 92 88 c8 41 aa 53 0d b6 84 5c 4c 8d 96 28 93 a0 01 ce 4e 11 a4 96 38 73 aa 98 13 4a"""

# RFC 4231 section 4.3, test case 2: HMAC-SHA-256(key "Jefe", "what do ya want for nothing?").
# The scheme MACs salt || password, so the message is split into a salt and a password.
RFC4231_CASE2_HMAC_SHA256 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

# FIPS 180-2 appendix B.1 and B.2: SHA-256("abc") and SHA-256 of the 448-bit two-block message.
FIPS180_SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
FIPS180_SHA256_TWO_BLOCK = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
FIPS180_TWO_BLOCK_MESSAGE = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"

# Openwall crypt_blowfish wrapper.c test vectors (also in John the Ripper, PHP and Go x/crypto tests).
OPENWALL_BCRYPT_VECTORS = (
    ("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
    ("U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"),
    ("U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"),
    ("", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"),
    (
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789chars after 72 are ignored",
        "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
    ),
)

# github.com/P-H-C/phc-winner-argon2 src/test.c (password "password", salt "somesalt", t=2, m=256 KiB).
PHC_ARGON2ID_V19 = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
PHC_ARGON2I_V19 = "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8"
PHC_ARGON2I_V16 = "$argon2i$m=256,t=2,p=1$c29tZXNhbHQ$/U3YPXYsSb3q9XxHvc0MLxur+GP960kN9j7emXX8zwY"
# Same file, "Verify with mismatched password": the encoded password is "passwore" (m=64 MiB).
PHC_ARGON2I_PASSWORE = "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$8iIuixkI73Js3G1uMbezQXD0b8LG4SXGsOwoQkdAQIM"

PUBLISHED_VECTORS = (
    Vector(
        "firebase-readme",
        "firebase-scrypt",
        "user1password",
        FIREBASE_README_HASH,
        FIREBASE_README_SALT,
        FIREBASE_README_PARAMS,
    ),
    Vector(
        "rfc7914-scrypt-empty",
        "scrypt",
        "",
        _b64_of_hex(RFC7914_SCRYPT_EMPTY),
        "",
        {"n": 16, "r": 1, "p": 1, "dklen": 64},
    ),
    Vector(
        "rfc7914-scrypt-nacl",
        "scrypt",
        "password",
        _b64_of_hex(RFC7914_SCRYPT_NACL),
        _b64(b"NaCl"),
        {"n": 1024, "r": 8, "p": 16, "dklen": 64},
    ),
    Vector(
        "rfc7914-scrypt-sodium-chloride",
        "scrypt",
        "pleaseletmein",
        _b64_of_hex(RFC7914_SCRYPT_SODIUM_CHLORIDE),
        _b64(b"SodiumChloride"),
        {"n": 16384, "r": 8, "p": 1, "dklen": 64},
    ),
    Vector(
        "rfc7914-pbkdf2-c1",
        "pbkdf2-sha256",
        "passwd",
        _b64_of_hex(RFC7914_PBKDF2_PASSWD_SALT_C1, 32),
        _b64(b"salt"),
        {"iterations": 1},
    ),
    Vector(
        "rfc7914-pbkdf2-c80000",
        "pbkdf2-sha256",
        "Password",
        _b64_of_hex(RFC7914_PBKDF2_PASSWORD_NACL_C80000, 32),
        _b64(b"NaCl"),
        {"iterations": 80000},
    ),
    Vector(
        "stackoverflow-pbkdf2-c4096",
        "pbkdf2-sha256",
        "password",
        _b64_of_hex(STACKOVERFLOW_PBKDF2_PASSWORD_SALT_C4096),
        _b64(b"salt"),
        {"iterations": 4096},
    ),
    Vector(
        "rfc4231-case2",
        "hmac-sha256",
        "for nothing?",
        _b64_of_hex(RFC4231_CASE2_HMAC_SHA256),
        _b64(b"what do ya want "),
        key=b"Jefe",
    ),
    Vector("fips180-abc", "sha256-salted", "bc", _b64_of_hex(FIPS180_SHA256_ABC), _b64(b"a")),
    Vector(
        "fips180-two-block",
        "sha256-salted",
        FIPS180_TWO_BLOCK_MESSAGE[52:],
        _b64_of_hex(FIPS180_SHA256_TWO_BLOCK),
        _b64(FIPS180_TWO_BLOCK_MESSAGE[:52].encode("ascii")),
    ),
    *(
        Vector(f"openwall-bcrypt-{index}", "bcrypt", password, stored)
        for index, (password, stored) in enumerate(OPENWALL_BCRYPT_VECTORS)
    ),
    Vector("phc-argon2id-v19", "argon2", "password", PHC_ARGON2ID_V19),
    Vector("phc-argon2i-v19", "argon2", "password", PHC_ARGON2I_V19),
    Vector("phc-argon2i-v16", "argon2", "password", PHC_ARGON2I_V16),
    Vector("phc-argon2i-passwore", "argon2", "passwore", PHC_ARGON2I_PASSWORE),
)

# --- Reference-library vectors -----------------------------------------------------------------------
# Produced once with the reference libraries directly, not with this package:
#   hmac.new(KEY, SALT + pw, sha256), hashlib.sha256(SALT + pw), hashlib.pbkdf2_hmac("sha256", pw, SALT,
#   1000, 32), hashlib.scrypt(pw, salt=SALT, n=1024, r=8, p=1, dklen=32), Firebase = cryptography's
#   AES-256-CTR (zero counter block) of bytes(range(64)) under hashlib.scrypt(pw, SALT + b"\x07", 2**10,
#   8, 1, 32), bcrypt.hashpw(pw, b"$2b$04$VGhpc0lzQVRlc3RTYWx0Lu") (and $2y$05$), argon2.low_level.
#   hash_secret(pw, b"vitalsync-salt16", time_cost=1, memory_cost=64, parallelism=1, hash_len=32, type=...)
# where pw is the UTF-8 encoding of the password.

REFERENCE_KEY = b"vitalsync-unit-test-platform-key"
REFERENCE_SALT = "Xwwqnn1LE+imwfCynT5KVw=="
ASCII_PASSWORD = "correct horse battery staple"
# An emoji, a combining acute accent (decomposed form, kept as typed) and a non-ASCII precomposed letter.
UNICODE_PASSWORD = "🔑 pa\u0301sswörd ✓"
REFERENCE_FIREBASE_PARAMS = {
    "signer_key": _b64(bytes(range(64))),
    "salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 10,
}
REFERENCE_BCRYPT_SALT_CHARS = "VGhpc0lzQVRlc3RTYWx0Lu"


def _reference_vectors(label: str, password: str, hashes: dict[str, str]) -> tuple[Vector, ...]:
    return (
        Vector(f"ref-hmac-{label}", "hmac-sha256", password, hashes["hmac"], REFERENCE_SALT, key=REFERENCE_KEY),
        Vector(f"ref-sha256-{label}", "sha256-salted", password, hashes["sha256"], REFERENCE_SALT),
        Vector(
            f"ref-pbkdf2-{label}",
            "pbkdf2-sha256",
            password,
            hashes["pbkdf2"],
            REFERENCE_SALT,
            {"iterations": 1000},
        ),
        Vector(
            f"ref-scrypt-{label}",
            "scrypt",
            password,
            hashes["scrypt"],
            REFERENCE_SALT,
            {"n": 1024, "r": 8, "p": 1, "dklen": 32},
        ),
        Vector(
            f"ref-firebase-{label}",
            "firebase-scrypt",
            password,
            hashes["firebase"],
            REFERENCE_SALT,
            REFERENCE_FIREBASE_PARAMS,
        ),
        Vector(f"ref-bcrypt-2b-{label}", "bcrypt", password, hashes["bcrypt_2b"]),
        Vector(f"ref-bcrypt-2y-{label}", "bcrypt", password, hashes["bcrypt_2y"]),
        Vector(f"ref-argon2id-{label}", "argon2", password, hashes["argon2id"]),
        Vector(f"ref-argon2i-{label}", "argon2", password, hashes["argon2i"]),
        Vector(f"ref-argon2d-{label}", "argon2", password, hashes["argon2d"]),
    )


REFERENCE_ASCII_HASHES = {
    "hmac": "/leUS+n9vJ2MP7h3ux0AZGTmVYnvZ/QVqdSrldSVHWM=",
    "sha256": "ZMTfqUJiZ7n7MuyC6U/7LQUK+TBoIcdDOazckdvaPs0=",
    "pbkdf2": "P6kfzLLQx+SCP3VsShbiVkrhlDjcWAXbgyV3ISI+DYs=",
    "scrypt": "W37dR1mUtK+P58NNdkwzaRYhzw+ydUUax+1zPTU9+5o=",
    "firebase": ("oJSIMmz9YtFgfwSTO6jGI6SdPOsX6Nkx0nmebc0HS/z4VApT41/Fe8mYe0LA/2jJB1RJ8Z+DQfBr2qb8lo+OuQ=="),
    "bcrypt_2b": "$2b$04$VGhpc0lzQVRlc3RTYWx0LuYQowk0FLDiXIAwoULnFg73zwSxIf3De",
    "bcrypt_2y": "$2y$05$VGhpc0lzQVRlc3RTYWx0LuKbMbUOhMch0mwjJZhgv09ucIcsCGKiC",
    "argon2id": ("$argon2id$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$ogjQms/t0afFbB0U+JQcChSa5tLlSlJTOv4eed6x7yI"),
    "argon2i": ("$argon2i$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$9zol8h5TUv2AgQ6/x26gAF6m/by4+k9MHc5wnL8zx1I"),
    "argon2d": ("$argon2d$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$9NUfFXup6Z5trdIVo7K6kwNTagh0UjM97JsOOowfH7M"),
}
REFERENCE_UNICODE_HASHES = {
    "hmac": "Ea5ZahNiZjQomO3kC0CqpHP00uBQSJGjngKL43gJUjM=",
    "sha256": "wrTYaw3mDHmhPYGtT/QkVUf0iLbTDFBpdPt26gvo9ic=",
    "pbkdf2": "Yyas0VbxS4Ujlr+YUhjT3E2vpG4pNQujVi7k4V9dD1U=",
    "scrypt": "oG+Xx3I/Oyd9A4583+ryv+d0xHH/ItLDSqS+dLBSnVQ=",
    "firebase": ("8jqy4OxbTFsWIB7BWue1K9K7kXRjdehHN+49qZFNCoXR/lOsy0/P5C0Q1EmA7gldWmd8kUlguJX/txn8IXEHzQ=="),
    "bcrypt_2b": "$2b$04$VGhpc0lzQVRlc3RTYWx0Lu9Nor8.q.YGyRYTMiwEQOWMlPajBMqEC",
    "bcrypt_2y": "$2y$05$VGhpc0lzQVRlc3RTYWx0Luy7V2RemhApQUDpC5Xbghnq8og0OsaDC",
    "argon2id": ("$argon2id$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$t1e5ENpZB2qGbatGU0zsvYT91LGLvo7RC410UtFwPT4"),
    "argon2i": ("$argon2i$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$T3EQx4M8mNAr2nSpzfe8aXkwJU6ExW3E3Q/vMSZaTn0"),
    "argon2d": ("$argon2d$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$ZtJ3ST0qqVdf577dcjpJ3DlExVf2EkVVBCA2eGHKt/Y"),
}

REFERENCE_VECTORS = _reference_vectors("ascii", ASCII_PASSWORD, REFERENCE_ASCII_HASHES) + _reference_vectors(
    "unicode", UNICODE_PASSWORD, REFERENCE_UNICODE_HASHES
)
ALL_VECTORS = PUBLISHED_VECTORS + REFERENCE_VECTORS


def _record(vector: Vector) -> LegacyHash:
    return LegacyHash.from_record(vector.scheme, vector.hash, vector.salt, vector.params)


def _wrong(password: str) -> str:
    # Changes the first byte, so even bcrypt's 72-byte window sees the difference.
    return "x" + password


def test_every_scheme_has_a_published_and_a_reference_vector() -> None:
    assert {vector.scheme for vector in PUBLISHED_VECTORS} == set(SCHEMES)
    assert {vector.scheme for vector in REFERENCE_VECTORS} == set(SCHEMES)


def test_schemes_tuple_names_the_registry() -> None:
    assert SCHEMES == (
        "hmac-sha256",
        "sha256-salted",
        "pbkdf2-sha256",
        "bcrypt",
        "scrypt",
        "firebase-scrypt",
        "argon2",
    )
    assert tuple(REGISTRY) == SCHEMES
    assert all(REGISTRY[name].name == name for name in SCHEMES)
    with pytest.raises(TypeError):
        REGISTRY["md5"] = REGISTRY["bcrypt"]  # type: ignore[index]


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda vector: vector.id)
def test_right_password_verifies(vector: Vector) -> None:
    assert verify_legacy_password(vector.password, _record(vector), vector.key) is True


@pytest.mark.parametrize("vector", ALL_VECTORS, ids=lambda vector: vector.id)
def test_wrong_password_is_refused(vector: Vector) -> None:
    assert verify_legacy_password(_wrong(vector.password), _record(vector), vector.key) is False


@pytest.mark.parametrize("vector", REFERENCE_VECTORS, ids=lambda vector: vector.id)
def test_scheme_object_verifies_like_the_convenience_function(vector: Vector) -> None:
    assert get_scheme(vector.scheme).verify(vector.password, _record(vector), vector.key) is True


def test_firebase_readme_vector_depends_on_every_project_parameter() -> None:
    record = LegacyHash.from_record(
        "firebase-scrypt", FIREBASE_README_HASH, FIREBASE_README_SALT, FIREBASE_README_PARAMS
    )
    assert verify_legacy_password("user1password", record)
    for name, other in (
        ("salt_separator", "CA=="),
        ("rounds", 7),
        ("mem_cost", 13),
        ("signer_key", FIREBASE_README_SIGNER_KEY.replace("jx", "kx", 1)),
    ):
        changed = LegacyHash.from_record(
            "firebase-scrypt",
            FIREBASE_README_HASH,
            FIREBASE_README_SALT,
            {**FIREBASE_README_PARAMS, name: other},
        )
        assert verify_legacy_password("user1password", changed) is False, name


def test_firebase_generate_reproduces_the_readme_hash() -> None:
    generated = generate_legacy_hash(
        "firebase-scrypt",
        "user1password",
        salt=base64.b64decode(FIREBASE_README_SALT),
        params=FIREBASE_README_PARAMS,
    )
    assert generated.hash == FIREBASE_README_HASH
    assert generated.salt == FIREBASE_README_SALT


def test_bcrypt_ignores_bytes_after_72_like_the_legacy_library() -> None:
    password, stored = OPENWALL_BCRYPT_VECTORS[-1]
    record = LegacyHash.from_record("bcrypt", stored)
    assert verify_legacy_password(password[:72] + " but a different tail", record)
    assert verify_legacy_password(password[:71], record) is False


def test_hmac_with_another_key_is_refused() -> None:
    vector = REFERENCE_VECTORS[0]
    assert verify_legacy_password(vector.password, _record(vector), b"another platform key") is False


@pytest.mark.parametrize("key", [None, b""])
def test_hmac_without_the_platform_key_raises(key: bytes | None) -> None:
    vector = REFERENCE_VECTORS[0]
    with pytest.raises(LegacyHashKeyError) as caught:
        verify_legacy_password(vector.password, _record(vector), key)
    assert isinstance(caught.value, LegacyHashError)
    with pytest.raises(LegacyHashKeyError):
        generate_legacy_hash("hmac-sha256", vector.password, key=key)


@pytest.mark.parametrize("scheme", [name for name in SCHEMES if name != "hmac-sha256"])
def test_unkeyed_schemes_ignore_a_key(scheme: str) -> None:
    vector = next(vector for vector in REFERENCE_VECTORS if vector.scheme == scheme)
    assert verify_legacy_password(vector.password, _record(vector), b"unused key") is True


@pytest.mark.parametrize("scheme", SCHEMES)
def test_passwords_are_not_unicode_normalised(scheme: str) -> None:
    """The legacy platform hashed the bytes it got; a decomposed password only matches itself."""
    decomposed = "cafe\u0301 🔑"
    composed = unicodedata.normalize("NFC", decomposed)
    assert composed != decomposed
    record = generate_legacy_hash(scheme, decomposed, params=CHEAP_PARAMS.get(scheme), key=REFERENCE_KEY)
    assert verify_legacy_password(decomposed, record, REFERENCE_KEY) is True
    assert verify_legacy_password(composed, record, REFERENCE_KEY) is False


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("password", ["", " ", "\u200b", "a\x00b", "ä" * 40])
def test_empty_and_odd_passwords_only_match_themselves(scheme: str, password: str) -> None:
    record = generate_legacy_hash(scheme, password, params=CHEAP_PARAMS.get(scheme), key=REFERENCE_KEY)
    assert verify_legacy_password(password, record, REFERENCE_KEY) is True
    assert verify_legacy_password(password + "x", record, REFERENCE_KEY) is (
        # 40 two-byte letters already fill bcrypt's 72-byte window.
        scheme == "bcrypt" and len(password.encode("utf-8")) >= 72
    )
    assert verify_legacy_password(" " + password, record, REFERENCE_KEY) is False


@pytest.mark.parametrize("vector", ALL_VECTORS[:1] + REFERENCE_VECTORS, ids=lambda vector: vector.id)
def test_password_without_a_utf8_form_is_refused_not_raised(vector: Vector) -> None:
    assert verify_legacy_password("lone \ud800 surrogate", _record(vector), vector.key) is False


def test_password_must_be_text() -> None:
    vector = REFERENCE_VECTORS[1]
    with pytest.raises(TypeError):
        verify_legacy_password(vector.password.encode("utf-8"), _record(vector))  # type: ignore[arg-type]


# --- generate ----------------------------------------------------------------------------------------

CHEAP_PARAMS: dict[str, dict[str, object]] = {
    "pbkdf2-sha256": {"iterations": 2},
    "scrypt": {"n": 16, "r": 1, "p": 1, "dklen": 32},
    "firebase-scrypt": {"rounds": 1, "mem_cost": 4},
    "bcrypt": {"cost": 4},
    "argon2": {"time_cost": 1, "memory_cost": 8, "parallelism": 1},
}


@pytest.mark.parametrize("vector", REFERENCE_VECTORS, ids=lambda vector: vector.id)
def test_generate_with_a_salt_reproduces_the_reference_vector(vector: Vector) -> None:
    if vector.scheme == "bcrypt":
        salt = _bcrypt_salt_bytes(REFERENCE_BCRYPT_SALT_CHARS)
        variant, cost = vector.hash[1:3], int(vector.hash[4:6])
        params: dict[str, object] = {"variant": variant, "cost": cost}
    elif vector.scheme == "argon2":
        salt = b"vitalsync-salt16"
        variant = vector.hash.split("$")[1]
        params = {"variant": variant, "time_cost": 1, "memory_cost": 64, "parallelism": 1, "hash_len": 32}
    else:
        salt = base64.b64decode(REFERENCE_SALT)
        params = dict(vector.params or {})
    generated = generate_legacy_hash(vector.scheme, vector.password, salt=salt, params=params, key=vector.key)
    assert generated == _record(vector)


def _bcrypt_salt_bytes(chars: str) -> bytes:
    """Decode bcrypt's 22-character salt (its own base64 alphabet) to the 16 raw bytes."""
    standard = chars.translate(
        str.maketrans(
            "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        )
    )
    return base64.b64decode(standard + "==")


def test_bcrypt_generate_matches_the_library_for_the_same_salt() -> None:
    salt_chars = REFERENCE_BCRYPT_SALT_CHARS
    expected = bcrypt.hashpw(b"emulated user", f"$2b$04${salt_chars}".encode("ascii")).decode("ascii")
    generated = generate_legacy_hash("bcrypt", "emulated user", salt=_bcrypt_salt_bytes(salt_chars), params={"cost": 4})
    assert generated.hash == expected


@pytest.mark.parametrize("scheme", SCHEMES)
def test_generate_draws_salt_from_the_injected_rng(scheme: str) -> None:
    requested: list[int] = []

    def rng(size: int) -> bytes:
        requested.append(size)
        return bytes([len(requested)]) * size

    first = generate_legacy_hash(scheme, "pw", params=CHEAP_PARAMS.get(scheme), key=REFERENCE_KEY, rng=rng)
    requested.clear()
    again = generate_legacy_hash(scheme, "pw", params=CHEAP_PARAMS.get(scheme), key=REFERENCE_KEY, rng=rng)
    assert first == again
    assert requested
    assert verify_legacy_password("pw", first, REFERENCE_KEY)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_generate_uses_fresh_salts_by_default(scheme: str) -> None:
    params = CHEAP_PARAMS.get(scheme)
    first = generate_legacy_hash(scheme, "pw", params=params, key=REFERENCE_KEY)
    second = generate_legacy_hash(scheme, "pw", params=params, key=REFERENCE_KEY)
    assert first.hash != second.hash


def test_generate_defaults_mimic_common_deployments() -> None:
    firebase = generate_legacy_hash("firebase-scrypt", "pw", params={"rounds": 1, "mem_cost": 4})
    assert firebase.params["salt_separator"] == "Bw=="
    assert len(base64.b64decode(str(firebase.params["signer_key"]))) == 64
    scrypt = generate_legacy_hash("scrypt", "pw")
    assert dict(scrypt.params) == {"n": 16384, "r": 8, "p": 1, "dklen": 32}
    assert generate_legacy_hash("bcrypt", "pw", params={"cost": 4}).hash.startswith("$2b$04$")
    assert generate_legacy_hash("argon2", "pw", params={"memory_cost": 64}).hash.startswith(
        "$argon2id$v=19$m=64,t=3,p=4$"
    )


def test_scrypt_reference_matches_hashlib_directly() -> None:
    """Guards the reference constants themselves against a typo."""
    raw = hashlib.scrypt(
        ASCII_PASSWORD.encode("utf-8"), salt=base64.b64decode(REFERENCE_SALT), n=1024, r=8, p=1, dklen=32
    )
    assert _b64(raw) == REFERENCE_ASCII_HASHES["scrypt"]
