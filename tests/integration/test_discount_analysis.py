"""What-if and effect of discount policies against the database, with amounts worked out by hand.

What-if: three accounts in March 2025 (one in value tier "high", one "low", one in no class), an
active policy of 10% on tea and a draft of 5% on everything for the high tier; each order priced
again with the current rules and with the draft, beside what it was actually sold at.

Effect: a policy for accounts tagged VIP in March 2025, compared with February 2025 (29 January to
28 February, as many days), against the accounts it did not target.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from patron.accounts.models import Tag
from patron.core.errors import Conflict
from patron.discounts import analysis, mappers, services
from patron.discounts.models import AppliedDiscount, Policy, WhatIfRun
from patron.sales import services as sales
from patron.sales.models import Category, Order
from patron.segments.models import Classification, Membership, SegmentRun, Snapshot
from patron.segments.services import install_builtins
from tests.factories import make_account, make_industry, make_product, make_region_tree

MARCH = {"period": "custom", "start": "2025-03-01", "end": "2025-03-31", "classification": "value_tier"}


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture(autouse=True)
def _builtins(db: None) -> None:
    """The built-in classifications (a transactional test elsewhere may have flushed them away)."""
    install_builtins()


def place(account: Any, key: str, class_key: str, valid_from: dt.date, valid_to: dt.date | None = None) -> None:
    classification = Classification.objects.get(key=key)
    run = SegmentRun.objects.create(as_of=valid_from, status=SegmentRun.DONE)
    snapshot = Snapshot.objects.create(
        run=run, classification=classification, as_of=valid_from, period_start=valid_from, period_end=valid_from
    )
    Membership.objects.create(
        classification=classification,
        account=account,
        class_key=class_key,
        snapshot=snapshot,
        valid_from=valid_from,
        valid_to=valid_to,
    )


def region_tree() -> dict[str, Any]:
    """The factories' region tree, made once even when both fixtures below are used."""
    from patron.accounts.models import Region

    if Region.objects.filter(code="CN").exists():
        return {r.code: r for r in Region.objects.filter(code__in=["CN", "GD", "SZ", "ZJ", "HZ"])}
    return make_region_tree()


def category(code: str, en: str, parent: Any = None) -> Category:
    return Category.objects.get_or_create(code=code, defaults={"name_zh": en, "name_en": en, "parent": parent})[0]


def order(actor: Any, account: Any, day: str, *lines: tuple[Any, str, str], confirm: bool = True) -> Order:
    """An order sold at the net unit prices given (lines: product, quantity, net unit price)."""
    return sales.order_create(
        actor=actor,
        account=account,
        lines=[sales.LineInput(product=p, quantity=q, net_unit_price=price) for p, q, price in lines],
        confirm=confirm,
        order_date=dt.date.fromisoformat(day),
    )


def policy_with(staff: Any, name: str, *rules: dict[str, Any], activate: bool, **fields: Any) -> Policy:
    policy = services.policy_create(actor=staff.manager, data={"name": name, **fields})
    for rule in rules:
        services.rule_create(actor=staff.manager, policy=policy, data=rule)
    if activate:
        policy = services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)
    return policy


@pytest.fixture
def march(staff: Any) -> Any:
    regions = region_tree()
    tea = category("TEA", "Tea")
    green = category("GREEN", "Green tea", tea)
    cups = category("CUPS", "Cups")
    longjing = make_product("LJ", price="200.00", cost="120.00", category=green)
    cup = make_product("CUP", price="30.00", cost="10.00", category=cups)
    high = make_account(staff.sales, region=regions["SZ"])
    low = make_account(staff.sales, region=regions["HZ"])
    none = make_account(staff.sales, region=regions["HZ"])
    place(high, "value_tier", "high", dt.date(2025, 1, 1))
    place(low, "value_tier", "low", dt.date(2025, 1, 1))
    admin = staff.admin
    # Sold: list 430, net 410 (20 off by hand); list 300 at list; list 200 at 180.
    order(admin, high, "2025-03-05", (longjing, "2", "190.00"), (cup, "1", "30.00"))
    o2 = order(admin, low, "2025-03-10", (cup, "10", "30.00"))
    order(admin, none, "2025-03-20", (longjing, "1", "180.00"))
    # Not in the replay: after the period, and a draft.
    order(admin, high, "2025-04-02", (longjing, "5", "200.00"))
    order(admin, high, "2025-03-06", (longjing, "5", "200.00"), confirm=False)
    # Half the cups of the low account's order came back: its margins count half.
    sales.return_create(
        actor=admin,
        order=o2,
        lines=[sales.ReturnLineInput(order_line=o2.lines.get(), quantity="5")],
        return_date=dt.date(2025, 3, 12),
    )
    current = policy_with(
        staff,
        "Tea 10%",
        {
            "name": "tea",
            "priority": 100,
            "what": {"categories": [tea.pk]},
            "benefit": {"kind": "percent_off", "percent": "10"},
        },
        activate=True,
    )
    draft = policy_with(
        staff,
        "High tier 5%",
        {
            "name": "high 5%",
            "priority": 50,
            "who": {"classes": ["value_tier:high"]},
            "benefit": {"kind": "percent_off", "percent": "5"},
        },
        activate=False,
    )

    class March:
        pass

    m = March()
    m.__dict__.update(
        regions=regions,
        tea=tea,
        longjing=longjing,
        cup=cup,
        high=high,
        low=low,
        none=none,
        current=current,
        draft=draft,
    )
    return m


