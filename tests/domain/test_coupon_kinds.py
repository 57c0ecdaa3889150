"""Coupon kinds' own rules on hand-computed cases: a first order only, a shared code for many, what a
budget's worth of codes is, and the quiet hours messages wait out."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from patron.domain.coupons.terms import CouponState, codes_within_budget, face_value, parse_coupon_terms, refusals
from patron.domain.quiet_hours import quiet_until

NOW = dt.datetime(2026, 12, 6, 10, 0, tzinfo=dt.UTC)
CST = dt.timezone(dt.timedelta(hours=8))


def state(**over) -> CouponState:
    data = {"code": "X", "currency": "CNY", "starts": NOW - dt.timedelta(days=1), "ends": None}
    data.update(over)
    return CouponState(**data)


def why(terms, st, account=7, eligible="500") -> list[str]:
    return [r.code for r in refusals(terms, st, account=account, eligible_amount=D(eligible), now=NOW)]


def test_a_first_order_coupon_refuses_a_customer_who_has_ordered_and_no_other_kind_asks():
    first = parse_coupon_terms({"kind": "first_order", "benefit": {"kind": "cart_amount_off", "amount": "30"}})
    assert why(first, state(has_ordered=False)) == []
    assert why(first, state(has_ordered=True)) == ["FIRST_ORDER_ONLY"]
    other = parse_coupon_terms({"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "30"}})
    assert why(other, state(has_ordered=True)) == []


def test_a_shared_code_is_not_used_up_by_many_but_each_account_keeps_its_limit():
    terms = parse_coupon_terms(
        {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "5"}, "uses_per_account": 1}
    )
    assert why(terms, state(uses=900, shared=True)) == []
    assert why(terms, state(uses=1, shared=False)) == ["USED_UP"]
    assert why(terms, state(uses=900, shared=True, account_uses=1)) == ["ACCOUNT_USED_UP"]


def test_a_budgets_worth_of_codes_at_their_face_value():
    amount = parse_coupon_terms(
        {"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "60"}, "budget": "1000"}
    )
    assert face_value(amount) == D("60")
    assert codes_within_budget(amount, 0) == 16  # 16 x 60 = 960; a 17th would pass 1,000
    assert codes_within_budget(amount, 16) == 0
    twice = parse_coupon_terms(
        {
            "kind": "spend_save",
            "benefit": {"kind": "spend_save", "spend": "300", "save": "50"},
            "uses_per_code": 2,
            "budget": "1000",
        }
    )
    assert face_value(twice) == D("100")  # 50 a use, two uses
    assert codes_within_budget(twice, 3) == 7
    percent = parse_coupon_terms(
        {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "10"}, "budget": "1000"}
    )
    assert face_value(percent) is None
    assert codes_within_budget(percent, 10_000) is None  # only redemption stops at the budget
    no_budget = parse_coupon_terms({"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "60"}})
    assert codes_within_budget(no_budget, 10_000) is None


def test_a_gift_coupon_gives_units_of_the_gift_and_a_points_exchange_has_a_price():
    gift = parse_coupon_terms({"kind": "gift", "benefit": {"kind": "gift", "free": 1}, "what": {"products": [9]}})
    assert (gift.benefit.kind, gift.benefit.free, gift.what.products) == ("gift", 1, frozenset({9}))
    points = parse_coupon_terms(
        {"kind": "points_exchange", "benefit": {"kind": "cart_amount_off", "amount": "20"}, "points": "500"}
    )
    assert points.points == D("500")


def test_quiet_hours_past_midnight_and_within_a_day():
    night = (dt.time(21), dt.time(8))
    assert quiet_until(dt.datetime(2026, 12, 6, 22, 30, tzinfo=CST), night) == dt.datetime(2026, 12, 7, 8, tzinfo=CST)
    assert quiet_until(dt.datetime(2026, 12, 6, 7, 59, tzinfo=CST), night) == dt.datetime(2026, 12, 6, 8, tzinfo=CST)
    assert quiet_until(dt.datetime(2026, 12, 6, 8, 0, tzinfo=CST), night) is None
    assert quiet_until(dt.datetime(2026, 12, 6, 20, 59, tzinfo=CST), night) is None
    assert quiet_until(dt.datetime(2026, 12, 6, 21, 0, tzinfo=CST), night) == dt.datetime(2026, 12, 7, 8, tzinfo=CST)
    lunch = (dt.time(12), dt.time(14))
    assert quiet_until(dt.datetime(2026, 12, 6, 13, tzinfo=CST), lunch) == dt.datetime(2026, 12, 6, 14, tzinfo=CST)
    assert quiet_until(dt.datetime(2026, 12, 6, 14, tzinfo=CST), lunch) is None
    assert quiet_until(dt.datetime(2026, 12, 6, 3, tzinfo=CST), None) is None
