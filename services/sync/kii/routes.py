"""Kii-compatible buckets and objects (DESIGN 6; kii-api.md 2, 5 and 8; issue 4 items 6 and 8).

Every route exists in the app scope (``/api/apps/{app}/buckets/{b}``) and in the user, group and
thing scopes (``/api/apps/{app}/{users|groups|things}/{id}/buckets/{b}``):

- ``POST .../objects``: create (201 ``{objectID, createdAt, dataType}``, Location, ETag ``"1"``).
- ``GET .../objects/{id}``: the object with its system fields, ETag, Last-Modified.
- ``PUT .../objects/{id}``: create with that id (201) or replace (200), ``{createdAt, modifiedAt}``.
- ``POST .../objects/{id}`` + ``X-HTTP-Method-Override: PATCH``: merge; the whole object back.
- ``DELETE .../objects/{id}``: 204. ``POST .../query``: one page or a COUNT. ``DELETE {bucket}``: drop.

Order of checks: application, token (401/403), identifiers in the path (400), body (400/413),
access to the scope and object (403, 404), then the object's state (404/409). Writes are
optimistic: a conditional UPDATE on the version read, and a lost race is retried from a fresh
snapshot, or answered OBJECT_VERSION_IS_STALE when the client named the version.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiomysql
import pymysql
from aiohttp import web

from services.sync.keys import SYNC_SETTINGS
from services.sync.kii import objects_repo, responses
from services.sync.kii.access import Access, BucketAction, ObjectAction, check_bucket, check_object, resolve
from services.sync.kii.conditions import Conditions, conditions, etag
from services.sync.kii.errors import KiiError as KiiDomainError
from services.sync.kii.objects_repo import StoredObject
from services.sync.kii.payload import check_object as check_object_body
from services.sync.kii.payload import read_object, read_query
from services.sync.kii.projection import (
    KII_MAPPING,
    EventTarget,
    MappedEntry,
    mapped_entry,
    project_delete,
    project_write,
)
from services.sync.kii.query_model import KiiQuery, parse_query
from services.sync.kii.query_sql import ObjectScope, build_count_sql, build_sql, page_from_rows
from services.sync.kii.responses import DATA_TYPE_FIELD
from services.sync.kii.scopes import ScopeRef, object_id, object_path, scope_ref
from services.sync.transactions import read_only
from shared.auth.middleware import authenticate
from shared.db.pool import DB_POOL
from shared.db.transactions import rollback_after
from shared.kii.errors import KiiError, check_app, kii_error_middleware
from shared.legacy.transform import default_mapping
from shared.store.change_log import lock_user
from shared.web.errors import ApiError

log = logging.getLogger(__name__)

APP_BUCKET = "/api/apps/{app}/buckets/{bucket}"
SCOPED_BUCKET = "/api/apps/{app}/{collection:users|groups|things}/{scope_id}/buckets/{bucket}"
# Attempts of one write. The first reads without a lock (optimistic: the conditional UPDATE detects a
# concurrent writer); the retries read with FOR UPDATE, which sees the latest version and holds it,
# so a write that lost a race wins its second attempt.
WRITE_ATTEMPTS = 4
_DEADLOCK = 1213
_RETRY_AFTER_S = "5"
Work = Callable[[aiomysql.Cursor, Access, bool], Awaitable[web.Response]]


class _LostRaceError(Exception):
    """Another writer changed the object after it was read; the write starts again."""


def install(app: web.Application) -> None:
    """Mount the bucket routes, Kii's error shape on ``/api/`` paths, and the default bucket mapping."""
    app.middlewares.append(kii_error_middleware(kii_error_for))
    app[KII_MAPPING] = default_mapping()
    for bucket in (APP_BUCKET, SCOPED_BUCKET):
        app.router.add_post(f"{bucket}/objects", create_object)
        app.router.add_get(f"{bucket}/objects/{{object}}", get_object)
        app.router.add_put(f"{bucket}/objects/{{object}}", put_object)
        app.router.add_post(f"{bucket}/objects/{{object}}", patch_object)
        app.router.add_delete(f"{bucket}/objects/{{object}}", delete_object)
        app.router.add_post(f"{bucket}/query", query_bucket)
        app.router.add_delete(bucket, drop_bucket)


