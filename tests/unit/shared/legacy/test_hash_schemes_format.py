"""Import-time shape checks of legacy hash records: error codes, safety limits, and no secrets in messages."""

from __future__ import annotations

import base64
import time
from typing import NamedTuple

import pytest

from shared.legacy.hash_schemes import (
    SCHEMES,
    LegacyHash,
    LegacyHashErrorCode,
    LegacyHashFormatError,
    generate_legacy_hash,
    get_scheme,
    verify_legacy_password,
)

Code = LegacyHashErrorCode

# Distinctive values, so a leak into an error message cannot hide behind a common word.
SECRET_HASH = "U2VjcmV0SGFzaFZhbHVlIQ=="  # 16 bytes: valid base64, too short for the SHA-256 digests
SECRET_SALT = "U2VjcmV0U2FsdFZhbHVlIQ=="
SECRET_SIGNER_KEY = "U2VjcmV0U2lnbmVyS2V5IQ=="
DIGEST_32 = base64.b64encode(bytes(range(100, 132))).decode("ascii")
DIGEST_64 = base64.b64encode(bytes(range(100, 164))).decode("ascii")
URLSAFE_32 = base64.urlsafe_b64encode(bytes([0xFB, 0xFF]) * 16).decode("ascii")  # "-" and "_"
BCRYPT_OK = "$2b$04$VGhpc0lzQVRlc3RTYWx0LuYQowk0FLDiXIAwoULnFg73zwSxIf3De"
ARGON2_OK = "$argon2id$v=19$m=64,t=1,p=1$dml0YWxzeW5jLXNhbHQxNg$ogjQms/t0afFbB0U+JQcChSa5tLlSlJTOv4eed6x7yI"
SCRYPT_OK: dict[str, object] = {"n": 16, "r": 1, "p": 1, "dklen": 32}
SCRYPT_16MIB = {**SCRYPT_OK, "n": 2**14, "r": 8}
SCRYPT_RFC7914_1GIB = {"n": 2**20, "r": 8, "p": 1, "dklen": 64}
ARGON2_M262145 = ARGON2_OK.replace("m=64", "m=262145")
ARGON2_P16 = ARGON2_OK.replace("p=1", "p=16")
ARGON2_P17 = ARGON2_OK.replace("p=1", "p=17").replace("m=64", "m=256")
FIREBASE_OK = {"signer_key": SECRET_SIGNER_KEY, "salt_separator": "Bw==", "rounds": 8, "mem_cost": 14}


class Bad(NamedTuple):
    """A record that import must refuse, with the expected code and field."""

    id: str
    scheme: object
    hash: object
    salt: object
    params: object
    code: LegacyHashErrorCode
    field: str


UNKNOWN, HASH = Code.UNKNOWN_SCHEME, Code.MALFORMED_HASH
SALT, PARAMS = Code.MALFORMED_SALT, Code.INVALID_PARAMS
PBKDF2, FIREBASE = "pbkdf2-sha256", "firebase-scrypt"
NO_SIGNER_KEY = {name: value for name, value in FIREBASE_OK.items() if name != "signer_key"}
SIGNER_KEY = "params.signer_key"
ARGON2_SHORT_SALT = ARGON2_OK.replace("dml0YWxzeW5jLXNhbHQxNg", "c2FsdA")  # 4-byte salt

