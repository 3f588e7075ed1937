"""Default access rules: another user's bucket is refused on every route without a byte of its data,
anonymous calls are 401, tokens and application keys are checked, things are the caller's devices,
groups do not exist."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.kii_facade.conftest import APP_ID, KiiUser

pytestmark = pytest.mark.integration

SECRET = "top-secret-value"


def routes(bucket: str, object_id: str) -> list[tuple[str, str, dict[str, Any] | None, dict[str, str]]]:
    """Every facade route on one bucket: (method, path, body, headers)."""
    query = {"bucketQuery": {"clause": {"type": "all"}}}
    count = {"bucketQuery": {"clause": {"type": "all"}, "aggregations": [{"type": "COUNT", "putAggregationInto": "n"}]}}
    return [
        ("GET", f"{bucket}/objects/{object_id}", None, {}),
        ("POST", f"{bucket}/objects", {"secret": "new"}, {}),
        ("PUT", f"{bucket}/objects/{object_id}", {"secret": "replaced"}, {}),
        ("PUT", f"{bucket}/objects/brand-new-id", {"secret": "new"}, {}),
        ("POST", f"{bucket}/objects/{object_id}", {"secret": "patched"}, {"X-HTTP-Method-Override": "PATCH"}),
        ("DELETE", f"{bucket}/objects/{object_id}", None, {}),
        ("POST", f"{bucket}/query", query, {}),
        ("POST", f"{bucket}/query", count, {}),
        ("DELETE", bucket, None, {}),
    ]


async def test_another_users_bucket_is_refused_without_data(alice: KiiUser, bob: KiiUser) -> None:
    object_id = await alice.create(alice.bucket("private"), {"secret": SECRET})
    for other_path in (f"users/{alice.user_id}", f"users/LOGIN_NAME:{alice.login_name}", "users/EMAIL:x@example.com"):
        for method, path, body, headers in routes(bob.bucket("private", other_path), object_id):
            reply = await bob.call(method, path, body, headers=headers)
            assert reply.status == 403, (method, path, reply.text)
            assert reply.json == {
                "errorCode": "UNAUTHORIZED",
                "message": "the authenticated user may not do this: the bucket belongs to another user",
                "authenticatedAppID": APP_ID,
                "authenticatedPrincipalID": bob.user_id,
            }
    mine = await alice.call("GET", f"{alice.bucket('private')}/objects/{object_id}")
    assert mine.json["secret"] == SECRET and mine.json["_version"] == "1"
    assert await alice.count(alice.bucket("private")) == 1


async def test_anonymous_calls_are_401(alice: KiiUser) -> None:
    object_id = await alice.create(alice.bucket("anon"), {"secret": SECRET})
    for bucket in (alice.bucket("anon", f"users/{alice.user_id}"), alice.bucket("anon-app", "app")):
        for method, path, body, headers in routes(bucket, object_id):
            reply = await alice.call(method, path, body, headers=headers, auth=False)
            assert reply.status == 401, (method, path, reply.text)
            assert reply.error_code == "UNAUTHORIZED"
            assert SECRET not in reply.text


async def test_tokens_and_application_keys_are_checked(alice: KiiUser) -> None:
    path = f"{alice.bucket('keys')}/objects"
    forged = await alice.call("POST", path, {"a": 1}, headers={"Authorization": f"Bearer {alice.token}x"})
    assert forged.status == 403 and forged.error_code == "WRONG_TOKEN"
    # a bearer token authenticates on its own, but a key that is sent must be the application's
    wrong_key = await alice.call("POST", path, {"a": 1}, headers={"X-Kii-AppKey": "not-the-key"})
    assert wrong_key.status == 401 and wrong_key.error_code == "UNAUTHORIZED"
    unknown_app = await alice.call("POST", "/api/apps/no-such-app/users/me/buckets/keys/objects", {"a": 1})
    assert unknown_app.status == 404 and unknown_app.error_code == "APP_NOT_FOUND"
    other_header = await alice.call("POST", path, {"a": 1}, headers={"X-Kii-AppID": "another-app"})
    assert other_header.status == 404 and other_header.error_code == "APP_NOT_FOUND"
    assert await alice.count(alice.bucket("keys")) == 0


async def test_groups_do_not_exist(alice: KiiUser) -> None:
    bucket = alice.bucket("shared", f"groups/{uuid.uuid4()}")
    for method, path, body, headers in routes(bucket, "some-object"):
        reply = await alice.call(method, path, body, headers=headers)
        assert reply.status == 404 and reply.error_code == "GROUP_NOT_FOUND", (method, path, reply.text)


async def test_thing_scope_is_the_owner_of_the_paired_device(alice: KiiUser, bob: KiiUser) -> None:
    paired = await alice.call(
        "POST",
        "/v1/devices",
        {"kind": "weight", "model": "VS-SCALE", "serial": f"S{uuid.uuid4().hex[:10]}"},
        content_type="application/json",
    )
    assert paired.status == 201, paired.text
    device_id = paired.json["id"]
    bucket = alice.bucket("thing-data", f"things/{device_id}")

    object_id = await alice.create(bucket, {"secret": SECRET})
    assert (await alice.call("GET", f"{bucket}/objects/{object_id}")).json["secret"] == SECRET
    assert (await alice.query(bucket, {"bucketQuery": {"clause": {"type": "all"}}})).json["results"][0]["_id"] == (
        object_id
    )
    for method, path, body, headers in routes(bob.bucket("thing-data", f"things/{device_id}"), object_id):
        reply = await bob.call(method, path, body, headers=headers)
        assert reply.status == 403 and reply.error_code == "UNAUTHORIZED", (method, path, reply.text)
        assert SECRET not in reply.text
    for thing in (str(uuid.uuid4()), "VENDOR_THING_ID:abc", "th.unknown", "%C3%A9t%C3%A9", "x" * 200):
        refused = await alice.call("GET", f"{alice.bucket('thing-data', f'things/{thing}')}/objects/{object_id}")
        assert refused.status == 403 and refused.error_code == "UNAUTHORIZED"

    assert (await alice.call("DELETE", f"/v1/devices/{device_id}")).status == 204
    unpaired = await alice.call("GET", f"{bucket}/objects/{object_id}")
    assert unpaired.status == 403 and unpaired.error_code == "UNAUTHORIZED"


async def test_the_facade_speaks_kii_errors_only_under_api(alice: KiiUser) -> None:
    unknown = await alice.call("GET", f"/api/apps/{APP_ID}/users/me/buckets/b1/objects/o1/body")
    assert unknown.status == 404 and unknown.error_code == "NOT_FOUND"
    protocol = await alice.call("GET", "/v1/devices/not-a-device")
    assert protocol.status == 404 and "error" in protocol.json  # the protocol's own error shape
