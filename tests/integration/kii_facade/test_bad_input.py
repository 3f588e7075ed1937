"""Issue 4 item 8 for the Kii facade: every kind of bad input gets a clear 4xx with Kii's error code,
and nothing of a refused request is stored."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.sync.kii.payload import MAX_OBJECT_CHARS
from tests.integration.kii_facade.conftest import APP_ID, KiiUser

pytestmark = pytest.mark.integration

TOO_LARGE = "REQUEST_ENTITY_TOO_LARGE"
# (case, raw body, content type, status, errorCode)
BAD_OBJECTS: list[tuple[str, bytes | str, str | None, int, str]] = [
    ("malformed JSON", '{"a": 1', "application/json", 400, "INVALID_JSON"),
    ("trailing garbage", '{"a": 1} x', "application/json", 400, "INVALID_JSON"),
    ("empty body", "", "application/json", 400, "INVALID_JSON"),
    ("not UTF-8", b'{"a": "\xff"}', "application/json", 400, "INVALID_JSON"),
    ("NaN literal", '{"a": NaN}', "application/json", 400, "INVALID_JSON"),
    ("Infinity literal", '{"a": -Infinity}', "application/json", 400, "INVALID_JSON"),
    ("number beyond a double", '{"a": 1e400}', "application/json", 400, "INVALID_INPUT_DATA"),
    ("a JSON array", "[1, 2]", "application/json", 400, "INVALID_INPUT_DATA"),
    ("a JSON string", '"text"', "application/json", 400, "INVALID_INPUT_DATA"),
    ("JSON null", "null", "application/json", 400, "INVALID_INPUT_DATA"),
    ("lone surrogate", '{"a": "\\ud800"}', "application/json", 400, "INVALID_INPUT_DATA"),
    ("nested 33 levels", '{"a":' * 32 + "1" + "}" * 32, "application/json", 400, "INVALID_INPUT_DATA"),
    ("text/plain", '{"a": 1}', "text/plain", 400, "INVALID_INPUT_DATA"),
    ("form", "a=1", "application/x-www-form-urlencoded", 400, "INVALID_INPUT_DATA"),
    ("XML", "<a>1</a>", "application/xml", 400, "INVALID_INPUT_DATA"),
    ("no content type", '{"a": 1}', None, 400, "INVALID_INPUT_DATA"),
    ("bad data type", '{"a": 1}', f"application/vnd.{APP_ID}.bad type+json", 400, "INVALID_INPUT_DATA"),
    ("over 65534 characters", json.dumps({"a": "x" * MAX_OBJECT_CHARS}), "application/json", 413, TOO_LARGE),
    ("over the byte cap", json.dumps({"a": "x" * (1024 * 1024)}), "application/json", 413, TOO_LARGE),
]


@pytest.mark.parametrize(
    ("case", "raw", "content_type", "status", "code"), BAD_OBJECTS, ids=[c[0] for c in BAD_OBJECTS]
)
@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_bad_object_bodies_are_refused_and_not_stored(
    member: KiiUser, method: str, case: str, raw: bytes | str, content_type: str | None, status: int, code: str
) -> None:
    bucket = member.bucket("bad-bodies")
    path = f"{bucket}/objects" if method == "POST" else f"{bucket}/objects/put-target"
    reply = await member.call(method, path, raw=raw, content_type=content_type)
    assert reply.status == status, reply.text
    assert reply.error_code == code, reply.text
    assert "%" not in reply.json["message"]
    assert await member.count(bucket) == 0


async def test_the_size_limit_is_on_characters_and_counts_a_merge(member: KiiUser) -> None:
    bucket = member.bucket("sizes")
    filler = MAX_OBJECT_CHARS - len('{"a":""}')
    assert (await member.call("PUT", f"{bucket}/objects/max", {"a": "x" * filler})).status == 201
    # multi-byte characters count once: 65,534 characters of JSON is more than 65,534 bytes
    wide = await member.call("PUT", f"{bucket}/objects/wide", {"a": "é" * filler})
    assert wide.status == 201, wide.text
    over = await member.call("PUT", f"{bucket}/objects/over", {"a": "x" * (filler + 1)})
    assert over.status == 413 and over.error_code == "REQUEST_ENTITY_TOO_LARGE"

    small = await member.create(bucket, {"a": "x" * (filler - 20)})
    merged = await member.call(
        "POST", f"{bucket}/objects/{small}", {"b": "y" * 40}, headers={"X-HTTP-Method-Override": "PATCH"}
    )
    assert merged.status == 413, merged.text
    kept = await member.call("GET", f"{bucket}/objects/{small}")
    assert "b" not in kept.json and kept.json["_version"] == "1"
    assert await member.count(bucket) == 3


@pytest.mark.parametrize(
    ("bucket", "object_id", "code"),
    [
        ("a", "ok-id", "INVALID_BUCKET"),
        ("b" * 65, "ok-id", "INVALID_BUCKET"),
        ("bad$name", "ok-id", "INVALID_BUCKET"),
        ("bad.name", "ok-id", "INVALID_BUCKET"),
        ("CRYPTO:secret", "ok-id", "INVALID_BUCKET"),
        ("good", "a", "INVALID_OBJECT_ID"),
        ("good", "o" * 101, "INVALID_OBJECT_ID"),
        ("good", "has%20space", "INVALID_OBJECT_ID"),
        ("good", "colon:id", "INVALID_OBJECT_ID"),
        ("good", "%C3%A9t%C3%A9", "INVALID_OBJECT_ID"),
    ],
)
async def test_invalid_bucket_and_object_ids(member: KiiUser, bucket: str, object_id: str, code: str) -> None:
    base = member.bucket(bucket)
    attempts: list[tuple[str, str, Any]] = [
        ("PUT", f"{base}/objects/{object_id}", {"a": 1}),
        ("GET", f"{base}/objects/{object_id}", None),
        ("DELETE", f"{base}/objects/{object_id}", None),
    ]
    if code == "INVALID_BUCKET":
        attempts += [("POST", f"{base}/objects", {"a": 1}), ("POST", f"{base}/query", {"bucketQuery": {}})]
    for method, path, body in attempts:
        reply = await member.call(method, path, body)
        assert reply.status == 400, (method, path, reply.text)
        assert reply.error_code == code, (method, path, reply.text)
    assert await member.count(member.bucket("good")) == 0


def nested_not(depth: int) -> dict[str, Any]:
    clause: dict[str, Any] = {"type": "eq", "field": "a", "value": 1}
    for _ in range(depth - 1):
        clause = {"type": "not", "clause": clause}
    return clause


BAD_QUERIES: list[tuple[str, Any, str]] = [
    ("not an object", [1], "INVALID_INPUT_DATA"),
    ("no bucketQuery", {"clause": {"type": "all"}}, "INVALID_INPUT_DATA"),
    ("no clause", {"bucketQuery": {}}, "INVALID_INPUT_DATA"),
    (
        "field of the wrong type",
        {"bucketQuery": {"clause": {"type": "eq", "field": 5, "value": 1}}},
        "INVALID_INPUT_DATA",
    ),
    (
        "value of the wrong type",
        {"bucketQuery": {"clause": {"type": "eq", "field": "a", "value": [1]}}},
        "INVALID_INPUT_DATA",
    ),
    ("limit not a number", {"bucketQuery": {"clause": {"type": "all"}}, "bestEffortLimit": "10"}, "INVALID_INPUT_DATA"),
    (
        "descending not a boolean",
        {"bucketQuery": {"clause": {"type": "all"}, "orderBy": "a", "descending": "yes"}},
        "INVALID_INPUT_DATA",
    ),
    (
        "forged pagination key",
        {"bucketQuery": {"clause": {"type": "all"}}, "paginationKey": "eyJ2IjoxfQ"},
        "INVALID_INPUT_DATA",
    ),
    (
        "SQL in a field name",
        {"bucketQuery": {"clause": {"type": "eq", "field": "a') OR 1=1 --", "value": 1}}},
        "INVALID_INPUT_DATA",
    ),
    (
        "unknown clause",
        {"bucketQuery": {"clause": {"type": "regex", "field": "a", "pattern": "."}}},
        "QUERY_NOT_SUPPORTED",
    ),
    ("geo clause", {"bucketQuery": {"clause": {"type": "geobox", "field": "p", "box": {}}}}, "QUERY_NOT_SUPPORTED"),
    ("clauses 11 deep", {"bucketQuery": {"clause": nested_not(11)}}, "QUERY_NOT_SUPPORTED"),
    (
        "201 clauses",
        {
            "bucketQuery": {
                "clause": {"type": "or", "clauses": [{"type": "eq", "field": "a", "value": i} for i in range(200)]}
            }
        },
        "QUERY_NOT_SUPPORTED",
    ),
    (
        "in with 201 values",
        {"bucketQuery": {"clause": {"type": "in", "field": "a", "values": list(range(201))}}},
        "INVALID_INPUT_DATA",
    ),
    (
        "COUNT with a pagination key",
        {
            "bucketQuery": {"clause": {"type": "all"}, "aggregations": [{"type": "COUNT", "putAggregationInto": "n"}]},
            "paginationKey": "abc",
        },
        "QUERY_NOT_SUPPORTED",
    ),
]


@pytest.mark.parametrize(("case", "request_body", "code"), BAD_QUERIES, ids=[c[0] for c in BAD_QUERIES])
async def test_bad_queries_are_400(member: KiiUser, case: str, request_body: Any, code: str) -> None:
    bucket = member.bucket("bad-queries")
    await member.create(bucket, {"a": 1})
    reply = await member.query(bucket, request_body)
    assert reply.status == 400, reply.text
    assert reply.error_code == code, reply.text


async def test_malformed_query_bodies(member: KiiUser) -> None:
    bucket = member.bucket("bad-query-bodies")
    for raw, content_type, status, code in (
        ("{", "application/vnd.kii.QueryRequest+json", 400, "INVALID_JSON"),
        ('{"bucketQuery": {"clause": {"type": "all"}}}', "text/plain", 400, "INVALID_INPUT_DATA"),
        ("x" * (300 * 1024), "application/json", 413, "REQUEST_ENTITY_TOO_LARGE"),
    ):
        reply = await member.call("POST", f"{bucket}/query", raw=raw, content_type=content_type)
        assert (reply.status, reply.error_code) == (status, code), reply.text


async def test_unknown_query_parameters_and_request_fields_are_ignored(member: KiiUser) -> None:
    bucket = member.bucket("ignored")
    object_id = await member.create(bucket, {"a": 1})
    read = await member.call("GET", f"{bucket}/objects/{object_id}?disable_cache=123&foo=bar&foo=baz")
    assert read.status == 200 and read.json["a"] == 1
    query = await member.call(
        "POST",
        f"{bucket}/query?disable_cache=1",
        {"bucketQuery": {"clause": {"type": "all"}, "extra": 1}, "whatever": True},
        content_type="application/vnd.kii.QueryRequest+json",
    )
    assert query.status == 200 and [o["_id"] for o in query.json["results"]] == [object_id]
    # Kii objects are schemaless: every client field is kept, except the system's `_` fields
    created = await member.call("POST", f"{bucket}/objects", {"anything": {"_nested": "kept"}, "_id": "dropped"})
    stored = await member.call("GET", f"{bucket}/objects/{created.json['objectID']}")
    assert stored.json["anything"] == {"_nested": "kept"} and stored.json["_id"] == created.json["objectID"]


async def test_vendor_and_sdk_content_types_are_accepted(member: KiiUser) -> None:
    bucket = member.bucket("media-types")
    for content_type in (
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/vnd.kii.ObjectCreationRequest+json",
        f'application/vnd.{APP_ID}.reading+json"',  # JS SDK v3's stray quote (kii-api.md 2.3)
    ):
        reply = await member.call("POST", f"{bucket}/objects", {"a": 1}, content_type=content_type)
        assert reply.status == 201, (content_type, reply.text)
    assert await member.count(bucket) == 4