BAD_RECORDS = (
    # Unknown schemes; the value itself is never echoed (a mis-mapped column could carry a hash).
    Bad("md5", "md5", SECRET_HASH, SECRET_SALT, None, UNKNOWN, "hash_scheme"),
    Bad("hash-in-scheme", SECRET_HASH, SECRET_HASH, SECRET_SALT, None, UNKNOWN, "hash_scheme"),
    Bad("empty-scheme", "", SECRET_HASH, SECRET_SALT, None, UNKNOWN, "hash_scheme"),
    Bad("scheme-not-text", 7, SECRET_HASH, SECRET_SALT, None, UNKNOWN, "hash_scheme"),
    # Hash shape.
    Bad("sha-wrong-length", "sha256-salted", SECRET_HASH, SECRET_SALT, None, HASH, "hash"),
    Bad("sha-not-base64", "sha256-salted", "not*base64!", SECRET_SALT, None, HASH, "hash"),
    Bad("sha-no-padding", "sha256-salted", DIGEST_32[:-1], SECRET_SALT, None, HASH, "hash"),
    Bad("sha-newline", "sha256-salted", DIGEST_32 + "\n", SECRET_SALT, None, HASH, "hash"),
    Bad("sha-urlsafe", "sha256-salted", URLSAFE_32, "", None, HASH, "hash"),
    Bad("sha-non-ascii", "sha256-salted", "ä" + DIGEST_32[1:], "", None, HASH, "hash"),
    Bad("hash-missing", "sha256-salted", None, SECRET_SALT, None, HASH, "hash"),
    Bad("hash-bytes", "hmac-sha256", DIGEST_32.encode(), "", None, HASH, "hash"),
    Bad("hash-huge", PBKDF2, "A" * 100_000, "", {"iterations": 1}, HASH, "hash"),
    Bad("pbkdf2-64-bytes", PBKDF2, DIGEST_64, "", {"iterations": 1}, HASH, "hash"),
    Bad("scrypt-dklen-mismatch", "scrypt", DIGEST_32, "", {**SCRYPT_OK, "dklen": 64}, HASH, "hash"),
    Bad("firebase-key-length", FIREBASE, DIGEST_32, "", FIREBASE_OK, HASH, "hash"),
    Bad("bcrypt-md5crypt", "bcrypt", "$1$" + SECRET_HASH, None, None, HASH, "hash"),
    Bad("bcrypt-2x", "bcrypt", "$2x" + BCRYPT_OK[3:], None, None, HASH, "hash"),
    Bad("bcrypt-short", "bcrypt", BCRYPT_OK[:-1], None, None, HASH, "hash"),
    Bad("bcrypt-argon2-string", "bcrypt", ARGON2_OK, None, None, HASH, "hash"),
    Bad("bcrypt-base64", "bcrypt", DIGEST_32, None, None, HASH, "hash"),
    Bad("argon2-bcrypt-string", "argon2", BCRYPT_OK, None, None, HASH, "hash"),
    Bad("argon2-unknown-type", "argon2", ARGON2_OK.replace("argon2id", "argon2x"), None, None, HASH, "hash"),
    Bad("argon2-version", "argon2", ARGON2_OK.replace("v=19", "v=20"), None, None, HASH, "hash"),
    Bad("argon2-short-salt", "argon2", ARGON2_SHORT_SALT, None, None, HASH, "hash"),
    Bad("argon2-bad-encoding", "argon2", ARGON2_OK + "AA", None, None, HASH, "hash"),
    # Salt shape.
    Bad("salt-not-base64", "sha256-salted", DIGEST_32, "salt with spaces", None, SALT, "salt"),
    Bad("salt-not-text", PBKDF2, DIGEST_32, 1234, {"iterations": 1}, SALT, "salt"),
    Bad("salt-too-long", "hmac-sha256", DIGEST_32, "QUFB" * 400, None, SALT, "salt"),
    Bad("bcrypt-with-salt", "bcrypt", BCRYPT_OK, SECRET_SALT, None, SALT, "salt"),
    Bad("argon2-with-salt", "argon2", ARGON2_OK, SECRET_SALT, None, SALT, "salt"),
    # Parameters: missing, mistyped, impossible, unexpected.
    Bad("params-not-mapping", PBKDF2, DIGEST_32, "", [1000], PARAMS, "params"),
    Bad("iterations-missing", PBKDF2, DIGEST_32, "", {}, PARAMS, "params.iterations"),
    Bad("iterations-zero", PBKDF2, DIGEST_32, "", {"iterations": 0}, PARAMS, "params.iterations"),
    Bad("iterations-negative", PBKDF2, DIGEST_32, "", {"iterations": -5}, PARAMS, "params.iterations"),
    Bad("iterations-text", PBKDF2, DIGEST_32, "", {"iterations": "many"}, PARAMS, "params.iterations"),
    Bad("iterations-float", PBKDF2, DIGEST_32, "", {"iterations": 1000.0}, PARAMS, "params.iterations"),
    Bad("iterations-bool", PBKDF2, DIGEST_32, "", {"iterations": True}, PARAMS, "params.iterations"),
    Bad("unexpected-param", PBKDF2, DIGEST_32, "", {"iterations": 1, "dklen": 32}, PARAMS, "params"),
    Bad("params-for-sha", "sha256-salted", DIGEST_32, "", {"iterations": 1}, PARAMS, "params"),
    Bad("params-for-bcrypt", "bcrypt", BCRYPT_OK, None, {"cost": 4}, PARAMS, "params"),
    Bad("scrypt-n-not-power-of-two", "scrypt", DIGEST_32, "", {**SCRYPT_OK, "n": 1000}, PARAMS, "params.n"),
    Bad("scrypt-n-one", "scrypt", DIGEST_32, "", {**SCRYPT_OK, "n": 1}, PARAMS, "params.n"),
    Bad("scrypt-r-zero", "scrypt", DIGEST_32, "", {**SCRYPT_OK, "r": 0}, PARAMS, "params.r"),
    Bad("scrypt-p-missing", "scrypt", DIGEST_32, "", {"n": 16, "r": 1, "dklen": 32}, PARAMS, "params.p"),
    Bad("scrypt-dklen-tiny", "scrypt", DIGEST_32, "", {**SCRYPT_OK, "dklen": 8}, PARAMS, "params.dklen"),
    Bad("scrypt-maxmem-param", "scrypt", DIGEST_32, "", {**SCRYPT_OK, "maxmem": 1 << 40}, PARAMS, "params"),
    Bad("firebase-no-signer-key", FIREBASE, DIGEST_32, "", NO_SIGNER_KEY, PARAMS, SIGNER_KEY),
    Bad(
        "firebase-bad-signer-key",
        FIREBASE,
        DIGEST_32,
        "",
        FIREBASE_OK | {"signer_key": "**"},
        PARAMS,
        SIGNER_KEY,
    ),
    Bad(
        "firebase-empty-signer-key",
        FIREBASE,
        DIGEST_32,
        "",
        FIREBASE_OK | {"signer_key": ""},
        PARAMS,
        SIGNER_KEY,
    ),
    Bad("firebase-rounds-zero", FIREBASE, DIGEST_32, "", FIREBASE_OK | {"rounds": 0}, PARAMS, "params.rounds"),
    # Safety limits: over-the-limit costs are INVALID_PARAMS, refused before any hashing work.
    Bad("pbkdf2-over-limit", PBKDF2, DIGEST_32, "", {"iterations": 10_000_001}, PARAMS, "params.iterations"),
    Bad(
        "scrypt-memory-over-limit",
        "scrypt",
        DIGEST_32,
        "",
        SCRYPT_OK | {"n": 2**19, "r": 8},
        PARAMS,
        "params",
    ),
    # RFC 7914's fourth vector (N=2**20, r=8) needs 1 GiB, beyond the 256 MiB limit.
    Bad("scrypt-rfc7914-1gib", "scrypt", DIGEST_64, "", SCRYPT_RFC7914_1GIB, PARAMS, "params"),
    Bad("scrypt-work-over-limit", "scrypt", DIGEST_32, "", {**SCRYPT_16MIB, "p": 65}, PARAMS, "params"),
    Bad(
        "firebase-memory-over-limit",
        FIREBASE,
        DIGEST_32,
        "",
        FIREBASE_OK | {"mem_cost": 19},
        PARAMS,
        "params",
    ),
    Bad("bcrypt-cost-over-limit", "bcrypt", "$2b$17$" + BCRYPT_OK[7:], None, None, PARAMS, "hash.cost"),
    Bad("bcrypt-cost-under-minimum", "bcrypt", "$2b$03$" + BCRYPT_OK[7:], None, None, PARAMS, "hash.cost"),
    Bad("argon2-memory-over-limit", "argon2", ARGON2_M262145, None, None, PARAMS, "hash.m"),
    Bad("argon2-time-over-limit", "argon2", ARGON2_OK.replace("t=1", "t=11"), None, None, PARAMS, "hash.t"),
    Bad("argon2-lanes-over-limit", "argon2", ARGON2_P17, None, None, PARAMS, "hash.p"),
    Bad("argon2-memory-under-lanes", "argon2", ARGON2_P16, None, None, PARAMS, "hash.m"),
)


