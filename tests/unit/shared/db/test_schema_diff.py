"""The pure part of the drift check: diffing two introspected schemas, and reading migration files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.db.migrations import MigrationError, load_migrations, verify_history
from shared.db.schema_check import Column, Index, Table, diff_schemas


def _table() -> Table:
    return Table(
        columns={"id": Column("char(36)", False, None, ""), "email": Column("varchar(254)", True, None, "")},
        indexes={"PRIMARY": Index(True, ("id",)), "uq_email": Index(True, ("email",))},
        foreign_keys={"fk_x": "id -> other.id"},
    )


def test_identical_schemas_have_no_drift() -> None:
    assert diff_schemas({"users": _table()}, {"users": _table()}) == []


def test_every_kind_of_drift_is_named() -> None:
    live = _table()
    del live.indexes["uq_email"]
    live.indexes["ix_perf"] = Index(False, ("email(10)",))
    live.columns["email"] = Column("varchar(300)", False, "''", "")
    live.columns["extra_col"] = Column("int(11)", True, None, "")
    del live.foreign_keys["fk_x"]
    drifts = diff_schemas({"users": _table(), "gone": Table()}, {"users": live, "stray": Table()})
    assert drifts == [
        "missing table gone",
        "extra table stray",
        "extra column users.extra_col int(11) NULL",
        "column users.email differs: declared varchar(254) NULL, live varchar(300) NOT NULL DEFAULT ''",
        "missing index users.uq_email UNIQUE (email)",
        "extra index users.ix_perf (email(10))",
        "missing foreign key users.fk_x id -> other.id",
    ]


def test_migration_files_must_be_well_named(tmp_path: Path) -> None:
    (tmp_path / "0001_ok.sql").write_text("SELECT 1;")
    (tmp_path / "2_bad-name.sql").write_text("SELECT 1;")
    with pytest.raises(
        MigrationError, match=re.escape("2_bad-name.sql: migration files are named NNNN_lower_snake.sql")
    ):
        load_migrations(tmp_path)


def test_duplicate_versions_are_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 2;")
    with pytest.raises(MigrationError, match="version 1 is used twice"):
        load_migrations(tmp_path)


def test_history_problems_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    [migration] = load_migrations(tmp_path)
    assert verify_history([migration], {1: ("a", migration.checksum)}) == []
    assert verify_history([migration], {1: ("a", "0" * 64), 2: ("b", "x")}) == [
        "migration 0001_a.sql was edited after it was applied (checksum differs); "
        "put the change in a new migration file instead",
        "migration 0002_b is applied but its file is missing",
    ]


def test_repository_migrations_load_in_order() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == sorted(versions) and versions[0] == 1
