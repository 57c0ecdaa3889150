"""The scale data set's shape: deterministic, about ten order lines per account, books that reconcile.

No database: the records come straight from the generator (the loaders are tested in
test_scale_copy.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from decimal import Decimal
from itertools import islice

import pytest

from patron.demo.generator import AccountBundle, DemoSpec, account_bundles, account_range, reference_data
from patron.demo.scale import SCALE_SHAPE, scale_spec
from patron.domain.money import Money, line_amount, quantize

TODAY = dt.date(2026, 11, 25)
SPEC = scale_spec(today=TODAY, seed=3, accounts=3000)
ID_FIELDS = ("id", "account_id", "order_id", "return_id", "order_line_id", "payment_id", "invoice_id", "ref_id")


@pytest.fixture(scope="module")
def bundles() -> list[AccountBundle]:
    return list(account_bundles(SPEC))


def test_the_same_seed_gives_the_same_rows_and_another_seed_others() -> None:
    spec = scale_spec(today=TODAY, seed=9, accounts=80)
    assert list(account_bundles(spec)) == list(account_bundles(spec))
    other = list(account_bundles(scale_spec(today=TODAY, seed=10, accounts=80)))
    assert [b.account.name for b in other] != [b.account.name for b in account_bundles(spec)]


def test_the_spec_is_the_demo_generator_with_the_scale_shape() -> None:
    spec = scale_spec(today=TODAY, accounts=10)
    assert (spec.order_rate, spec.one_off_share, spec.timeline_days, spec.more_lines) == (
        SCALE_SHAPE["order_rate"],
        SCALE_SHAPE["one_off_share"],
        SCALE_SHAPE["timeline_days"],
        SCALE_SHAPE["more_lines"],
    )
    assert spec.accounts == 10
    demo = DemoSpec(today=TODAY)
    assert (demo.order_rate, demo.one_off_share, demo.timeline_days, demo.more_lines) == (1.0, 0.0, None, 0)
    with pytest.raises(ValueError, match="one_off_share"):
        DemoSpec(today=TODAY, one_off_share=1.5)
    with pytest.raises(ValueError, match="order_rate"):
        DemoSpec(today=TODAY, order_rate=0)
    with pytest.raises(ValueError, match="timeline_days"):
        DemoSpec(today=TODAY, timeline_days=-1)
    with pytest.raises(ValueError, match="more_lines"):
        DemoSpec(today=TODAY, more_lines=-1)


def _shifted(bundle: AccountBundle, offsets: dict[str, int]) -> AccountBundle:
    """The bundle with every local id moved by its kind's offset (what the COPY loader does per chunk)."""
    kind_of = {
        "contacts": "contact",
        "orders": "order",
        "lines": "line",
        "returns": "return",
        "return_lines": "return_line",
        "invoices": "invoice",
        "payments": "payment",
        "allocations": "allocation",
        "activities": "activity",
    }
    references = {
        "order_id": "order",
        "return_id": "return",
        "order_line_id": "line",
        "payment_id": "payment",
        "invoice_id": "invoice",
        "order_ref": "order",
    }
    changes: dict[str, list[object]] = {}
    for name, kind in kind_of.items():
        records = []
        for record in getattr(bundle, name):
            moved = {"id": record.id + offsets.get(kind, 0)}
            for attr, target in references.items():
                value = getattr(record, attr, None)
                if value:
                    moved[attr] = value + offsets.get(target, 0)
            if name == "activities" and record.ref_type:  # ref_type is the kind of the document referred to
                moved["ref_id"] = record.ref_id + offsets.get(record.ref_type, 0)
            records.append(dataclasses.replace(record, **moved))
        changes[name] = records
    return dataclasses.replace(bundle, **changes)  # type: ignore[arg-type]


def test_chunks_made_apart_and_shifted_are_the_single_stream() -> None:
    spec = scale_spec(today=TODAY, seed=4, accounts=240)
    ref = reference_data(spec)
    whole = list(account_bundles(spec, ref))
    first_ids: dict[str, int] = {}
    first = list(account_range(spec, ref, 0, 100, first_ids))
    second_ids: dict[str, int] = {}
    second = list(account_range(spec, ref, 100, 500, second_ids))  # past the end: stops at 240
    assert len(second) == 140
    assert first == whole[:100]
    assert second[0].orders[0].id == 1 or not second[0].orders  # a chunk numbers its records from 1
    assert [_shifted(b, first_ids) for b in second] == whole[100:]
    assert first_ids["line"] == sum(len(b.lines) for b in first)


