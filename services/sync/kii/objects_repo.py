"""SQL of the Kii facade: one function per statement over ``kii_objects``, plus the look-ups of
the access rules (users, devices). Every statement is parameterised and leads with the scope
columns, so it runs on ``uq_kii_objects_key`` or one of the ordering indexes (DESIGN 7).

Optimistic concurrency (kii-api.md 2.3): writers read an object, then change it with
``... WHERE id = %s AND version = %s``; a row count of 0 means another writer got there first, which
the caller turns into OBJECT_VERSION_IS_STALE (the client named a version) or a retry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiomysql
import pymysql

from services.sync.kii.query_sql import ObjectScope, SqlQuery

_DUPLICATE_KEY = 1062
_OBJECT_COLUMNS = "id, object_id, version, owner_id, body, created_at, modified_at"
_KEY = "app_id = %s AND scope_type = %s AND scope_id = %s AND bucket = %s"


@dataclass(frozen=True, slots=True)
class StoredObject:
    """One row of ``kii_objects``; ``body`` holds the client's fields (and ``_dataType`` when typed)."""

    row_id: int
    object_id: str
    version: int
    owner_id: str | None
    body: dict[str, Any]
    created_at: int
    modified_at: int

    def to_kii(self) -> dict[str, Any]:
        """The object as Kii returns it: the body plus ``_id, _owner, _created, _modified, _version``."""
        return kii_object(self.object_id, self.version, self.owner_id, self.body, self.created_at, self.modified_at)


def kii_object(
    object_id: str, version: int, owner_id: str | None, body: dict[str, Any], created_at: int, modified_at: int
) -> dict[str, Any]:
    """Body and system fields in Kii's shape; ``_version`` is a string (kii-api.md 2.2)."""
    system: dict[str, Any] = {"_id": object_id, "_created": created_at, "_modified": modified_at}
    if owner_id is not None:
        system["_owner"] = owner_id
    system["_version"] = str(version)
    return {**body, **system}


def kii_object_from_row(row: Sequence[Any]) -> dict[str, Any]:
    """A query result row (``query_sql.RESULT_COLUMNS``) as Kii returns the object."""
    object_id, version, owner_id, body, created_at, modified_at = row[:6]
    return kii_object(object_id, int(version), owner_id, load_body(body), int(created_at), int(modified_at))


