"""Follow-ups as rules: when a recurring task comes round again, and where a task stands on a given day.

A recurring task repeats every N days, weeks or months from the day it was *due* (not the day it
was done), so a cadence does not drift later each time a visit runs late; a month keeps the due
day, or the month's last day when it has fewer (31 January, then 28 February, then 31 March).
If the next time is already past (the task was done very late), it moves on to the first one
still ahead, so nobody finds a pile of overdue repeats.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

UNITS = ("days", "weeks", "months")
MAX_EVERY = 365


@dataclass(frozen=True, slots=True)
class Repeat:
    every: int
    unit: str  # days | weeks | months

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"unit: one of {UNITS}")
        if not 1 <= self.every <= MAX_EVERY:
            raise ValueError(f"every: 1 to {MAX_EVERY}")


def _add_months(moment: dt.datetime, months: int, day: int) -> dt.datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    return moment.replace(year=year, month=month, day=min(day, calendar.monthrange(year, month)[1]))


def next_due(due: dt.datetime, repeat: Repeat, *, after: dt.datetime | None = None) -> dt.datetime:
    """The next time a task due at ``due`` comes round: the first step past ``due`` and past ``after``."""
    steps = 1
    while True:
        if repeat.unit == "months":
            moment = _add_months(due, repeat.every * steps, due.day)
        else:
            days = repeat.every * steps * (7 if repeat.unit == "weeks" else 1)
            moment = due + dt.timedelta(days=days)
        if after is None or moment > after:
            return moment
        steps += 1


OVERDUE, TODAY, UPCOMING = "overdue", "today", "upcoming"


def standing(due: dt.datetime, now: dt.datetime) -> str:
    """Overdue (due on a day before today), due today, or upcoming; days in ``now``'s time zone."""
    day = due.astimezone(now.tzinfo).date() if now.tzinfo else due.date()
    if day < now.date():
        return OVERDUE
    return TODAY if day == now.date() else UPCOMING
