"""Start, find and stop the processes the launcher owns, tracked by pid files under ``.stack/run``.

A pid alone is not proof: pids are recycled. The pid file also records the process's start time
(``/proc/PID/stat`` field 22), so a process counts as ours only while that pid still has that start
time. (Matching the command line is not enough: nginx rewrites its title, and for a moment its
command line is empty.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from infra.local.errors import StackError

POLL_INTERVAL_S = 0.2


def start_process(
    argv: list[str],
    log_path: Path,
    pid_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start ``argv`` in its own session (so a stop reaches its children), logging to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        try:
            proc = subprocess.Popen(  # noqa: S603 - argv is built by the launcher, never from input
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise StackError(f"cannot run {argv[0]}: not found; install it or fix PATH") from exc
    started = _start_ticks(proc.pid)
    pid_path.write_text(f"{proc.pid} {started}")
    return proc.pid


def _stat_fields(pid: int) -> list[str]:
    """``/proc/PID/stat`` after the command name (which may contain spaces and parentheses)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _start_ticks(pid: int) -> str:
    return _stat_fields(pid)[19]  # field 22 of the whole line: start time in clock ticks


def running_pid(pid_path: Path) -> int | None:
    """The pid recorded in ``pid_path`` if that process is alive and still the one we started."""
    try:
        pid_text, started = pid_path.read_text().split()
        pid = int(pid_text)
        fields = _stat_fields(pid)
    except (OSError, ValueError, IndexError):
        return None
    if fields[0] == "Z" or fields[19] != started:
        return None
    return pid


def stop_process(pid_path: Path, timeout_s: float) -> bool:
    """SIGTERM the process group, SIGKILL after ``timeout_s``; False when nothing of ours was running."""
    pid = running_pid(pid_path)
    if pid is None:
        pid_path.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    if not wait_until(lambda: running_pid(pid_path) is None, timeout_s):
        _signal_group(pid, signal.SIGKILL)
        wait_until(lambda: running_pid(pid_path) is None, 5.0)
    _reap(pid)
    pid_path.unlink(missing_ok=True)
    return True


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:
        os.kill(pid, sig)


def _reap(pid: int) -> None:
    """Collect the exit status when the child is ours, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` until it holds or the deadline passes; True when it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_INTERVAL_S)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def last_error_line(log_path: Path, needles: tuple[str, ...] = ("ERROR", "Error", "error", "Exception")) -> str:
    """The last log line that looks like an error, to quote in a one-line failure message."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()[-400:]
    except OSError:
        return "no log written"
    for line in reversed(lines):
        if any(n in line for n in needles):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "log is empty"