def kii_error_for(exc: Exception) -> KiiError | None:
    """Kii's code and status for the errors below the routes (kii-api.md section 5)."""
    if isinstance(exc, KiiDomainError):  # the query translator's INVALID_INPUT_DATA / QUERY_NOT_SUPPORTED
        return KiiError(400, exc.code, exc.message)
    if isinstance(exc, ApiError):  # authentication, as the auth service's Kii facade answers it
        if exc.status == 401 and exc.code == "TOKEN_MISSING":
            return KiiError(401, "UNAUTHORIZED", "an access token is required")
        if exc.status == 401:
            return KiiError(403, "WRONG_TOKEN", "the access token is invalid, expired or revoked")
        if exc.status == 503:
            return KiiError(503, "RESOURCE_TEMPORARILY_UNAVAILABLE", exc.message, {"Retry-After": _RETRY_AFTER_S})
        return KiiError(exc.status, exc.code, exc.message)
    if isinstance(exc, pymysql.err.OperationalError):
        log.warning("kii facade: database unavailable: %s", type(exc).__name__)
        return KiiError(
            503,
            "RESOURCE_TEMPORARILY_UNAVAILABLE",
            "the store is unavailable; retry later",
            {"Retry-After": _RETRY_AFTER_S},
        )
    return None


# -- the request's context ---------------------------------------------------------------------


async def _caller_and_bucket(request: web.Request) -> tuple[str, ScopeRef]:
    """Check the application and the token, then the bucket id in the path."""
    app_id = check_app(request, request.app[SYNC_SETTINGS].kii_apps, request.match_info["app"])
    principal = await authenticate(request)
    return principal.user_id, scope_ref(request, app_id)


def _mapped(request: web.Request, ref: ScopeRef, caller: str) -> MappedEntry | None:
    # a user scope other than the caller's is refused by resolve(); its writes never get this far
    if ref.scope_type != "user":
        return None
    return mapped_entry(request.app[KII_MAPPING], ObjectScope(ref.app_id, "user", caller, ref.bucket))


def _events(request: web.Request) -> EventTarget:
    settings = request.app[SYNC_SETTINGS]
    return EventTarget(settings.region, settings.events_topic)


@asynccontextmanager
async def _transaction(pool: aiomysql.Pool, lock_user_id: str | None) -> AsyncIterator[aiomysql.Cursor]:
    """A write transaction; a mapped bucket's first holds the user lock, as change_log writers must."""
    async with pool.acquire() as conn, conn.cursor() as cur:
        await conn.begin()
        try:
            if lock_user_id is not None and not await lock_user(cur, lock_user_id):
                raise KiiError(403, "UNAUTHORIZED", "the token's user has no account here")
            yield cur
            await conn.commit()
        except BaseException:
            await rollback_after(conn)
            raise


async def _write(request: web.Request, ref: ScopeRef, caller: str, work: Work) -> web.Response:
    """Run ``work`` in a write transaction, again from a fresh snapshot when it lost a race."""
    lock = caller if _mapped(request, ref, caller) is not None else None
    for attempt in range(WRITE_ATTEMPTS):
        try:
            async with _transaction(request.app[DB_POOL], lock) as cur:
                return await work(cur, await resolve(cur, ref, caller), attempt > 0)
        except _LostRaceError:
            continue
        except pymysql.err.OperationalError as exc:
            if not exc.args or exc.args[0] != _DEADLOCK:
                raise
    raise KiiError(409, "OBJECT_CONFLICT", "the object kept changing while it was written; retry")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _with_data_type(fields: dict[str, Any], data_type: str | None) -> dict[str, Any]:
    body = {**fields, DATA_TYPE_FIELD: data_type} if data_type is not None else dict(fields)
    check_object_body(body)
    return body


async def _project(
    request: web.Request, cur: aiomysql.Cursor, scope: ObjectScope, before: StoredObject | None, after: StoredObject
) -> None:
    entry = mapped_entry(request.app[KII_MAPPING], scope)
    if entry is not None:
        await project_write(cur, request.app[KII_MAPPING], entry, scope, before, after, _events(request))


# -- objects -----------------------------------------------------------------------------------


