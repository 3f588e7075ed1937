"""Where a Kii bucket request points: app, scope kind, scope id and bucket, read from the URL path.

Paths (kii-api.md 2.1): ``/api/apps/{app}/buckets/{b}`` (app scope) and
``/api/apps/{app}/{users|groups|things}/{id}/buckets/{b}``. This module only parses and checks the
shape of the identifiers; who may use a scope is :mod:`services.sync.kii.access`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web

from services.sync.kii.query_sql import ObjectScope
from shared.kii.errors import KiiError

# kii-api.md 2.1: bucketID [a-zA-Z0-9_-] 2-64, objectID [a-zA-Z0-9_-.] 2-100.
BUCKET_ID = re.compile(r"[A-Za-z0-9_-]{2,64}")
OBJECT_ID = re.compile(r"[A-Za-z0-9_.-]{2,100}")
ScopeType = Literal["app", "user", "group", "thing"]
# URL collection -> scope type, and scope type -> Kii's name for it (errors' objectScope.type) and id field.
_COLLECTIONS: dict[str, ScopeType] = {"users": "user", "groups": "group", "things": "thing"}
_KII_SCOPE: dict[str, tuple[str, str | None]] = {
    "app": ("APP", None),
    "user": ("APP_AND_USER", "userID"),
    "group": ("APP_AND_GROUP", "groupID"),
    "thing": ("APP_AND_THING", "thingID"),
}
_COLLECTION_OF: dict[str, str] = {scope: collection for collection, scope in _COLLECTIONS.items()}
# A scope id as written in the path: ``me``, an id, or ``LOGIN_NAME:x`` / ``EMAIL:x`` / ``VENDOR_THING_ID:x``.
MAX_SCOPE_REF_CHARS = 300


@dataclass(frozen=True, slots=True)
class ScopeRef:
    """A bucket as the path names it; ``ref`` is the raw scope id ('' in the app scope)."""

    app_id: str
    scope_type: ScopeType
    ref: str
    bucket: str


def scope_ref(request: web.Request, app_id: str) -> ScopeRef:
    """The bucket a request addresses; 400 INVALID_BUCKET for a bucket id Kii would refuse."""
    info = request.match_info
    bucket = bucket_id(info["bucket"])
    collection = info.get("collection")
    if collection is None:
        return ScopeRef(app_id, "app", "", bucket)
    ref = info["scope_id"]
    if not ref or len(ref) > MAX_SCOPE_REF_CHARS:
        raise KiiError(400, "INVALID_INPUT_DATA", f"the {collection} id in the path is empty or too long")
    return ScopeRef(app_id, _COLLECTIONS[collection], ref, bucket)


def bucket_id(raw: str) -> str:
    """``raw`` when it is a valid Kii bucket id, else 400 INVALID_BUCKET (the id is not echoed)."""
    if not BUCKET_ID.fullmatch(raw):
        raise KiiError(400, "INVALID_BUCKET", "a bucket id is 2-64 characters of a-z, A-Z, 0-9, _ and -")
    return raw


def object_id(raw: str) -> str:
    """``raw`` when it is a valid Kii object id, else 400 INVALID_OBJECT_ID."""
    if not OBJECT_ID.fullmatch(raw):
        raise KiiError(400, "INVALID_OBJECT_ID", "an object id is 2-100 characters of a-z, A-Z, 0-9, _, - and .")
    return raw


def bucket_path(scope: ObjectScope) -> str:
    """The canonical URL path of a bucket (the resolved scope id, never ``me``)."""
    if scope.scope_type == "app":
        return f"/api/apps/{scope.app_id}/buckets/{scope.bucket}"
    return f"/api/apps/{scope.app_id}/{_COLLECTION_OF[scope.scope_type]}/{scope.scope_id}/buckets/{scope.bucket}"


def object_path(scope: ObjectScope, object_id: str) -> str:
    """The canonical URL path of an object (``Location`` of a created object)."""
    return f"{bucket_path(scope)}/objects/{object_id}"


def object_scope_json(scope: ObjectScope) -> dict[str, Any]:
    """Kii's ``objectScope`` context of OBJECT_NOT_FOUND (kii-api.md section 5)."""
    kii_type, id_field = _KII_SCOPE[scope.scope_type]
    described: dict[str, Any] = {"appID": scope.app_id, "type": kii_type}
    if id_field is not None:
        described[id_field] = scope.scope_id
    return described


def kii_scope_type(scope_type: str) -> str:
    """``user`` -> ``APP_AND_USER``: the scope type names of Kii records and the bucket mapping."""
    return _KII_SCOPE[scope_type][0]