def rows(run: WhatIfRun) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in run.result["segments"]}


def test_a_draft_replayed_on_march_gives_per_segment_what_it_would_have_cost(staff, march):
    run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    assert run.status == WhatIfRun.DONE, run.error
    assert not run.background
    assert run.lines_total == run.lines_done == 4
    by = rows(run)
    assert list(by) == ["low", "high", ""]  # the classification's order, accounts in no class last
    high = by["high"]
    # Longjing 2 x 200: 10% (current) = 360, then 5% = 342; the cup 30 - 5% = 28.50.
    assert high == {
        "key": "high",
        "accounts": 1,
        "orders": 1,
        "lines": 2,
        "changed_orders": 1,
        "list_amount": "430.00",
        "actual_discount": "20.00",
        "current_discount": "40.00",
        "policy_discount": "59.50",
        "actual_margin": "160.00",  # 410 - (240 + 10)
        "current_margin": "140.00",
        "policy_margin": "120.50",
    }
    low = by["low"]  # cups, no rule for them: the same three ways; half came back, so half the margin
    assert (low["list_amount"], low["actual_discount"], low["current_discount"], low["policy_discount"]) == (
        "300.00",
        "0.00",
        "0.00",
        "0.00",
    )
    assert (low["actual_margin"], low["current_margin"], low["policy_margin"]) == ("100.00", "100.00", "100.00")
    assert low["changed_orders"] == 0
    none = by[""]
    assert (none["actual_discount"], none["current_discount"], none["policy_discount"]) == ("20.00", "20.00", "20.00")
    assert (none["actual_margin"], none["policy_margin"]) == ("60.00", "60.00")
    totals = run.result["totals"]
    assert (totals["orders"], totals["accounts"], totals["lines"]) == (3, 3, 4)
    assert (
        totals["list_amount"],
        totals["actual_discount"],
        totals["current_discount"],
        totals["policy_discount"],
    ) == (
        "930.00",
        "40.00",
        "60.00",
        "79.50",
    )
    assert (totals["actual_margin"], totals["current_margin"], totals["policy_margin"]) == (
        "320.00",
        "300.00",
        "280.50",
    )
    assert run.result["rules"] == {"current": 1, "policy": 1}
    assert run.result["notes"] == []


def test_classes_as_of_the_period_end_put_an_account_that_moved_in_its_new_class(staff, march):
    # The low account went up to "high" on 15 March: by the period's end it is there, and the draft applies.
    Membership.objects.filter(account=march.low).update(valid_to=dt.date(2025, 3, 15))
    place(march.low, "value_tier", "high", dt.date(2025, 3, 15))
    by_day = rows(analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH))
    assert by_day["low"]["policy_discount"] == "0.00"  # on 10 March it was low
    run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data={**MARCH, "classes_as_of": "period_end"})
    by_end = rows(run)
    assert "low" not in by_end
    high = by_end["high"]
    assert (high["orders"], high["accounts"], high["list_amount"]) == (2, 2, "730.00")
    assert high["policy_discount"] == "74.50"  # 59.50 + 5% of 300
    assert high["policy_margin"] == "213.00"  # 120.50 + (285 - 100) x half kept


def test_an_active_policy_counts_once_against_the_other_active_rules(staff, march):
    run = analysis.whatif_start(actor=staff.manager, policy=march.current, data=MARCH)
    totals = run.result["totals"]
    assert totals["current_discount"] == "0.00"  # no other active policy
    assert totals["policy_discount"] == "60.00"  # 10% of the tea: 40 + 20
    assert [n["code"] for n in run.result["notes"]] == ["ALREADY_ACTIVE"]