async def create_object(request: web.Request) -> web.Response:
    """``POST {bucket}/objects``: a new object with a server-chosen id."""
    caller, ref = await _caller_and_bucket(request)
    payload = await read_object(request, ref.app_id)
    body = _with_data_type(payload.fields, payload.data_type)

    async def work(cur: aiomysql.Cursor, access: Access, locking: bool) -> web.Response:
        check_bucket(access, BucketAction.CREATE)
        stored = await objects_repo.insert_object(cur, access.scope, str(uuid.uuid4()), caller, body, _now_ms())
        if stored is None:
            raise _LostRaceError
        await _project(request, cur, access.scope, None, stored)
        return web.json_response(
            {"objectID": stored.object_id, "createdAt": stored.created_at, "dataType": payload.media_type},
            status=201,
            content_type="application/vnd.kii.ObjectCreationResponse+json",
            headers={"ETag": etag(stored.version), "Location": object_path(access.scope, stored.object_id)},
        )

    return await _write(request, ref, caller, work)


async def get_object(request: web.Request) -> web.Response:
    """``GET {bucket}/objects/{id}``."""
    caller, ref = await _caller_and_bucket(request)
    wanted = object_id(request.match_info["object"])
    async with read_only(request.app[DB_POOL]) as cur:
        access = await resolve(cur, ref, caller)
        stored = await objects_repo.get_object(cur, access.scope, wanted)
    if stored is None:
        raise responses.not_found(access.scope, wanted)
    check_object(access, ObjectAction.READ, stored.owner_id)
    return responses.object_response(stored, ref.app_id)


async def put_object(request: web.Request) -> web.Response:
    """``PUT {bucket}/objects/{id}``: create with this id, or replace the whole body."""
    caller, ref = await _caller_and_bucket(request)
    wanted = object_id(request.match_info["object"])
    expect = conditions(request)
    payload = await read_object(request, ref.app_id)
    body = _with_data_type(payload.fields, payload.data_type)

    async def work(cur: aiomysql.Cursor, access: Access, locking: bool) -> web.Response:
        current = await objects_repo.get_object(cur, access.scope, wanted, for_update=locking)
        if current is None:
            if expect.if_match is not None:
                raise responses.not_found(access.scope, wanted)
            check_bucket(access, BucketAction.CREATE)
            stored = await objects_repo.insert_object(cur, access.scope, wanted, caller, body, _now_ms())
            if stored is None:  # created meanwhile by another writer
                if expect.create_only:
                    raise responses.already_exists(access.scope, wanted)
                raise _LostRaceError
            await _project(request, cur, access.scope, None, stored)
            return responses.write_response(stored, access.scope, created=True)
        if expect.create_only:
            raise responses.already_exists(access.scope, wanted)
        updated = await _update(cur, access, current, expect, body)
        await _project(request, cur, access.scope, current, updated)
        return responses.write_response(updated, access.scope, created=False)

    return await _write(request, ref, caller, work)


async def patch_object(request: web.Request) -> web.Response:
    """``POST {bucket}/objects/{id}`` with ``X-HTTP-Method-Override: PATCH``: merge top-level fields."""
    if request.headers.get("X-HTTP-Method-Override", "").strip().upper() != "PATCH":
        raise KiiError(
            405,
            "OPERATION_NOT_SUPPORTED",
            "POST on an object is a partial update: send X-HTTP-Method-Override: PATCH",
            headers={"Allow": "GET, HEAD, PUT, DELETE, POST"},
        )
    caller, ref = await _caller_and_bucket(request)
    wanted = object_id(request.match_info["object"])
    expect = conditions(request)
    payload = await read_object(request, ref.app_id)

    async def work(cur: aiomysql.Cursor, access: Access, locking: bool) -> web.Response:
        current = await objects_repo.get_object(cur, access.scope, wanted, for_update=locking)
        if current is None:
            raise responses.not_found(access.scope, wanted)
        if expect.create_only:
            raise responses.already_exists(access.scope, wanted)
        merged = {**current.body, **payload.fields}
        if payload.data_type is not None:
            merged[DATA_TYPE_FIELD] = payload.data_type
        check_object_body(merged)
        updated = await _update(cur, access, current, expect, merged)
        await _project(request, cur, access.scope, current, updated)
        return responses.object_response(updated, ref.app_id)

    return await _write(request, ref, caller, work)


