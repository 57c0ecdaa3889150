"""The demo data generator: deterministic, realistic, consistent; no database needed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import islice

import pytest

from patron.demo.generator import (
    AccountBundle,
    DemoSpec,
    account_bundles,
    reference_data,
    season_factor,
    spring_festival,
    uscc,
)
from patron.domain.money import Money, line_amount, quantize
from patron.web.demo_users import DEMO_USERS

TODAY = dt.date(2026, 11, 25)
SPEC = DemoSpec(today=TODAY, seed=11, accounts=400)


@pytest.fixture(scope="module")
def bundles() -> list[AccountBundle]:
    return list(account_bundles(SPEC))


def _sales_cny(bundle: AccountBundle) -> Decimal:
    rate = Decimal("7.2") if bundle.account.currency == "USD" else Decimal(1)
    return sum((o.net_total * rate for o in bundle.orders if o.status == "confirmed"), Decimal(0))


def test_the_same_seed_gives_the_same_data() -> None:
    spec = DemoSpec(today=TODAY, seed=5, accounts=60)
    assert reference_data(spec) == reference_data(spec)
    assert list(account_bundles(spec)) == list(account_bundles(spec))


def test_a_different_seed_gives_different_data() -> None:
    first = list(account_bundles(DemoSpec(today=TODAY, seed=5, accounts=30)))
    second = list(account_bundles(DemoSpec(today=TODAY, seed=6, accounts=30)))
    assert [b.account.name for b in first] != [b.account.name for b in second]
    assert sum(len(b.orders) for b in first) != sum(len(b.orders) for b in second)


def test_an_account_does_not_depend_on_how_many_are_generated() -> None:
    small = list(account_bundles(DemoSpec(today=TODAY, seed=5, accounts=20)))
    large = list(islice(account_bundles(DemoSpec(today=TODAY, seed=5, accounts=500)), 20))
    assert small == large


def test_the_generator_imports_no_django() -> None:
    code = (
        "import sys, patron.demo.generator as g, datetime as d; "
        "list(g.account_bundles(g.DemoSpec(today=d.date(2026, 1, 1), accounts=3))); "
        "sys.exit(any(m == 'django' or m.startswith('django.') for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_reference_data_has_a_chinese_region_tree_industries_and_a_catalogue() -> None:
    ref = reference_data(SPEC)
    provinces = [r for r in ref.regions if r.level == "province"]
    cities = Counter(r.parent for r in ref.regions if r.level == "city")
    assert [r.code for r in ref.regions if r.level == "country"] == ["CN"]
    assert 15 <= len(provinces) <= 20
    assert all(2 <= cities[p.code] <= 4 for p in provinces)
    assert all(r.name_zh and r.name_en for r in ref.regions)
    assert len({r.code for r in ref.regions}) == len(ref.regions)
    assert {i.name_zh for i in ref.industries} >= {"零售", "餐饮", "制造", "批发分销", "医疗", "教育", "物流"}
    assert 130 <= len(ref.products) <= 170
    assert {c.code for c in ref.categories if c.parent is None} == {"TEA", "COFFEE", "SNACK", "PACK", "EQUIP"}
    assert all(p.unit_cost < p.list_price for p in ref.products)
    assert {f.key for f in ref.custom_fields} == {
        "value_positioning",
        "purchasing_standard",
        "annual_budget",
        "contract_renewal",
    }
    assert all(Decimal("7.10") <= r.rate <= Decimal("7.30") for r in ref.exchange_rates)
    assert {u.username for u in ref.users} >= {username for username, _, _ in DEMO_USERS}
    assert {(t.name, t.manager) for t in ref.teams} == {("South", "manager"), ("North", "manager2")}


def test_accounts_look_like_chinese_customers(bundles: list[AccountBundle]) -> None:
    accounts = [b.account for b in bundles]
    assert [a.code for a in accounts[:2]] == ["C000001", "C000002"]
    companies = [a for a in accounts if a.kind == "company"]
    persons = [a for a in accounts if a.kind == "person"]
    assert 0.8 < len(companies) / len(accounts) < 0.97
    assert all(a.name.endswith("公司") for a in companies)
    assert all(a.birthday is not None for a in persons)
    assert all(a.birthday is None for a in companies)
    assert all(len(a.tax_id) == 18 and uscc(a.tax_id[:2], a.tax_id[2:17]) == a.tax_id for a in companies)
    assert 0.05 <= sum(a.is_key_account for a in accounts) / len(accounts) <= 0.12
    assert {a.payment_terms_days for a in companies} == {30, 60, 90}
    assert sum(bool(a.custom) for a in companies) > len(companies) / 2
    for a in companies:  # stored as the account services clean them
        assert a.custom.get("value_positioning", "price") in ("price", "quality", "service")
        assert int(a.custom.get("annual_budget", "0")) >= 0
        assert dt.date.fromisoformat(a.custom.get("contract_renewal", "2026-01-01"))
    assert all(a.credit_limit >= 50000 for a in companies if a.is_key_account)
    assert sum(bool(a.tags) for a in accounts) > len(accounts) / 4
    owners = Counter(a.owner for a in accounts)
    assert owners["sales"] > len(accounts) / 10


def test_key_accounts_have_several_decision_makers_and_every_account_one_primary_contact(
    bundles: list[AccountBundle],
) -> None:
    for b in bundles:
        count = len(b.contacts)
        assert sum(c.is_primary for c in b.contacts) == 1
        if b.account.is_key_account:
            assert 3 <= count <= 6
            assert {"decider", "buyer", "influencer"} <= {c.role for c in b.contacts}
        else:
            assert 1 <= count <= 2
        for c in b.contacts:
            assert c.email_consent_at is not None if c.email_consent else c.email_consent_at is None
            assert c.sms_consent_at is not None if c.sms_consent else c.sms_consent_at is None


def test_a_fifth_of_the_accounts_make_well_over_half_of_the_sales(bundles: list[AccountBundle]) -> None:
    sales = sorted((_sales_cny(b) for b in bundles), reverse=True)
    top = sum(sales[: len(sales) // 5], Decimal(0))
    assert top / sum(sales, Decimal(0)) > Decimal("0.6")


def test_sales_rise_before_the_spring_festival_and_drop_in_february(bundles: list[AccountBundle]) -> None:
    by_day: dict[dt.date, int] = defaultdict(int)
    for b in bundles:
        for o in b.orders:
            by_day[o.order_date] += 1
    before = after = 0
    for year in (2025, 2026):
        festival = spring_festival(year)
        before += sum(by_day[festival - dt.timedelta(days=d)] for d in range(3, 31))
        after += sum(by_day[festival + dt.timedelta(days=d)] for d in range(11, 39))
    assert before > 1.4 * after
    february = sum(n for day, n in by_day.items() if day.month == 2)
    december = sum(n for day, n in by_day.items() if day.month == 12)
    assert december > 1.5 * february
    assert (
        season_factor(dt.date(2026, 2, 20)) < season_factor(dt.date(2026, 4, 15)) < season_factor(dt.date(2026, 12, 9))
    )


def test_some_accounts_stopped_buying_months_ago(bundles: list[AccountBundle]) -> None:
    lapsed = [
        b
        for b in bundles
        if len(b.orders) >= 3
        and b.account.last_order_date is not None
        and 180 <= (TODAY - b.account.last_order_date).days <= 560
    ]
    assert len(lapsed) >= 0.05 * len(bundles)
    assert any(not b.orders for b in bundles)  # prospects that never bought


def test_orders_returns_invoices_and_payments_reconcile(bundles: list[AccountBundle]) -> None:
    for b in bundles:
        lines = defaultdict(list)
        for ln in b.lines:
            lines[ln.order_id].append(ln)
            assert ln.line_total == line_amount(ln.quantity, Money(ln.net_unit_price, "CNY")).amount
        returned: dict[int, Decimal] = defaultdict(Decimal)
        for r in b.returns:
            returned[r.order_id] += r.total
        ret_lines = defaultdict(list)
        for rl in b.return_lines:
            ret_lines[rl.return_id].append(rl)
        for r in b.returns:
            assert r.total == sum(rl.amount for rl in ret_lines[r.id])
        orders = {o.id: o for o in b.orders}
        for o in b.orders:
            assert o.net_total == sum(ln.line_total for ln in lines[o.id])
            assert o.list_total == sum(quantize(ln.list_unit_price * ln.quantity, o.currency) for ln in lines[o.id])
            assert o.order_date <= TODAY
        confirmed = [o.order_date for o in b.orders if o.status == "confirmed"]
        assert b.account.first_order_date == (min(confirmed) if confirmed else None)
        assert b.account.last_order_date == (max(confirmed) if confirmed else None)
        paid: dict[int, Decimal] = defaultdict(Decimal)
        by_payment: dict[int, Decimal] = defaultdict(Decimal)
        for a in b.allocations:
            paid[a.invoice_id] += a.amount
            by_payment[a.payment_id] += a.amount
            assert a.amount > 0
        for inv in b.invoices:
            assert inv.order_id is not None
            order = orders[inv.order_id]
            assert order.status == "confirmed"
            assert 0 < inv.amount <= order.net_total - returned[order.id]
            assert inv.paid_amount == paid[inv.id] <= inv.amount
            assert (inv.status == "paid") == (inv.paid_amount == inv.amount)
            assert inv.due_date >= inv.issue_date
        for p in b.payments:
            assert p.amount == by_payment[p.id]
            assert p.received_on <= TODAY


def test_the_books_hold_returns_overdue_and_partly_paid_invoices_and_some_dollars(
    bundles: list[AccountBundle],
) -> None:
    orders = [o for b in bundles for o in b.orders]
    confirmed = [o for o in orders if o.status == "confirmed"]
    returns = [r for b in bundles for r in b.returns]
    invoices = [i for b in bundles for i in b.invoices]
    assert 0.03 < len(returns) / len(confirmed) < 0.08
    statuses = Counter(o.status for o in orders)
    assert statuses["cancelled"] > 0
    assert statuses["draft"] > 0
    assert statuses["confirmed"] > 0.95 * len(orders)
    assert len(invoices) > 0.85 * len(confirmed)
    overdue = [i for i in invoices if i.status == "open" and i.due_date < TODAY]
    assert 0.01 < len(overdue) / len(invoices) < 0.2
    assert any(0 < i.paid_amount < i.amount for i in invoices)
    late = [i for i in invoices if i.status == "paid"]
    assert late
    assert 0 < sum(o.currency == "USD" for o in orders) < 0.15 * len(orders)
    methods = Counter(p.method for b in bundles for p in b.payments)
    assert len(methods) >= 5


def test_every_document_has_its_timeline_entry(bundles: list[AccountBundle]) -> None:
    for b in bundles:
        refs = Counter((a.ref_type, a.ref_id) for a in b.activities if a.ref_type)
        assert all(refs[("order", o.id)] >= 1 for o in b.orders)
        assert all(refs[("return", r.id)] == 1 for r in b.returns)
        assert all(refs[("invoice", i.id)] == 1 for i in b.invoices)
        assert all(refs[("payment", p.id)] == 1 for p in b.payments)
        times = [a.occurred_at for a in b.activities]
        assert times == sorted(times)
    assert any(a.kind in ("call", "note", "meeting") for b in bundles for a in b.activities)


def test_nothing_is_dated_after_now() -> None:
    now = dt.datetime(2026, 11, 25, 8, 30, tzinfo=dt.UTC)
    spec = DemoSpec(today=TODAY, seed=3, accounts=150, now=now)
    for b in account_bundles(spec):
        stamps = [a.occurred_at for a in b.activities] + [o.created_at for o in b.orders]
        assert all(s <= now for s in stamps)


def test_a_spec_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="accounts"):
        DemoSpec(today=TODAY, accounts=0)
    with pytest.raises(ValueError, match="years"):
        DemoSpec(today=TODAY, years=0)
    assert DemoSpec(today=dt.date(2028, 2, 29), years=3).start == dt.date(2025, 2, 28)
