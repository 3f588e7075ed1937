"""Validation tier fixtures: one legacy export per session, a fresh migrated scratch database per test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.settings import CommonSettings

from .migrated import (
    LegacyExport,
    MigratedRows,
    create_database,
    drop_database,
    insert_rows,
    migrated_rows,
    write_export,
)

CHROMIUM = "/usr/bin/chromium"
APT_TIMEOUT_S = 900


@pytest.fixture(scope="session")
def export(tmp_path_factory: pytest.TempPathFactory) -> LegacyExport:
    return write_export(tmp_path_factory.mktemp("legacy"))


@pytest.fixture(scope="session")
def rows(export: LegacyExport) -> MigratedRows:
    return migrated_rows(export)


@pytest.fixture
async def database(settings: CommonSettings, rows: MigratedRows) -> AsyncIterator[str]:
    """A scratch database holding exactly what a correct migration of the export writes."""
    name = await create_database(settings)
    try:
        await insert_rows(settings, name, rows)
        yield name
    finally:
        await drop_database(settings, name)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing (the screenshot test is never skipped)."""
    if not Path(CHROMIUM).exists():
        apt = shutil.which("apt-get")
        assert apt is not None, "chromium is missing and apt-get is not available to install it"
        subprocess.run([apt, "update", "-qq"], check=True, timeout=APT_TIMEOUT_S, capture_output=True)
        subprocess.run(
            [apt, "install", "-y", "-qq", "chromium"],
            check=True,
            timeout=APT_TIMEOUT_S,
            capture_output=True,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    assert Path(CHROMIUM).exists()
    return CHROMIUM
