"""SQL for the ``users`` table, one function per query, all parameterised."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiomysql

_COLUMNS = (
    "id, login_name, email, display_name, country, locale, region, profile, idp, idp_subject, legacy_user_id, "
    "legacy_hash_scheme, legacy_hash, legacy_salt, legacy_hash_params, password_migrated_at, tokens_valid_after, "
    "status, "
    "created_at, updated_at"
)


@dataclass
class UserRow:
    """A user as stored; legacy hash fields are set until the first successful login migrates them."""

    id: str
    login_name: str
    email: str | None
    display_name: str | None
    country: str | None
    locale: str | None
    region: str
    profile: dict[str, Any]
    idp: str
    idp_subject: str | None
    legacy_user_id: str | None
    legacy_hash_scheme: str | None
    legacy_hash: str | None
    legacy_salt: str | None
    legacy_hash_params: dict[str, Any] | None
    password_migrated_at: datetime | None
    tokens_valid_after: datetime | None
    status: str
    created_at: datetime
    updated_at: datetime

    @property
    def has_legacy_hash(self) -> bool:
        return self.legacy_hash_scheme is not None and self.legacy_hash is not None


def _row(values: tuple[Any, ...]) -> UserRow:
    row = UserRow(*values)
    row.profile = json.loads(row.profile) if isinstance(row.profile, str) else (row.profile or {})
    if isinstance(row.legacy_hash_params, str):
        row.legacy_hash_params = json.loads(row.legacy_hash_params)
    return row


async def get_by_id(cur: aiomysql.Cursor, user_id: str, *, for_update: bool = False) -> UserRow | None:
    """One user by id; ``for_update`` locks the row for the caller's transaction."""
    lock = " FOR UPDATE" if for_update else ""
    await cur.execute(f"SELECT {_COLUMNS} FROM users WHERE id = %s{lock}", (user_id,))  # noqa: S608 - constant columns
    found = await cur.fetchone()
    return _row(found) if found else None


async def get_by_username(cur: aiomysql.Cursor, username: str) -> UserRow | None:
    """The user whose login name or email is ``username`` (case-insensitive by collation)."""
    await cur.execute(
        f"SELECT {_COLUMNS} FROM users WHERE login_name = %s OR email = %s "  # noqa: S608 - constant columns
        "ORDER BY login_name = %s DESC LIMIT 1",
        (username, username, username),
    )
    found = await cur.fetchone()
    return _row(found) if found else None


async def get_by_legacy_id(cur: aiomysql.Cursor, legacy_user_id: str) -> UserRow | None:
    await cur.execute(f"SELECT {_COLUMNS} FROM users WHERE legacy_user_id = %s", (legacy_user_id,))  # noqa: S608
    found = await cur.fetchone()
    return _row(found) if found else None


async def insert(cur: aiomysql.Cursor, user: UserRow) -> None:
    """Insert a new user; duplicate login name or email surfaces as IntegrityError 1062."""
    await cur.execute(
        "INSERT INTO users (id, login_name, email, display_name, country, locale, region, profile, idp, "
        "idp_subject, legacy_user_id, legacy_hash_scheme, legacy_hash, legacy_salt, legacy_hash_params) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            user.id,
            user.login_name,
            user.email,
            user.display_name,
            user.country,
            user.locale,
            user.region,
            json.dumps(user.profile),
            user.idp,
            user.idp_subject,
            user.legacy_user_id,
            user.legacy_hash_scheme,
            user.legacy_hash,
            user.legacy_salt,
            json.dumps(user.legacy_hash_params) if user.legacy_hash_params is not None else None,
        ),
    )


async def set_idp_subject(cur: aiomysql.Cursor, user_id: str, subject: str) -> None:
    await cur.execute("UPDATE users SET idp_subject = %s WHERE id = %s", (subject, user_id))


async def update_profile(cur: aiomysql.Cursor, user_id: str, changes: dict[str, Any]) -> None:
    """Update the given profile columns (names come from a fixed whitelist, values are bound)."""
    allowed = {"display_name", "country", "locale", "email", "profile"}
    columns = [c for c in changes if c in allowed]
    if not columns:
        return
    values = [json.dumps(changes[c]) if c == "profile" else changes[c] for c in columns]
    assignments = ", ".join(f"{c} = %s" for c in columns)
    await cur.execute(f"UPDATE users SET {assignments} WHERE id = %s", (*values, user_id))  # noqa: S608


async def clear_legacy_hash(cur: aiomysql.Cursor, user_id: str) -> bool:
    """Erase the legacy hash and stamp the migration; False when another login already did."""
    await cur.execute(
        "UPDATE users SET legacy_hash_scheme = NULL, legacy_hash = NULL, legacy_salt = NULL, "
        "legacy_hash_params = NULL, password_migrated_at = CURRENT_TIMESTAMP(6) "
        "WHERE id = %s AND password_migrated_at IS NULL",
        (user_id,),
    )
    return bool(cur.rowcount)


async def upsert_imported(cur: aiomysql.Cursor, user: UserRow) -> bool:
    """Insert or update a legacy user by legacy id; True when inserted.

    A user who already migrated keeps their new password: the legacy hash is not restored.
    """
    existing = await get_by_legacy_id(cur, user.legacy_user_id or "")
    if existing is None:
        await insert(cur, user)
        return True
    keep_migrated = existing.password_migrated_at is not None
    await cur.execute(
        "UPDATE users SET login_name = %s, email = %s, display_name = %s, country = %s, locale = %s, "
        "profile = %s, legacy_hash_scheme = %s, legacy_hash = %s, legacy_salt = %s, legacy_hash_params = %s "
        "WHERE id = %s",
        (
            user.login_name,
            user.email,
            user.display_name,
            user.country,
            user.locale,
            json.dumps(user.profile),
            None if keep_migrated else user.legacy_hash_scheme,
            None if keep_migrated else user.legacy_hash,
            None if keep_migrated else user.legacy_salt,
            None if keep_migrated or user.legacy_hash_params is None else json.dumps(user.legacy_hash_params),
            existing.id,
        ),
    )
    user.id = existing.id
    user.idp_subject = existing.idp_subject
    return False


async def revoke_tokens(cur: aiomysql.Cursor, user_id: str) -> None:
    """Refuse access tokens minted before now."""
    await cur.execute("UPDATE users SET tokens_valid_after = UTC_TIMESTAMP(6) WHERE id = %s", (user_id,))
