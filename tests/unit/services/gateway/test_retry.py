"""Retry policy as data: backoff growth, cap and jitter bounds; every family has advice."""

from __future__ import annotations

import random

from services.gateway import retry
from services.gateway.errors import ApiThrottledError, CredentialsRejectedError, DeviceUnreachableError


def test_backoff_doubles_up_to_the_cap() -> None:
    backoff = retry.Backoff(initial_s=0.5, factor=2.0, cap_s=30.0, jitter=0.0)
    assert [backoff.delay_s(n) for n in range(1, 9)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_jitter_stays_within_its_share_and_the_cap() -> None:
    backoff = retry.Backoff(initial_s=10.0, factor=2.0, cap_s=30.0, jitter=0.2)
    rng = random.Random(7)
    delays = [backoff.delay_s(1, rng) for _ in range(200)]
    assert all(8.0 <= d <= 12.0 for d in delays) and len(set(delays)) > 100
    assert all(backoff.delay_s(9, rng) <= 30.0 for _ in range(50))


def test_families_are_named_and_explained() -> None:
    names = [family.name for family in retry.FAMILIES]
    assert len(names) == len(set(names))
    assert all(family.advice for family in retry.FAMILIES)
    assert retry.API_UNAVAILABLE.max_attempts is None  # the queue waits for as long as it takes
    assert DeviceUnreachableError("x").family is retry.DEVICE_UNREACHABLE
    assert ApiThrottledError("x", 12.0).retry_after_s == 12.0
    assert "--password" in CredentialsRejectedError("x").advice
