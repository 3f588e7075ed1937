"""Fixtures shared by every tier. The stack fixture starts nothing twice: it reuses a running
local stack (or starts the missing parts) once per session, and never skips a test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from infra.local.stack import Stack
from shared.settings import CommonSettings


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """The local stack, up and ready (MariaDB, Kafka, moto, services, nginx)."""
    stack = Stack()
    stack.up()
    yield stack


@pytest.fixture(scope="session")
def settings(stack: Stack) -> CommonSettings:
    return stack.settings


def free_port() -> int:
    """A TCP port nobody listens on right now (for processes a test starts itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def subprocess_env(**overrides: str) -> dict[str, str]:
    """The current environment plus VITALSYNC_* overrides, for CLI and service subprocesses."""
    return {**os.environ, **overrides}
