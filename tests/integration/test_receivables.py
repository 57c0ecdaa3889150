"""What accounts owe: balances, overdue amounts, aging buckets, conversion, and payments that race."""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connections
from django.utils import timezone

from patron.domain.money import Money
from patron.sales import services as sales
from patron.sales.models import ExchangeRate, Invoice, Payment
from patron.sales.selectors import account_receivables, outstanding_by_account, rate_on, to_company_currency
from tests.factories import make_account, make_invoice, make_order, make_product

TODAY = dt.date(2026, 6, 30)


def invoice(actor: Any, account: Any, amount: str, days_late: int, currency: str = "CNY") -> Invoice:
    """An invoice (without order) whose due date is ``days_late`` days before TODAY."""
    due = TODAY - dt.timedelta(days=days_late)
    return sales.invoice_create(
        actor=actor,
        account=account,
        amount=amount,
        issue_date=min(due, TODAY) - dt.timedelta(days=30),
        due_date=due,
        currency=currency,
    )


# --- balances and aging ----------------------------------------------------------------------------------


def test_aging_buckets_on_their_boundaries(staff):
    account = make_account(staff.sales)
    for amount, days_late in [
        ("1.00", -5),  # not due yet
        ("2.00", 0),  # due today
        ("4.00", 1),
        ("8.00", 30),
        ("16.00", 31),
        ("32.00", 60),
        ("64.00", 61),
        ("128.00", 90),
        ("256.00", 91),
    ]:
        invoice(staff.finance, account, amount, days_late)
    receivables = account_receivables(account, TODAY)
    assert set(receivables) == {"CNY"}
    cny = receivables["CNY"]
    assert cny["aging"] == {
        "current": Decimal("3.00"),
        "1-30": Decimal("12.00"),
        "31-60": Decimal("48.00"),
        "61-90": Decimal("192.00"),
        "90+": Decimal("256.00"),
    }
    assert cny["owed"] == Decimal("511.00")
    assert cny["overdue"] == Decimal("508.00")


def test_payments_reduce_what_is_owed_and_paid_invoices_drop_out(staff):
    account = make_account(staff.sales)
    old = invoice(staff.finance, account, "100.00", 45)
    recent = invoice(staff.finance, account, "60.00", 10)
    sales.payment_record(actor=staff.finance, account=account, amount="130.00", received_on=TODAY)
    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == Invoice.PAID  # the oldest due is settled first
    assert recent.paid_amount == Decimal("30.00")
    cny = account_receivables(account, TODAY)["CNY"]
    assert cny["owed"] == Decimal("30.00")
    assert cny["overdue"] == Decimal("30.00")
    assert cny["aging"]["1-30"] == Decimal("30.00")
    assert cny["aging"]["31-60"] == Decimal("0")


def test_each_currency_is_aged_on_its_own(staff):
    account = make_account(staff.sales)
    invoice(staff.finance, account, "10.00", 5)
    invoice(staff.finance, account, "1000", 100, currency="JPY")
    receivables = account_receivables(account, TODAY)
    assert receivables["CNY"]["owed"] == Decimal("10.00")
    assert receivables["JPY"]["aging"]["90+"] == Decimal("1000")
    assert receivables["JPY"]["overdue"] == Decimal("1000")


def test_an_account_that_owes_nothing_has_no_receivables(staff):
    account = make_account(staff.sales)
    assert account_receivables(account, TODAY) == {}


def test_outstanding_by_account_for_list_columns(staff):
    first = make_account(staff.sales)
    second = make_account(staff.sales)
    quiet = make_account(staff.sales)
    invoice(staff.finance, first, "10.00", 0)
    invoice(staff.finance, first, "5.50", 40)
    invoice(staff.finance, second, "7.00", 0)
    sales.payment_record(actor=staff.finance, account=second, amount="7.00", received_on=TODAY)
    assert outstanding_by_account([first.pk, second.pk, quiet.pk]) == {first.pk: [Money(Decimal("15.50"), "CNY")]}


def test_an_invoice_on_an_order_is_due_after_the_accounts_terms(staff):
    account = make_account(staff.sales, payment_terms_days=45)
    order = make_order(staff.sales, account, [(make_product(price="99.90"), "1")])
    issued = make_invoice(staff.finance, order, issue_date=dt.date(2026, 1, 10))
    assert issued.due_date == dt.date(2026, 2, 24)
    assert issued.amount == Decimal("99.90")


# --- conversion to the company currency --------------------------------------------------------------------


@pytest.fixture
def usd_rates(db):
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2026, 1, 1), rate=Decimal("7.10"))
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2026, 3, 1), rate=Decimal("7.2345"))
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2026, 6, 1), rate=Decimal("7.00"))


