"""The scratch database of the query tests: the kii_objects table and a fixed set of objects whose
fields vary in JSON type (integers, decimals spelled 10.0 / 1e3 / 2.5E-3, strings that look like
numbers, booleans, null, arrays, objects, nesting), plus look-alikes in other scopes."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pymysql

from services.sync.kii.query_sql import ObjectScope
from shared.settings import CommonSettings

# The table as the facade's migration will declare it (the brief of the query translation).
KII_OBJECTS_DDL = """
CREATE TABLE kii_objects (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  app_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
  scope_type VARCHAR(8) CHARACTER SET ascii NOT NULL,
  scope_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
  bucket VARCHAR(64) NOT NULL,
  object_id VARCHAR(64) CHARACTER SET ascii NOT NULL,
  version INT UNSIGNED NOT NULL,
  owner_id VARCHAR(64) CHARACTER SET ascii NULL,
  body JSON NOT NULL,
  created_at BIGINT NOT NULL,
  modified_at BIGINT NOT NULL,
  UNIQUE KEY uq_kii_objects_key (app_id, scope_type, scope_id, bucket, object_id),
  KEY ix_kii_objects_created (app_id, scope_type, scope_id, bucket, created_at, id),
  KEY ix_kii_objects_modified (app_id, scope_type, scope_id, bucket, modified_at, id)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""
INSERT_OBJECT = (
    "INSERT INTO kii_objects (app_id, scope_type, scope_id, bucket, object_id, version, owner_id, body, "
    "created_at, modified_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)

SCOPE = ObjectScope(app_id="kqapp", scope_type="user", scope_id="u1", bucket="readings")
# Same bucket name or same object ids elsewhere: none of these may ever show up in a SCOPE query.
NOISE_SCOPES = [
    ("kqapp", "app", "", "readings"),
    ("kqapp", "user", "u2", "readings"),
    ("kqapp", "user", "u1", "other"),
    ("kqapp", "group", "u1", "readings"),
    ("otherapp", "user", "u1", "readings"),
]
NOISE_BODY = '{"n": 10, "s": "a", "flag": true, "nested": {"a": {"b": {"c": 2}}}}'

# (object id, body as raw JSON text: spellings such as 1e3, 10.0 and 2.5E-3 matter to the engine).
OBJECTS: list[tuple[str, str]] = [
    ("n-int-10", '{"n": 10, "s": "a", "flag": true, "nested": {"a": {"b": {"c": 1}}}}'),
    ("n-dec-10", '{"n": 10.0, "s": "a ", "flag": false}'),
    ("n-str-10", '{"n": "10", "s": "A"}'),
    ("n-dec-10-5", '{"n": 10.5, "s": "b"}'),
    ("n-neg", '{"n": -3, "s": "ab"}'),
    ("n-zero", '{"n": 0, "s": ""}'),
    ("n-exp", '{"n": 1e3, "s": "ab%"}'),
    ("n-exp-frac", '{"n": 2.5E-3, "s": "a_c"}'),
    ("n-true", '{"n": true, "s": "a%c"}'),
    ("n-null", '{"n": null, "s": "abc"}'),
    ("n-array", '{"n": [10], "s": "\\u00e9"}'),
    ("n-object", '{"n": {"v": 10}, "s": "😀"}'),
    ("n-big-odd", '{"n": 9007199254740993, "s": "10"}'),
    ("n-big-even", '{"n": 9007199254740992, "s": "true"}'),
    ("n-tenth", '{"n": 0.1, "s": "O\'Reilly"}'),
    ("n-neg-half", '{"n": -0.5, "s": "back\\\\slash"}'),
    ("n-minus-zero", '{"n": -0.0, "s": "quote\\"d"}'),
    ("n-upper-exp", '{"n": 1E2, "s": "b%"}'),
    ("flag-true", '{"flag": true, "s": "zz"}'),
    ("flag-false", '{"flag": false, "s": "zz"}'),
    ("flag-one", '{"flag": 1}'),
    ("flag-zero", '{"flag": 0}'),
    ("flag-str", '{"flag": "true"}'),
    ("flag-null", '{"flag": null}'),
    ("nest-int", '{"nested": {"a": {"b": {"c": 2}}}}'),
    ("nest-str", '{"nested": {"a": {"b": {"c": "2"}}}}'),
    ("nest-short", '{"nested": {"a": {"b": 3}}}'),
    ("nest-scalar", '{"nested": "a.b.c"}'),
    ("dotted-key", '{"a.b": 1}'),
    ("empty-body", "{}"),
    ("s-upper-b", '{"s": "B"}'),
    ("s-abd", '{"s": "abd"}'),
    ("s-space", '{"s": " a"}'),
    ("s-tab", '{"s": "a\\tb"}'),
    ("mixed-1", '{"n": 5, "s": "m", "flag": true, "score": 77}'),
    ("mixed-2", '{"n": 5.0, "s": "m", "flag": false, "score": 77.5}'),
    ("mixed-3", '{"n": "5", "s": "M", "score": "77"}'),
    ("mixed-4", '{"n": 7, "s": "n", "score": 12}'),
    ("mixed-5", '{"n": 7, "s": "n", "score": -12}'),
    ("unicode", '{"n": 12, "s": "日本語"}'),
    ("long-string", '{"s": "' + "x" * 300 + '"}'),
]
ALL_IDS = {object_id for object_id, _ in OBJECTS}
FIRST_CREATED_MS = 1_700_000_000_000


@dataclass(frozen=True)
class Stored:
    """One fixture object as the reference evaluator sees it; the body parsed with exact decimals."""

    id: int
    object_id: str
    owner: str | None
    created: int
    modified: int
    version: int
    body: dict[str, Any]


def system_columns(index: int) -> tuple[str | None, int, int, int]:
    """Owner, created, modified and version of fixture object ``index``, with deliberate ties."""
    owner = None if index % 5 == 4 else f"user-{index % 2 + 1}"
    created = FIRST_CREATED_MS + (index // 2) * 1000
    return owner, created, FIRST_CREATED_MS + 900_000 - (index % 7) * 1000, 1 + index % 4


class Database:
    """A scratch ``vitalsync_kq_<random>`` database holding the fixture objects."""

    def __init__(self, settings: CommonSettings) -> None:
        self.name = f"vitalsync_kq_{uuid.uuid4().hex[:12]}"
        self.connection = pymysql.connect(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            password=settings.db_password.get_secret_value(),
            charset="utf8mb4",
            autocommit=True,
        )
        self.objects: list[Stored] = []

    def load(self) -> None:
        """Create the database and table, then insert look-alikes, the fixture set, look-alikes."""
        self.rows(f"CREATE DATABASE `{self.name}`")
        self.rows(f"USE `{self.name}`")
        self.rows(KII_OBJECTS_DDL)
        self._insert_noise("noise-before")
        scope = (SCOPE.app_id, SCOPE.scope_type, SCOPE.scope_id, SCOPE.bucket)
        for index, (object_id, body) in enumerate(OBJECTS):
            owner, created, modified, version = system_columns(index)
            with self.connection.cursor() as cursor:
                cursor.execute(INSERT_OBJECT, (*scope, object_id, version, owner, body, created, modified))
                row_id = cursor.lastrowid
            parsed = json.loads(body, parse_float=Decimal)
            self.objects.append(Stored(row_id, object_id, owner, created, modified, version, parsed))
        self._insert_noise("noise-after")

    def drop(self) -> None:
        """Drop the database, reconnecting first: the local stack may have restarted MariaDB meanwhile."""
        self.connection.ping(reconnect=True)
        self.rows(f"DROP DATABASE IF EXISTS `{self.name}`")
        self.connection.close()

    def rows(self, sql: str, params: tuple[object, ...] | None = None) -> list[tuple[Any, ...]]:
        """Run one statement; its rows, if any."""
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _insert_noise(self, object_id: str) -> None:
        for scope in NOISE_SCOPES:
            for noise_id in (object_id, "n-int-10" if object_id == "noise-before" else "nest-int"):
                self.rows(INSERT_OBJECT, (*scope, noise_id, 1, None, NOISE_BODY, 1, 1))
