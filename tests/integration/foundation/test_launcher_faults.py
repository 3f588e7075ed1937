"""Launcher faults: each gives one clear line (cause and fix), a non-zero exit, and leaves nothing running."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra.local.component import apt_install
from infra.local.errors import StackError
from infra.local.processes import start_process
from tests.conftest import free_port, subprocess_env

pytestmark = pytest.mark.integration


def _stack_up(stack_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "stack", "up"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env=subprocess_env(VITALSYNC_STACK_DIR=str(stack_dir), COLUMNS="400", **env),
    )


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def _processes_under(path: Path) -> list[str]:
    """Command lines of live processes that mention ``path`` (what a failed start might leave)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(path) in text and "pytest" not in text:
            found.append(text)
    return found


def test_port_in_use_names_the_port_and_the_setting(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = _stack_up(tmp_path, VITALSYNC_DB_PORT=str(port))
    assert result.returncode == 1
    assert _error_line(result) == (
        f"error: mariadb: port {port} is in use by another process; stop it or set VITALSYNC_DB_PORT to a free port"
    )
    assert _processes_under(tmp_path) == []


def test_unwritable_stack_dir_names_the_path_and_the_setting() -> None:
    result = _stack_up(Path("/dev/null/stack"))
    assert result.returncode == 1
    assert _error_line(result) == (
        "error: cannot create /dev/null/stack/logs (Not a directory); make it writable or set "
        "VITALSYNC_STACK_DIR to a writable directory"
    )


def test_foreign_datadir_is_refused_without_touching_it(tmp_path: Path) -> None:
    datadir = tmp_path / "mariadb" / "data"
    datadir.mkdir(parents=True)
    (datadir / "notes.txt").write_text("not a database")
    result = _stack_up(tmp_path, VITALSYNC_DB_PORT=str(free_port()))
    assert result.returncode == 1
    assert "holds no MariaDB system tables (corrupt or foreign); remove it" in _error_line(result)
    assert (datadir / "notes.txt").read_text() == "not a database"
    assert _processes_under(tmp_path) == []


def test_corrupt_datadir_fails_with_the_servers_error_and_nothing_left_running(tmp_path: Path) -> None:
    port = str(free_port())
    env = {"VITALSYNC_DB_PORT": port, "VITALSYNC_STACK_EXTERNAL": "kafka,aws,auth,sync,stats,relay,edge"}
    first = _stack_up(tmp_path, **env)  # initialises a datadir (the main stack serves the rest)
    assert first.returncode == 0, first.stderr
    down = subprocess.run(
        [sys.executable, "-m", "vitalsync_cli", "stack", "down"],
        capture_output=True,
        text=True,
        check=False,
        env=subprocess_env(VITALSYNC_STACK_DIR=str(tmp_path)),
    )
    assert "stopped: mariadb" in down.stderr
    for path in (tmp_path / "mariadb" / "data").glob("ib*"):
        path.write_bytes(b"\0" * 1024)  # a truncated, zeroed InnoDB system tablespace and redo log
    result = _stack_up(tmp_path, **env)
    line = _error_line(result)
    assert result.returncode == 1
    assert line.startswith("error: mariadb exited during start-up: ")
    assert "[ERROR]" in line and "is corrupt or unwritable, fix or remove it" in line
    assert _processes_under(tmp_path) == []


def test_failed_maven_resolution_is_one_line(tmp_path: Path) -> None:
    result = _stack_up(
        tmp_path,
        VITALSYNC_KAFKA_VERSION="0.0.0-does-not-exist",
        VITALSYNC_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
        VITALSYNC_STACK_EXTERNAL="db,aws,auth,sync,stats,relay,edge",
    )
    line = _error_line(result)
    assert result.returncode == 1
    assert line.startswith("error: Maven could not resolve the Kafka jars (")
    assert "kafka_2.13:jar:0.0.0-does-not-exist" in line
    assert _processes_under(tmp_path) == []


def test_missing_binary_and_missing_package_are_stack_errors(tmp_path: Path) -> None:
    with pytest.raises(StackError, match=r"cannot run /nonexistent/mariadbd: not found; install it or fix PATH"):
        start_process(["/nonexistent/mariadbd"], tmp_path / "x.log", tmp_path / "x.pid")
    with pytest.raises(StackError, match=r"`apt-get install -y vitalsync-no-such-package` failed"):
        apt_install(["vitalsync-no-such-package"], "test package")
