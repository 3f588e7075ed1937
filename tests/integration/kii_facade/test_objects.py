"""Object CRUD of the Kii facade in the user and app scopes: status codes, bodies and headers as the
JS SDK 2.4.19 reads them (kii-api.md 2.3 and 8), conditional writes, and race-free versions."""

from __future__ import annotations

import asyncio
import re
import time

import pytest

from tests.integration.kii_facade.conftest import APP_ID, KiiUser

pytestmark = pytest.mark.integration


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_create_then_read_in_the_user_scope(alice: KiiUser) -> None:
    bucket = alice.bucket("notes")
    before = now_ms()
    created = await alice.call("POST", f"{bucket}/objects?disable_cache=123", {"text": "hi", "n": 1, "_owner": "x"})
    assert created.status == 201, created.text
    body = created.json
    assert set(body) == {"objectID", "createdAt", "dataType"}
    assert body["dataType"] == "application/json"
    assert before <= body["createdAt"] <= now_ms()
    assert created.headers["ETag"] == '"1"'
    object_id = body["objectID"]
    assert created.headers["Location"] == (
        f"/api/apps/{APP_ID}/users/{alice.user_id}/buckets/notes/objects/{object_id}"
    )

    read = await alice.call("GET", f"{bucket}/objects/{object_id}?disable_cache=456")
    assert read.status == 200, read.text
    assert read.json == {
        "text": "hi",
        "n": 1,
        "_id": object_id,
        "_owner": alice.user_id,  # the client's _owner was dropped, as Kii drops `_` fields
        "_created": body["createdAt"],
        "_modified": body["createdAt"],
        "_version": "1",
    }
    assert read.headers["ETag"] == '"1"'
    assert read.headers["Content-Type"].startswith("application/json")
    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT", read.headers["Last-Modified"])

    # the caller's own id in the path is the same bucket as `me`
    same = await alice.call("GET", f"{alice.bucket('notes', f'users/{alice.user_id}')}/objects/{object_id}")
    assert same.status == 200 and same.json["_id"] == object_id
    by_name = await alice.call(
        "GET", f"{alice.bucket('notes', f'users/LOGIN_NAME:{alice.login_name}')}/objects/{object_id}"
    )
    assert by_name.status == 200, by_name.text


async def test_typed_content_type_sets_the_data_type(alice: KiiUser) -> None:
    bucket = alice.bucket("typed")
    media = f"application/vnd.{APP_ID}.mydata+json"
    created = await alice.call("POST", f"{bucket}/objects", {"a": 1}, content_type=media)
    assert created.status == 201, created.text
    assert created.json["dataType"] == media
    read = await alice.call("GET", f"{bucket}/objects/{created.json['objectID']}")
    assert read.json["_dataType"] == "mydata"
    assert read.headers["Content-Type"].startswith(media)


async def test_put_creates_with_an_id_then_replaces_the_whole_body(alice: KiiUser) -> None:
    path = f"{alice.bucket('put')}/objects/my-object.1"
    created = await alice.call("PUT", path, {"a": 1, "b": 2})
    assert created.status == 201, created.text
    assert set(created.json) == {"createdAt", "modifiedAt"}
    assert created.json["createdAt"] == created.json["modifiedAt"]
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"].endswith("/buckets/put/objects/my-object.1")

    replaced = await alice.call("PUT", path, {"c": 3})
    assert replaced.status == 200, replaced.text
    assert replaced.json["createdAt"] == created.json["createdAt"]
    assert replaced.json["modifiedAt"] >= created.json["modifiedAt"]
    assert replaced.headers["ETag"] == '"2"'
    read = await alice.call("GET", path)
    assert {k: v for k, v in read.json.items() if not k.startswith("_")} == {"c": 3}
    assert read.json["_version"] == "2"


@pytest.mark.parametrize("if_match", ['"1"', "1", 'W/"1"', '"7", "1"', "*"])
async def test_if_match_accepts_the_quoted_or_bare_version(alice: KiiUser, if_match: str) -> None:
    path = f"{alice.bucket('ifmatch')}/objects/obj-{abs(hash(if_match))}"
    assert (await alice.call("PUT", path, {"v": 1})).status == 201
    updated = await alice.call("PUT", path, {"v": 2}, headers={"If-Match": if_match})
    assert updated.status == 200, updated.text
    assert updated.headers["ETag"] == '"2"'


