"""Import legacy users (JSONL) with their legacy password hashes, idempotently.

Each line becomes a user in the identity provider WITHOUT a password plus the legacy hash in MySQL;
the first successful login verifies the hash once and moves the password into the provider
(DESIGN section 4). Re-importing updates profiles and hashes by legacy id and never duplicates; a
user who already migrated keeps the new password. Bad lines are rejected with a reason and never
half-written; the report names the line and the reason, never hash material.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiomysql
import pymysql
from email_validator import EmailNotValidError, validate_email

from services.auth.errors import AuthServiceError
from services.auth.providers.base import IdentityProvider
from services.auth.repo import users
from services.auth.repo.users import UserRow
from shared.db.transactions import rollback_after
from shared.legacy.hash_schemes import LegacyHash, LegacyHashFormatError

# the legacy platform's own login-name rule (kii-api.md 1.3), wider than ours for new users
LEGACY_LOGIN_NAME_RE = re.compile(r"^[A-Za-z0-9_.@+\-]{3,64}$")
MAX_LINE_BYTES = 256 * 1024
BATCH_SIZE = 200


class ImportLineError(ValueError):
    """A line that cannot be imported; ``code`` is machine-readable, the message human-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ImportReport:
    """Counts and rejections of one run (rejections also go to the report file)."""

    created: int = 0
    updated: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + len(self.rejected)


def parse_line(raw: str, region: str, idp: str) -> UserRow:
    """Validate one JSONL line into a user row (id assigned later); raises ImportLineError."""
    if len(raw.encode()) > MAX_LINE_BYTES:
        raise ImportLineError("LINE_TOO_LONG", f"line is over {MAX_LINE_BYTES} bytes")
    try:
        record = json.loads(raw)
    except ValueError:
        raise ImportLineError("INVALID_JSON", "line is not valid JSON") from None
    if not isinstance(record, dict):
        raise ImportLineError("INVALID_JSON", "line is not a JSON object")
    legacy_id = record.get("legacy_user_id")
    if not isinstance(legacy_id, str) or not 1 <= len(legacy_id) <= 64:
        raise ImportLineError("MISSING_FIELD", "legacy_user_id is missing or longer than 64 characters")
    login_name = record.get("login_name")
    if not isinstance(login_name, str) or not LEGACY_LOGIN_NAME_RE.match(login_name):
        raise ImportLineError("BAD_LOGIN_NAME", "login_name is missing or not 3-64 of letters, digits, . _ - @ +")
    email = record.get("email")
    if email is not None:
        try:
            email = validate_email(str(email), check_deliverability=False).normalized
        except EmailNotValidError:
            raise ImportLineError("BAD_EMAIL", "email is not a valid address") from None
    country = record.get("country")
    if country is not None and not (isinstance(country, str) and re.fullmatch(r"[A-Za-z]{2}", country)):
        raise ImportLineError("BAD_COUNTRY", "country must be a two-letter code")
    attributes = record.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise ImportLineError("BAD_ATTRIBUTES", "attributes must be an object")
    scheme = record.get("hash_scheme")
    legacy: LegacyHash | None = None
    if scheme is not None or record.get("hash") is not None:
        if not isinstance(scheme, str):
            raise ImportLineError("UNKNOWN_SCHEME", "hash_scheme is missing")
        try:
            legacy = LegacyHash.from_record(scheme, record.get("hash") or "", record.get("salt"), record.get("params"))
        except LegacyHashFormatError as exc:
            raise ImportLineError(str(exc.code), str(exc)) from None
    # no hash at all: the platform could not export it, so the first login checks the password once
    # against the legacy login API (VITALSYNC_LEGACY_LOGIN_URL, DESIGN section 4)
    display_name = record.get("display_name")
    locale = record.get("locale")
    return UserRow(
        id=str(uuid.uuid4()),
        login_name=login_name,
        email=email,
        display_name=str(display_name)[:200] if display_name is not None else None,
        country=country.upper() if country else None,
        locale=str(locale)[:35] if locale else None,
        region=region,
        profile=attributes,
        idp=idp,
        idp_subject=None,
        legacy_user_id=legacy_id,
        legacy_hash_scheme=legacy.scheme if legacy else None,
        legacy_hash=legacy.hash if legacy else None,
        legacy_salt=(legacy.salt or None) if legacy else None,
        legacy_hash_params=(dict(legacy.params) or None) if legacy else None,
        password_migrated_at=None,
        tokens_valid_after=None,
        status="active",
        created_at=_now(),
        updated_at=_now(),
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def import_users(
    lines: Iterator[tuple[int, str]],
    pool: aiomysql.Pool,
    provider: IdentityProvider,
    region: str,
    on_line: Any = lambda: None,
) -> ImportReport:
    """Import ``(line number, text)`` pairs; each user commits on its own, so a failure is per line."""
    report = ImportReport()
    seen_names: dict[str, str] = {}
    async with pool.acquire() as conn, conn.cursor() as cur:
        for number, raw in lines:
            on_line()
            if not raw.strip():
                continue
            try:
                user = parse_line(raw, region, provider.name)
                owner = seen_names.setdefault(user.login_name.lower(), user.legacy_user_id or "")
                if owner != user.legacy_user_id:
                    raise ImportLineError("DUPLICATE_LOGIN_NAME", "login name appears twice in the file")
                created = await _import_one(conn, cur, user, provider)
            except ImportLineError as exc:
                report.rejected.append(
                    {"line": number, "code": exc.code, "reason": str(exc), "legacy_user_id": _legacy_id_of(raw)}
                )
                continue
            if created:
                report.created += 1
            else:
                report.updated += 1
    return report


async def _import_one(
    conn: aiomysql.Connection, cur: aiomysql.Cursor, user: UserRow, provider: IdentityProvider
) -> bool:
    await conn.begin()
    try:
        created = await users.upsert_imported(cur, user)
        if created or user.idp_subject is None:
            subject = await provider.create_user(cur, user, None)
            await users.set_idp_subject(cur, user.id, subject)
        await conn.commit()
        return created
    except pymysql.err.IntegrityError as exc:
        await conn.rollback()
        text = str(exc.args[1]) if len(exc.args) > 1 else ""
        code = "DUPLICATE_EMAIL" if "uq_users_email" in text else "DUPLICATE_LOGIN_NAME"
        raise ImportLineError(code, "login name or email belongs to another user") from None
    except AuthServiceError as exc:
        await conn.rollback()
        raise ImportLineError("PROVIDER_ERROR", exc.message) from None
    except BaseException:
        await rollback_after(conn)
        raise


def _legacy_id_of(raw: str) -> str | None:
    try:
        value = json.loads(raw).get("legacy_user_id")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None
