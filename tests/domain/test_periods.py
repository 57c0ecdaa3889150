"""Months, quarters, half years, years and custom periods as half-open date ranges."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.periods import (
    Period,
    PeriodKind,
    period_containing,
    previous_period,
    trailing_days,
    trailing_months,
    window_period,
)

CALENDAR = [PeriodKind.MONTH, PeriodKind.QUARTER, PeriodKind.HALF_YEAR, PeriodKind.YEAR]
# Far enough from year 9999 that a period of up to 2,000 days and the one before it both fit.
days = st.dates(min_value=date(1900, 1, 1), max_value=date(9990, 12, 31))


@pytest.mark.parametrize(
    ("day", "kind", "start", "end", "label"),
    [
        (date(2026, 2, 14), PeriodKind.MONTH, date(2026, 2, 1), date(2026, 3, 1), "2026-02"),
        (date(2024, 2, 29), PeriodKind.MONTH, date(2024, 2, 1), date(2024, 3, 1), "2024-02"),
        (date(2026, 12, 31), PeriodKind.MONTH, date(2026, 12, 1), date(2027, 1, 1), "2026-12"),
        (date(2026, 1, 1), PeriodKind.QUARTER, date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
        (date(2026, 3, 31), PeriodKind.QUARTER, date(2026, 1, 1), date(2026, 4, 1), "2026-Q1"),
        (date(2026, 4, 1), PeriodKind.QUARTER, date(2026, 4, 1), date(2026, 7, 1), "2026-Q2"),
        (date(2026, 11, 30), PeriodKind.QUARTER, date(2026, 10, 1), date(2027, 1, 1), "2026-Q4"),
        (date(2026, 6, 30), PeriodKind.HALF_YEAR, date(2026, 1, 1), date(2026, 7, 1), "2026-H1"),
        (date(2026, 7, 1), PeriodKind.HALF_YEAR, date(2026, 7, 1), date(2027, 1, 1), "2026-H2"),
        (date(2026, 8, 8), PeriodKind.YEAR, date(2026, 1, 1), date(2027, 1, 1), "2026"),
    ],
)
def test_the_period_containing_a_day(day, kind, start, end, label):
    period = period_containing(day, kind)
    assert (period.start, period.end, period.kind, period.label()) == (start, end, kind, label)


@pytest.mark.parametrize(
    ("kind", "start", "previous_start", "previous_end"),
    [
        (PeriodKind.MONTH, date(2026, 3, 1), date(2026, 2, 1), date(2026, 3, 1)),
        (PeriodKind.MONTH, date(2026, 1, 1), date(2025, 12, 1), date(2026, 1, 1)),
        (PeriodKind.QUARTER, date(2026, 1, 1), date(2025, 10, 1), date(2026, 1, 1)),
        (PeriodKind.HALF_YEAR, date(2026, 7, 1), date(2026, 1, 1), date(2026, 7, 1)),
        (PeriodKind.YEAR, date(2026, 1, 1), date(2025, 1, 1), date(2026, 1, 1)),
    ],
)
def test_the_previous_calendar_period(kind, start, previous_start, previous_end):
    previous = previous_period(period_containing(start, kind))
    assert (previous.start, previous.end, previous.kind) == (previous_start, previous_end, kind)


def test_the_previous_custom_period_has_the_same_length_and_ends_where_it_starts():
    period = Period(date(2026, 3, 10), date(2026, 3, 20))
    previous = previous_period(period)
    assert (previous.start, previous.end, previous.kind) == (date(2026, 2, 28), date(2026, 3, 10), PeriodKind.CUSTOM)


def test_a_period_is_half_open():
    march = period_containing(date(2026, 3, 5), PeriodKind.MONTH)
    assert date(2026, 3, 1) in march
    assert date(2026, 3, 31) in march
    assert date(2026, 4, 1) not in march
    assert date(2026, 2, 28) not in march
    assert march.last_day == date(2026, 3, 31)
    assert march.days == 31


def test_a_custom_period_is_labelled_by_its_first_and_last_day():
    assert Period(date(2026, 1, 5), date(2026, 2, 5)).label() == "2026-01-05..2026-02-04"


@pytest.mark.parametrize(("start", "end"), [(date(2026, 1, 2), date(2026, 1, 2)), (date(2026, 1, 2), date(2026, 1, 1))])
def test_a_period_must_end_after_it_starts(start, end):
    with pytest.raises(ValueError, match="end after it starts"):
        Period(start, end)


def test_a_custom_period_cannot_be_found_from_one_day():
    with pytest.raises(ValueError, match="explicit dates"):
        period_containing(date(2026, 1, 1), PeriodKind.CUSTOM)


def test_trailing_days_end_before_the_given_day():
    period = trailing_days(date(2026, 3, 1), 30)
    assert (period.start, period.last_day, period.days) == (date(2026, 1, 30), date(2026, 2, 28), 30)
    assert date(2026, 3, 1) not in period


# --- properties ------------------------------------------------------------------------------------------


@given(days, st.sampled_from(CALENDAR))
def test_the_period_containing_a_day_contains_it(day, kind):
    period = period_containing(day, kind)
    assert day in period
    assert period.start.day == 1
    assert period.end.day == 1


@given(days, st.sampled_from(CALENDAR))
def test_every_day_of_a_period_is_in_the_same_period(day, kind):
    period = period_containing(day, kind)
    assert period_containing(period.start, kind) == period
    assert period_containing(period.last_day, kind) == period


@given(days, st.sampled_from(CALENDAR))
def test_the_previous_period_ends_where_the_given_one_starts(day, kind):
    period = period_containing(day, kind)
    previous = previous_period(period)
    assert previous.end == period.start
    assert previous.kind == kind
    assert previous.start < period.start


@given(days, st.integers(min_value=1, max_value=2000))
def test_the_previous_custom_period_is_as_long_and_adjacent(start, length):
    period = Period(start, start + timedelta(days=length))
    previous = previous_period(period)
    assert previous.end == period.start
    assert previous.days == period.days


@given(days, st.sampled_from(CALENDAR))
def test_calendar_periods_have_their_usual_length(day, kind):
    period = period_containing(day, kind)
    low, high = {
        PeriodKind.MONTH: (28, 31),
        PeriodKind.QUARTER: (90, 92),
        PeriodKind.HALF_YEAR: (181, 184),
        PeriodKind.YEAR: (365, 366),
    }[kind]
    assert low <= period.days <= high


@given(days)
def test_smaller_periods_nest_in_larger_ones(day):
    month, quarter, half, year = (period_containing(day, kind) for kind in CALENDAR)
    assert year.start <= half.start <= quarter.start <= month.start
    assert month.end <= quarter.end <= half.end <= year.end


@pytest.mark.parametrize(
    ("window", "as_of", "start", "end"),
    [
        ("trailing_12_months", date(2026, 11, 25), date(2025, 11, 26), date(2026, 11, 26)),
        ("trailing_12_months", date(2024, 2, 29), date(2023, 3, 1), date(2024, 3, 1)),
        ("this_month", date(2026, 11, 25), date(2026, 11, 1), date(2026, 11, 26)),
        ("this_quarter", date(2026, 11, 25), date(2026, 10, 1), date(2026, 11, 26)),
        ("last_quarter", date(2026, 11, 25), date(2026, 7, 1), date(2026, 10, 1)),
        ("last_quarter", date(2026, 2, 1), date(2025, 10, 1), date(2026, 1, 1)),
        ("this_year", date(2026, 11, 25), date(2026, 1, 1), date(2026, 11, 26)),
    ],
)
def test_a_window_ends_on_the_run_day_or_is_the_whole_last_quarter(
    window: str, as_of: date, start: date, end: date
) -> None:
    period = window_period(window, as_of)
    assert (period.start, period.end) == (start, end)


def test_a_custom_window_includes_its_last_day_and_needs_both_dates() -> None:
    assert window_period("custom", date(2026, 11, 25), date(2026, 1, 1), date(2026, 3, 31)).end == date(2026, 4, 1)
    with pytest.raises(ValueError, match="first and last day"):
        window_period("custom", date(2026, 11, 25), date(2026, 1, 1))
    with pytest.raises(ValueError, match="unknown window"):
        window_period("fortnight", date(2026, 11, 25))


def test_trailing_months_clamp_to_the_end_of_a_shorter_month() -> None:
    assert trailing_months(date(2026, 3, 31), 1).start == date(2026, 2, 28)
