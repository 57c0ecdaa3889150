"""Lifecycle stages on small numbers: each rule, each boundary, and an account moving through them."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from patron.domain.explain import Reason
from patron.domain.segmentation.builtin import builtin_definitions
from patron.domain.segmentation.classify import Context, classify_accounts, explain_account
from patron.domain.segmentation.definitions import parse_definition

CNY = Context("CNY")
COLUMNS = ("purchase_count", "recency_days", "first_order_days", "interpurchase_days", "p_alive")


def lifecycle(**changes: Any):
    data = builtin_definitions()["lifecycle"]
    data.update(changes)
    return parse_definition(data)


def account(count, recency=None, first=None, gap=None, p_alive=None) -> dict[str, Any]:
    return dict(zip(COLUMNS, (count, recency, first, gap, p_alive), strict=True))


def stage_both_ways(d, accounts: list[dict[str, Any]], with_p_alive: bool = False) -> list[str]:
    rows = [{"account_id": i, **a} for i, a in enumerate(accounts)]
    schema = {"account_id": pl.Int64, **dict.fromkeys(COLUMNS, pl.Float64)}
    frame = pl.DataFrame(rows, schema=schema)
    if not with_p_alive:
        frame = frame.drop("p_alive")
    result = classify_accounts(d, frame, context=CNY)
    vectorised = result.memberships.sort("account_id")["class_key"].to_list()
    per_account = [explain_account(d, result.fitted, row).class_key for row in rows]
    assert vectorised == per_account
    return vectorised


# Defaults: new within 90 days; loyal up to 1.5 x rhythm; churned beyond 3 x rhythm or 365 days;
# rhythm at least 14 days; a one-time buyer churns after 180 days.
CASES = [
    ("no_orders_is_a_prospect", account(0), "prospect"),
    ("no_count_at_all_is_a_prospect", account(None), "prospect"),
    ("first_order_30_days_ago_is_new", account(1, 30, 30), "new"),
    ("new_even_with_repeat_orders_inside_the_window", account(3, 5, 80, 30.0), "new"),
    ("first_order_exactly_n_days_ago_is_still_new", account(1, 90, 90), "new"),
    ("one_day_past_the_window_a_one_time_buyer_is_at_risk", account(1, 91, 91), "at_risk"),
    ("one_time_buyer_at_180_days_is_still_at_risk", account(1, 180, 180), "at_risk"),
    ("one_time_buyer_beyond_180_days_has_churned", account(1, 181, 181), "churned"),
    ("repeat_buyer_within_its_rhythm_is_loyal", account(5, 20, 400, 30.0), "loyal"),
    ("repeat_buyer_at_exactly_1_5_rhythms_is_loyal", account(5, 45, 400, 30.0), "loyal"),
    ("repeat_buyer_past_1_5_rhythms_is_at_risk", account(5, 46, 400, 30.0), "at_risk"),
    ("repeat_buyer_at_exactly_3_rhythms_is_at_risk", account(5, 90, 400, 30.0), "at_risk"),
    ("repeat_buyer_past_3_rhythms_has_churned", account(5, 91, 400, 30.0), "churned"),
    ("a_rhythm_of_2_days_counts_as_14", account(5, 21, 400, 2.0), "loyal"),
    ("past_1_5_times_the_14_day_floor_is_at_risk", account(5, 22, 400, 2.0), "at_risk"),
    ("slow_buyer_beyond_a_year_has_churned_whatever_its_rhythm", account(3, 366, 1200, 300.0), "churned"),
    ("slow_buyer_within_a_year_and_its_rhythm_is_loyal", account(3, 365, 1200, 300.0), "loyal"),
]


@pytest.mark.parametrize(("values", "stage"), [pytest.param(v, s, id=name) for name, v, s in CASES])
def test_each_stage_rule_and_boundary(values, stage):
    assert stage_both_ways(lifecycle(), [values]) == [stage]


def test_one_account_moves_from_new_to_loyal_to_at_risk_to_churned_as_days_pass():
    d = lifecycle()
    # Bought every 20 days for 200 days (11 orders); we look at it as the days since its last order grow.
    timeline = [account(11, days, 200 + days, 20.0) for days in (0, 30, 31, 60, 61)]
    timeline.insert(0, account(2, 0, 60, 60.0))  # at day 60 of the relationship it was new
    assert stage_both_ways(d, timeline) == ["new", "loyal", "loyal", "at_risk", "at_risk", "churned"]


def test_the_explanation_shows_the_rhythm_and_the_limits():
    d = lifecycle()
    membership = explain_account(d, _fit(d), {"account_id": 1, **account(5, 46, 400, 30.0)})
    assert membership.class_key == "at_risk"
    assert membership.reasons == (
        Reason(
            "LATE_FOR_RHYTHM",
            {
                "recency_days": 46,
                "interpurchase_days": 30,
                "rhythm_days": 30,
                "loyal_factor": "1.5",
                "churn_factor": "3",
                "at_risk_after_days": 45,
                "churned_after_days": 90,
            },
        ),
    )


def _fit(d):
    frame = pl.DataFrame({"account_id": [1], **{c: [1.0] for c in COLUMNS[:4]}})
    return classify_accounts(d, frame, context=CNY).fitted


def test_probability_alive_can_only_worsen_a_repeat_buyers_stage():
    d = lifecycle(p_alive_at_risk=0.5, p_alive_churned=0.2)
    accounts = [
        account(5, 20, 400, 30.0, 0.9),  # loyal stays loyal
        account(5, 20, 400, 30.0, 0.4),  # loyal, but probably leaving: at risk
        account(5, 20, 400, 30.0, 0.1),  # loyal, probably gone: churned
        account(5, 50, 400, 30.0, 0.9),  # at risk by rhythm: a high p_alive does not make it loyal
        account(5, 20, 400, 30.0, None),  # no estimate: rhythm alone
        account(1, 100, 100, None, 0.01),  # one-time buyers are judged by days, not by BG/NBD
    ]
    assert stage_both_ways(d, accounts, with_p_alive=True) == [
        "loyal",
        "at_risk",
        "churned",
        "at_risk",
        "loyal",
        "at_risk",
    ]


def test_probability_alive_thresholds_without_the_column_are_ignored_and_reported():
    d = lifecycle(p_alive_at_risk=0.5)
    frame = pl.DataFrame(
        {"account_id": [1], **{c: [v] for c, v in zip(COLUMNS[:4], (5, 20.0, 400.0, 30.0), strict=True)}}
    )
    result = classify_accounts(d, frame, context=CNY)
    assert result.memberships["class_key"].to_list() == ["loyal"]
    assert Reason("INDICATOR_ABSENT", {"indicator": "p_alive"}) in result.reasons
    membership = explain_account(d, result.fitted, {"account_id": 1, **account(5, 20, 400, 30.0, 0.01)})
    assert membership.class_key == "loyal"


def test_edited_parameters_change_the_stages():
    d = lifecycle(new_days=30, loyal_factor=2, churn_factor=4, churn_max_days=None, min_rhythm_days=0)
    accounts = [
        account(1, 31, 31),  # past a 30-day window
        account(5, 60, 400, 30.0),  # 2 rhythms: loyal
        account(5, 121, 900, 30.0),  # beyond 4 rhythms
        account(5, 700, 2000, 200.0),  # no maximum: 3.5 rhythms is at risk
        account(2, 1, 400, 0.0),  # no floor: with a rhythm of 0 days, one day late is beyond 4 rhythms
    ]
    assert stage_both_ways(d, accounts) == ["at_risk", "loyal", "churned", "at_risk", "churned"]
