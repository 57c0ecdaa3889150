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
