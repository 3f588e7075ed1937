"""Default access rules of the Kii facade (README "Kii facade access rules"; docs/decisions.md).

Kii's ACLs (kii-api.md 1.7) default to: the owner of a scope has every right in it; in the app
scope any authenticated user may create objects and query, and an object is writable by its
creator. VitalSync serves those defaults and no ACL editing:

- user scope: only that user (path ``me``, the caller's own id, or ``LOGIN_NAME:`` / ``EMAIL:``
  naming the caller); anyone else gets 403 UNAUTHORIZED and nothing about the bucket.
- thing scope: a thing id is a VitalSync device id; only the user who has it paired may use it.
- group scope: groups do not exist here, so every group is 404 GROUP_NOT_FOUND.
- app scope: every authenticated user may create, query and read; updating or deleting an
  object is for its ``_owner`` only; dropping an app bucket is for nobody (there is no app admin).
- no bearer token: 401 UNAUTHORIZED (an invalid one: 403 WRONG_TOKEN, as the auth facade answers).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import aiomysql

from services.sync.kii import objects_repo
from services.sync.kii.query_sql import ObjectScope
from services.sync.kii.scopes import ScopeRef
from shared.kii.errors import KiiError

_DEVICE_ID_CHARS = 64  # devices.id is a CHAR(36) ASCII UUID; longer refs cannot match


class BucketAction(Enum):
    """What a request does to a bucket as a whole."""

    CREATE = "create objects in"
    QUERY = "query"
    DROP = "drop"


class ObjectAction(Enum):
    """What a request does to one existing object."""

    READ = "read"
    WRITE = "change"


@dataclass(frozen=True, slots=True)
class Access:
    """A resolved bucket and the caller; ``owns_scope`` when the caller owns the user or thing scope."""

    scope: ObjectScope
    caller: str
    owns_scope: bool


async def resolve(cur: aiomysql.Cursor, ref: ScopeRef, caller: str) -> Access:
    """The bucket ``ref`` names, if the caller may use that scope at all; else a Kii error."""
    match ref.scope_type:
        case "app":
            return Access(ObjectScope(ref.app_id, "app", "", ref.bucket), caller, owns_scope=False)
        case "group":
            raise KiiError(404, "GROUP_NOT_FOUND", "groups are not supported by this server; no group exists")
        case "user":
            if not await _is_caller(cur, ref.ref, caller):
                raise denied(ref.app_id, caller, "the bucket belongs to another user")
            return Access(ObjectScope(ref.app_id, "user", caller, ref.bucket), caller, owns_scope=True)
        case "thing":
            # VENDOR_THING_ID:x forms and ids that are no device of the caller's look the same: denied.
            if (
                len(ref.ref) > _DEVICE_ID_CHARS
                or not ref.ref.isascii()
                or not await objects_repo.owns_paired_device(cur, caller, ref.ref)
            ):
                raise denied(ref.app_id, caller, "the thing is not a device paired by the authenticated user")
            return Access(ObjectScope(ref.app_id, "thing", ref.ref, ref.bucket), caller, owns_scope=True)


def check_bucket(access: Access, action: BucketAction) -> None:
    """Refuse a bucket-wide action the caller has no right to."""
    if access.owns_scope or action in (BucketAction.CREATE, BucketAction.QUERY):
        return
    raise denied(access.scope.app_id, access.caller, f"only the owner of the scope may {action.value} this bucket")


def check_object(access: Access, action: ObjectAction, owner_id: str | None) -> None:
    """Refuse reading or changing an existing object the caller has no right to."""
    if access.owns_scope or action is ObjectAction.READ or owner_id == access.caller:
        return
    raise denied(access.scope.app_id, access.caller, f"only the owner of the object may {action.value} it")


def denied(app_id: str, caller: str, why: str) -> KiiError:
    """Kii's ACL refusal: 403 UNAUTHORIZED with the authenticated principal (kii-api.md section 5)."""
    return KiiError(
        403,
        "UNAUTHORIZED",
        f"the authenticated user may not do this: {why}",
        authenticatedAppID=app_id,
        authenticatedPrincipalID=caller,
    )


async def _is_caller(cur: aiomysql.Cursor, ref: str, caller: str) -> bool:
    """Whether a user path segment names the caller; other users are never looked at further."""
    if ref in ("me", caller):
        return True
    prefix, _, value = ref.partition(":")
    if not value:
        return False
    match prefix.upper():
        case "LOGIN_NAME":
            return await objects_repo.user_id_by_login_name(cur, value) == caller
        case "EMAIL":
            return await objects_repo.user_id_by_email(cur, value) == caller
    return False
