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


# --- cadences ---

from patron.domain.followups import (  # noqa: E402
    AFTER_FIRST_ORDER,
    BEFORE_BIRTHDAY,
    EVERY,
    ON_ENTERING,
    Cadence,
    Due,
    Facts,
    cadence_due,
)

DAY = dt.date(2026, 12, 7)


def test_every_n_days_since_the_last_contact_or_at_once_if_never_contacted():
    every14 = Cadence(1, EVERY, (14,))
    assert cadence_due(every14, Facts(last_contact=dt.date(2026, 11, 23)), DAY) == [Due("cadence:1", DAY, False)]
    assert cadence_due(every14, Facts(last_contact=dt.date(2026, 11, 24)), DAY) == []  # due tomorrow
    assert cadence_due(every14, Facts(), DAY) == [Due("cadence:1", DAY, False)]


def test_new_accounts_3_and_30_days_after_their_first_order_once_each():
    new = Cadence(2, AFTER_FIRST_ORDER, (3, 30))
    assert cadence_due(new, Facts(first_order=dt.date(2026, 12, 4)), DAY) == [
        Due("cadence:2:first:3", dt.date(2026, 12, 7), True)
    ]
    assert cadence_due(new, Facts(first_order=dt.date(2026, 11, 7)), DAY) == [
        Due("cadence:2:first:30", dt.date(2026, 12, 7), True)
    ]
    assert cadence_due(new, Facts(first_order=dt.date(2026, 12, 5)), DAY) == []  # 3 days: not yet
    assert cadence_due(new, Facts(first_order=dt.date(2025, 1, 1)), DAY) == []  # long past: no stale task
    assert cadence_due(new, Facts(), DAY) == []


def test_turning_at_risk_asks_for_a_contact_within_2_days_once_per_time_it_happens():
    risk = Cadence(3, ON_ENTERING, (2,), frozenset({"lifecycle:at_risk"}))
    entered = Facts(entered=(("lifecycle:at_risk", dt.date(2026, 12, 6)), ("value_tier:high", dt.date(2026, 12, 6))))
    assert cadence_due(risk, entered, DAY) == [
        Due("cadence:3:lifecycle:at_risk:2026-12-06", dt.date(2026, 12, 8), True)
    ]
    assert cadence_due(risk, Facts(entered=(("lifecycle:loyal", dt.date(2026, 12, 6)),)), DAY) == []


def test_a_week_before_a_birthday_and_29_february_in_other_years():
    bday = Cadence(4, BEFORE_BIRTHDAY, (7,))
    assert cadence_due(bday, Facts(birthday=dt.date(1990, 12, 14)), DAY) == [Due("cadence:4:birthday:2026", DAY, True)]
    assert cadence_due(bday, Facts(birthday=dt.date(1990, 12, 15)), DAY) == []
    leap = Facts(birthday=dt.date(1992, 2, 29))
    assert cadence_due(bday, leap, dt.date(2027, 2, 21)) == [Due("cadence:4:birthday:2027", dt.date(2027, 2, 21), True)]
    new_year = Facts(birthday=dt.date(1990, 1, 3))  # across the year's end
    assert cadence_due(bday, new_year, dt.date(2026, 12, 30)) == [
        Due("cadence:4:birthday:2027", dt.date(2026, 12, 30), True)
    ]


# --- surveys ---

from patron.domain.surveys import check_answers, nps_of, parse_questions  # noqa: E402


def test_nps_is_promoters_less_detractors_in_points():
    # 10, 9, 9 promoters; 8, 7 passives; 6, 0 detractors: (3 - 2) / 7 = 14.3 points
    nps = nps_of([10, 9, 9, 8, 7, 6, 0])
    assert (nps.answers, nps.promoters, nps.passives, nps.detractors) == (7, 3, 2, 2)
    assert nps.score == 14.3
    assert nps_of([]).score is None
    assert nps_of([0, 3]).score == -100.0


def test_questions_and_answers_are_checked_field_by_field():
    questions, problems = parse_questions(
        [
            {"kind": "rating", "text": "Delivery on time?", "required": True},
            {"kind": "choice", "text": "Which channel?", "choices": ["Phone", "WeChat"]},
            {"kind": "text", "text": "Anything else?"},
            {"kind": "choice", "text": "Bad", "choices": ["Only one"]},
            {"kind": "video", "text": ""},
        ]
    )
    assert problems == {
        "questions[3].choices": "too_few",
        "questions[4].kind": "invalid_choice",
        "questions[4].text": "required",
    }
    good, none = check_answers(questions[:3], {"nps": "9", "q1": "4", "q2": "WeChat", "q3": " Fast "})
    assert (good, none) == ({"nps": 9, "q1": 4, "q2": "WeChat", "q3": "Fast"}, {})
    _answers, bad = check_answers(questions[:3], {"nps": "11", "q1": "", "q2": "Fax"})
    assert bad == {"nps": "out_of_range", "q1": "required", "q2": "invalid_choice"}


# --- complaints ---

from patron.domain.followups import RESOLUTION, RESPONSE, breaches, complaint_deadlines  # noqa: E402


def test_deadlines_by_severity_and_which_are_missed():
    opened = dt.datetime(2026, 12, 7, 9, tzinfo=CST)
    critical = complaint_deadlines(opened, "critical")
    assert (critical.respond_by, critical.resolve_by) == (opened + dt.timedelta(hours=2), opened + dt.timedelta(days=1))
    low = complaint_deadlines(opened, "low")
    assert (low.respond_by, low.resolve_by) == (opened + dt.timedelta(days=3), opened + dt.timedelta(days=14))
    at = opened + dt.timedelta(hours=3)
    assert breaches(critical, at, responded=None, resolved=None) == [RESPONSE]
    assert breaches(critical, at, responded=opened + dt.timedelta(hours=1), resolved=None) == []
    late = opened + dt.timedelta(days=2)
    assert breaches(critical, late, responded=opened, resolved=None) == [RESOLUTION]
    assert breaches(critical, late, responded=None, resolved=None) == [RESPONSE, RESOLUTION]
    assert breaches(critical, late, responded=None, resolved=opened + dt.timedelta(hours=5)) == []