async def test_a_stale_version_is_refused_and_changes_nothing(alice: KiiUser) -> None:
    bucket = alice.bucket("stale")
    object_id = await alice.create(bucket, {"v": 1})
    path = f"{bucket}/objects/{object_id}"
    assert (await alice.call("PUT", path, {"v": 2}, headers={"If-Match": '"1"'})).status == 200

    for method, headers in (
        ("PUT", {"If-Match": '"1"'}),
        ("PUT", {"If-Match": "1"}),
        ("POST", {"If-Match": "1", "X-HTTP-Method-Override": "PATCH"}),
        ("PUT", {"If-Match": "not-a-version"}),
    ):
        stale = await alice.call(method, path, {"v": 99}, headers=headers)
        assert stale.status == 409, stale.text
        assert stale.error_code == "OBJECT_VERSION_IS_STALE"
    deleted = await alice.call("DELETE", path, headers={"If-Match": '"1"'})
    assert deleted.status == 409 and deleted.error_code == "OBJECT_VERSION_IS_STALE"

    read = await alice.call("GET", path)
    assert read.json["v"] == 2 and read.json["_version"] == "2"


async def test_if_none_match_star_creates_only(alice: KiiUser) -> None:
    path = f"{alice.bucket('create-only')}/objects/only-once"
    first = await alice.call("PUT", path, {"v": 1}, headers={"If-None-Match": "*"})
    assert first.status == 201, first.text
    second = await alice.call("PUT", path, {"v": 2}, headers={"If-None-Match": "*"})
    assert second.status == 409 and second.error_code == "OBJECT_ALREADY_EXISTS"
    assert (await alice.call("GET", path)).json["v"] == 1


async def test_conditions_on_a_missing_object_and_combined_headers(alice: KiiUser) -> None:
    path = f"{alice.bucket('missing')}/objects/nothing-here"
    missing = await alice.call("PUT", path, {"v": 1}, headers={"If-Match": '"1"'})
    assert missing.status == 404 and missing.error_code == "OBJECT_NOT_FOUND"
    both = await alice.call("PUT", path, {"v": 1}, headers={"If-Match": '"1"', "If-None-Match": "*"})
    assert both.status == 400 and both.error_code == "INVALID_INPUT_DATA"
    read = await alice.call("GET", path)
    assert read.status == 404
    assert read.json == {
        "errorCode": "OBJECT_NOT_FOUND",
        "message": "the object does not exist",
        "objectScope": {"appID": APP_ID, "type": "APP_AND_USER", "userID": alice.user_id},
        "bucketID": "missing",
        "objectID": "nothing-here",
    }


async def test_patch_merges_and_returns_the_whole_object(alice: KiiUser) -> None:
    bucket = alice.bucket("patch")
    object_id = await alice.create(bucket, {"a": 1, "b": {"x": 1}, "keep": True})
    path = f"{bucket}/objects/{object_id}"
    patched = await alice.call(
        "POST", path, {"b": {"y": 2}, "c": None, "_version": "9"}, headers={"X-HTTP-Method-Override": "PATCH"}
    )
    assert patched.status == 200, patched.text
    merged = patched.json
    assert {k: v for k, v in merged.items() if not k.startswith("_")} == {
        "a": 1,
        "b": {"y": 2},
        "keep": True,
        "c": None,
    }
    assert merged["_version"] == "2" and merged["_id"] == object_id and merged["_owner"] == alice.user_id
    assert merged["_modified"] >= merged["_created"]
    assert patched.headers["ETag"] == '"2"'
    again = await alice.call("POST", path, {"d": 4}, headers={"X-HTTP-Method-Override": "PATCH", "If-Match": '"2"'})
    assert again.status == 200 and again.json["d"] == 4 and again.json["_version"] == "3"

    missing = await alice.call(
        "POST", f"{bucket}/objects/no-such", {"d": 4}, headers={"X-HTTP-Method-Override": "PATCH"}
    )
    assert missing.status == 404 and missing.error_code == "OBJECT_NOT_FOUND"
    no_override = await alice.call("POST", path, {"d": 5})
    assert no_override.status == 405
    assert (await alice.call("GET", path)).json["d"] == 4


async def test_delete_then_gone(alice: KiiUser) -> None:
    bucket = alice.bucket("delete")
    object_id = await alice.create(bucket, {"a": 1})
    path = f"{bucket}/objects/{object_id}"
    deleted = await alice.call("DELETE", path, headers={"If-Match": '"1"'}, content_type="application/json")
    assert deleted.status == 204 and deleted.text == ""
    assert (await alice.call("GET", path)).error_code == "OBJECT_NOT_FOUND"
    again = await alice.call("DELETE", path)
    assert again.status == 404 and again.error_code == "OBJECT_NOT_FOUND"