@pytest.mark.parametrize("bad", BAD_RECORDS, ids=lambda bad: bad.id)
def test_bad_record_is_refused_with_its_code(bad: Bad) -> None:
    with pytest.raises(LegacyHashFormatError) as caught:
        LegacyHash.from_record(bad.scheme, bad.hash, bad.salt, bad.params)  # type: ignore[arg-type]
    error = caught.value
    assert (error.code, error.field) == (bad.code, bad.field)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("bad", BAD_RECORDS, ids=lambda bad: bad.id)
def test_error_messages_carry_no_secret_material(bad: Bad) -> None:
    with pytest.raises(LegacyHashFormatError) as caught:
        LegacyHash.from_record(bad.scheme, bad.hash, bad.salt, bad.params)  # type: ignore[arg-type]
    error = caught.value
    rendered = f"{error}\n{error!r}\n{error.args!r}"
    secrets = [SECRET_HASH, SECRET_SALT, SECRET_SIGNER_KEY, SECRET_HASH[:12], SECRET_SALT[:12]]
    secrets += [value for value in (bad.hash, bad.salt) if isinstance(value, str) and len(value) >= 8]
    for secret in secrets:
        assert secret not in rendered
    # Library exceptions (binascii, argon2) are not chained in, so tracebacks cannot show them either.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_limits_themselves_are_accepted() -> None:
    """Each limit is inclusive: only lines beyond it are refused."""
    LegacyHash.from_record("pbkdf2-sha256", DIGEST_32, "", {"iterations": 10_000_000})
    LegacyHash.from_record("scrypt", DIGEST_32, "", {**SCRYPT_OK, "n": 2**18, "r": 8})
    LegacyHash.from_record("scrypt", DIGEST_32, "", {**SCRYPT_OK, "n": 2**14, "r": 8, "p": 64})
    LegacyHash.from_record("bcrypt", "$2b$16$" + BCRYPT_OK[7:])
    LegacyHash.from_record("argon2", ARGON2_OK.replace("m=64", "m=262144").replace("t=1", "t=10"))


