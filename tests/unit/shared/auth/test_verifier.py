"""TokenVerifier against a real JWKS server: what it accepts, and every way a token is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.auth.errors import TokenError, TokenErrorCode
from shared.auth.issuers import TrustedIssuer, cognito_issuer, local_issuer
from shared.auth.verifier import Principal, TokenVerifier

from .conftest import (
    COGNITO_CLIENT_ID,
    DROP,
    LOCAL_ISSUER,
    NOW,
    Keys,
    b64url,
    cognito_claims,
    es256_key,
    forge,
    local_claims,
)


async def refused(verifier: TokenVerifier, token: str, code: TokenErrorCode) -> TokenError:
    with pytest.raises(TokenError) as caught:
        await verifier.verify(token)
    assert caught.value.code == code, caught.value.message
    assert len(token) < 8 or token not in caught.value.message  # short junk may be a word of the message
    return caught.value


# --- accepted ---


@pytest.mark.parametrize("key_name", ["local_es", "local_rs", "local_ed"])
async def test_local_access_token_gives_principal(verifier: TokenVerifier, keys: Keys, key_name: str) -> None:
    token = getattr(keys, key_name).sign(local_claims())
    assert await verifier.verify(token) == Principal(
        user_id="user-0001",
        issuer=LOCAL_ISSUER,
        roles=frozenset({"operator"}),
        token_id="jti-0001",
        expires_at=int(NOW) + 900,
        issued_at=NOW,
    )


async def test_cognito_access_token_uses_username_and_client_id(verifier: TokenVerifier, keys: Keys) -> None:
    token = keys.cognito_rs.sign(cognito_claims())
    principal = await verifier.verify(token)
    assert principal == Principal(
        user_id="user-0002",
        issuer=cognito_claims()["iss"],
        roles=frozenset({"clinician"}),
        token_id="jti-0002",
        expires_at=int(NOW) + 3600,
        issued_at=NOW,
    )


async def test_optional_claims_may_be_absent(verifier: TokenVerifier, keys: Keys) -> None:
    token = keys.local_es.sign(local_claims(roles=DROP, jti=DROP, token_use=DROP, iat=DROP))
    principal = await verifier.verify(token)
    assert (principal.roles, principal.token_id) == (frozenset(), None)


async def test_audience_may_be_a_list(verifier: TokenVerifier, keys: Keys) -> None:
    token = keys.local_es.sign(local_claims(aud=["other", "vitalsync"]))
    assert (await verifier.verify(token)).user_id == "user-0001"


# --- time claims, with 30 s leeway ---


async def test_expired_beyond_leeway(verifier: TokenVerifier, keys: Keys) -> None:
    token = keys.local_es.sign(local_claims(iat=int(NOW) - 1000, exp=int(NOW) - 31))
    await refused(verifier, token, TokenErrorCode.TOKEN_EXPIRED)


async def test_expired_within_leeway_still_accepted(verifier: TokenVerifier, keys: Keys) -> None:
    token = keys.local_es.sign(local_claims(iat=int(NOW) - 1000, exp=int(NOW) - 29))
    assert (await verifier.verify(token)).expires_at == int(NOW) - 29


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_not_yet_valid_beyond_leeway(verifier: TokenVerifier, keys: Keys, claim: str) -> None:
    await refused(verifier, keys.local_es.sign(local_claims(**{claim: int(NOW) + 31})), TokenErrorCode.TOKEN_INVALID)
    assert await verifier.verify(keys.local_es.sign(local_claims(**{claim: int(NOW) + 29})))


@pytest.mark.parametrize("exp", [DROP, "tomorrow", True, None])
async def test_expiry_is_required_and_numeric(verifier: TokenVerifier, keys: Keys, exp: Any) -> None:
    await refused(verifier, keys.local_es.sign(local_claims(exp=exp)), TokenErrorCode.TOKEN_INVALID)


# --- audience, issuer, use, user ---


async def test_wrong_audience(verifier: TokenVerifier, keys: Keys) -> None:
    await refused(verifier, keys.local_es.sign(local_claims(aud="billing")), TokenErrorCode.TOKEN_INVALID)
    await refused(verifier, keys.local_es.sign(local_claims(aud=DROP)), TokenErrorCode.TOKEN_INVALID)


async def test_cognito_token_for_another_app_client(verifier: TokenVerifier, keys: Keys) -> None:
    token = keys.cognito_rs.sign(cognito_claims(client_id="someone-elses-client"))
    await refused(verifier, token, TokenErrorCode.TOKEN_INVALID)


async def test_cognito_id_token_is_not_an_access_token(verifier: TokenVerifier, keys: Keys) -> None:
    # An ID token carries the client in "aud" and token_use "id"; it must not authenticate API calls.
    claims = cognito_claims(token_use="id", client_id=DROP, aud=COGNITO_CLIENT_ID)
    await refused(verifier, keys.cognito_rs.sign(claims), TokenErrorCode.TOKEN_INVALID)
    claims = cognito_claims(token_use="id")
    await refused(verifier, keys.cognito_rs.sign(claims), TokenErrorCode.TOKEN_INVALID)


@pytest.mark.parametrize("iss", ["vitalsync-evil", DROP, 42, ["vitalsync-local"]])
async def test_untrusted_issuer(verifier: TokenVerifier, keys: Keys, iss: Any) -> None:
    await refused(verifier, keys.local_es.sign(local_claims(iss=iss)), TokenErrorCode.TOKEN_INVALID)


async def test_key_of_one_issuer_cannot_sign_for_another(verifier: TokenVerifier, keys: Keys) -> None:
    # Keys are scoped per issuer: the Cognito key's kid is unknown in the local JWKS.
    token = keys.cognito_rs.sign(local_claims())
    await refused(verifier, token, TokenErrorCode.TOKEN_INVALID)


@pytest.mark.parametrize("sub", [DROP, "", 7, None, "x" * 300])
async def test_user_id_must_be_a_non_empty_string(verifier: TokenVerifier, keys: Keys, sub: Any) -> None:
    await refused(verifier, keys.local_es.sign(local_claims(sub=sub)), TokenErrorCode.TOKEN_INVALID)


async def test_cognito_without_username_is_refused(verifier: TokenVerifier, keys: Keys) -> None:
    # sub is present but is Cognito's own subject, not our user id.
    await refused(verifier, keys.cognito_rs.sign(cognito_claims(username=DROP)), TokenErrorCode.TOKEN_INVALID)


@pytest.mark.parametrize("roles", ["operator", [1, 2], {"operator": True}])
async def test_roles_must_be_a_list_of_strings(verifier: TokenVerifier, keys: Keys, roles: Any) -> None:
    await refused(verifier, keys.local_es.sign(local_claims(roles=roles)), TokenErrorCode.TOKEN_INVALID)


# --- signature, algorithm and key attacks ---


async def test_tampered_payload(verifier: TokenVerifier, keys: Keys) -> None:
    header, _, signature = keys.local_es.sign(local_claims()).split(".")
    payload = b64url(json.dumps(local_claims(sub="admin", roles=["operator", "admin"])).encode())
    await refused(verifier, f"{header}.{payload}.{signature}", TokenErrorCode.TOKEN_INVALID)


async def test_tampered_signature(verifier: TokenVerifier, keys: Keys) -> None:
    header, payload, _ = keys.local_rs.sign(local_claims()).split(".")
    other_signature = keys.local_rs.sign(local_claims(sub="someone-else")).split(".")[2]
    await refused(verifier, f"{header}.{payload}.{other_signature}", TokenErrorCode.TOKEN_INVALID)


async def test_signed_by_unpublished_key_with_a_published_kid(verifier: TokenVerifier, keys: Keys) -> None:
    impostor = es256_key(keys.local_es.kid)
    await refused(verifier, impostor.sign(local_claims()), TokenErrorCode.TOKEN_INVALID)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", ""])
async def test_alg_none(verifier: TokenVerifier, keys: Keys, alg: str) -> None:
    token = forge({"alg": alg, "typ": "JWT", "kid": keys.local_es.kid}, local_claims())
    await refused(verifier, token, TokenErrorCode.TOKEN_INVALID)


@pytest.mark.parametrize("key_name", ["local_rs", "local_es"])
@pytest.mark.parametrize("alg", ["HS256", "HS512"])
async def test_hmac_signed_with_public_key_pem_is_refused(
    verifier: TokenVerifier, keys: Keys, key_name: str, alg: str
) -> None:
    """The classic alg-confusion attack: the public key, which anyone can fetch, used as an HMAC secret."""
    key = getattr(keys, key_name)
    header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid}).encode())
    payload = b64url(json.dumps(local_claims()).encode())
    digest = hashlib.sha256 if alg == "HS256" else hashlib.sha512
    signature = hmac.new(key.public_pem, f"{header}.{payload}".encode(), digest).digest()
    await refused(verifier, f"{header}.{payload}.{b64url(signature)}", TokenErrorCode.TOKEN_INVALID)


async def test_header_alg_must_match_the_keys_algorithm(verifier: TokenVerifier, keys: Keys) -> None:
    # RS256 is allowed for the issuer, but the kid names an EC key.
    token = forge({"alg": "RS256", "kid": keys.local_es.kid}, local_claims(), b"\x00" * 256)
    await refused(verifier, token, TokenErrorCode.TOKEN_INVALID)


async def test_algorithm_outside_the_issuers_list(verifier: TokenVerifier, keys: Keys) -> None:
    # Cognito's issuer accepts RS256 only.
    forged_claims = cognito_claims()
    token = forge({"alg": "ES256", "kid": keys.cognito_rs.kid}, forged_claims, b"\x00" * 64)
    await refused(verifier, token, TokenErrorCode.TOKEN_INVALID)


@pytest.mark.parametrize(
    ("kid", "code"),
    [
        (DROP, TokenErrorCode.TOKEN_INVALID),
        ("", TokenErrorCode.TOKEN_INVALID),
        ("k" * 300, TokenErrorCode.TOKEN_INVALID),
        (5, TokenErrorCode.TOKEN_MALFORMED),  # PyJWT refuses a non-string kid while parsing the header
        (None, TokenErrorCode.TOKEN_MALFORMED),
    ],
)
async def test_kid_is_required(verifier: TokenVerifier, keys: Keys, kid: Any, code: TokenErrorCode) -> None:
    header: dict[str, Any] = {"alg": "ES256", "typ": "JWT"}
    if kid is not DROP:
        header["kid"] = kid
    _, payload, signature = keys.local_es.sign(local_claims()).split(".")
    await refused(verifier, f"{b64url(json.dumps(header).encode())}.{payload}.{signature}", code)


# --- not a JWT at all ---


@pytest.mark.parametrize(
    "token",
    [
        "abc",
        "a.b",
        "a.b.c",
        "...",
        "Bearer eyJhbGciOiJFUzI1NiJ9.e30.",
        "eyJhbGciOiJFUzI1NiJ9.e30.sig.extra.parts",  # a JWE has five parts
        "eyJhbGciOiJFUzI1NiJ9.W10.c2ln",  # payload is a JSON list
        "bm90IGpzb24.e30.c2ln",  # header is not JSON
        "eyJhbGciOiJFUzI1NiJ9 .e30.c2ln",
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln\n",
        "ëyJ.e30.c2ln",
        "e" * 20_000 + ".e30.c2ln",
    ],
)
async def test_garbage_is_malformed(verifier: TokenVerifier, token: str) -> None:
    await refused(verifier, token, TokenErrorCode.TOKEN_MALFORMED)


async def test_empty_token_is_missing(verifier: TokenVerifier) -> None:
    await refused(verifier, "", TokenErrorCode.TOKEN_MISSING)


# --- configuration ---


@pytest.mark.parametrize("algorithms", [("HS256",), ("RS256", "none"), ()])
def test_issuer_config_refuses_symmetric_and_none_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError):
        TrustedIssuer(issuer="x", jwks_url="https://x/jwks", audience="a", algorithms=algorithms)


def test_issuer_helpers_build_both_kinds() -> None:
    assert cognito_issuer("eu-west-1", "eu-west-1_P", "cid") == TrustedIssuer(
        issuer="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P",
        jwks_url="https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P/.well-known/jwks.json",
        audience="cid",
        audience_claim="client_id",
        user_claim="username",
        roles_claim="cognito:groups",
        algorithms=("RS256",),
    )
    moto = cognito_issuer("eu-west-1", "eu-west-1_P", "cid", endpoint_url="http://127.0.0.1:5000/")
    assert moto.jwks_url == "http://127.0.0.1:5000/eu-west-1_P/.well-known/jwks.json"
    assert moto.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_P"
    local = local_issuer("vitalsync-local", "http://127.0.0.1:8081")
    assert (local.jwks_url, local.audience) == ("http://127.0.0.1:8081/.well-known/jwks.json", "vitalsync")


def test_issuers_parse_from_json_settings() -> None:
    raw = json.dumps([{"issuer": "i", "jwks_url": "http://h/jwks", "audience": "a", "algorithms": ["ES256"]}])
    [issuer] = TypeAdapter(list[TrustedIssuer]).validate_json(raw)
    assert issuer.algorithms == ("ES256",)
