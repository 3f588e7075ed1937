"""Versioned SQL migrations from ``infra/db/migrations`` (``NNNN_name.sql``), applied in order.

Each applied file is recorded with its SHA-256; editing a file after it was applied is an error,
because the databases it already ran on would silently differ from new ones (the drift that caused
the legacy migration's outage). MySQL DDL is not transactional, so a file is recorded only after
all its statements succeeded; a named lock keeps two migrators from interleaving.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import aiomysql
import pymysql

from shared.db.connection import connect, unavailable
from shared.settings import CommonSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "infra" / "db" / "migrations"
_FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_NAME = "vitalsync_schema_migrations"
_LOCK_WAIT_S = 60
_DATABASE_NAME_RE = re.compile(r"[A-Za-z0-9_$]{1,64}")
DATABASE_OPTIONS = "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

_CREATE_LEDGER = """
CREATE TABLE schema_migrations (
    version    INT UNSIGNED NOT NULL,
    name       VARCHAR(128) NOT NULL,
    checksum   CHAR(64)     CHARACTER SET ascii NOT NULL,
    applied_at DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
"""


class MigrationError(RuntimeError):
    """A migration set that cannot be applied safely; the message names the file and the fix."""


@dataclass(frozen=True)
class Migration:
    """One SQL file: its version, name, text and checksum."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Read and order the migration files; reject misnamed files and duplicate versions."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_RE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_lower_snake.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


async def _ledger_exists(cur: aiomysql.Cursor) -> bool:
    await cur.execute(
        "SELECT COUNT(*) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations'"
    )
    (exists,) = await cur.fetchone()
    return bool(exists)


async def applied_migrations(conn: aiomysql.Connection) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) as recorded in the database (empty when never migrated)."""
    async with conn.cursor() as cur:
        if not await _ledger_exists(cur):
            return {}
        await cur.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version")
        return {int(v): (n, c) for v, n, c in await cur.fetchall()}


def verify_history(declared: list[Migration], applied: dict[int, tuple[str, str]]) -> list[str]:
    """Problems with what was already applied: edited files and applied versions no file declares."""
    problems = []
    by_version = {m.version: m for m in declared}
    for version, (name, checksum) in sorted(applied.items()):
        migration = by_version.get(version)
        if migration is None:
            problems.append(f"migration {version:04d}_{name} is applied but its file is missing")
        elif migration.checksum != checksum:
            problems.append(
                f"migration {version:04d}_{name}.sql was edited after it was applied "
                "(checksum differs); put the change in a new migration file instead"
            )
    return problems


async def migrate(conn: aiomysql.Connection, declared: list[Migration] | None = None) -> list[Migration]:
    """Apply pending migrations under a named lock; return what was applied (empty when up to date).

    ``conn`` must be opened with multi-statement support, since a file is sent as one batch.
    """
    declared = load_migrations() if declared is None else declared
    async with conn.cursor() as cur:
        await cur.execute("SELECT GET_LOCK(%s, %s)", (_LOCK_NAME, _LOCK_WAIT_S))
        (locked,) = await cur.fetchone()
        if locked != 1:
            raise MigrationError(f"another migration holds the lock {_LOCK_NAME!r}; retry when it ends")
        try:
            if not await _ledger_exists(cur):
                await cur.execute(_CREATE_LEDGER)
            applied = await applied_migrations(conn)
            problems = verify_history(declared, applied)
            if problems:
                raise MigrationError("; ".join(problems))
            done = []
            for migration in declared:
                if migration.version in applied:
                    continue
                await _run_file(cur, migration)
                await cur.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                done.append(migration)
            return done
        finally:
            await cur.execute("SELECT RELEASE_LOCK(%s)", (_LOCK_NAME,))
            await cur.fetchall()


async def migrate_database(settings: CommonSettings, database: str | None = None) -> list[Migration]:
    """Create the database when it does not exist (the user needs the right to), then `migrate` it.

    `vitalsync db migrate --database eu` on a fresh server is then the whole set-up, as for the local stack.
    """
    name = settings.db_name if database is None else database
    if not _DATABASE_NAME_RE.fullmatch(name):
        raise ValueError(f"database name {name!r}: use 1-64 letters, digits, _ or $")
    admin = await connect(settings, "")
    try:
        async with admin.cursor() as cur:
            await cur.execute("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
            (exists,) = await cur.fetchone()
            if not exists:
                await cur.execute(f"CREATE DATABASE `{name}` {DATABASE_OPTIONS}")
    except pymysql.err.OperationalError as error:
        raise unavailable(settings, name, error) from error
    finally:
        admin.close()
    conn = await connect(settings, name, multi_statements=True)
    try:
        return await migrate(conn)
    finally:
        conn.close()


async def _run_file(cur: aiomysql.Cursor, migration: Migration) -> None:
    try:
        await cur.execute(migration.sql)
        while await cur.nextset():
            pass
    except Exception as exc:
        raise MigrationError(
            f"migration {migration.version:04d}_{migration.name}.sql failed: {exc}; fix the file "
            "(it was not recorded) and drop what it created before retrying"
        ) from exc
