"""Cron expressions of the in-service scheduler (croniter), evaluated in UTC on naive datetimes."""

from __future__ import annotations

from datetime import datetime

from croniter import croniter


def validate_cron(job: str, expression: str) -> None:
    """Raise ValueError unless ``expression`` is a cron line croniter accepts (5 fields, or 6 with seconds)."""
    if not croniter.is_valid(expression):
        raise ValueError(f"schedule of job {job!r}: {expression!r} is not a valid cron expression")


def next_slot(expression: str, after: datetime) -> datetime:
    """The first slot strictly after ``after`` (naive UTC)."""
    slot = croniter(expression, after).get_next(datetime)
    assert isinstance(slot, datetime)
    return slot


def aws_expression(expression: str) -> str:
    """The EventBridge Scheduler form of a 5-field cron line: ``cron(min hour dom month dow year)``.

    EventBridge needs ``?`` in one of day-of-month / day-of-week, numbers days of the week 1-7 from
    Sunday (cron: 0-6), and has a year field.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"only 5-field cron lines map to EventBridge, not {expression!r}")
    minute, hour, dom, month, dow = fields
    if dow != "*":
        dow = ",".join(str(int(part) % 7 + 1) if part.isdigit() else part for part in dow.split(","))
        dom = "?"
    else:
        dow = "?"
    return f"cron({minute} {hour} {dom} {month} {dow} *)"
