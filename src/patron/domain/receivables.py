"""What an account owes: invoice balances, overdue amounts and aging buckets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# (name, first day late, last day late); None is open-ended. Not yet due or due today is "current".
AGING_BUCKETS: tuple[tuple[str, int | None, int | None], ...] = (
    ("current", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with what is still owed on it, in one currency."""

    due: date
    outstanding: Decimal


def days_overdue(due: date, today: date) -> int:
    return (today - due).days


def bucket_of(due: date, today: date) -> str:
    late = days_overdue(due, today)
    for name, low, high in AGING_BUCKETS:
        if (low is None or late >= low) and (high is None or late <= high):
            return name
    raise AssertionError("aging buckets cover every day")


def aging(items: Iterable[OpenItem], today: date) -> dict[str, Decimal]:
    """Outstanding amounts by bucket; every bucket is present, zero when empty."""
    result = {name: Decimal(0) for name, _, _ in AGING_BUCKETS}
    for item in items:
        if item.outstanding > 0:
            result[bucket_of(item.due, today)] += item.outstanding
    return result


def overdue(items: Iterable[OpenItem], today: date) -> Decimal:
    return sum((i.outstanding for i in items if i.outstanding > 0 and i.due < today), Decimal(0))


def days_sales_outstanding(owed: Decimal, credit_sales: Decimal, days: int) -> Decimal | None:
    """DSO by the usual formula: what is owed now over the sales invoiced in the last ``days``, times ``days``.
    None when nothing was invoiced (there is no cycle to speak of); rounded to a tenth of a day."""
    if days <= 0:
        raise ValueError("days must be positive")
    if credit_sales <= 0:
        return None
    return (owed / credit_sales * days).quantize(Decimal("0.1"))


# Bad-debt risk from the overdue pattern, worst first: the flag and the reason that raised it.
RISK_HIGH, RISK_MEDIUM, RISK_LOW, RISK_NONE = "high", "medium", "low", "none"


@dataclass(frozen=True, slots=True)
class Risk:
    level: str
    code: str  # why: LONG_OVERDUE, PROMISES_BROKEN, OVERDUE_61_90, MOSTLY_OVERDUE, PROMISE_BROKEN, OVERDUE, NONE


def bad_debt_risk(buckets: dict[str, Decimal], broken_promises: int = 0) -> Risk:
    """High: anything more than 90 days late, or two promises to pay broken. Medium: 61-90 days late,
    one promise broken, or more than half of what is owed overdue. Low: anything overdue. None otherwise."""
    owed = sum(buckets.values(), Decimal(0))
    late = owed - buckets.get("current", Decimal(0))
    if buckets.get("90+", Decimal(0)) > 0:
        return Risk(RISK_HIGH, "LONG_OVERDUE")
    if broken_promises >= 2:
        return Risk(RISK_HIGH, "PROMISES_BROKEN")
    if buckets.get("61-90", Decimal(0)) > 0:
        return Risk(RISK_MEDIUM, "OVERDUE_61_90")
    if broken_promises == 1:
        return Risk(RISK_MEDIUM, "PROMISE_BROKEN")
    if owed > 0 and late * 2 > owed:
        return Risk(RISK_MEDIUM, "MOSTLY_OVERDUE")
    if late > 0:
        return Risk(RISK_LOW, "OVERDUE")
    return Risk(RISK_NONE, "NONE")


def parse_schedule(text: str) -> tuple[int, ...]:
    """Collection reminder days relative to the due date, e.g. "-3,0,7,30": three days before, on the day,
    a week and a month after. Sorted, without repeats; ValueError names what is wrong."""
    days: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        try:
            day = int(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a whole number of days") from None
        if not -60 <= day <= 365:
            raise ValueError(f"{day} is outside -60..365 days")
        days.add(day)
    return tuple(sorted(days))


FRESH_DAYS = 14


def reminder_due(
    due: date, today: date, schedule: tuple[int, ...], sent: frozenset[int], fresh: int = FRESH_DAYS
) -> int | None:
    """The step (days from the due date) whose reminder goes out today, or None.

    Only the latest step reached is sent: an invoice found 20 days late on its first check gets the
    7-day reminder, not the whole backlog at once; a step already sent is never sent again, nor is any
    step earlier than one already sent. A step reached more than ``fresh`` days ago is stale: an
    invoice 280 days late when reminders are first switched on is for a person to chase, not a
    "30 days after due" email."""
    late = days_overdue(due, today)
    reached = [step for step in schedule if step <= late]
    if not reached:
        return None
    step = reached[-1]
    if step in sent or any(s > step for s in sent) or late - step > fresh:
        return None
    return step
