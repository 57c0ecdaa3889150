"""The simulator on the database: a described account priced by the same engine as a real one, and a
sandbox copy of one policy's rules priced beside the live rules, line by line, without saving anything."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.utils import timezone

from patron.discounts import mappers, quoting, services, simulator
from patron.discounts.models import DiscountRule, Policy
from patron.domain.money import Money
from patron.sales.models import Category
from tests.factories import make_account, make_industry, make_product, make_region_tree

PERCENT = {"kind": "percent_off", "percent": "10"}
TIERS = {
    "kind": "tiers",
    "basis": "quantity",
    "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "8"}],
}


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


class World:
    pass


@pytest.fixture
def world(staff: Any) -> Any:
    w: Any = World()
    w.regions = make_region_tree()
    w.tea = Category.objects.create(code="TEA", name_zh="茶", name_en="Tea")
    w.cups = Category.objects.create(code="CUPS", name_zh="杯", name_en="Cups")
    w.longjing = make_product("LJ", price="200.00", cost="120.00", category=w.tea)
    w.cup = make_product("CUP", price="30.00", cost="10.00", category=w.cups)
    w.retail = make_industry()
    w.shop = make_account(staff.sales, code="SHOP-1", region=w.regions["SZ"], industry=w.retail)
    return w


def policy_with(staff: Any, name: str, *rules: dict[str, Any], active: bool = True) -> Policy:
    policy = services.policy_create(actor=staff.manager, data={"name": name})
    for rule in rules:
        services.rule_create(actor=staff.manager, policy=policy, data=rule)
    if active:
        policy = services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)
    return policy


def lines(*items: tuple[Any, str]) -> list[mappers.LineRequest]:
    return quoting.line_requests([{"product": p.sku, "quantity": q} for p, q in items], currency="CNY")


def described_quote(described: simulator.Described, *items: tuple[Any, str], **kw: Any) -> quoting.Priced:
    return simulator.simulate(
        lines(*items), described=described, currency="CNY", channel="sales_rep", now=timezone.localtime(), **kw
    )


# --- a described account -----------------------------------------------------------------------------------------


def test_a_described_profile_has_the_region_path_the_stage_as_a_class_and_no_order_yet(world):
    catalogue = mappers.compiled().catalogue
    profile = simulator.described_profile(
        simulator.Described(
            region=world.regions["SZ"].pk,
            industry=world.retail.pk,
            classes=frozenset({"value_tier:high", "lifecycle:loyal"}),
            stage="new",
            new_customer=True,
        ),
        catalogue,
    )
    assert profile.account is None
    assert profile.region_path == (world.regions["SZ"].pk, world.regions["GD"].pk, world.regions["CN"].pk)
    assert profile.industry == world.retail.pk
    assert profile.stage == "new"
    assert profile.classes == frozenset({"value_tier:high", "lifecycle:new"})  # the stage chosen wins
    assert profile.has_ordered is False
    plain = simulator.described_profile(simulator.Described(classes=frozenset({"lifecycle:loyal"})), catalogue)
    assert (plain.stage, plain.region_path, plain.has_ordered) == ("loyal", (), True)


def test_a_described_account_gets_what_a_real_one_like_it_gets(staff, world):
    policy_with(
        staff,
        "Targets",
        {"name": "Guangdong", "who": {"regions": [world.regions["GD"].pk]}, "benefit": PERCENT},
        {
            "name": "High value new",
            "priority": 5,
            "who": {"classes": ["value_tier:high"], "stages": ["new"]},
            "what": {"products": [world.cup.pk]},
            "benefit": {"kind": "amount_off_unit", "amount": "2"},
        },
        {"name": "Welcome", "who": {"new_customers": True}, "benefit": {"kind": "cart_amount_off", "amount": "5"}},
    )
    # The shop in Shenzhen has not ordered yet: 10% off 200, then 5 off the order.
    shenzhen = simulator.Described(region=world.regions["SZ"].pk, industry=world.retail.pk, new_customer=True)
    real = quoting.price(world.shop, lines((world.longjing, "1")), user=staff.sales)
    fake = described_quote(shenzhen, (world.longjing, "1"), user=staff.sales)
    assert real.quote.net_total == fake.quote.net_total == Money(Decimal("175.00"), "CNY")
    assert [o.name for o in real.quote.applied] == [o.name for o in fake.quote.applied] == ["Guangdong", "Welcome"]

    hangzhou = described_quote(simulator.Described(region=world.regions["HZ"].pk), (world.longjing, "1"))
    assert hangzhou.quote.net_total.amount == Decimal("200.00")
    assert hangzhou.need is None  # nobody asked

    everything = simulator.Described(
        region=world.regions["SZ"].pk, classes=frozenset({"value_tier:high"}), stage="new", new_customer=True
    )
    priced = described_quote(everything, (world.cup, "10"), user=staff.sales)
    # 10 cups at 30 = 300; 2 off each (280), then 10% of the lines (252), then 5 off the order: 247.
    assert priced.quote.net_total == Money(Decimal("247.00"), "CNY")
    assert [o.name for o in priced.quote.applied] == ["High value new", "Guangdong", "Welcome"]
    assert not priced.need


def test_a_manual_price_above_the_rules_is_refused_for_a_described_account_too(staff, world):
    requests = quoting.line_requests(
        [{"product": "CUP", "quantity": "1", "manual": {"kind": "price", "value": "35"}}], currency="CNY"
    )
    with pytest.raises(ValidationError) as caught:
        simulator.simulate(
            requests,
            described=simulator.Described(),
            currency="CNY",
            channel="sales_rep",
            now=timezone.localtime(),
        )
    assert "lines.0.manual.value" in caught.value.message_dict


def test_manual_discounts_beyond_a_limit_name_who_must_approve(staff, world):
    services.discount_limit_set(actor=staff.admin, data={"role": "salesperson", "percent": "5", "amount": "10"})
    services.discount_limit_set(actor=staff.admin, data={"role": "sales_manager", "percent": "8"})
    requests = quoting.line_requests(
        [{"product": "CUP", "quantity": "10", "manual": {"kind": "percent", "value": "10"}}], currency="CNY"
    )
    priced = simulator.simulate(
        requests,
        described=simulator.Described(),
        currency="CNY",
        channel="sales_rep",
        now=timezone.localtime(),
        user=staff.sales,
    )
    assert priced.need is not None
    assert priced.need.level == "admin"
    texts = [simulator.need_text(r) for r in priced.need.reasons]
    assert texts == [
        "Line 1: a manual discount of 10% is above your limit of 5%.",
        "Manual discounts of CNY 30.00 in all are above your limit of CNY 10.00.",
        "More than a sales manager may approve: an admin decides.",
    ]


# --- the sandbox ---------------------------------------------------------------------------------------------------


def test_a_sandbox_copies_a_policy_and_checks_each_change_like_a_stored_rule(staff, world):
    policy = policy_with(
        staff, "Volume", {"name": "Tea tiers", "what": {"categories": [world.tea.pk]}, "benefit": TIERS}
    )
    sandbox = simulator.sandbox_start(policy)
    (copy,) = sandbox.rules
    assert (copy.key, copy.name, copy.origin) == (policy.rules.get().key, "Tea tiers", policy.rules.get().pk)

    with pytest.raises(ValidationError) as caught:
        simulator.sandbox_put(sandbox, {"name": "Bad", "benefit": {"kind": "percent_off", "percent": "200"}})
    assert "benefit.percent" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        simulator.sandbox_put(sandbox, {"name": "Ghost", "what": {"products": [999999]}, "benefit": PERCENT})
    assert "what.products[0]" in caught.value.message_dict
    assert len(sandbox.rules) == 1
    assert not sandbox.changed

    added = simulator.sandbox_put(sandbox, {"name": "Cups", "what": {"products": [world.cup.pk]}, "benefit": PERCENT})
    assert added.key == "S1"
    simulator.sandbox_put(sandbox, {**copy.data(), "priority": 3}, key=copy.key)
    assert copy.priority == 3
    with pytest.raises(KeyError):
        simulator.sandbox_put(sandbox, {"name": "x", "benefit": PERCENT}, key="S99")
    simulator.sandbox_remove(sandbox, "S1")
    with pytest.raises(KeyError):
        simulator.sandbox_remove(sandbox, "S1")

    archived = services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ARCHIVED)
    with pytest.raises(ValidationError):
        simulator.sandbox_start(archived)
    assert DiscountRule.objects.count() == 1


def test_a_sandbox_lives_in_the_session_and_survives_only_sound_data(staff, world):
    policy = policy_with(staff, "Volume", {"name": "Tea tiers", "benefit": TIERS}, active=False)
    session = SessionStore()
    sandbox = simulator.sandbox_start(policy)
    simulator.sandbox_put(sandbox, {"name": "Cups", "what": {"products": [world.cup.pk]}, "benefit": PERCENT})
    simulator.sandbox_keep(session, sandbox)
    session.save()
    loaded = simulator.sandbox_load(SessionStore(session_key=session.session_key))
    assert loaded is not None
    again, found_policy = loaded
    assert found_policy == policy
    assert [r.key for r in again.rules] == [r.key for r in sandbox.rules]
    assert again.counter == 1
    assert again.changed

    session[simulator.SESSION_KEY] = {"policy": "x", "rules": "nonsense"}
    assert simulator.sandbox_load(session) is None
    session[simulator.SESSION_KEY] = {"policy": 999999, "rules": []}
    assert simulator.sandbox_load(session) is None
    simulator.sandbox_clear(session)
    assert simulator.SESSION_KEY not in session


def test_the_sandbox_replaces_an_active_policys_rules_and_shows_the_difference_line_by_line(staff, world):
    volume = policy_with(
        staff, "Volume", {"name": "Tea tiers", "what": {"categories": [world.tea.pk]}, "benefit": TIERS}
    )
    policy_with(staff, "Cups", {"name": "Cups 10%", "what": {"products": [world.cup.pk]}, "benefit": PERCENT})
    sandbox = simulator.sandbox_start(volume)
    tiers = sandbox.rules[0]
    doubled = {**TIERS, "tiers": [{"from": "10", "percent": "10"}, {"from": "50", "percent": "16"}]}
    simulator.sandbox_put(sandbox, {**tiers.data(), "benefit": doubled}, key=tiers.key)
    live = mappers.compiled().book
    built = simulator.sandbox_book(sandbox, volume, live)
    assert built.skipped == ()
    assert len(built.book) == len(live) == 2
    sandboxed = {r.key: r for r in built.book.rules}
    assert sandboxed[tiers.key].source == "sandbox"
    assert sandboxed[tiers.key].policy == "Volume"

    requests = lines((world.longjing, "20"), (world.cup, "2"))
    kw: dict[str, Any] = {"account": world.shop, "currency": "CNY", "channel": "sales_rep", "now": timezone.localtime()}
    before = simulator.simulate(requests, **kw)
    after = simulator.simulate(requests, book=built.book, **kw)
    comparison = simulator.compare(before.quote, after.quote)
    # Tea: 4,000 at 5% (3,800) becomes 10% (3,600); cups: 60 less 10% (54) both times.
    assert [(d.key, d.live.amount, d.sandbox.amount, d.difference.amount) for d in comparison.lines] == [
        ("1", Decimal("3800.00"), Decimal("3600.00"), Decimal("-200.00")),
        ("2", Decimal("54.00"), Decimal("54.00"), Decimal("0.00")),
    ]
    assert comparison.live_total.amount == Decimal("3854.00")
    assert comparison.sandbox_total.amount == Decimal("3654.00")
    assert comparison.difference.amount == Decimal("-200.00")
    assert comparison.changed
    (tea_discount,) = after.quote.lines[0].discounts
    assert tea_discount.source == "sandbox"
    # Nothing was saved: the live book still gives 5%.
    assert simulator.simulate(requests, **kw).quote.net_total.amount == Decimal("3854.00")
    assert volume.rules.get().definition["benefit"] == TIERS


def test_a_draft_policys_sandbox_adds_its_rules_to_the_live_ones_within_its_window(staff, world):
    policy_with(staff, "Cups", {"name": "Cups 10%", "what": {"products": [world.cup.pk]}, "benefit": PERCENT})
    later = services.policy_create(
        actor=staff.manager, data={"name": "Next year", "effective_from": "2099-01-01T00:00:00+08:00"}
    )
    draft = policy_with(
        staff,
        "Tea draft",
        {
            "name": "Tea 20%",
            "what": {"categories": [world.tea.pk]},
            "benefit": {"kind": "percent_off", "percent": "20"},
        },
        active=False,
    )
    requests = lines((world.longjing, "1"), (world.cup, "1"))
    kw: dict[str, Any] = {"account": world.shop, "currency": "CNY", "channel": "sales_rep", "now": timezone.localtime()}
    built = simulator.sandbox_book(simulator.sandbox_start(draft), draft, mappers.compiled().book)
    assert len(built.book) == 2
    comparison = simulator.compare(
        simulator.simulate(requests, **kw).quote, simulator.simulate(requests, book=built.book, **kw).quote
    )
    assert [d.difference.amount for d in comparison.lines] == [Decimal("-40.00"), Decimal("0.00")]

    sandbox = simulator.sandbox_start(later)
    simulator.sandbox_put(sandbox, {"name": "Everything 50%", "benefit": {"kind": "percent_off", "percent": "50"}})
    built = simulator.sandbox_book(sandbox, later, mappers.compiled().book)
    quote = simulator.simulate(requests, book=built.book, **kw).quote
    assert not simulator.compare(simulator.simulate(requests, **kw).quote, quote).changed
    assert quote.outcome("S1").reasons[0].code == "NOT_STARTED"


def test_a_sandbox_rule_on_a_product_set_follows_the_set(staff, world):
    gifts = services.product_set_save(actor=staff.manager, data={"name": "Gifts", "products": [world.cup.pk]})
    draft = policy_with(staff, "Gifts", active=False)
    sandbox = simulator.sandbox_start(draft)
    simulator.sandbox_put(sandbox, {"name": "Gifts 10%", "what": {"product_sets": [gifts.pk]}, "benefit": PERCENT})
    rules, skipped = simulator.sandbox_rules(sandbox, draft)
    assert skipped == []
    assert rules[0].what.products == frozenset({world.cup.pk})