def test_an_account_is_the_same_in_a_small_and_a_large_set() -> None:
    small = list(account_bundles(scale_spec(today=TODAY, seed=5, accounts=30)))
    large = list(islice(account_bundles(scale_spec(today=TODAY, seed=5, accounts=5000)), 30))
    assert small == large


def test_about_ten_lines_per_account_many_buy_once_a_few_a_lot(bundles: list[AccountBundle]) -> None:
    n = len(bundles)
    lines = [len(b.lines) for b in bundles]
    assert 8.5 <= sum(lines) / n <= 11.5
    orders = Counter(len(b.orders) for b in bundles)
    assert 0.4 <= orders[1] / n <= 0.6  # many customers buy once
    assert 0.02 <= orders[0] / n <= 0.08  # prospects who never bought
    top = sorted(lines, reverse=True)[: n // 10]
    assert sum(top) / sum(lines) > 0.4  # a tenth of the accounts hold nearly half of the lines
    key = [len(b.orders) for b in bundles if b.account.is_key_account]
    assert sum(key) / len(key) > 3 * sum(orders.elements()) / n / 2  # key accounts buy a lot
    per_order = sum(lines) / sum(len(b.orders) for b in bundles)
    assert 3.5 <= per_order <= 5  # fewer, larger orders than the demo's (about 3 lines)
    rows = sum(b.row_count() for b in bundles)
    assert 20 <= rows / n <= 30  # the budget a million accounts are sized by


def test_the_books_hold_invoices_payments_returns_and_some_overdue(bundles: list[AccountBundle]) -> None:
    orders = [o for b in bundles for o in b.orders]
    confirmed = [o for o in orders if o.status == "confirmed"]
    invoices = [i for b in bundles for i in b.invoices]
    returns = [r for b in bundles for r in b.returns]
    assert 0.03 < len(returns) / len(confirmed) < 0.08
    assert len(invoices) > 0.85 * len(confirmed)
    assert sum(len(b.payments) for b in bundles) > 0.8 * len(invoices)
    assert {o.status for o in orders} == {"draft", "confirmed", "cancelled"}
    assert any(i.status == "open" and i.due_date < TODAY for i in invoices)
    assert any(0 < i.paid_amount < i.amount for i in invoices)
    assert any(o.currency == "USD" for o in orders)


def test_orders_returns_invoices_and_payments_reconcile(bundles: list[AccountBundle]) -> None:
    for b in bundles:
        lines = defaultdict(list)
        for ln in b.lines:
            lines[ln.order_id].append(ln)
            assert ln.line_total == line_amount(ln.quantity, Money(ln.net_unit_price, "CNY")).amount
        returned: dict[int, Decimal] = defaultdict(Decimal)
        for r in b.returns:
            returned[r.order_id] += r.total
            assert r.total == sum(rl.amount for rl in b.return_lines if rl.return_id == r.id)
        orders = {o.id: o for o in b.orders}
        for o in b.orders:
            assert o.net_total == sum(ln.line_total for ln in lines[o.id])
            assert o.list_total == sum(quantize(ln.list_unit_price * ln.quantity, o.currency) for ln in lines[o.id])
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
        for p in b.payments:
            assert p.amount == by_payment[p.id]
            assert p.received_on <= TODAY


def test_the_timeline_holds_the_last_ninety_days_and_every_document_in_them(bundles: list[AccountBundle]) -> None:
    since = TODAY - dt.timedelta(days=int(SCALE_SHAPE["timeline_days"]))
    activities = [a for b in bundles for a in b.activities]
    assert activities
    assert all(a.occurred_at.date() >= since for a in activities)
    assert {a.kind for a in activities} >= {"order", "invoice", "payment", "call"}
    for b in bundles:
        refs = Counter((a.ref_type, a.ref_id) for a in b.activities if a.ref_type)
        recent_invoices = [i for i in b.invoices if i.created_at.date() >= since]
        assert all(refs[("invoice", i.id)] == 1 for i in recent_invoices)
        assert all(refs[("payment", p.id)] == 1 for p in b.payments if p.created_at.date() >= since)
        assert all(("invoice", i.id) not in refs for i in b.invoices if i.created_at.date() < since)
        assert [a.id for a in b.activities] == sorted(a.id for a in b.activities)
