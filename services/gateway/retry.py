"""Retry policy as data: named families of transient failures, each with a backoff and a cap.

The collector and the uploader look a failure up here instead of hard-coding sleeps: a device that
could not be reached, a device that dropped the link mid-transfer, sync or the edge being down,
auth throttling the gateway, and credentials being refused are different situations with different
waits. Pure (no I/O); :class:`Backoff` takes its random source as an argument so tests are exact.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: ``initial_s * factor**(attempt-1)``, at most ``cap_s``, +/- ``jitter`` share."""

    initial_s: float
    factor: float
    cap_s: float
    jitter: float = 0.2

    def delay_s(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 = the first retry)."""
        base = min(self.cap_s, self.initial_s * self.factor ** max(attempt - 1, 0))
        if not self.jitter:
            return base
        spread = (rng or _RNG).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.cap_s, base * (1.0 + spread)))


@dataclass(frozen=True, slots=True)
class RetryFamily:
    """A named kind of transient failure: how long to wait, how often to try, what to tell the user."""

    name: str
    backoff: Backoff
    max_attempts: int | None  # None: retry for as long as the gateway runs
    advice: str


# A device was not found or refused the connection (out of range, busy with a phone, asleep).
DEVICE_UNREACHABLE = RetryFamily(
    "device_unreachable",
    Backoff(initial_s=2.0, factor=2.0, cap_s=120.0),
    max_attempts=5,
    advice="bring the device closer and wake it (press its button); check it is not connected to a phone",
)
# The link dropped during a transfer: records so far are queued; the next visit resumes.
TRANSFER_INTERRUPTED = RetryFamily(
    "transfer_interrupted",
    Backoff(initial_s=0.5, factor=2.0, cap_s=30.0),
    max_attempts=None,
    advice="the device dropped the link; the next visit resumes where this one stopped",
)
# A device misbehaved at the GATT level (a refused write, a RACP error code).
DEVICE_PROTOCOL = RetryFamily(
    "device_protocol",
    Backoff(initial_s=5.0, factor=2.0, cap_s=300.0),
    max_attempts=3,
    advice="the device answered outside its profile; capture its frames (README) and report them",
)
# Sync or the edge is down, or answered 5xx: keep everything in the queue and try later.
API_UNAVAILABLE = RetryFamily(
    "api_unavailable",
    Backoff(initial_s=0.5, factor=2.0, cap_s=30.0),
    max_attempts=None,
    advice="the queue keeps every reading; uploads resume by themselves when the API answers again",
)
# Auth throttled the gateway (429 with Retry-After): wait at least what it says.
API_THROTTLED = RetryFamily(
    "api_throttled",
    Backoff(initial_s=5.0, factor=2.0, cap_s=900.0),
    max_attempts=None,
    advice="too many failed logins from this address; wait, then check --user and --password",
)
# The password was refused: retrying fast would only lock the account.
CREDENTIALS_REJECTED = RetryFamily(
    "credentials_rejected",
    Backoff(initial_s=30.0, factor=2.0, cap_s=600.0, jitter=0.0),
    max_attempts=None,
    advice="sync refused the user name or password; restart the gateway with the right --user/--password",
)

FAMILIES: tuple[RetryFamily, ...] = (
    DEVICE_UNREACHABLE,
    TRANSFER_INTERRUPTED,
    DEVICE_PROTOCOL,
    API_UNAVAILABLE,
    API_THROTTLED,
    CREDENTIALS_REJECTED,
)

_RNG = random.Random()  # noqa: S311 - jitter, not security
