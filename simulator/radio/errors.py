"""Bumble failures as the exceptions bleak's public API documents, so gateway code needs no Bumble."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from bleak.exc import BleakError, BleakGATTProtocolError
from bumble import att, core

_T = TypeVar("_T")


class SimDisconnectedError(BleakError):
    """The link dropped while a GATT operation was waiting for its answer."""


def to_bleak_error(error: Exception) -> Exception:
    """The bleak exception for a Bumble one (ATT error responses keep their code)."""
    if isinstance(error, att.ATT_Error):
        return BleakGATTProtocolError(error.error_code)
    if isinstance(error, core.TimeoutError | TimeoutError):
        return TimeoutError(str(error) or "simulated radio: timed out")
    return BleakError(f"simulated radio: {error}")


async def bleak_errors(awaitable: Awaitable[_T]) -> _T:
    """Await ``awaitable``, re-raising Bumble errors as bleak errors."""
    try:
        return await awaitable
    except (core.BaseBumbleError, TimeoutError) as error:
        raise to_bleak_error(error) from error
