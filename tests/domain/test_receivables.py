"""Aging buckets and overdue amounts, on every boundary."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.receivables import AGING_BUCKETS, OpenItem, aging, bucket_of, days_overdue, overdue

TODAY = date(2026, 6, 30)
BUCKETS = [name for name, _low, _high in AGING_BUCKETS]


@pytest.mark.parametrize(
    ("days_late", "bucket"),
    [
        (-3650, "current"),  # due in ten years
        (-1, "current"),  # due tomorrow
        (0, "current"),  # due today is not late yet
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (60, "31-60"),
        (61, "61-90"),
        (90, "61-90"),
        (91, "90+"),
        (3650, "90+"),
    ],
)
def test_each_day_late_falls_in_one_bucket(days_late, bucket):
    due = TODAY - timedelta(days=days_late)
    assert days_overdue(due, TODAY) == days_late
    assert bucket_of(due, TODAY) == bucket


def test_a_due_date_at_the_end_of_the_calendar_is_current():
    assert bucket_of(date.max, date(1, 1, 1)) == "current"
    assert bucket_of(date(1, 1, 1), date.max) == "90+"


def test_aging_adds_outstanding_amounts_by_bucket_and_shows_empty_buckets():
    items = [
        OpenItem(due=TODAY, outstanding=Decimal("100.00")),
        OpenItem(due=TODAY + timedelta(days=10), outstanding=Decimal("50.00")),
        OpenItem(due=TODAY - timedelta(days=30), outstanding=Decimal("20.00")),
        OpenItem(due=TODAY - timedelta(days=31), outstanding=Decimal("7.50")),
        OpenItem(due=TODAY - timedelta(days=91), outstanding=Decimal("1.25")),
        OpenItem(due=TODAY - timedelta(days=200), outstanding=Decimal("0")),  # settled
    ]
    assert aging(items, TODAY) == {
        "current": Decimal("150.00"),
        "1-30": Decimal("20.00"),
        "31-60": Decimal("7.50"),
        "61-90": Decimal("0"),
        "90+": Decimal("1.25"),
    }


def test_nothing_open_is_all_zero_buckets():
    assert aging([], TODAY) == dict.fromkeys(BUCKETS, Decimal(0))
    assert list(aging([], TODAY)) == ["current", "1-30", "31-60", "61-90", "90+"]


def test_overdue_counts_only_what_was_due_before_today():
    items = [
        OpenItem(due=TODAY, outstanding=Decimal("100.00")),
        OpenItem(due=TODAY - timedelta(days=1), outstanding=Decimal("40.00")),
        OpenItem(due=TODAY - timedelta(days=400), outstanding=Decimal("2.00")),
        OpenItem(due=TODAY - timedelta(days=5), outstanding=Decimal("-3.00")),  # an overpayment is not owed
    ]
    assert overdue(items, TODAY) == Decimal("42.00")
    assert overdue([], TODAY) == Decimal(0)


# --- properties --------------------------------------------------------------------------------------------

dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))
amounts = st.decimals(min_value=Decimal("-1000"), max_value=Decimal("100000"), places=2, allow_nan=False)
items = st.lists(st.builds(OpenItem, due=dates, outstanding=amounts), max_size=30)


@given(dates, dates)
def test_every_day_has_exactly_one_bucket(due, today):
    late = days_overdue(due, today)
    matching = [
        name for name, low, high in AGING_BUCKETS if (low is None or late >= low) and (high is None or late <= high)
    ]
    assert matching == [bucket_of(due, today)]


@given(items, dates)
def test_the_buckets_add_up_to_what_is_owed(open_items, today):
    owed = sum((i.outstanding for i in open_items if i.outstanding > 0), Decimal(0))
    buckets = aging(open_items, today)
    assert list(buckets) == BUCKETS
    assert sum(buckets.values(), Decimal(0)) == owed
    assert owed - buckets["current"] == overdue(open_items, today)


@given(items, dates)
def test_a_day_later_nothing_gets_less_overdue(open_items, today):
    assert overdue(open_items, today + timedelta(days=1)) >= overdue(open_items, today)
