"""Kii-shaped responses of the object routes: bodies, headers and the errors that carry context.

kii-api.md 2.3 and 8: the SDK reads ``ETag`` after every create, replace and patch; a read carries
``ETag``, ``Last-Modified`` and the object's media type; OBJECT_NOT_FOUND names the scope, bucket and
object (section 5).
"""

from __future__ import annotations

from aiohttp import web

from services.sync.kii.conditions import etag, http_date
from services.sync.kii.objects_repo import StoredObject
from services.sync.kii.query_sql import ObjectScope
from services.sync.kii.scopes import object_path, object_scope_json
from shared.kii.errors import KiiError

DATA_TYPE_FIELD = "_dataType"


def not_found(scope: ObjectScope, object_id: str) -> KiiError:
    """404 OBJECT_NOT_FOUND with Kii's context fields."""
    return KiiError(
        404,
        "OBJECT_NOT_FOUND",
        "the object does not exist",
        objectScope=object_scope_json(scope),
        bucketID=scope.bucket,
        objectID=object_id,
    )


def stale(current: StoredObject) -> KiiError:
    """409 OBJECT_VERSION_IS_STALE: the If-Match version is not the stored one."""
    return KiiError(
        409, "OBJECT_VERSION_IS_STALE", f"the object is at version {current.version}; read it again and retry"
    )


def already_exists(scope: ObjectScope, object_id: str) -> KiiError:
    """409 OBJECT_ALREADY_EXISTS: a create-only write (If-None-Match: *) met an object."""
    return KiiError(
        409, "OBJECT_ALREADY_EXISTS", "an object with this id exists", bucketID=scope.bucket, objectID=object_id
    )


def object_response(stored: StoredObject, app_id: str) -> web.Response:
    """The whole object (GET, PATCH), typed media type when it has a ``_dataType``."""
    data_type = stored.body.get(DATA_TYPE_FIELD)
    media = f"application/vnd.{app_id}.{data_type}+json" if isinstance(data_type, str) else "application/json"
    return web.json_response(
        stored.to_kii(),
        content_type=media,
        headers={"ETag": etag(stored.version), "Last-Modified": http_date(stored.modified_at)},
    )


def write_response(stored: StoredObject, scope: ObjectScope, created: bool) -> web.Response:
    """PUT's answer: 201 with Location when it created the object, else 200."""
    headers = {"ETag": etag(stored.version)}
    if created:
        headers["Location"] = object_path(scope, stored.object_id)
    return web.json_response(
        {"createdAt": stored.created_at, "modifiedAt": stored.modified_at},
        status=201 if created else 200,
        content_type="application/vnd.kii.ObjectUpdateResponse+json",
        headers=headers,
    )