def test_the_policy_dates_are_set_aside_but_a_rule_own_dates_are_not(staff, march):
    later = policy_with(
        staff,
        "Next year",
        {
            "name": "december only",
            "when": {"starts": "2026-12-01T00:00:00+08:00", "ends": "2026-12-31T00:00:00+08:00"},
            "benefit": {"kind": "percent_off", "percent": "50"},
        },
        {"name": "always", "benefit": {"kind": "amount_off_unit", "amount": "1"}},
        activate=False,
        effective_from="2030-01-01T00:00:00+08:00",
    )
    run = analysis.whatif_start(actor=staff.manager, policy=later, data=MARCH)
    totals = run.result["totals"]
    # "always": 1 off each of 14 units, on top of the tea 10%: 60 + 14.
    assert totals["policy_discount"] == "74.00"
    assert run.result["notes"] == [{"code": "OWN_DATES_OUTSIDE", "params": {"rules": ["december only"]}}]


def test_orders_in_a_currency_without_a_rate_are_counted_apart(staff, march):
    dollar_tea = make_product("LJ-USD", price="30.00", cost="15.00", category=march.tea, currency="USD")
    sales.order_create(
        actor=staff.admin,
        account=march.none,
        currency="USD",
        lines=[sales.LineInput(product=dollar_tea, quantity="1")],
        confirm=True,
        order_date=dt.date(2025, 3, 21),
    )
    run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    assert run.result["totals"]["orders"] == 3
    assert run.result["unconverted"] == {"orders": 1, "currencies": ["USD"]}
    from patron.sales.models import ExchangeRate

    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2025, 1, 1), rate=Decimal("7"))
    run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    assert run.result["totals"]["orders"] == 4
    assert run.result["totals"]["list_amount"] == "1140.00"  # 930 + 30 x 7
    assert run.result["totals"]["current_discount"] == "81.00"  # 60 + 10% of 210


@pytest.mark.django_db(transaction=True)
def test_the_same_replay_gives_the_same_figures_in_one_process_and_in_two(staff, march, monkeypatch):
    """Forked workers read their own chunks with their own connections (on a database they can reach:
    PostgreSQL or a SQLite file; the in-memory test database stays with one process)."""
    spec = analysis.whatif_spec(MARCH)
    monkeypatch.setattr(analysis, "CHUNK_ORDERS", 1)
    monkeypatch.setattr(analysis, "PARALLEL_LINES", 0)
    one = analysis.replay(march.draft, spec, processes=1)
    two = analysis.replay(march.draft, spec, processes=2)
    assert one.data == two.data
    assert two.data["totals"]["policy_discount"] == "79.50"
    assert one.timings["processes"] == 1
    if connection.vendor == "postgresql":
        assert two.timings["processes"] == 2


# --- asking -------------------------------------------------------------------------------------------------------


def test_a_salesperson_and_finance_may_not_replay_a_policy(staff, march):
    for user in (staff.sales, staff.finance, staff.marketing):
        with pytest.raises(PermissionDenied):
            analysis.whatif_start(actor=user, policy=march.draft, data=MARCH)
    assert analysis.may_read_analysis(staff.finance)
    assert not analysis.may_read_analysis(staff.sales)
    assert not analysis.may_read_analysis(staff.marketing)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**MARCH, "start": "2025-03-31", "end": "2025-03-01"}, "end"),
        ({**MARCH, "classification": "no_such_thing"}, "classification"),
        ({**MARCH, "classification": ""}, "classification"),
        ({**MARCH, "period": "last_week"}, "period"),
        ({**MARCH, "start": "1 March"}, "start"),
        ({**MARCH, "end": ""}, "end"),
        ({**MARCH, "classes_as_of": "yesterday"}, "classes_as_of"),
        ({**MARCH, "start": "2020-01-01"}, "end"),  # more than three years
    ],
)
def test_bad_questions_are_refused_naming_the_field(staff, march, data, field):
    with pytest.raises(ValidationError) as caught:
        analysis.whatif_start(actor=staff.manager, policy=march.draft, data=data)
    assert field in caught.value.message_dict
    assert not WhatIfRun.objects.exists()


