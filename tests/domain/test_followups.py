"""When a recurring follow-up comes round again, and where a task stands, on hand-worked dates."""

from __future__ import annotations

import datetime as dt

import pytest

from patron.domain.followups import OVERDUE, TODAY, UPCOMING, Repeat, next_due, standing

CST = dt.timezone(dt.timedelta(hours=8))


def at(y: int, m: int, d: int, h: int = 9) -> dt.datetime:
    return dt.datetime(y, m, d, h, tzinfo=CST)


def test_a_repeat_counts_from_the_due_day_not_from_when_it_was_done():
    assert next_due(at(2026, 12, 1), Repeat(14, "days")) == at(2026, 12, 15)
    assert next_due(at(2026, 12, 1), Repeat(2, "weeks"), after=at(2026, 12, 3)) == at(2026, 12, 15)


def test_a_monthly_repeat_keeps_its_day_or_the_months_last():
    jan31 = at(2027, 1, 31)
    assert next_due(jan31, Repeat(1, "months")) == at(2027, 2, 28)
    assert next_due(jan31, Repeat(2, "months")) == at(2027, 3, 31)
    assert next_due(at(2026, 11, 30), Repeat(3, "months")) == at(2027, 2, 28)


def test_a_repeat_done_very_late_moves_to_the_first_time_still_ahead():
    # Due 1 Dec every 7 days, done on 20 Dec: 8th and 15th are past, the 22nd is next.
    assert next_due(at(2026, 12, 1), Repeat(7, "days"), after=at(2026, 12, 20)) == at(2026, 12, 22)


@pytest.mark.parametrize(("every", "unit"), [(0, "days"), (366, "days"), (1, "years")])
def test_a_repeat_must_make_sense(every, unit):
    with pytest.raises(ValueError, match=r"^(every|unit):"):
        Repeat(every, unit)


def test_overdue_today_and_upcoming_go_by_the_local_day():
    now = at(2026, 12, 7, 15)
    assert standing(at(2026, 12, 6, 23), now) == OVERDUE
    assert standing(at(2026, 12, 7, 8), now) == TODAY  # earlier today still reads "today"
    assert standing(at(2026, 12, 7, 20), now) == TODAY
    assert standing(at(2026, 12, 8, 0), now) == UPCOMING
    # 23:30 UTC on the 6th is 07:30 on the 7th in Shanghai: today.
    assert standing(dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC), now) == TODAY