def dump_body(body: dict[str, Any]) -> str:
    """The JSON text stored in ``body``: compact, UTF-8 (the caller checked the text encodes)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load_body(text: str | bytes) -> dict[str, Any]:
    """The stored body text as a dict."""
    body = json.loads(text)
    assert isinstance(body, dict), "kii_objects.body always holds a JSON object"
    return body


def _key(scope: ObjectScope) -> tuple[str, str, str, str]:
    return scope.app_id, scope.scope_type, scope.scope_id, scope.bucket


def _stored(row: tuple[Any, ...]) -> StoredObject:
    row_id, object_id, version, owner_id, body, created_at, modified_at = row
    return StoredObject(int(row_id), object_id, int(version), owner_id, load_body(body), created_at, modified_at)


async def get_object(
    cur: aiomysql.Cursor, scope: ObjectScope, object_id: str, *, for_update: bool = False
) -> StoredObject | None:
    """The object, or None: a consistent read of the snapshot, or with ``for_update`` the latest
    committed version, locked until the transaction ends."""
    lock = " FOR UPDATE" if for_update else ""
    await cur.execute(
        f"SELECT {_OBJECT_COLUMNS} FROM kii_objects WHERE {_KEY} AND object_id = %s{lock}",  # noqa: S608 - constants
        (*_key(scope), object_id),
    )
    row = await cur.fetchone()
    return _stored(row) if row else None


async def insert_object(
    cur: aiomysql.Cursor, scope: ObjectScope, object_id: str, owner_id: str | None, body: dict[str, Any], now_ms: int
) -> StoredObject | None:
    """Create the object at version 1; None when the id is taken (the transaction stays usable)."""
    try:
        await cur.execute(
            "INSERT INTO kii_objects (app_id, scope_type, scope_id, bucket, object_id, version, owner_id, body, "
            "created_at, modified_at) VALUES (%s, %s, %s, %s, %s, 1, %s, %s, %s, %s)",
            (*_key(scope), object_id, owner_id, dump_body(body), now_ms, now_ms),
        )
    except pymysql.err.IntegrityError as exc:
        if exc.args and exc.args[0] == _DUPLICATE_KEY:
            return None
        raise
    return StoredObject(int(cur.lastrowid), object_id, 1, owner_id, body, now_ms, now_ms)


async def update_object(
    cur: aiomysql.Cursor, current: StoredObject, body: dict[str, Any], now_ms: int
) -> StoredObject | None:
    """Replace the body if the object is still at ``current.version``; None when another writer won."""
    await cur.execute(
        "UPDATE kii_objects SET body = %s, version = version + 1, modified_at = %s WHERE id = %s AND version = %s",
        (dump_body(body), now_ms, current.row_id, current.version),
    )
    if cur.rowcount != 1:
        return None
    return StoredObject(
        current.row_id, current.object_id, current.version + 1, current.owner_id, body, current.created_at, now_ms
    )


async def delete_object(cur: aiomysql.Cursor, current: StoredObject) -> bool:
    """Delete the object if it is still at ``current.version``; False when another writer won."""
    await cur.execute("DELETE FROM kii_objects WHERE id = %s AND version = %s", (current.row_id, current.version))
    return bool(cur.rowcount == 1)


async def bucket_objects(cur: aiomysql.Cursor, scope: ObjectScope) -> list[StoredObject]:
    """Every object of a bucket, locked (dropping a mapped bucket removes their projections first)."""
    await cur.execute(
        f"SELECT {_OBJECT_COLUMNS} FROM kii_objects WHERE {_KEY} ORDER BY created_at, id FOR UPDATE",  # noqa: S608
        _key(scope),
    )
    return [_stored(row) for row in await cur.fetchall()]


async def drop_bucket(cur: aiomysql.Cursor, scope: ObjectScope) -> int:
    """Delete every object of the bucket; how many there were."""
    await cur.execute(f"DELETE FROM kii_objects WHERE {_KEY}", _key(scope))  # noqa: S608 - constant text
    return int(cur.rowcount)


async def bucket_exists(cur: aiomysql.Cursor, scope: ObjectScope) -> bool:
    """Whether the bucket holds an object (Kii buckets exist from their first object on)."""
    await cur.execute(f"SELECT 1 FROM kii_objects WHERE {_KEY} LIMIT 1", _key(scope))  # noqa: S608 - constant text
    return await cur.fetchone() is not None


async def fetch_rows(cur: aiomysql.Cursor, query: SqlQuery) -> list[tuple[Any, ...]]:
    """Run a statement built by ``query_sql``; its rows."""
    await cur.execute(query.sql, query.params)
    return list(await cur.fetchall())


# -- look-ups of the access rules and the bucket mapping ---------------------------------------


async def user_id_by_login_name(cur: aiomysql.Cursor, login_name: str) -> str | None:
    """The id of the user with this login name (``users/LOGIN_NAME:x`` paths)."""
    await cur.execute("SELECT id FROM users WHERE login_name = %s", (login_name,))
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def user_id_by_email(cur: aiomysql.Cursor, email: str) -> str | None:
    """The id of the user with this email address (``users/EMAIL:x`` paths)."""
    await cur.execute("SELECT id FROM users WHERE email = %s", (email,))
    row = await cur.fetchone()
    return str(row[0]) if row else None


async def owns_paired_device(cur: aiomysql.Cursor, user_id: str, device_id: str) -> bool:
    """Whether ``device_id`` is a device the user has paired and not unpaired (a thing scope's owner)."""
    await cur.execute(
        "SELECT 1 FROM devices WHERE id = %s AND user_id = %s AND unpaired_at IS NULL", (device_id, user_id)
    )
    return await cur.fetchone() is not None


async def devices_by_serial(cur: aiomysql.Cursor, user_id: str, serials: list[str]) -> list[tuple[str, str, str]]:
    """(serial, model, id) of the user's devices with these serials, paired ones first, oldest first."""
    if not serials:
        return []
    placeholders = ", ".join(["%s"] * len(serials))
    await cur.execute(
        f"SELECT serial, model, id FROM devices WHERE user_id = %s AND serial IN ({placeholders}) "  # noqa: S608
        "ORDER BY unpaired_at IS NOT NULL, paired_at, id",
        (user_id, *serials),
    )
    return [(str(serial), str(model), str(device_id)) for serial, model, device_id in await cur.fetchall()]


async def device_model_serial(cur: aiomysql.Cursor, device_id: str) -> tuple[str, str, str] | None:
    """(user id, model, serial) of a device id, whoever owns it."""
    await cur.execute("SELECT user_id, model, serial FROM devices WHERE id = %s", (device_id,))
    row = await cur.fetchone()
    return (str(row[0]), str(row[1]), str(row[2])) if row else None


async def reading_id(cur: aiomysql.Cursor, user_id: str, client_id: str) -> int | None:
    """The id of the user's reading with this client id."""
    await cur.execute("SELECT id FROM readings WHERE user_id = %s AND client_id = %s", (user_id, client_id))
    row = await cur.fetchone()
    return int(row[0]) if row else None


async def update_reading(cur: aiomysql.Cursor, row_id: int, values: dict[str, Any]) -> None:
    """Rewrite a projected reading in place (the Kii object it came from was updated).

    shared/store only inserts readings (the protocol has no reading update); the change_log row is
    the caller's, through shared/store/change_log.
    """
    await cur.execute(
        "UPDATE readings SET device_id = %s, type = %s, measured_at = %s, primary_value = %s, original_unit = %s, "
        "reading_values = %s WHERE id = %s",
        (
            values["device_id"],
            values["type"],
            values["measured_at"],
            values["primary_value"],
            values["original_unit"],
            json.dumps(values["reading_values"], separators=(",", ":")),
            row_id,
        ),
    )


async def delete_reading(cur: aiomysql.Cursor, row_id: int) -> None:
    """Delete a projected reading (its Kii object was deleted); the caller logs the deletion."""
    await cur.execute("DELETE FROM readings WHERE id = %s", (row_id,))
