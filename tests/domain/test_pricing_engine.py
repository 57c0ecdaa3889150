"""The pricing engine on small carts whose every figure was worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest

from patron.domain.money import Money
from patron.domain.pricing import (
    AccountProfile,
    Cart,
    CartLine,
    ManualDiscount,
    Quote,
    RuleBook,
    parse_rule,
    price_cart,
)

CST = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 7, 10, 30, tzinfo=CST)  # a Monday
ACCOUNT = AccountProfile(account=7, region_path=(11, 1), industry=3, classes=frozenset({"value_tier:high"}))
CABLES, PLUGS = 4, 5  # categories; 40 sits under CABLES


def rule(key: str, benefit: dict[str, Any], **parts: Any) -> Any:
    return parse_rule({"name": parts.pop("name", key), "benefit": benefit, **parts}, key=key)


def line(key: str, product: int, qty: str, price: str, cats: tuple[int, ...] = (CABLES,), **kw: Any) -> CartLine:
    return CartLine(key, product, D(qty), D(price), cats, **kw)


def quote(rules: list[Any], *lines: CartLine, profile: AccountProfile = ACCOUNT, **kw: Any) -> Quote:
    cart = Cart("CNY", tuple(lines), channel=kw.pop("channel", "sales_rep"))
    return price_cart(cart, RuleBook(rules), profile, now=kw.pop("now", NOW), **kw)


def yuan(amount: str) -> Money:
    return Money(D(amount), "CNY")


def amounts(q: Quote) -> dict[str, str]:
    return {ln.key: str(ln.net_amount.amount) for ln in q.lines}


def codes(q: Quote, key: str) -> list[str]:
    outcome = q.outcome(key)
    assert outcome is not None
    return [r.code for r in outcome.reasons]


# --- every benefit kind --------------------------------------------------------------------------------------


def test_percent_off_rounds_each_line_half_up():
    # 3 x 19.90 = 59.70; 5% = 2.985 -> 2.99 (half up); net 56.71
    q = quote([rule("r", {"kind": "percent_off", "percent": "5"})], line("1", 1, "3", "19.90"))
    assert q.lines[0].discounts[0].amount == yuan("2.99")
    assert q.net_total == yuan("56.71")
    assert q.lines[0].net_unit_price == Money(D("18.9033"), "CNY")


def test_amount_off_each_unit():
    # 4 x (25.00 - 1.50) = 94.00
    q = quote([rule("r", {"kind": "amount_off_unit", "amount": "1.50"})], line("1", 1, "4", "25"))
    assert q.net_total == yuan("94.00")


def test_amount_off_a_unit_never_makes_a_line_negative():
    q = quote([rule("r", {"kind": "amount_off_unit", "amount": "30"})], line("1", 1, "2", "25"))
    assert q.net_total == yuan("0.00")


def test_fixed_unit_price_and_a_price_already_lower():
    r = rule("r", {"kind": "fixed_price", "price": "88"}, what={"products": [1, 2]})
    q = quote([r], line("1", 1, "2", "100"), line("2", 2, "1", "80"))
    assert amounts(q) == {"1": "176.00", "2": "80.00"}
    assert "PRICE_ALREADY_LOWER" in codes(q, "r")


def test_amount_off_the_cart_is_split_in_proportion_and_adds_up():
    # 100 off 300.00 + 150.00 + 50.00 = 500: 60.00, 30.00, 10.00
    q = quote(
        [rule("r", {"kind": "cart_amount_off", "amount": "100"})],
        line("1", 1, "3", "100"),
        line("2", 2, "1", "150"),
        line("3", 3, "1", "50"),
    )
    assert amounts(q) == {"1": "240.00", "2": "120.00", "3": "40.00"}


def test_a_cart_split_with_a_remainder_gives_it_to_the_largest_line():
    # 10 off three lines of 10.00: 3.33 each, the largest (the first of equals) takes the cent: 3.34
    q = quote(
        [rule("r", {"kind": "cart_amount_off", "amount": "10"})],
        line("1", 1, "1", "10"),
        line("2", 2, "1", "10"),
        line("3", 3, "1", "10"),
    )
    assert [d.amount for ln in q.lines for d in ln.discounts] == [yuan("3.34"), yuan("3.33"), yuan("3.33")]
    assert q.net_total == yuan("20.00")


def test_spend_300_save_50_once():
    r = rule("r", {"kind": "spend_save", "spend": "300", "save": "50"})
    assert quote([r], line("1", 1, "7", "100")).net_total == yuan("650.00")
    below = quote([r], line("1", 1, "2", "100"))
    assert below.net_total == yuan("200.00")
    missed = below.outcome("r")
    assert missed is not None
    assert missed.reasons[0].code == "MIN_SPEND_NOT_MET"
    assert missed.reasons[0].params["missing"] == yuan("100")


def test_spend_300_save_50_repeating():
    # 700 = two full 300s: saves 100; a hint says 200 more saves another 50
    q = quote(
        [rule("r", {"kind": "spend_save", "spend": "300", "save": "50", "repeat": True})], line("1", 1, "7", "100")
    )
    assert q.net_total == yuan("600.00")
    assert q.lines[0].discounts[0].detail.params["times"] == 2
    assert any(h.code == "SPEND_MORE" and h.params["missing"] == yuan("200") for h in q.hints)


def test_buy_two_get_one_free():
    # 7 units: two full packs of 3 -> 2 free of 7 at 30.00 = 60.00 off 210.00
    q = quote([rule("r", {"kind": "buy_get", "buy": 2, "free": 1})], line("1", 1, "7", "30"))
    assert q.net_total == yuan("150.00")
    assert q.lines[0].discounts[0].detail.params["free_units"] == 2
    short = quote([rule("r", {"kind": "buy_get", "buy": 2, "free": 1})], line("1", 1, "2", "30"))
    assert codes(short, "r") == ["MIN_QUANTITY_NOT_MET"]


def test_a_gift_makes_that_many_units_of_the_products_in_scope_free_over_the_order():
    gift = rule("g", {"kind": "gift", "free": 2}, what={"products": [9]})
    # Line 1: 1 unit of product 9 at 25.00 (free); line 2: 3 units at 10.00 (one more free): 35.00 off.
    q = quote([gift], line("1", 9, "1", "25"), line("2", 9, "3", "10"), line("3", 1, "2", "50"))
    assert amounts(q) == {"1": "0.00", "2": "20.00", "3": "100.00"}
    assert [d.detail.params["free_units"] for ln in q.lines for d in ln.discounts] == [1, 1]
    assert quote([gift], line("1", 1, "2", "50")).outcome("g") is None  # not in the cart: never considered
    half = quote([gift], line("1", 9, "0.5", "25"))  # no whole unit of the gift
    assert codes(half, "g") == ["GIFT_NOT_IN_CART"]


def test_quantity_tiers_pay_the_tier_reached_and_hint_the_next():
    r = rule(
        "r",
        {
            "kind": "tiers",
            "basis": "quantity",
            "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "8"}],
        },
    )
    low = quote([r], line("1", 1, "9", "10"))
    assert low.net_total == yuan("90.00")
    assert codes(low, "r") == ["BELOW_FIRST_TIER"]
    assert low.outcome("r").reasons[0].params["missing"] == D(1)  # type: ignore[union-attr]
    mid = quote([r], line("1", 1, "30", "10"), line("2", 2, "20", "10"))  # 50 units across the scope: 8%
    assert mid.net_total == yuan("460.00")
    assert mid.lines[0].discounts[0].detail.params["index"] == 2
    ten = quote([r], line("1", 1, "10", "10"))
    assert ten.net_total == yuan("95.00")
    assert any(h.code == "NEXT_TIER" and h.params["missing"] == D(40) for h in ten.hints)


def test_amount_tiers_measure_what_the_lines_cost():
    r = rule(
        "r",
        {
            "kind": "tiers",
            "basis": "amount",
            "tiers": [{"from": "1000", "percent": "2"}, {"from": "5000", "percent": "4"}],
        },
    )
    q = quote([r], line("1", 1, "60", "100"))  # 6,000 -> 4% = 240
    assert q.net_total == yuan("5760.00")


# --- scope and conditions ------------------------------------------------------------------------------------


def test_a_category_includes_its_sub_categories_and_exclusions_win():
    r = rule("r", {"kind": "percent_off", "percent": "10"}, what={"categories": [CABLES], "exclude_products": [2]})
    q = quote([r], line("1", 1, "1", "100", (40, CABLES)), line("2", 2, "1", "100"), line("3", 3, "1", "100", (PLUGS,)))
    assert amounts(q) == {"1": "90.00", "2": "100.00", "3": "100.00"}


def test_who_parts_must_all_hold():
    r = rule("r", {"kind": "percent_off", "percent": "10"}, who={"regions": [1], "industries": [9]})
    q = quote([r], line("1", 1, "1", "100"))
    assert q.net_total == yuan("100.00")
    assert q.outcome("r").reasons[0].params["part"] == "industries"  # type: ignore[union-attr]


def test_a_region_rule_covers_the_regions_below_it():
    r = rule("r", {"kind": "percent_off", "percent": "10"}, who={"regions": [1]})  # the account is in 11, under 1
    assert quote([r], line("1", 1, "1", "100")).net_total == yuan("90.00")


def test_a_rule_for_a_class_reaches_only_its_members():
    r = rule("r", {"kind": "percent_off", "percent": "10"}, who={"classes": ["value_tier:high"]})
    assert quote([r], line("1", 1, "1", "100")).net_total == yuan("90.00")
    low = AccountProfile(account=8, classes=frozenset({"value_tier:low"}))
    assert quote([r], line("1", 1, "1", "100"), profile=low).net_total == yuan("100.00")


def test_new_customers_and_first_orders():
    new = AccountProfile(account=9, has_ordered=False)
    r1 = rule("r1", {"kind": "percent_off", "percent": "10"}, who={"new_customers": True})
    r2 = rule("r2", {"kind": "amount_off_unit", "amount": "5"}, when={"first_order": True})
    assert quote([r1, r2], line("1", 1, "1", "100"), profile=new).net_total == yuan("85.00")
    old = quote([r1, r2], line("1", 1, "1", "100"))
    assert old.net_total == yuan("100.00")
    assert codes(old, "r2") == ["FIRST_ORDER_ONLY"]


def test_minimum_quantity_and_line_amount_per_line():
    r = rule("r", {"kind": "percent_off", "percent": "10"}, when={"min_quantity": "5", "min_line_amount": "100"})
    q = quote([r], line("1", 1, "5", "20"), line("2", 2, "4", "100"), line("3", 3, "6", "10"))
    assert amounts(q) == {"1": "90.00", "2": "400.00", "3": "60.00"}
    reasons = q.outcome("r").reasons  # type: ignore[union-attr]
    assert [(x.code, x.params["line"]) for x in reasons] == [
        ("MIN_QUANTITY_NOT_MET", "2"),
        ("MIN_LINE_AMOUNT_NOT_MET", "3"),
    ]
    assert reasons[1].params["missing"] == yuan("40")


def test_minimum_cart_amount_is_measured_after_earlier_discounts():
    first = rule("a", {"kind": "percent_off", "percent": "10"}, priority=10)
    gated = rule("b", {"kind": "cart_amount_off", "amount": "20"}, when={"min_cart_amount": "500"})
    q = quote([first, gated], line("1", 1, "5", "100"))  # 500 - 10% = 450 < 500
    assert q.net_total == yuan("450.00")
    assert q.outcome("b").reasons[0].params["missing"] == yuan("50")  # type: ignore[union-attr]


def test_category_minimum():
    r = rule(
        "r", {"kind": "percent_off", "percent": "10"}, when={"category_min": {"category": CABLES, "quantity": "10"}}
    )
    short = quote([r], line("1", 1, "4", "10"), line("2", 2, "5", "10", (PLUGS,)))
    assert short.net_total == yuan("90.00")
    assert short.outcome("r").reasons[0].params["missing_quantity"] == D(6)  # type: ignore[union-attr]
    assert quote([r], line("1", 1, "10", "10")).net_total == yuan("90.00")


def test_time_window_weekdays_hours_and_channel():
    window = {"starts": "2026-12-08T00:00:00+08:00", "ends": "2026-12-09T00:00:00+08:00"}
    r = rule("r", {"kind": "percent_off", "percent": "10"}, when=window)
    early = quote([r], line("1", 1, "1", "100"))
    assert codes(early, "r") == ["NOT_STARTED"]
    during = quote([r], line("1", 1, "1", "100"), now=dt.datetime(2026, 12, 8, 23, 59, tzinfo=CST))
    assert during.net_total == yuan("90.00")
    # The same instant in UTC is the same moment: the window holds.
    utc = dt.datetime(2026, 12, 8, 15, 59, tzinfo=dt.UTC)
    assert quote([r], line("1", 1, "1", "100"), now=utc).net_total == yuan("90.00")
    late = quote([r], line("1", 1, "1", "100"), now=dt.datetime(2026, 12, 9, tzinfo=CST))
    assert codes(late, "r") == ["ENDED"]
    weekend = rule("w", {"kind": "percent_off", "percent": "10"}, when={"weekdays": [6, 7]})
    assert codes(quote([weekend], line("1", 1, "1", "100")), "w") == ["WRONG_DAY"]
    flash = rule("f", {"kind": "percent_off", "percent": "10"}, when={"hours": ["10:00", "11:00"]})
    assert quote([flash], line("1", 1, "1", "100")).net_total == yuan("90.00")
    assert codes(quote([flash], line("1", 1, "1", "100"), now=NOW.replace(hour=11)), "f") == ["OUTSIDE_HOURS"]
    night = rule("n", {"kind": "percent_off", "percent": "10"}, when={"hours": ["22:00", "02:00"]})
    assert quote([night], line("1", 1, "1", "100"), now=NOW.replace(hour=1)).net_total == yuan("90.00")
    shop = rule("s", {"kind": "percent_off", "percent": "10"}, when={"channels": ["web_shop"]})
    assert codes(quote([shop], line("1", 1, "1", "100")), "s") == ["WRONG_CHANNEL"]
    assert quote([shop], line("1", 1, "1", "100"), channel="web_shop").net_total == yuan("90.00")


# --- stacking ------------------------------------------------------------------------------------------------


def test_rules_compound_in_priority_order():
    # 10% then 5%: 100 -> 90.00 -> 85.50 (5% of 90.00 = 4.50)
    high = rule("a", {"kind": "percent_off", "percent": "10"}, priority=10)
    low = rule("b", {"kind": "percent_off", "percent": "5"}, priority=1)
    q = quote([low, high], line("1", 1, "1", "100"))
    assert [(d.rule, d.amount) for d in q.lines[0].discounts] == [("a", yuan("10.00")), ("b", yuan("4.50"))]


def test_an_exclusive_rule_stops_the_rules_below_it():
    top = rule("a", {"kind": "percent_off", "percent": "15"}, priority=10, stacking={"exclusive": True})
    low = rule("b", {"kind": "percent_off", "percent": "5"}, priority=1)
    q = quote([low, top], line("1", 1, "1", "100"))
    assert q.net_total == yuan("85.00")
    assert codes(q, "b") == ["EXCLUDED_BY"]
    assert q.outcome("b").reasons[0].params["rule"] == "a"  # type: ignore[union-attr]


def test_an_exclusive_rule_below_another_does_not_stack_on_it():
    top = rule("a", {"kind": "percent_off", "percent": "5"}, priority=10)
    low = rule("b", {"kind": "percent_off", "percent": "15"}, priority=1, stacking={"exclusive": True})
    q = quote([low, top], line("1", 1, "1", "100"))
    assert q.net_total == yuan("95.00")
    assert codes(q, "b") == ["NOT_COMBINABLE"]


def test_combines_with_a_named_set_only():
    vip = rule("a", {"kind": "percent_off", "percent": "10"}, priority=10, stacking={"combines_with": ["season"]})
    season = rule("b", {"kind": "amount_off_unit", "amount": "5"}, priority=5, stacking={"group": "season"})
    other = rule("c", {"kind": "amount_off_unit", "amount": "1"}, priority=1)
    q = quote([vip, season, other], line("1", 1, "1", "100"))
    assert q.net_total == yuan("85.00")  # 100 - 10 - 5; "c" is in no group vip combines with
    assert codes(q, "c") == ["NOT_COMBINABLE"]


def test_best_for_the_customer_within_a_group_per_line():
    a = rule("a", {"kind": "percent_off", "percent": "5"}, priority=10, stacking={"group": "vol"})
    b = rule(
        "b", {"kind": "amount_off_unit", "amount": "8"}, priority=1, stacking={"group": "vol"}, what={"products": [2]}
    )
    q = quote([a, b], line("1", 1, "1", "100"), line("2", 2, "1", "100"))
    # line 1: only a (5.00); line 2: b gives 8.00 > a's 5.00
    assert [(d.rule, d.amount) for ln in q.lines for d in ln.discounts] == [("a", yuan("5.00")), ("b", yuan("8.00"))]
    assert "BEATEN_IN_GROUP" in codes(q, "a")


def test_best_for_the_customer_within_a_group_of_cart_rules_takes_all():
    a = rule("a", {"kind": "cart_amount_off", "amount": "30"}, stacking={"group": "cart"})
    b = rule("b", {"kind": "spend_save", "spend": "100", "save": "20", "repeat": True}, stacking={"group": "cart"})
    q = quote([a, b], line("1", 1, "2", "100"))  # a: 30; b: 2 x 20 = 40
    assert q.net_total == yuan("160.00")
    assert codes(q, "a") == ["BEATEN_IN_GROUP"]


def test_equal_priorities_are_ordered_by_key_not_by_storage():
    a = rule("a", {"kind": "percent_off", "percent": "10"})
    b = rule("b", {"kind": "amount_off_unit", "amount": "10"})
    one = quote([a, b], line("1", 1, "1", "100"))
    two = quote([b, a], line("1", 1, "1", "100"))
    assert one == two
    assert one.net_total == yuan("80.00")  # 10% of 100, then 10 off


# --- caps and the floor --------------------------------------------------------------------------------------


def test_per_line_and_per_order_caps():
    r = rule("r", {"kind": "percent_off", "percent": "20"}, caps={"per_line": "30", "per_order": "45"})
    q = quote([r], line("1", 1, "2", "100"), line("2", 2, "1", "100"))  # 40 -> 30, 20; total 50 -> 45
    assert q.discount_total == yuan("45.00")
    assert [d.amount for ln in q.lines for d in ln.discounts] == [yuan("27.00"), yuan("18.00")]
    assert {n.code for d in q.lines[0].discounts for n in d.notes} == {"CAPPED_PER_LINE", "CAPPED_PER_ORDER"}


def test_a_rule_never_takes_a_line_below_its_floor():
    r = rule("r", {"kind": "percent_off", "percent": "30"})
    q = quote([r], line("1", 1, "2", "100", floor_price=D("80")))  # 60 asked, 40 room
    assert q.net_total == yuan("160.00")
    assert q.lines[0].discounts[0].notes[0].code == "LIMITED_BY_FLOOR"
    assert q.lines[0].discounts[0].notes[0].params["withheld"] == yuan("20")
    at = quote([r], line("1", 1, "1", "80", floor_price=D("80")))
    assert codes(at, "r") == ["AT_FLOOR"]
    assert not at.below_floor


def test_a_manual_discount_below_the_floor_is_flagged_for_approval():
    q = quote([], line("1", 1, "2", "100", floor_price=D("80"), manual=ManualDiscount("price", D("75"))))
    assert q.net_total == yuan("150.00")
    assert q.below_floor
    assert q.lines[0].discounts[0].notes[0].code == "BELOW_FLOOR"
    assert q.manual_total == yuan("50.00")


def test_a_manual_discount_applies_after_the_rules():
    r = rule("r", {"kind": "percent_off", "percent": "10"})
    q = quote([r], line("1", 1, "1", "100", manual=ManualDiscount("percent", D("5"))))
    assert [(d.source, d.amount) for d in q.lines[0].discounts] == [("policy", yuan("10.00")), ("manual", yuan("4.50"))]


# --- the index and coupons -----------------------------------------------------------------------------------


def test_the_index_skips_rules_for_other_accounts_and_products():
    mine = rule("m", {"kind": "percent_off", "percent": "10"}, who={"accounts": [7]})
    theirs = rule("t", {"kind": "percent_off", "percent": "10"}, who={"accounts": [8]})
    other_product = rule("o", {"kind": "percent_off", "percent": "10"}, what={"products": [99]})
    q = quote([mine, theirs, other_product], line("1", 1, "1", "100"))
    assert [o.rule for o in q.outcomes] == ["m"]


def test_coupon_rules_apply_after_the_policies():
    policy = rule("p", {"kind": "percent_off", "percent": "10"}, priority=-5)
    coupon = parse_rule(
        {"name": "SAVE20", "priority": 100, "benefit": {"kind": "cart_amount_off", "amount": "20"}}, key="c"
    )
    from dataclasses import replace

    q = quote([policy], line("1", 1, "1", "100"), coupons=[replace(coupon, source="coupon", code="SAVE20")])
    assert [d.rule for d in q.lines[0].discounts] == ["p", "c"]
    assert q.net_total == yuan("70.00")


def test_duplicate_rule_keys_are_refused():
    with pytest.raises(ValueError, match="unique"):
        RuleBook(
            [rule("a", {"kind": "percent_off", "percent": "1"}), rule("a", {"kind": "percent_off", "percent": "2"})]
        )


def test_now_must_know_its_zone():
    with pytest.raises(ValueError, match="aware"):
        quote([], line("1", 1, "1", "1"), now=dt.datetime(2026, 1, 1))


def test_a_group_member_that_cannot_apply_does_not_move_where_the_group_is_weighed():
    expired = rule(
        "x",
        {"kind": "percent_off", "percent": "90"},
        priority=10,
        stacking={"group": "g"},
        when={"ends": "2020-01-01T00:00:00+00:00"},
    )
    half = rule("y", {"kind": "percent_off", "percent": "50"}, priority=5)
    member = rule("a", {"kind": "percent_off", "percent": "10"}, priority=1, stacking={"group": "g"})
    without = quote([half, member], line("1", 1, "1", "100"))
    assert without.net_total == yuan("45.00")  # 50% first, then 10% of 50
    assert quote([expired, half, member], line("1", 1, "1", "100")).lines == without.lines


def test_a_list_price_under_the_floor_is_not_a_discount_to_approve():
    q = quote([], line("1", 1, "1", "50", floor_price=D("60")))
    assert not q.below_floor
    cut = quote([], line("1", 1, "1", "50", floor_price=D("60"), manual=ManualDiscount("percent", D("1"))))
    assert cut.below_floor