def test_verify_rechecks_limits_of_values_built_without_from_record() -> None:
    """A row edited after import cannot make verify run for minutes: limits are checked again first."""
    started = time.monotonic()
    tampered = LegacyHash("pbkdf2-sha256", DIGEST_32, "", {"iterations": 10**9})
    with pytest.raises(LegacyHashFormatError) as caught:
        verify_legacy_password("pw", tampered)
    assert caught.value.code is Code.INVALID_PARAMS
    assert time.monotonic() - started < 1


def test_verify_of_an_unknown_scheme_raises_unknown_scheme() -> None:
    with pytest.raises(LegacyHashFormatError) as caught:
        verify_legacy_password("pw", LegacyHash("md5", DIGEST_32, ""))
    assert caught.value.code is Code.UNKNOWN_SCHEME


def test_a_scheme_refuses_another_schemes_value() -> None:
    record = generate_legacy_hash("sha256-salted", "pw")
    with pytest.raises(ValueError, match="not a pbkdf2-sha256 hash"):
        get_scheme("pbkdf2-sha256").verify("pw", record)


@pytest.mark.parametrize("params", [{"cost": 17}, {"cost": 4, "variant": "2x"}, {"cost": 4, "rounds": 4}])
def test_bcrypt_generate_refuses_bad_params(params: dict[str, object]) -> None:
    with pytest.raises(LegacyHashFormatError) as caught:
        generate_legacy_hash("bcrypt", "pw", params=params)
    assert caught.value.code is Code.INVALID_PARAMS


