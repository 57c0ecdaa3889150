"""Invariants of the pricing engine over random rule books and carts (hypothesis)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from patron.domain.pricing import AccountProfile, Cart, CartLine, ManualDiscount, RuleBook, parse_rule, price_cart

NOW = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PROFILE = AccountProfile(account=7, region_path=(11, 1), industry=3, classes=frozenset({"tier:high"}), stage="loyal")
PRODUCTS = (1, 2, 3, 4)
CATEGORY = {1: (40, 4), 2: (4,), 3: (5,), 4: (5,)}

money = st.decimals(min_value=D("0.01"), max_value=D("999.99"), places=2)
percent = st.decimals(min_value=D("0.5"), max_value=D("100"), places=1)


@st.composite
def benefits(draw: Any) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["percent_off", "amount_off_unit", "fixed_price", "cart_amount_off", "spend_save", "buy_get", "tiers"]
        )
    )
    if kind == "percent_off":
        return {"kind": kind, "percent": str(draw(percent))}
    if kind in ("amount_off_unit", "cart_amount_off"):
        return {"kind": kind, "amount": str(draw(money))}
    if kind == "fixed_price":
        return {"kind": kind, "price": str(draw(money))}
    if kind == "spend_save":
        spend = draw(money)
        save = draw(st.decimals(min_value=D("0.01"), max_value=spend, places=2))
        return {"kind": kind, "spend": str(spend), "save": str(save), "repeat": draw(st.booleans())}
    if kind == "buy_get":
        return {"kind": kind, "buy": draw(st.integers(1, 4)), "free": draw(st.integers(1, 3))}
    starts = sorted(draw(st.sets(st.integers(1, 60), min_size=1, max_size=3)))
    rates = sorted(draw(st.sets(st.integers(1, 40), min_size=len(starts), max_size=len(starts))))
    return {
        "kind": kind,
        "basis": draw(st.sampled_from(["quantity", "amount"])),
        "tiers": [{"from": str(s), "percent": str(r)} for s, r in zip(starts, rates, strict=True)],
    }


@st.composite
def rule_dicts(draw: Any) -> dict[str, Any]:
    b = draw(benefits())
    who = draw(
        st.sampled_from(
            [
                {},
                {"accounts": [7]},
                {"accounts": [8]},
                {"regions": [1]},
                {"classes": ["tier:high"]},
                {"industries": [9]},
            ]
        )
    )
    what = draw(
        st.sampled_from([{}, {"products": [1]}, {"categories": [4]}, {"categories": [5], "exclude_products": [4]}])
    )
    if b["kind"] == "fixed_price" and not what:
        what = {"products": [2]}
    when = draw(st.sampled_from([{}, {"min_quantity": "3"}, {"min_cart_amount": "200"}, {"channels": ["web_shop"]}]))
    stacking = {
        "exclusive": draw(st.booleans()),
        "group": draw(st.sampled_from(["", "", "g1", "g2"])),
        "combines_with": draw(st.sampled_from([None, None, [], ["g1"]])),
    }
    caps = draw(st.sampled_from([{}, {"per_order": "50"}, {"per_line": "20", "per_order": "60"}]))
    return {
        "name": "r",
        "priority": draw(st.integers(-3, 3)),
        "who": who,
        "what": what,
        "when": when,
        "benefit": b,
        "stacking": stacking,
        "caps": caps,
    }


@st.composite
def books(draw: Any) -> list[Any]:
    dicts = draw(st.lists(rule_dicts(), max_size=8))
    return [parse_rule(d, key=f"r{i:02d}") for i, d in enumerate(dicts)]


@st.composite
def carts(draw: Any, manual: bool = False) -> Cart:
    lines = []
    for i in range(draw(st.integers(1, 5))):
        product = draw(st.sampled_from(PRODUCTS))
        list_price = draw(st.decimals(min_value=D("0.01"), max_value=D("500"), places=2))
        floor = draw(st.one_of(st.none(), st.decimals(min_value=D(0), max_value=list_price, places=2)))
        m = None
        if manual and draw(st.booleans()):
            m = ManualDiscount("percent", draw(st.decimals(min_value=D(1), max_value=D(100), places=0)))
        lines.append(
            CartLine(
                str(i + 1),
                product,
                D(draw(st.integers(1, 60))),
                list_price,
                CATEGORY[product],
                floor_price=floor,
                unit_cost=floor,
                manual=m,
            )
        )
    return Cart("CNY", tuple(lines))


@settings(max_examples=300, deadline=None)
@given(books(), carts())
def test_lines_add_up_and_nothing_goes_negative_or_below_the_floor(rules, cart):
    q = price_cart(cart, RuleBook(rules), PROFILE, now=NOW)
    assert sum((ln.net_amount for ln in q.lines), q.net_total * 0) == q.net_total
    assert q.list_total - q.discount_total == q.net_total
    for ln in q.lines:
        assert ln.net_amount.amount >= 0
        assert ln.list_amount - sum((d.amount for d in ln.discounts), ln.net_amount * 0) == ln.net_amount
        assert all(d.amount.amount > 0 for d in ln.discounts)
        assert not ln.below_floor  # no manual discount here: only approval may cross the floor
    applied = sum((o.amount for o in q.outcomes), q.net_total * 0)
    assert applied == q.discount_total


@settings(max_examples=200, deadline=None)
@given(books(), carts(manual=True))
def test_only_a_manual_discount_crosses_the_floor(rules, cart):
    q = price_cart(cart, RuleBook(rules), PROFILE, now=NOW)
    for ln in q.lines:
        if ln.below_floor:
            assert any(d.source == "manual" for d in ln.discounts)
        assert ln.net_amount.amount >= 0


@settings(max_examples=200, deadline=None)
@given(books(), carts())
def test_each_rule_stays_within_its_caps(rules, cart):
    q = price_cart(cart, RuleBook(rules), PROFILE, now=NOW)
    by_key = {r.key: r for r in rules}
    for outcome in q.outcomes:
        caps = by_key[outcome.rule].caps
        if caps.per_order is not None:
            assert outcome.amount.amount <= caps.per_order
        if caps.per_line is not None:
            for ln in q.lines:
                assert all(d.amount.amount <= caps.per_line for d in ln.discounts if d.rule == outcome.rule)


@settings(max_examples=200, deadline=None)
@given(books(), carts(), st.randoms(use_true_random=False))
def test_the_quote_does_not_depend_on_storage_order(rules, cart, rnd):
    shuffled = list(rules)
    rnd.shuffle(shuffled)
    assert price_cart(cart, RuleBook(rules), PROFILE, now=NOW) == price_cart(cart, RuleBook(shuffled), PROFILE, now=NOW)


@settings(max_examples=200, deadline=None)
@given(books(), carts())
def test_nothing_follows_an_exclusive_rule_on_its_lines(rules, cart):
    q = price_cart(cart, RuleBook(rules), PROFILE, now=NOW)
    exclusive = {r.key for r in rules if r.stacking.exclusive}
    for ln in q.lines:
        keys = [d.rule for d in ln.discounts]
        for i, key in enumerate(keys):
            if key in exclusive:
                assert keys == [key], "an exclusive rule shares a line with no other rule"
                assert i == 0


@settings(max_examples=200, deadline=None)
@given(books(), carts(), rule_dicts())
def test_adding_a_rule_that_cannot_apply_changes_nothing(rules, cart, extra):
    before = price_cart(cart, RuleBook(rules), PROFILE, now=NOW)
    elsewhere = parse_rule({**extra, "who": {"accounts": [999]}}, key="zz")
    after = price_cart(cart, RuleBook([*rules, elsewhere]), PROFILE, now=NOW)
    assert after.lines == before.lines
    assert [o for o in after.outcomes if o.rule != "zz"] == list(before.outcomes)
    expired = parse_rule({**extra, "when": {"ends": "2020-01-01T00:00:00+00:00"}}, key="zy")
    assert price_cart(cart, RuleBook([*rules, expired]), PROFILE, now=NOW).lines == before.lines


@settings(max_examples=100, deadline=None)
@given(books(), carts())
def test_a_coupon_never_changes_what_the_policies_gave_before_it(rules, cart):
    coupon = replace(
        parse_rule({"name": "C", "benefit": {"kind": "cart_amount_off", "amount": "10"}}, key="c"), source="coupon"
    )
    before = price_cart(cart, RuleBook(rules), PROFILE, now=NOW)
    after = price_cart(cart, RuleBook(rules), PROFILE, now=NOW, coupons=[coupon])
    for b, a in zip(before.lines, after.lines, strict=True):
        assert [d for d in a.discounts if d.source != "coupon"] == list(b.discounts)