@pytest.mark.parametrize(
    ("day", "rate"),
    [
        (dt.date(2025, 12, 31), None),  # before the first rate
        (dt.date(2026, 1, 1), Decimal("7.10")),  # on the day it starts
        (dt.date(2026, 2, 28), Decimal("7.10")),
        (dt.date(2026, 3, 1), Decimal("7.2345")),
        (dt.date(2026, 5, 31), Decimal("7.2345")),
        (dt.date(2026, 6, 1), Decimal("7.00")),
        (dt.date(2030, 1, 1), Decimal("7.00")),  # the latest rate holds until the next
    ],
)
def test_the_rate_of_a_day_is_the_latest_on_or_before_it(usd_rates, day, rate):
    assert rate_on("USD", day) == rate


def test_conversion_rounds_half_up_to_the_company_currency(usd_rates):
    converted = to_company_currency(Money(Decimal("10.00"), "USD"), dt.date(2026, 3, 15))
    assert converted == Money(Decimal("72.35"), "CNY")  # 72.345 -> 72.35
    assert to_company_currency(Money(Decimal("1.00"), "USD"), dt.date(2026, 1, 1)) == Money(Decimal("7.10"), "CNY")


def test_no_rate_means_no_conversion(usd_rates):
    assert to_company_currency(Money(Decimal("10.00"), "USD"), dt.date(2025, 6, 1)) is None
    assert to_company_currency(Money(Decimal("10.00"), "EUR"), dt.date(2026, 6, 1)) is None


def test_the_company_currency_converts_to_itself_without_a_rate(db):
    amount = Money(Decimal("12.34"), "CNY")
    assert rate_on("CNY", dt.date(2026, 1, 1)) == Decimal(1)
    assert to_company_currency(amount, dt.date(2026, 1, 1)) == amount


def test_a_rate_in_another_currency_does_not_leak(usd_rates):
    ExchangeRate.objects.create(currency="JPY", valid_from=dt.date(2026, 1, 1), rate=Decimal("0.048"))
    assert to_company_currency(Money(Decimal("1000"), "JPY"), dt.date(2026, 2, 1)) == Money(Decimal("48.00"), "CNY")
    assert rate_on("USD", dt.date(2026, 2, 1)) == Decimal("7.10")


# --- payments that race ------------------------------------------------------------------------------------


def _pay_in_thread(account_id: int, actor: Any, amount: str, barrier: threading.Barrier, results: list[str]) -> None:
    from patron.accounts.models import Account

    try:
        account = Account.objects.get(pk=account_id)
        barrier.wait(timeout=10)
        for _attempt in range(50):
            try:
                sales.payment_record(actor=actor, account=account, amount=amount, received_on=timezone.localdate())
                results.append("paid")
                return
            except ValidationError:
                results.append("refused")
                return
            except OperationalError as exc:
                # An in-memory SQLite test database shares one cache between connections and
                # answers "locked" at once instead of waiting; a client would retry.
                if "locked" not in str(exc):
                    raise
                time.sleep(0.02)
        results.append("gave up")
    except Exception as exc:  # report, do not hide, anything else
        results.append(f"error: {exc!r}")
    finally:
        connections.close_all()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_payments_of_the_full_amount_cannot_both_succeed(staff):
    """Two people record the same 500.00 at the same moment: one is paid, the other told nothing is owed.

    The services lock the account row (PostgreSQL: SELECT ... FOR UPDATE; SQLite: every
    transaction begins IMMEDIATE, so writers queue). Several rounds make a lucky pass unlikely.
    """
    account = make_account(staff.sales)
    for round_ in range(1, 4):
        issued = invoice(staff.finance, account, "500.00", 0)
        barrier = threading.Barrier(2)
        results: list[str] = []
        threads = [
            threading.Thread(target=_pay_in_thread, args=(account.pk, actor, "500.00", barrier, results))
            for actor in (staff.finance, staff.sales)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results) == ["paid", "refused"], results
        issued.refresh_from_db()
        assert issued.status == Invoice.PAID
        assert issued.paid_amount == Decimal("500.00")
        assert Payment.objects.filter(account=account).count() == round_


def test_the_account_list_shows_what_is_owed_per_currency_never_added_across(client, staff):
    from patron.sales.models import Invoice
    from tests.factories import make_account

    account = make_account(staff.sales)
    for currency in ("CNY", "USD"):
        Invoice.objects.create(
            number=f"INV-{currency}",
            account=account,
            currency=currency,
            issue_date=dt.date(2026, 1, 1),
            due_date=dt.date(2026, 2, 1),
            amount=Decimal("100.00"),
        )
    client.force_login(staff.sales)
    html = client.get("/accounts/").content.decode()
    assert "CNY 100.00" in html
    assert "USD 100.00" in html
    assert "200.00" not in html