@pytest.mark.parametrize(
    ("scheme", "salt"), [("bcrypt", b"short"), ("argon2", b"short"), ("sha256-salted", b"x" * 1025)]
)
def test_generate_refuses_unusable_salts(scheme: str, salt: bytes) -> None:
    with pytest.raises(LegacyHashFormatError) as caught:
        generate_legacy_hash(scheme, "pw", salt=salt, params={"cost": 4} if scheme == "bcrypt" else None)
    assert caught.value.code is Code.MALFORMED_SALT


def test_generate_refuses_out_of_limit_params_before_hashing() -> None:
    started = time.monotonic()
    with pytest.raises(LegacyHashFormatError):
        generate_legacy_hash("pbkdf2-sha256", "pw", params={"iterations": 10**9})
    with pytest.raises(LegacyHashFormatError):
        generate_legacy_hash("argon2", "pw", params={"memory_cost": 10**7})
    assert time.monotonic() - started < 1


def test_repr_hides_hash_salt_and_signer_key() -> None:
    record = LegacyHash.from_record(
        "firebase-scrypt",
        SECRET_HASH,
        SECRET_SALT,
        {
            **FIREBASE_OK,
            "signer_key": SECRET_HASH,
        },
    )
    rendered = repr(record)
    assert SECRET_HASH not in rendered
    assert SECRET_SALT not in rendered
    assert "'rounds': 8" in rendered
    assert "firebase-scrypt" in rendered


class TestCanonicalForm:
    """from_record accepts the loose forms exports use and stores one canonical value."""

    def test_scheme_name_case_and_spaces_are_ignored(self) -> None:
        record = LegacyHash.from_record(" PBKDF2-SHA256 ", DIGEST_32, "", {"iterations": 1000})
        assert record.scheme == "pbkdf2-sha256"

    def test_decimal_text_params_become_integers(self) -> None:
        record = LegacyHash.from_record("scrypt", DIGEST_32, "", {"n": "16", "r": "1", "p": 1, "dklen": "32"})
        assert dict(record.params) == SCRYPT_OK

    def test_missing_salt_means_empty_salt_for_base64_schemes(self) -> None:
        assert LegacyHash.from_record("sha256-salted", DIGEST_32, None).salt == ""
        assert LegacyHash.from_record("sha256-salted", DIGEST_32).params == {}

    def test_empty_salt_means_none_for_self_describing_strings(self) -> None:
        assert LegacyHash.from_record("bcrypt", BCRYPT_OK, "").salt is None
        assert LegacyHash.from_record("argon2", ARGON2_OK, None, {}).salt is None

    def test_byte_params_are_stored_in_canonical_base64(self) -> None:
        # "Bx==" has non-zero padding bits; it decodes to the same byte as Firebase's usual "Bw==".
        record = LegacyHash.from_record("firebase-scrypt", SECRET_HASH, "", FIREBASE_OK | {"salt_separator": "Bx=="})
        assert record.params["salt_separator"] == "Bw=="

    def test_values_are_immutable_and_hashable(self) -> None:
        params = {"iterations": 1000}
        record = LegacyHash.from_record("pbkdf2-sha256", DIGEST_32, "", params)
        params["iterations"] = 1
        assert record.params["iterations"] == 1000
        with pytest.raises(TypeError):
            record.params["iterations"] = 2  # type: ignore[index]
        assert len({record, LegacyHash.from_record("pbkdf2-sha256", DIGEST_32, "", {"iterations": "1000"})}) == 1

    @pytest.mark.parametrize("scheme", SCHEMES)
    def test_generated_values_survive_a_from_record_round_trip(self, scheme: str) -> None:
        cheap: dict[str, dict[str, object]] = {
            "pbkdf2-sha256": {"iterations": 1},
            "scrypt": SCRYPT_OK,
            "firebase-scrypt": {"rounds": 1, "mem_cost": 2},
            "bcrypt": {"cost": 4},
            "argon2": {"memory_cost": 8, "parallelism": 1, "time_cost": 1},
        }
        record = generate_legacy_hash(scheme, "pw", params=cheap.get(scheme), key=b"k")
        assert LegacyHash.from_record(record.scheme, record.hash, record.salt, record.params) == record
