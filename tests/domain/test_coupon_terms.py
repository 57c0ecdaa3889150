"""Coupon terms and the reasons a coupon cannot be used, on hand-computed cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from patron.domain.coupons.terms import (
    CouponState,
    coupon_terms_to_dict,
    parse_coupon_terms,
    refusals,
    valid_until,
)
from patron.domain.problems import DefinitionError

UTC = dt.UTC
NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
SPEND_SAVE = {
    "kind": "spend_save",
    "benefit": {"kind": "spend_save", "spend": "300", "save": "50"},
    "min_spend": "300",
    "uses_per_account": 2,
    "budget": "1000",
}


def state(**over) -> CouponState:
    data = {"code": "SPRINGAB3K7QXZM2N", "currency": "CNY", "starts": NOW - dt.timedelta(days=1), "ends": None}
    data.update(over)
    return CouponState(**data)


def codes(reasons) -> list[str]:
    return [r.code for r in reasons]


def test_terms_read_back_as_they_were_written():
    terms = parse_coupon_terms(SPEND_SAVE)
    assert terms.uses_per_code == 1  # a unique code is used once unless told otherwise
    assert terms.with_policies
    assert not terms.with_coupons
    again = coupon_terms_to_dict(terms)
    assert parse_coupon_terms(again) == terms
    assert again["min_spend"] == "300"


def test_bad_terms_name_every_field_at_fault():
    with pytest.raises(DefinitionError) as bad:
        parse_coupon_terms(
            {
                "kind": "spend_save",
                "benefit": {"kind": "percent_off", "percent": "10"},
                "uses_per_code": 0,
                "min_spend": "-5",
                "colour": "red",
            }
        )
    paths = {p.path for p in bad.value.problems}
    assert {"benefit.kind", "uses_per_code", "min_spend", "colour"} <= paths
    with pytest.raises(DefinitionError) as exchange:
        parse_coupon_terms({"kind": "points_exchange", "benefit": {"kind": "percent_off", "percent": "5"}})
    assert {p.path for p in exchange.value.problems} == {"points"}
    with pytest.raises(DefinitionError):
        parse_coupon_terms(["not", "a", "dict"])


def test_a_coupon_that_can_be_used_has_no_reasons():
    terms = parse_coupon_terms(SPEND_SAVE)
    assert refusals(terms, state(), account=7, eligible_amount=D("300"), now=NOW, discount=D("50")) == ()


def test_each_refusal_says_why():
    terms = parse_coupon_terms(SPEND_SAVE)
    early = state(starts=NOW + dt.timedelta(hours=1))
    assert codes(refusals(terms, early, account=7, eligible_amount=D(300), now=NOW)) == ["NOT_YET_VALID"]
    late = state(ends=NOW)
    assert codes(refusals(terms, late, account=7, eligible_amount=D(300), now=NOW)) == ["EXPIRED"]
    mine = state(account=8)
    assert codes(refusals(terms, mine, account=7, eligible_amount=D(300), now=NOW)) == ["OTHER_ACCOUNT"]
    used = state(uses=1)
    assert codes(refusals(terms, used, account=7, eligible_amount=D(300), now=NOW)) == ["USED_UP"]
    spent = state(account_uses=2)
    assert codes(refusals(terms, spent, account=7, eligible_amount=D(300), now=NOW)) == ["ACCOUNT_USED_UP"]
    short = refusals(terms, state(), account=7, eligible_amount=D("299.99"), now=NOW)
    assert codes(short) == ["MIN_SPEND"]
    assert short[0].params["missing"].amount == D("0.01")  # missed by one cent
    broke = refusals(terms, state(budget_used=D("960")), account=7, eligible_amount=D(300), now=NOW, discount=D(50))
    assert codes(broke) == ["BUDGET_SPENT"]
    assert broke[0].params["left"].amount == D("40")
    cancelled = state(cancelled=True, uses=1)
    assert codes(refusals(terms, cancelled, account=7, eligible_amount=D(0), now=NOW)) == [
        "CANCELLED",
        "USED_UP",
        "MIN_SPEND",
    ]


def test_a_coupon_lasts_n_days_from_issue_within_the_campaigns_window():
    issued = dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert valid_until(issued, None, 30) == issued + dt.timedelta(days=30)
    assert valid_until(issued, dt.datetime(2026, 12, 20, tzinfo=UTC), 30) == dt.datetime(2026, 12, 20, tzinfo=UTC)
    assert valid_until(issued, None, None) is None
