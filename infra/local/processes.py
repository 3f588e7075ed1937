"""Start, find and stop the processes the launcher owns, tracked by pid files under ``.stack/run``.

A pid file alone is not proof: pids are recycled, so a process counts as ours only while its
command line still contains the marker we started it with.
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
    pid_path.write_text(str(proc.pid))
    return proc.pid


def running_pid(pid_path: Path, marker: str) -> int | None:
    """The pid recorded in ``pid_path`` if that process is alive and still ours, else None."""
    try:
        pid = int(pid_path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state == "Z" or marker not in cmdline:
        return None
    return pid


def stop_process(pid_path: Path, marker: str, timeout_s: float) -> bool:
    """SIGTERM the process group, SIGKILL after ``timeout_s``; False when nothing of ours was running."""
    pid = running_pid(pid_path, marker)
    if pid is None:
        pid_path.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    if not wait_until(lambda: running_pid(pid_path, marker) is None, timeout_s):
        _signal_group(pid, signal.SIGKILL)
        wait_until(lambda: running_pid(pid_path, marker) is None, 5.0)
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


def last_error_line(
    log_path: Path, needles: tuple[str, ...] = ("ERROR", "Error", "error", "Exception")
) -> str:
    """The last log line that looks like an error, to quote in a one-line failure message."""
    try:
        lines = log_path.read_text(errors="replace").splitlines()[-400:]
    except OSError:
        return "no log written"
    for line in reversed(lines):
        if any(n in line for n in needles):
            return line.strip()[:300]
    return lines[-1].strip()[:300] if lines else "log is empty"
