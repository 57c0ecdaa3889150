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
