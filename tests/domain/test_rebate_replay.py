"""Replaying changed rebate terms over past volumes, on numbers worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from hypothesis import given
from hypothesis import strategies as st

from patron.domain.rebates import Volume, parse_terms, rebate_for
from patron.domain.rebates.replay import ReplayCase, replay, share

NOW = parse_terms({"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]})
RICHER = parse_terms({"threshold": "5000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "4"}]})
Q1, Q2 = dt.date(2026, 1, 1), dt.date(2026, 4, 1)


def volume(amount: str, profit: str) -> Volume:
    return Volume(D(amount), D(1), D(profit))


def test_richer_tiers_cost_more_and_pay_more_accounts_and_say_so():
    cases = [
        ReplayCase(1, Q1, volume("25000", "5000"), NOW, RICHER),  # 750 now, 1,000 then
        ReplayCase(1, Q2, volume("8000", "1600"), NOW, RICHER),  # 0 now (below 10,000), 160 then
        ReplayCase(2, Q1, volume("12000", "3000"), NOW, RICHER),  # 240 both
        ReplayCase(3, Q2, volume("4000", "800"), NOW, RICHER),  # nothing either way
    ]
    made = replay(cases, "CNY")
    assert made.accounts == 3
    assert made.periods == [Q1, Q2]
    assert made.now.total.cost == D("990.00")
    assert made.then.total.cost == D("1400.00")
    assert made.difference == D("410.00")
    assert (made.now.accounts_paid, made.then.accounts_paid) == (2, 2)
    assert (made.now.total.paid, made.then.total.paid) == (2, 3)  # account-periods paid
    assert made.now.total.margin == D("10400")
    assert made.now.total.of_margin == D("9.5")  # 990 of 10,400
    assert made.then.total.of_margin == D("13.5")
    assert made.then.tiers[2].cost == D("1000.00")
    assert made.then.tiers[1].cases == 2
    assert made.now.tiers[0].cases == 2  # below the threshold
    assert made.now.periods[Q2].cost == 0
    assert made.then.periods[Q2].cost == D("160.00")
    assert [(c.account, c.difference) for c in made.changes] == [(1, D("410.00"))]
    assert (made.gaining, made.losing) == (1, 0)
    assert [r.code for r in made.reasons] == ["REPLAY_PROPOSED", "REPLAY_CURRENT", "REPLAY_COSTS_MORE"]
    assert made.reasons[0].params["cost"].amount == D("1400.00")


def test_other_products_counted_give_the_proposed_side_its_own_volume():
    case = ReplayCase(1, Q1, volume("25000", "5000"), NOW, NOW, proposed_volume=volume("15000", "3000"))
    made = replay([case], "CNY")
    assert made.now.total.cost == D("750.00")
    assert made.then.total.cost == D("300.00")
    assert made.then.total.sales == D("15000")
    assert made.reasons[-1].code == "REPLAY_COSTS_LESS"


def test_no_change_says_the_cost_is_the_same_and_an_empty_replay_is_zero():
    assert replay([ReplayCase(1, Q1, volume("25000", "5000"), NOW, NOW)], "CNY").reasons[-1].code == "REPLAY_SAME"
    empty = replay([], "CNY")
    assert (empty.accounts, empty.now.total.cost, empty.now.total.of_margin) == (0, 0, None)


def test_share_is_a_percent_to_one_place_and_none_without_margin():
    assert share(D("990"), D("10400")) == D("9.5")
    assert share(D("1"), D("0")) is None
    assert share(D("1"), D("-5")) is None


amounts = st.decimals(min_value=0, max_value=200000, places=2)


@given(st.lists(st.tuples(st.integers(1, 5), st.sampled_from([Q1, Q2]), amounts), max_size=30))
def test_a_replays_totals_are_the_sum_of_each_cases_rebate(rows):
    cases = [ReplayCase(a, p, volume(str(v), str(v / 4)), NOW, RICHER) for a, p, v in rows]
    made = replay(cases, "CNY")
    assert made.now.total.cost == sum((rebate_for(NOW, c.volume, "CNY").amount.amount for c in cases), D(0))
    assert made.then.total.cost == sum((rebate_for(RICHER, c.volume, "CNY").amount.amount for c in cases), D(0))
    assert sum(t.cost for t in made.then.tiers.values()) == made.then.total.cost
    assert sum(t.cost for t in made.now.periods.values()) == made.now.total.cost
    assert made.difference == sum((c.then - c.now for c in made.changes), D(0))  # five accounts: all listed
