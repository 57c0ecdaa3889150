"""Calendar periods (month, quarter, half year, year, custom) as half-open date ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    HALF_YEAR = "half_year"
    YEAR = "year"
    CUSTOM = "custom"


_MONTHS = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.HALF_YEAR: 6, PeriodKind.YEAR: 12}


@dataclass(frozen=True, slots=True)
class Period:
    """Days from ``start`` up to but not including ``end``."""

    start: date
    end: date
    kind: PeriodKind = PeriodKind.CUSTOM

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period must end after it starts")

    def __contains__(self, day: date) -> bool:
        return self.start <= day < self.end

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def label(self) -> str:
        s = self.start
        match self.kind:
            case PeriodKind.MONTH:
                return f"{s.year}-{s.month:02d}"
            case PeriodKind.QUARTER:
                return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
            case PeriodKind.HALF_YEAR:
                return f"{s.year}-H{(s.month - 1) // 6 + 1}"
            case PeriodKind.YEAR:
                return str(s.year)
        return f"{s.isoformat()}..{self.last_day.isoformat()}"


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def period_containing(day: date, kind: PeriodKind) -> Period:
    if kind is PeriodKind.CUSTOM:
        raise ValueError("a custom period needs explicit dates")
    size = _MONTHS[kind]
    first_month = ((day.month - 1) // size) * size + 1
    start = date(day.year, first_month, 1)
    return Period(start, _add_months(start, size), kind)


def previous_period(period: Period) -> Period:
    if period.kind is PeriodKind.CUSTOM:
        return Period(period.start - timedelta(days=period.days), period.start)
    return period_containing(period.start - timedelta(days=1), period.kind)


def trailing_days(end_exclusive: date, days: int) -> Period:
    return Period(end_exclusive - timedelta(days=days), end_exclusive)


def trailing_months(end_exclusive: date, months: int) -> Period:
    """The ``months`` calendar months before ``end_exclusive``, same day of month (clamped)."""
    index = end_exclusive.year * 12 + (end_exclusive.month - 1) - months
    year, month = index // 12, index % 12 + 1
    day = end_exclusive.day
    while True:
        try:
            return Period(date(year, month, day), end_exclusive)
        except ValueError:
            day -= 1  # 31 March less one month is 28 or 29 February


WINDOWS = ("trailing_12_months", "this_month", "this_quarter", "last_quarter", "this_year", "custom")


def window_period(window: str, as_of: date, start: date | None = None, end: date | None = None) -> Period:
    """The period a classification measures over when it is run on ``as_of`` (included).

    "This ..." windows end with ``as_of``, so a run mid-quarter sees the quarter so far;
    a custom window is its own dates (``end`` included).
    """
    after = as_of + timedelta(days=1)
    match window:
        case "trailing_12_months":
            return trailing_months(after, 12)
        case "this_month":
            return Period(period_containing(as_of, PeriodKind.MONTH).start, after, PeriodKind.MONTH)
        case "this_quarter":
            return Period(period_containing(as_of, PeriodKind.QUARTER).start, after, PeriodKind.QUARTER)
        case "last_quarter":
            return previous_period(period_containing(as_of, PeriodKind.QUARTER))
        case "this_year":
            return Period(period_containing(as_of, PeriodKind.YEAR).start, after, PeriodKind.YEAR)
        case "custom":
            if start is None or end is None:
                raise ValueError("a custom window needs its first and last day")
            return Period(start, end + timedelta(days=1))
    raise ValueError(f"unknown window {window!r}")