async def _update(
    cur: aiomysql.Cursor, access: Access, current: StoredObject, expect: Conditions, body: dict[str, Any]
) -> StoredObject:
    """The conditional UPDATE shared by replace and merge."""
    check_object(access, ObjectAction.WRITE, current.owner_id)
    if not expect.matches(current.version):
        raise responses.stale(current)
    updated = await objects_repo.update_object(cur, current, body, max(_now_ms(), current.created_at))
    if updated is None:
        if expect.if_match is not None:  # the version the client named is gone
            raise responses.stale(current)
        raise _LostRaceError
    return updated


async def delete_object(request: web.Request) -> web.Response:
    """``DELETE {bucket}/objects/{id}`` (If-Match honoured)."""
    caller, ref = await _caller_and_bucket(request)
    wanted = object_id(request.match_info["object"])
    expect = conditions(request)

    async def work(cur: aiomysql.Cursor, access: Access, locking: bool) -> web.Response:
        current = await objects_repo.get_object(cur, access.scope, wanted, for_update=locking)
        if current is None:
            raise responses.not_found(access.scope, wanted)
        check_object(access, ObjectAction.WRITE, current.owner_id)
        if not expect.matches(current.version):
            raise responses.stale(current)
        if not await objects_repo.delete_object(cur, current):
            if expect.if_match is not None:
                raise responses.stale(current)
            raise _LostRaceError
        entry = mapped_entry(request.app[KII_MAPPING], access.scope)
        if entry is not None:
            await project_delete(cur, request.app[KII_MAPPING], entry, access.scope, current, _events(request))
        return web.Response(status=204)

    return await _write(request, ref, caller, work)


# -- buckets -----------------------------------------------------------------------------------


async def query_bucket(request: web.Request) -> web.Response:
    """``POST {bucket}/query``: one page of objects, or ``{aggregations: {field: n}}`` for COUNT."""
    caller, ref = await _caller_and_bucket(request)
    query = parse_query(await read_query(request))
    async with read_only(request.app[DB_POOL]) as cur:
        access = await resolve(cur, ref, caller)
        check_bucket(access, BucketAction.QUERY)
        if query.count_field is not None:
            rows = await objects_repo.fetch_rows(cur, build_count_sql(query, access.scope))
            return web.json_response({"aggregations": {query.count_field: int(rows[0][0])}})
        rows = await objects_repo.fetch_rows(cur, build_sql(query, access.scope))
    page = page_from_rows(query, rows)
    results = [objects_repo.kii_object_from_row(row) for row in page.rows]
    response: dict[str, Any] = {"queryDescription": describe(query), "results": results}
    if page.next_pagination_key is not None:
        response["nextPaginationKey"] = page.next_pagination_key
    return web.json_response(response, content_type="application/vnd.kii.QueryResponse+json")


async def drop_bucket(request: web.Request) -> web.Response:
    """``DELETE {bucket}``: the bucket and all its objects; the scope's owner only."""
    caller, ref = await _caller_and_bucket(request)

    async def work(cur: aiomysql.Cursor, access: Access, locking: bool) -> web.Response:
        check_bucket(access, BucketAction.DROP)
        entry = mapped_entry(request.app[KII_MAPPING], access.scope)
        if entry is not None:
            for stored in await objects_repo.bucket_objects(cur, access.scope):
                await project_delete(cur, request.app[KII_MAPPING], entry, access.scope, stored, _events(request))
        if await objects_repo.drop_bucket(cur, access.scope) == 0:
            raise KiiError(404, "BUCKET_NOT_FOUND", "the bucket does not exist", bucketID=access.scope.bucket)
        return web.Response(status=204)

    return await _write(request, ref, caller, work)


def describe(query: KiiQuery) -> str:
    """Kii's ``queryDescription``: a readable summary (clients do not parse it)."""
    order = f" ORDER BY {query.order_by} {'DESC' if query.descending else 'ASC'}" if query.order_by else ""
    return f"WHERE ( {type(query.clause).__name__.removesuffix('Clause').lower()} ){order}"
