"""Bucket queries through the facade: clause semantics, ordering, keyset pagination to the end,
COUNT, and isolation of scopes (the translator itself is tested in tests/integration/kii_query)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.kii_facade.conftest import KiiUser

pytestmark = pytest.mark.integration

OBJECTS = [{"n": n, "name": f"item-{n:02d}", "even": n % 2 == 0} for n in range(23)] + [
    {"name": "no-number"},
    {"n": "7", "name": "string-seven"},
]


async def fill(user: KiiUser, bucket: str) -> dict[str, dict[str, Any]]:
    """Create OBJECTS in order; object id -> body."""
    return {await user.create(bucket, body): body for body in OBJECTS}


async def all_pages(user: KiiUser, bucket: str, request: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Every result of a query, following nextPaginationKey; (results, pages)."""
    results: list[dict[str, Any]] = []
    pages = 0
    while True:
        reply = await user.query(bucket, request)
        assert reply.status == 200, reply.text
        page = reply.json
        assert isinstance(page["queryDescription"], str)
        pages += 1
        results += page["results"]
        if "nextPaginationKey" not in page:
            return results, pages
        assert pages < 50
        request = {**request, "paginationKey": page["nextPaginationKey"]}


def where(clause: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"bucketQuery": {"clause": clause, **extra}}


@pytest.fixture
async def filled(alice: KiiUser) -> tuple[KiiUser, str, dict[str, dict[str, Any]]]:
    bucket = alice.bucket("query-fixture")
    return alice, bucket, await fill(alice, bucket)


async def test_clause_semantics(filled: tuple[KiiUser, str, dict[str, dict[str, Any]]]) -> None:
    user, bucket, objects = filled

    async def names(clause: dict[str, Any]) -> set[str]:
        results, _ = await all_pages(user, bucket, where(clause))
        for result in results:
            assert objects[result["_id"]] == {k: v for k, v in result.items() if not k.startswith("_")}
        return {r["name"] for r in results}

    assert len(await names({"type": "all"})) == len(OBJECTS)
    assert await names({"type": "eq", "field": "n", "value": 7}) == {"item-07"}  # not the string "7"
    assert await names({"type": "eq", "field": "n", "value": "7"}) == {"string-seven"}
    assert await names({"type": "in", "field": "n", "values": [1, 2, 99]}) == {"item-01", "item-02"}
    assert await names(
        {
            "type": "range",
            "field": "n",
            "lowerLimit": 20,
            "lowerIncluded": False,
            "upperLimit": 22,
            "upperIncluded": True,
        }
    ) == {"item-21", "item-22"}
    assert await names({"type": "prefix", "field": "name", "prefix": "item-1"}) == {f"item-1{d}" for d in range(10)}
    assert "no-number" in await names(
        {"type": "not", "clause": {"type": "hasField", "field": "n", "fieldType": "INTEGER"}}
    )
    assert await names(
        {
            "type": "and",
            "clauses": [
                {"type": "eq", "field": "even", "value": True},
                {
                    "type": "or",
                    "clauses": [{"type": "eq", "field": "n", "value": 0}, {"type": "eq", "field": "n", "value": 22}],
                },
            ],
        }
    ) == {"item-00", "item-22"}
    # not(eq) does not match objects without the field (Kii's notEquals)
    assert len(await names({"type": "not", "clause": {"type": "eq", "field": "even", "value": True}})) == 11


@pytest.mark.parametrize("descending", [False, True])
async def test_ordering_and_pagination_to_the_end(
    filled: tuple[KiiUser, str, dict[str, dict[str, Any]]], descending: bool
) -> None:
    user, bucket, _ = filled
    request = {
        "bucketQuery": {
            "clause": {"type": "hasField", "field": "n", "fieldType": "INTEGER"},
            "orderBy": "n",
            "descending": descending,
        },
        "bestEffortLimit": 5,
    }
    results, pages = await all_pages(user, bucket, request)
    numbers = [r["n"] for r in results]
    assert numbers == sorted(range(23), reverse=descending)
    assert pages == 5
    assert len({r["_id"] for r in results}) == 23


async def test_default_order_is_creation_and_system_fields_are_queryable(
    filled: tuple[KiiUser, str, dict[str, dict[str, Any]]],
) -> None:
    user, bucket, objects = filled
    results, _ = await all_pages(user, bucket, {"bucketQuery": {"clause": {"type": "all"}}, "bestEffortLimit": 4})
    assert [r["_id"] for r in results] == list(objects)  # created in that order
    assert all(r["_version"] == "1" and r["_owner"] == user.user_id for r in results)
    first = results[0]
    by_created = await user.query(
        bucket, where({"type": "range", "field": "_created", "upperLimit": first["_created"], "upperIncluded": True})
    )
    assert first["_id"] in {r["_id"] for r in by_created.json["results"]}
    by_owner = await user.query(bucket, where({"type": "eq", "field": "_owner", "value": user.user_id}))
    assert len(by_owner.json["results"]) == len(OBJECTS)


async def test_count(filled: tuple[KiiUser, str, dict[str, dict[str, Any]]]) -> None:
    user, bucket, _ = filled
    assert await user.count(bucket) == len(OBJECTS)
    reply = await user.query(
        bucket,
        {
            "bucketQuery": {
                "clause": {"type": "eq", "field": "even", "value": True},
                "aggregations": [{"type": "COUNT", "putAggregationInto": "count_field"}],
            }
        },
    )
    assert reply.status == 200 and reply.json == {"aggregations": {"count_field": 12}}


async def test_a_pagination_key_only_resumes_its_own_query(
    filled: tuple[KiiUser, str, dict[str, dict[str, Any]]],
) -> None:
    user, bucket, _ = filled
    first = await user.query(bucket, {**where({"type": "all"}, orderBy="n"), "bestEffortLimit": 3})
    key = first.json["nextPaginationKey"]
    other = await user.query(bucket, {**where({"type": "all"}, orderBy="name"), "paginationKey": key})
    assert other.status == 400 and other.error_code == "INVALID_INPUT_DATA"


async def test_queries_see_only_their_own_scope(alice: KiiUser, bob: KiiUser) -> None:
    await alice.create(alice.bucket("same-name"), {"who": "alice"})
    await bob.create(bob.bucket("same-name"), {"who": "bob"})
    await alice.create(alice.bucket("other-name"), {"who": "alice-other"})
    results, _ = await all_pages(alice, alice.bucket("same-name"), where({"type": "all"}))
    assert [r["who"] for r in results] == ["alice"]
    empty = await alice.query(alice.bucket("never-created"), where({"type": "all"}))
    assert empty.status == 200 and empty.json["results"] == [] and "nextPaginationKey" not in empty.json
