"""Property tests: generate -> verify round trips at tiny costs; parsers only ever raise format errors."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.legacy.hash_schemes import (
    SCHEMES,
    LegacyHash,
    LegacyHashFormatError,
    generate_legacy_hash,
    verify_legacy_password,
)

# No example database: the unit command must not write outside the test tree.
FAST = settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
PLATFORM_KEY = b"property-test-platform-key"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


# Tiny costs so the whole module runs in about a second; the algorithms do not change with cost.
CHEAP_PARAMS: dict[str, st.SearchStrategy[dict[str, object]]] = {
    "hmac-sha256": st.just({}),
    "sha256-salted": st.just({}),
    "pbkdf2-sha256": st.fixed_dictionaries({"iterations": st.integers(1, 5)}),
    "scrypt": st.fixed_dictionaries(
        {
            "n": st.sampled_from([2, 4, 8, 16]),
            "r": st.integers(1, 2),
            "p": st.integers(1, 2),
            "dklen": st.integers(16, 64),
        }
    ),
    "firebase-scrypt": st.fixed_dictionaries(
        {
            # the hash is the signer key encrypted, as long as the key: 1 byte would collide 1 time in 256
            "signer_key": st.binary(min_size=16, max_size=64).map(_b64),
            "salt_separator": st.binary(max_size=4).map(_b64),
            "rounds": st.integers(1, 2),
            "mem_cost": st.integers(1, 4),
        }
    ),
    "bcrypt": st.fixed_dictionaries({"cost": st.just(4), "variant": st.sampled_from(["2a", "2b", "2y"])}),
    "argon2": st.fixed_dictionaries(
        {
            "variant": st.sampled_from(["argon2id", "argon2i", "argon2d"]),
            "time_cost": st.just(1),
            "memory_cost": st.integers(8, 32),
            "parallelism": st.just(1),
            "hash_len": st.integers(4, 64),
        }
    ),
}
SALTS: dict[str, st.SearchStrategy[bytes]] = {
    "bcrypt": st.binary(min_size=16, max_size=16),
    "argon2": st.binary(min_size=8, max_size=32),
}
PASSWORDS = st.text(max_size=40)


def _bcrypt_window(password: str) -> bytes:
    return password.encode("utf-8")[:72]


@pytest.mark.parametrize("scheme", SCHEMES)
@FAST
@given(data=st.data(), password=PASSWORDS, other=PASSWORDS)
def test_generate_then_verify_round_trips(scheme: str, data: st.DataObject, password: str, other: str) -> None:
    params = data.draw(CHEAP_PARAMS[scheme], label="params")
    salt = data.draw(SALTS.get(scheme, st.binary(max_size=32)), label="salt")
    record = generate_legacy_hash(scheme, password, salt=salt, params=params, key=PLATFORM_KEY)

    assert verify_legacy_password(password, record, PLATFORM_KEY) is True
    assert LegacyHash.from_record(record.scheme, record.hash, record.salt, record.params) == record
    assert generate_legacy_hash(scheme, password, salt=salt, params=params, key=PLATFORM_KEY) == record

    assume(other != password)
    if scheme == "bcrypt":
        assume(_bcrypt_window(other) != _bcrypt_window(password))
    assert verify_legacy_password(other, record, PLATFORM_KEY) is False


LOOSE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.binary(max_size=8),
)
LOOSE_PARAMS = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(["iterations", "n", "r", "p", "dklen", "signer_key", "salt_separator", "rounds", "mem_cost"])
        | st.text(max_size=8),
        LOOSE_VALUES,
        max_size=5,
    ),
)
MODULAR_LIKE = st.from_regex(
    r"\$(2[abxy]|argon2(id|i|d)?)\$(v=\d{1,3}\$)?(\d{2}\$|m=\d{1,7},t=\d{1,3},p=\d{1,3}\$)[./A-Za-z0-9+$]{0,70}",
    fullmatch=True,
)


@pytest.mark.parametrize("scheme", SCHEMES)
@FAST
@given(
    hash_value=st.one_of(LOOSE_VALUES, MODULAR_LIKE, st.binary(max_size=48).map(_b64)),
    salt=st.one_of(st.none(), st.text(max_size=24), st.binary(max_size=24).map(_b64)),
    params=LOOSE_PARAMS,
)
def test_parsing_loose_records_only_raises_format_errors(
    scheme: str, hash_value: object, salt: object, params: object
) -> None:
    try:
        record = LegacyHash.from_record(scheme, hash_value, salt, params)  # type: ignore[arg-type]
    except LegacyHashFormatError as error:
        assert error.code in {"MALFORMED_HASH", "MALFORMED_SALT", "INVALID_PARAMS"}
        if isinstance(hash_value, str) and len(hash_value) >= 16:
            assert hash_value not in str(error)
    else:
        assert record.scheme == scheme
        assert LegacyHash.from_record(record.scheme, record.hash, record.salt, record.params) == record