async def test_app_scope_readable_by_all_writable_by_the_owner(alice: KiiUser, bob: KiiUser, bucket_name: str) -> None:
    bucket = alice.bucket(bucket_name, "app")
    object_id = await alice.create(bucket, {"score": 1})
    path = f"{bucket}/objects/{object_id}"

    read = await bob.call("GET", path)
    assert read.status == 200 and read.json["_owner"] == alice.user_id
    listed = await bob.query(bucket, {"bucketQuery": {"clause": {"type": "all"}}})
    assert [o["_id"] for o in listed.json["results"]] == [object_id]
    for method, headers in (("PUT", {}), ("POST", {"X-HTTP-Method-Override": "PATCH"}), ("DELETE", {})):
        refused = await bob.call(method, path, {"score": 99} if method != "DELETE" else None, headers=headers)
        assert refused.status == 403 and refused.error_code == "UNAUTHORIZED", refused.text
        assert "score" not in refused.text
    dropped = await bob.call("DELETE", bucket)
    assert dropped.status == 403 and dropped.error_code == "UNAUTHORIZED"

    bobs = await bob.create(bucket, {"score": 2})  # anyone authenticated may create in the app scope
    assert (await alice.call("GET", f"{bucket}/objects/{bobs}")).json["_owner"] == bob.user_id
    assert (await alice.call("PUT", path, {"score": 3})).status == 200
    assert (await alice.call("DELETE", path)).status == 204
    assert await bob.count(bucket) == 1


async def test_drop_a_user_bucket(alice: KiiUser) -> None:
    bucket = alice.bucket("dropme")
    for n in range(3):
        await alice.create(bucket, {"n": n})
    dropped = await alice.call("DELETE", bucket)
    assert dropped.status == 204, dropped.text
    assert await alice.count(bucket) == 0
    again = await alice.call("DELETE", bucket)
    assert again.status == 404 and again.error_code == "BUCKET_NOT_FOUND"


async def test_buckets_and_object_ids_are_case_sensitive(alice: KiiUser) -> None:
    lower, upper = alice.bucket("cased"), alice.bucket("CASED")
    assert (await alice.call("PUT", f"{lower}/objects/ab", {"v": "lower"})).status == 201
    assert (await alice.call("PUT", f"{lower}/objects/AB", {"v": "upper-id"})).status == 201
    assert (await alice.call("PUT", f"{upper}/objects/ab", {"v": "upper-bucket"})).status == 201
    assert (await alice.call("GET", f"{lower}/objects/ab")).json["v"] == "lower"
    assert (await alice.call("GET", f"{lower}/objects/AB")).json["v"] == "upper-id"
    assert (await alice.call("GET", f"{upper}/objects/ab")).json["v"] == "upper-bucket"
    by_id = await alice.query(lower, {"bucketQuery": {"clause": {"type": "eq", "field": "_id", "value": "AB"}}})
    assert [o["v"] for o in by_id.json["results"]] == ["upper-id"]


async def test_concurrent_merges_all_land(alice: KiiUser) -> None:
    bucket = alice.bucket("race")
    object_id = await alice.create(bucket, {"start": 0})
    path = f"{bucket}/objects/{object_id}"
    writers = 12
    replies = await asyncio.gather(
        *(alice.call("POST", path, {f"f{i}": i}, headers={"X-HTTP-Method-Override": "PATCH"}) for i in range(writers))
    )
    assert all(r.status == 200 for r in replies), [r.text for r in replies]
    final = (await alice.call("GET", path)).json
    assert all(final[f"f{i}"] == i for i in range(writers)), final
    assert final["_version"] == str(1 + writers)
    assert sorted(int(r.json["_version"]) for r in replies) == list(range(2, 2 + writers))


async def test_concurrent_conditional_writes_exactly_one_wins(alice: KiiUser) -> None:
    bucket = alice.bucket("race-if-match")
    object_id = await alice.create(bucket, {"v": 0})
    path = f"{bucket}/objects/{object_id}"
    replies = await asyncio.gather(
        *(alice.call("PUT", path, {"v": i}, headers={"If-Match": '"1"'}) for i in range(1, 9))
    )
    statuses = sorted(r.status for r in replies)
    assert statuses == [200] + [409] * 7, [r.text for r in replies]
    assert {r.error_code for r in replies if r.status == 409} == {"OBJECT_VERSION_IS_STALE"}
    winner = next(r for r in replies if r.status == 200)
    final = (await alice.call("GET", path)).json
    assert final["_version"] == "2" and winner.headers["ETag"] == '"2"'


async def test_concurrent_creates_of_one_id(alice: KiiUser) -> None:
    bucket = alice.bucket("race-create")
    create_only = await asyncio.gather(
        *(alice.call("PUT", f"{bucket}/objects/once", {"v": i}, headers={"If-None-Match": "*"}) for i in range(8))
    )
    assert sorted(r.status for r in create_only) == [201] + [409] * 7, [r.text for r in create_only]
    upserts = await asyncio.gather(*(alice.call("PUT", f"{bucket}/objects/upsert", {"v": i}) for i in range(8)))
    assert sorted(r.status for r in upserts) == [200] * 7 + [201], [r.text for r in upserts]
    final = (await alice.call("GET", f"{bucket}/objects/upsert")).json
    assert final["_version"] == "8"
    assert await alice.count(bucket) == 2
