"""Opportunities as rules: the moves allowed between stages, the time spent in each, and the weighted forecast."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.pipeline import (
    CLOSED_TO_CLOSED,
    DEFAULT_PROBABILITY,
    LOST,
    NEEDS_ANALYSIS,
    NEGOTIATION,
    OPEN_STAGES,
    PROPOSAL,
    QUALIFICATION,
    REASON_REQUIRED,
    STAGES,
    UNKNOWN_STAGE,
    WON,
    Deal,
    StageStep,
    average_time_in_stages,
    check_move,
    forecast,
    forecast_by,
    is_overdue,
    months_from,
    stage_spans,
    time_in_stages,
    weighted,
)

T0 = dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC)


def days(n: float) -> dt.timedelta:
    return dt.timedelta(days=n)


def test_stages_run_in_board_order_with_their_default_probabilities():
    assert STAGES == (QUALIFICATION, NEEDS_ANALYSIS, PROPOSAL, NEGOTIATION, WON, LOST)
    assert [DEFAULT_PROBABILITY[s] for s in STAGES] == [10, 25, 50, 75, 100, 0]


@pytest.mark.parametrize(
    ("current", "target", "reason", "allowed", "changed", "probability", "closes", "reopens"),
    [
        (QUALIFICATION, NEEDS_ANALYSIS, "", True, True, 25, False, False),
        (NEGOTIATION, PROPOSAL, "", True, True, 50, False, False),  # back a step is fine
        (QUALIFICATION, WON, "", True, True, 100, True, False),  # straight to won
        (PROPOSAL, LOST, "Price", True, True, 0, True, False),
        (PROPOSAL, LOST, "  ", False, False, 50, False, False),  # lost needs a reason
        (WON, LOST, "Cancelled", False, False, 100, False, False),  # closed to closed: reopen first
        (LOST, WON, "", False, False, 0, False, False),
        (WON, NEGOTIATION, "", True, True, 75, False, True),  # reopened
        (LOST, QUALIFICATION, "", True, True, 10, False, True),
        (PROPOSAL, PROPOSAL, "", True, False, 50, False, False),  # already there: nothing to do
        (PROPOSAL, "signed", "", False, False, 50, False, False),
    ],
)
def test_which_moves_are_allowed(current, target, reason, allowed, changed, probability, closes, reopens):
    move = check_move(current, target, lost_reason=reason, current_probability=DEFAULT_PROBABILITY[current])
    assert (move.allowed, move.changed, move.probability, move.closes, move.reopens) == (
        allowed,
        changed,
        probability,
        closes,
        reopens,
    )


def test_a_refused_move_says_why():
    assert [r.code for r in check_move(WON, LOST).reasons] == [CLOSED_TO_CLOSED, REASON_REQUIRED]
    assert [r.code for r in check_move(PROPOSAL, "x").reasons] == [UNKNOWN_STAGE]


@pytest.mark.parametrize(
    ("target", "given", "kept"),
    [(PROPOSAL, 40, 40), (PROPOSAL, None, 50), (WON, 40, 100), (NEGOTIATION, 0, 0), (PROPOSAL, 101, 10)],
)
def test_a_probability_given_is_kept_for_open_stages_only(target, given, kept):
    move = check_move(QUALIFICATION, target, probability=given, current_probability=10)
    assert move.probability == kept


def test_time_in_each_stage_adds_up_and_a_stage_visited_twice_counts_both_times():
    steps = [
        StageStep(T0 + days(10), QUALIFICATION, PROPOSAL),
        StageStep(T0 + days(25), PROPOSAL, NEGOTIATION),
        StageStep(T0 + days(30), NEGOTIATION, PROPOSAL),
        StageStep(T0 + days(33), PROPOSAL, WON),
    ]
    spans = stage_spans(T0, QUALIFICATION, steps, now=T0 + days(40))
    assert [(s.stage, s.duration.days) for s in spans] == [
        (QUALIFICATION, 10),
        (PROPOSAL, 15),
        (NEGOTIATION, 5),
        (PROPOSAL, 3),
        (WON, 7),
    ]
    assert spans[-1].end is None
    assert {k: v.days for k, v in time_in_stages(spans).items()} == {
        QUALIFICATION: 10,
        PROPOSAL: 18,
        NEGOTIATION: 5,
        WON: 7,
    }


def test_steps_out_of_order_or_in_the_future_are_held_within_the_opportunitys_life():
    steps = [StageStep(T0 - days(3), QUALIFICATION, PROPOSAL), StageStep(T0 + days(99), PROPOSAL, WON)]
    spans = stage_spans(T0, QUALIFICATION, steps, now=T0 + days(5))
    assert sum((s.duration for s in spans), dt.timedelta(0)) == days(5)
    assert [s.stage for s in spans] == [PROPOSAL, WON]


def test_average_time_per_stage_counts_only_opportunities_that_were_in_it():
    means = average_time_in_stages([{QUALIFICATION: days(4), PROPOSAL: days(10)}, {QUALIFICATION: days(2)}])
    assert means == {QUALIFICATION: days(3), PROPOSAL: days(10)}


TODAY = dt.date(2026, 3, 15)


def deal(amount: str, stage: str, close: dt.date, probability: int | None = None, **kw) -> Deal:
    p = DEFAULT_PROBABILITY[stage] if probability is None else probability
    return Deal(Decimal(amount), stage, p, close, **kw)


def test_the_forecast_weighs_open_deals_counts_won_in_full_and_leaves_lost_out():
    deals = [
        deal("1000", PROPOSAL, dt.date(2026, 3, 31)),  # 500
        deal("2000", NEGOTIATION, dt.date(2026, 4, 10), owner="li"),  # 1500
        deal("300", WON, dt.date(2026, 5, 1), closed_on=dt.date(2026, 3, 2)),  # won in March: 300
        deal("900", LOST, dt.date(2026, 3, 20)),
        deal("100", QUALIFICATION, dt.date(2026, 2, 1)),  # overdue: still expected, this month, 10
        deal("5000", PROPOSAL, dt.date(2026, 9, 1)),  # beyond three months
    ]
    result = forecast(deals, today=TODAY, months=3, currency="CNY")
    assert [(m.month, line.weighted, line.count) for m, line in result.months] == [
        (3, Decimal("810.00"), 3),
        (4, Decimal("1500.00"), 1),
        (5, Decimal(0), 0),
    ]
    march = result.months[0][1]
    assert (march.won, march.open_amount, march.overdue, march.best_case) == (
        Decimal("300"),
        Decimal("1100"),
        1,
        Decimal("1400"),
    )
    assert [(s, line.weighted) for s, line in result.by_stage] == [
        (QUALIFICATION, Decimal("10.00")),
        (PROPOSAL, Decimal("500.00")),
        (NEGOTIATION, Decimal("1500.00")),
        (WON, Decimal("300.00")),
    ]
    assert result.total.weighted == Decimal("2310.00")
    by_owner = forecast_by(deals, lambda d: d.owner, currency="CNY")
    assert by_owner["li"].weighted == Decimal("1500.00")


@pytest.mark.parametrize(
    ("stage", "probability", "expected"),
    [
        (PROPOSAL, 33, "333.33"),
        (PROPOSAL, 25, "252.53"),
        (WON, 10, "1010.10"),
        (LOST, 50, "0"),
        (QUALIFICATION, 0, "0.00"),
    ],
)
def test_weighted_amounts_round_half_up_to_the_currency(stage, probability, expected):
    # 1010.10 x 33% = 333.333, 1010.10 x 25% = 252.525 (half up: .53)
    assert weighted(Deal(Decimal("1010.10"), stage, probability, TODAY), "CNY") == Decimal(expected)


@pytest.mark.parametrize(
    ("stage", "close", "overdue"),
    [
        (PROPOSAL, dt.date(2026, 3, 14), True),
        (PROPOSAL, TODAY, False),
        (WON, dt.date(2026, 1, 1), False),
        (LOST, dt.date(2026, 1, 1), False),
    ],
)
def test_an_open_opportunity_past_its_expected_close_is_overdue(stage, close, overdue):
    assert is_overdue(stage, close, TODAY) is overdue


def test_months_run_across_the_year_end():
    assert months_from(dt.date(2026, 11, 30), 3) == [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1)]


steps_strategy = st.lists(st.tuples(st.integers(min_value=-100, max_value=2000), st.sampled_from(STAGES)), max_size=12)


@given(steps=steps_strategy, age=st.integers(min_value=0, max_value=1500))
def test_time_in_stages_always_sums_to_the_opportunitys_age(steps, age):
    now = T0 + dt.timedelta(hours=age)
    recorded = [StageStep(T0 + dt.timedelta(hours=h), "", stage) for h, stage in steps]
    spans = stage_spans(T0, QUALIFICATION, recorded, now=now)
    assert sum(time_in_stages(spans).values(), dt.timedelta(0)) == now - T0
    assert all(s.duration >= dt.timedelta(0) for s in spans)


deal_strategy = st.builds(
    Deal,
    amount=st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    stage=st.sampled_from(STAGES),
    probability=st.integers(min_value=0, max_value=100),
    expected_close=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)),
    closed_on=st.none() | st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)),
)


@given(deals=st.lists(deal_strategy, max_size=20), months=st.integers(min_value=1, max_value=24))
def test_the_forecast_never_exceeds_what_is_open_and_won_and_months_add_up_to_the_total(deals, months):
    result = forecast(deals, today=TODAY, months=months, currency="CNY")
    for _month, line in result.months:
        assert Decimal(0) <= line.weighted <= line.open_amount + line.won
    assert sum((line.weighted for _m, line in result.months), Decimal(0)) == result.total.weighted
    assert sum((line.weighted for _s, line in result.by_stage), Decimal(0)) == result.total.weighted
    assert all(stage in OPEN_STAGES or stage == WON for stage, _line in result.by_stage)
