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


# --- cadences --------------------------------------------------------------------------------------------------

EVERY, AFTER_FIRST_ORDER, ON_ENTERING, BEFORE_BIRTHDAY = "every", "after_first_order", "on_entering", "before_birthday"
RULES = (EVERY, AFTER_FIRST_ORDER, ON_ENTERING, BEFORE_BIRTHDAY)
FRESH_DAYS = 7  # an event older than this when first seen (a cadence written later) makes no task


@dataclass(frozen=True, slots=True)
class Cadence:
    """A manager's rule: ``every`` N days since the last contact; ``after_first_order`` N, M ... days after it;
    within N days ``on_entering`` one of ``classes`` ("lifecycle:at_risk"); N days ``before_birthday``."""

    key: int
    rule: str
    days: tuple[int, ...]
    classes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules read of one account."""

    last_contact: dt.date | None = None
    first_order: dt.date | None = None
    entered: tuple[tuple[str, dt.date], ...] = ()  # (class, the day the account entered it), current ones
    birthday: dt.date | None = None


@dataclass(frozen=True, slots=True)
class Due:
    key: str  # the task's source key: one open task per key, or one ever when ``once``
    due: dt.date
    once: bool


def _birthday_in(year: int, birthday: dt.date) -> dt.date:
    day = min(birthday.day, calendar.monthrange(year, birthday.month)[1])  # 29 February in other years: the 28th
    return dt.date(year, birthday.month, day)


def cadence_due(cadence: Cadence, facts: Facts, today: dt.date) -> list[Due]:
    """The follow-ups the cadence wants for the account on ``today`` (none before their time)."""
    prefix = f"cadence:{cadence.key}"
    out: list[Due] = []
    if cadence.rule == EVERY:
        (every,) = cadence.days[:1] or (30,)
        due = facts.last_contact + dt.timedelta(days=every) if facts.last_contact else today
        if due <= today:
            out.append(Due(prefix, today, once=False))
    elif cadence.rule == AFTER_FIRST_ORDER and facts.first_order is not None:
        for days in cadence.days:
            due = facts.first_order + dt.timedelta(days=days)
            if due <= today < due + dt.timedelta(days=FRESH_DAYS):
                out.append(Due(f"{prefix}:first:{days}", due, once=True))
    elif cadence.rule == ON_ENTERING:
        within = cadence.days[0] if cadence.days else 2
        for cls, since in facts.entered:
            if cls in cadence.classes and since <= today < since + dt.timedelta(days=FRESH_DAYS):
                out.append(Due(f"{prefix}:{cls}:{since.isoformat()}", since + dt.timedelta(days=within), once=True))
    elif cadence.rule == BEFORE_BIRTHDAY and facts.birthday is not None:
        ahead = cadence.days[0] if cadence.days else 7
        for year in (today.year, today.year + 1):
            birthday = _birthday_in(year, facts.birthday)
            start = birthday - dt.timedelta(days=ahead)
            if start <= today <= birthday:
                out.append(Due(f"{prefix}:birthday:{year}", max(start, today), once=True))
    return out


# --- complaints ------------------------------------------------------------------------------------------------

SEVERITIES = ("low", "normal", "high", "critical")
# Severity -> (hours to a first response, hours to a resolution). Written down here, once.
SLA_HOURS: dict[str, tuple[int, int]] = {
    "critical": (2, 24),
    "high": (4, 72),
    "normal": (24, 7 * 24),
    "low": (72, 14 * 24),
}


@dataclass(frozen=True, slots=True)
class Deadlines:
    respond_by: dt.datetime
    resolve_by: dt.datetime


def complaint_deadlines(opened: dt.datetime, severity: str) -> Deadlines:
    respond, resolve = SLA_HOURS[severity]
    return Deadlines(opened + dt.timedelta(hours=respond), opened + dt.timedelta(hours=resolve))


RESPONSE, RESOLUTION = "response", "resolution"


def breaches(
    deadlines: Deadlines, now: dt.datetime, *, responded: dt.datetime | None, resolved: dt.datetime | None
) -> list[str]:
    """Which deadlines passed with nothing done: the first response, the resolution."""
    out = []
    if responded is None and resolved is None and now >= deadlines.respond_by:
        out.append(RESPONSE)
    if resolved is None and now >= deadlines.resolve_by:
        out.append(RESOLUTION)
    return out
