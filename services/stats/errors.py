"""Errors of the stats service; one base so callers can catch the family."""

from __future__ import annotations


class StatsError(Exception):
    """Base of every error this package raises."""


class UnknownJobError(StatsError):
    """A job name that is not in the registry."""

    def __init__(self, job: str, known: list[str]) -> None:
        super().__init__(f"unknown job {job!r}; known jobs: {', '.join(known)}")
        self.job = job


class EventRejectedError(StatsError):
    """An event that cannot be applied (malformed, or naming something unknown); it goes to the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
