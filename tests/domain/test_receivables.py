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


# --- DSO, bad-debt risk, collection reminders ---------------------------------------------------------------

from patron.domain.receivables import (  # noqa: E402
    bad_debt_risk,
    days_sales_outstanding,
    parse_schedule,
    reminder_due,
)


def test_dso_is_owed_over_recent_sales_times_the_days():
    # 30,000 owed, 90,000 invoiced in 90 days: a month of sales outstanding.
    assert days_sales_outstanding(Decimal(30000), Decimal(90000), 90) == Decimal("30.0")
    assert days_sales_outstanding(Decimal(100), Decimal(300), 90) == Decimal("30.0")
    assert days_sales_outstanding(Decimal(100), Decimal(0), 90) is None
    with pytest.raises(ValueError, match="days"):
        days_sales_outstanding(Decimal(1), Decimal(1), 0)


def buckets(**amounts: int) -> dict[str, Decimal]:
    result = {name: Decimal(0) for name in BUCKETS}
    for key, value in amounts.items():
        result[{"b1": "1-30", "b31": "31-60", "b61": "61-90", "b91": "90+"}.get(key, key)] = Decimal(value)
    return result


@pytest.mark.parametrize(
    ("owed", "broken", "level", "code"),
    [
        (buckets(), 0, "none", "NONE"),
        (buckets(current=1000), 0, "none", "NONE"),
        (buckets(current=1000, b1=100), 0, "low", "OVERDUE"),
        (buckets(current=100, b1=200), 0, "medium", "MOSTLY_OVERDUE"),
        (buckets(current=1000, b61=1), 0, "medium", "OVERDUE_61_90"),
        (buckets(current=1000), 1, "medium", "PROMISE_BROKEN"),
        (buckets(current=1000), 2, "high", "PROMISES_BROKEN"),
        (buckets(current=100000, b91=1), 0, "high", "LONG_OVERDUE"),
    ],
)
def test_bad_debt_risk_follows_the_overdue_pattern(owed, broken, level, code):
    risk = bad_debt_risk(owed, broken)
    assert (risk.level, risk.code) == (level, code)


def test_a_schedule_is_read_sorted_and_checked():
    assert parse_schedule("7, -3,0,30,7") == (-3, 0, 7, 30)
    assert parse_schedule("") == ()
    with pytest.raises(ValueError, match="'a'"):
        parse_schedule("-3,a")
    with pytest.raises(ValueError, match="400"):
        parse_schedule("400")


SCHEDULE = (-3, 0, 7, 30)


@pytest.mark.parametrize(
    ("days_late", "sent", "step"),
    [
        (-4, set(), None),  # too early
        (-3, set(), -3),  # three days before
        (-1, {-3}, None),  # already told
        (0, {-3}, 0),  # on the day
        (20, set(), 7),  # found late: only the latest step, not the backlog
        (20, {7}, None),
        (31, {7}, 30),
        (31, {30}, None),
        (8, {30}, None),  # nothing earlier than a step already sent
        (44, set(), 30),  # 14 days after the step: still fresh
        (45, set(), None),  # 15 days after: stale, a person chases it
        (280, set(), None),  # switched on with an old backlog: no flood of "30 days after" emails
    ],
)
def test_each_reminder_goes_once_and_only_the_latest_one_due(days_late, sent, step):
    due = TODAY - timedelta(days=days_late)
    assert reminder_due(due, TODAY, SCHEDULE, frozenset(sent)) == step


@given(
    days_late=st.integers(-100, 400),
    sent=st.frozensets(st.sampled_from(SCHEDULE)),
)
def test_a_reminder_due_is_never_one_already_sent_nor_one_not_yet_reached(days_late, sent):
    step = reminder_due(TODAY - timedelta(days=days_late), TODAY, SCHEDULE, sent)
    if step is not None:
        assert step not in sent
        assert step <= days_late
        assert all(s < step for s in sent)