def test_a_period_ending_in_the_future_is_refused(staff, march):
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        analysis.whatif_spec({**MARCH, "end": tomorrow.isoformat()})
    assert "end" in caught.value.message_dict


def test_last_month_and_last_quarter_are_calendar_periods_before_today():
    assert analysis.period_dates("last_month", dt.date(2026, 1, 15)) == (dt.date(2025, 12, 1), dt.date(2025, 12, 31))
    assert analysis.period_dates("last_quarter", dt.date(2026, 5, 2)) == (dt.date(2026, 1, 1), dt.date(2026, 3, 31))


def test_a_large_period_goes_to_the_background_and_the_run_records_it(
    staff, march, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(analysis, "INLINE_LINES", 2)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    assert run.background
    assert run.status == WhatIfRun.QUEUED
    assert len(callbacks) == 1
    # Asked again while it waits: the same run.
    again = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    assert again.pk == run.pk
    done = analysis.whatif_perform(run.pk)
    assert done.status == WhatIfRun.DONE
    assert done.percent == 100
    assert done.result["totals"]["policy_discount"] == "79.50"
    assert done.timings["total"] >= 0


def test_a_run_that_lost_its_worker_is_marked_failed_when_looked_at(staff, march):
    run = WhatIfRun.objects.create(
        policy=march.draft,
        start=dt.date(2025, 3, 1),
        end=dt.date(2025, 3, 31),
        classification_key="value_tier",
        status=WhatIfRun.RUNNING,
        background=True,
        progress_at=timezone.now() - dt.timedelta(hours=1),
    )
    (listed,) = analysis.whatif_runs(march.draft)
    assert listed.status == WhatIfRun.FAILED
    run.refresh_from_db()
    assert run.status == WhatIfRun.FAILED
    assert "worker" in run.error


def test_a_replay_that_breaks_keeps_its_reason(staff, march, monkeypatch):
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(analysis, "replay", broken)
    run = analysis.whatif_start(actor=staff.manager, policy=march.draft, data=MARCH)
    assert run.status == WhatIfRun.FAILED
    assert "RuntimeError" in run.error


# --- effect ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def vip(staff: Any) -> Any:
    """A policy for VIP accounts in March 2025 and who ordered what before (29 Jan - 28 Feb) and during it."""
    regions = region_tree()
    retail = make_industry()
    tea = category("TEA", "Tea")
    longjing = make_product("V-LJ", price="200.00", cost="120.00", category=tea)
    cup = make_product("V-CUP", price="30.00", cost="10.00", category=tea)
    tag = Tag.objects.create(name="VIP")
    a = make_account(staff.sales, region=regions["SZ"], industry=retail)
    e = make_account(staff.sales, region=regions["SZ"], industry=retail)
    b = make_account(staff.sales, region=regions["HZ"])
    d = make_account(staff.sales, region=regions["HZ"])
    f = make_account(staff.sales, region=regions["SZ"], industry=retail)  # like A, but not a VIP
    a.tags.add(tag)
    e.tags.add(tag)
    admin = staff.admin
    order(admin, a, "2025-02-10", (longjing, "1", "200.00"))
    a_during = order(admin, a, "2025-03-10", (longjing, "2", "180.00"))
    e_during = order(admin, e, "2025-03-20", (longjing, "1", "180.00"))
    order(admin, b, "2025-02-15", (cup, "10", "30.00"))
    order(admin, b, "2025-03-15", (cup, "12", "30.00"))
    order(admin, d, "2025-02-01", (cup, "4", "30.00"))
    order(admin, d, "2025-03-02", (cup, "2", "30.00"))
    order(admin, f, "2025-02-20", (longjing, "1", "200.00"))
    order(admin, f, "2025-03-25", (longjing, "2", "200.00"))
    order(admin, f, "2025-01-10", (longjing, "9", "200.00"))  # before the "before" period
    policy = policy_with(
        staff,
        "VIP March",
        {"name": "vip 10%", "who": {"tags": [tag.pk]}, "benefit": {"kind": "percent_off", "percent": "10"}},
        activate=True,
        effective_from="2025-03-01T00:00:00+08:00",
        effective_to="2025-04-01T00:00:00+08:00",
    )
    rule = policy.rules.get()
    for placed, amount in ((a_during, "40.00"), (e_during, "20.00")):
        line = placed.lines.get()
        AppliedDiscount.objects.create(
            order=placed,
            line=line,
            account=placed.account,
            policy=policy,
            rule=rule,
            source="policy",
            amount=Decimal(amount),
            currency="CNY",
            order_date=placed.order_date,
        )

    class Vip:
        pass

    v = Vip()
    v.__dict__.update(policy=policy, a=a, b=b, d=d, e=e, f=f)
    return v


def q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def test_effect_compares_the_targeted_accounts_with_those_the_policy_did_not_reach(staff, vip):
    found = analysis.effect(vip.policy, today=dt.date(2025, 6, 1))
    p = found.periods
    assert (p.before_start, p.start, p.last_day, p.days) == (
        dt.date(2025, 1, 29),
        dt.date(2025, 3, 1),
        dt.date(2025, 3, 31),
        31,
    )
    assert not p.running
    t, c = found.targeted, found.comparison
    assert (t["before"].accounts, t["before"].orders, t["before"].sales, t["before"].margin) == (1, 1, 200, 80)
    assert (t["during"].accounts, t["during"].orders, t["during"].sales, t["during"].margin) == (2, 2, 540, 180)
    assert t["during"].discount == Decimal("60.00")
    assert (c["before"].accounts, c["before"].orders, c["before"].sales, c["before"].margin) == (3, 3, 620, 360)
    assert (c["during"].accounts, c["during"].orders, c["during"].sales, c["during"].margin) == (3, 3, 820, 440)
    assert c["during"].discount == 0
    # Accounts with orders in both periods: A (+160 sales, +40 margin) against B, D, F (+200/3, +80/3 on average).
    assert found.targeted_change.accounts == 1
    assert found.comparison_change.accounts == 3
    assert q(found.did["sales"]) == Decimal("93.33")
    assert q(found.did["margin"]) == Decimal("13.33")
    assert found.did["orders"] == 0
    # Same province and industry as A: only F (+200 sales, +80 margin).
    assert found.did_mix is not None
    assert q(found.did_mix["sales"]) == Decimal("-40.00")
    assert q(found.did_mix["margin"]) == Decimal("-40.00")
    assert found.mix_coverage == 1
    assert found.discount_total == Decimal("60.00")
    assert found.discount_orders == 2
    assert found.months == ["2025-01", "2025-02", "2025-03"]
    assert found.monthly["targeted"] == [Decimal("0.00"), Decimal("200.00"), Decimal("360.00")]
    assert found.monthly["comparison"] == [Decimal("0.00"), Decimal("206.67"), Decimal("273.33")]
    assert found.notes == []


def test_effect_counts_returns_against_the_sales_of_their_orders(staff, vip):
    o = Order.objects.get(account=vip.b, order_date=dt.date(2025, 3, 15))
    sales.return_create(
        actor=staff.admin,
        order=o,
        lines=[sales.ReturnLineInput(order_line=o.lines.get(), quantity="2")],
        return_date=dt.date(2025, 3, 16),
    )
    found = analysis.effect(vip.policy, today=dt.date(2025, 6, 1))
    assert found.comparison["during"].sales == Decimal("760.00")  # 820 - 60
    assert found.comparison["during"].margin == Decimal("400.00")  # 440 - (60 - 20)


def test_a_policy_still_running_is_measured_so_far_against_as_many_days_before(staff, vip):
    vip.policy.effective_to = None
    vip.policy.save(update_fields=["effective_to"])
    found = analysis.effect(vip.policy, today=dt.date(2025, 3, 14))
    assert (found.periods.start, found.periods.last_day, found.periods.before_start) == (
        dt.date(2025, 3, 1),
        dt.date(2025, 3, 14),
        dt.date(2025, 2, 15),
    )
    assert found.periods.running
    # A's order before (10 February) is before these 14 days, and nobody else ordered in both.
    assert [n["code"] for n in found.notes] == ["RUNNING", "NO_TARGETED", "NO_COMPARISON"]
    assert found.did == {}
    assert found.targeted["during"].sales == Decimal("360.00")  # only A's order of 10 March so far


def test_a_rule_for_everyone_leaves_no_comparison_group(staff, vip):
    services.rule_create(
        actor=staff.manager, policy=vip.policy, data={"name": "all", "benefit": {"kind": "percent_off", "percent": "1"}}
    )
    found = analysis.effect(vip.policy, today=dt.date(2025, 6, 1))
    assert found.comparison["during"].accounts == 0
    assert found.did == {}
    assert "EVERYONE" in [n["code"] for n in found.notes]


def test_a_draft_has_no_effect_to_measure(staff, march):
    with pytest.raises(Conflict):
        analysis.effect(march.draft)
