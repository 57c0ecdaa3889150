"""Receivables and collections: the aging report and DSO, statements, payment reminders that reach a real SMTP
server once per invoice and step (a restart sends nobody twice), promises to pay kept and broken, the risk flag."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from patron.accounts.models import Contact
from patron.receivables import collections, selectors, services
from patron.receivables.models import CollectionEmail, CollectionItem, PromiseToPay
from patron.sales import services as sales
from patron.sales.models import ExchangeRate, Invoice
from patron.service.models import Task
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp

D = Decimal


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    settings.PATRON_PUBLISH_PER_SECOND = 0
    with serving_smtp(settings) as server:
        yield server


def today() -> dt.date:
    return timezone.localdate()


def invoice(
    actor: Any, account: Any, amount: str, days_late: int, currency: str = "CNY", issued_ago: int = 30
) -> Invoice:
    due = today() - dt.timedelta(days=days_late)
    return sales.invoice_create(
        actor=actor,
        account=account,
        amount=amount,
        issue_date=min(due, today() - dt.timedelta(days=issued_ago)),
        due_date=due,
        currency=currency,
    )


@pytest.fixture
def book(staff: Any) -> dict[str, Any]:
    """Three accounts: one on time, one a little late, one very late."""
    fine = make_account(staff.sales, code="FINE", name="On Time Tea", email="ap@fine.example")
    late = make_account(staff.sales, code="LATE", name="Late Leaf", email="office@late.example", language="en")
    Contact.objects.create(account=late, name="Ms Qian", role="finance", email="qian@late.example")
    worst = make_account(staff.sales3, code="WORST", name="Never Pays")
    invoice(staff.finance, fine, "1000.00", -10)
    invoice(staff.finance, late, "400.00", 15)
    invoice(staff.finance, late, "600.00", -5)
    invoice(staff.finance, worst, "2000.00", 120, issued_ago=150)
    invoice(staff.finance, worst, "500.00", 45, issued_ago=75)
    return {"fine": fine, "late": late, "worst": worst}


def test_the_aging_report_buckets_every_account_most_overdue_first(staff, book):
    rows = list(selectors.aging_by_account(user=staff.finance, today=today()))
    assert [r["account_id"] for r in rows] == [book["worst"].pk, book["late"].pk, book["fine"].pk]
    worst = rows[0]
    assert (worst["owed"], worst["overdue"]) == (D("2500.00"), D("2500.00"))
    assert (worst["late_31_60"], worst["late_90"], worst["current"]) == (D("500.00"), D("2000.00"), D(0))
    late = rows[1]
    assert (late["late_1_30"], late["current"]) == (D("400.00"), D("600.00"))
    totals = selectors.aging_totals(user=staff.finance, today=today())
    assert totals.company["owed"] == D("4500.00")
    assert totals.company["overdue"] == D("2900.00")
    assert totals.accounts == 3
    # 4,500 owed over 2,500 invoiced in the last 90 days (all but the 2,000 issued 150 days ago), times 90.
    assert totals.dso == D("162.0")


def test_the_report_filters_and_keeps_to_what_the_reader_may_see(staff, book):
    only_late = selectors.Filters(late_over=90)
    assert [
        r["account_id"] for r in selectors.aging_by_account(user=staff.finance, today=today(), filters=only_late)
    ] == [book["worst"].pk]
    mine = list(selectors.aging_by_account(user=staff.sales, today=today()))
    assert {r["account_id"] for r in mine} == {book["fine"].pk, book["late"].pk}
    assert selectors.aging_totals(user=staff.sales3, today=today()).company["owed"] == D("2500.00")


def test_each_row_says_its_risk_and_dso(staff, book):
    rows = selectors.decorate(list(selectors.aging_by_account(user=staff.finance, today=today())), today())
    risk = {r["account"].code: (r["risk"].level, r["risk"].code) for r in rows}
    assert risk == {"WORST": ("high", "LONG_OVERDUE"), "LATE": ("low", "OVERDUE"), "FINE": ("none", "NONE")}
    assert {r["account"].code: r["dso"] for r in rows}["LATE"] == D("90.0")


def test_other_currencies_are_totalled_at_todays_rate_or_named(staff, book):
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2020, 1, 1), rate=D("7"))
    invoice(staff.finance, book["fine"], "100.00", 5, currency="USD")
    invoice(staff.finance, book["fine"], "100.00", 5, currency="EUR")
    totals = selectors.aging_totals(user=staff.finance, today=today())
    assert totals.by_currency["USD"]["1-30"] == D("100.00")
    assert totals.company["owed"] == D("5200.00")
    assert totals.uncounted == ["EUR"]


def test_a_statement_runs_the_balance_from_the_opening(staff):
    shop = make_account(staff.sales, code="STMT")
    start = today() - dt.timedelta(days=60)
    old = sales.invoice_create(
        actor=staff.finance, account=shop, amount="300.00", issue_date=start - dt.timedelta(days=10)
    )
    new = sales.invoice_create(
        actor=staff.finance, account=shop, amount="500.00", issue_date=start + dt.timedelta(days=5)
    )
    sales.payment_record(
        actor=staff.finance,
        account=shop,
        amount="300.00",
        received_on=start + dt.timedelta(days=10),
        allocations=[sales.AllocationInput(invoice=old, amount=D("300.00"))],
    )
    voided = sales.invoice_create(
        actor=staff.finance, account=shop, amount="99.00", issue_date=start + dt.timedelta(days=1)
    )
    sales.invoice_void(actor=staff.finance, invoice=voided, reason="typo")
    found = selectors.statement(shop, currency="CNY", start=start, end=today())
    assert found.opening == D("300.00")
    assert [(line.kind, line.number, line.balance) for line in found.lines] == [
        ("invoice", new.number, D("800.00")),
        ("payment", found.lines[1].number, D("500.00")),
    ]
    assert (found.invoiced, found.received, found.closing) == (D("500.00"), D("300.00"), D("500.00"))


def test_payment_reminders_reach_the_finance_contact_once_per_step_and_a_restart_sends_nobody_twice(staff, book, smtp):
    invoice(staff.finance, book["worst"], "300.00", 31)
    run = collections.collections_prepare()
    assert run is not None
    rows = {row.account.code: row for row in CollectionEmail.objects.filter(run=run).select_related("account")}
    # FINE is due in 10 days: nothing yet. LATE: its 15-day-late invoice at step 7 and its invoice due in 5 days
    # not yet (step -3 comes in 2 days). WORST: 31 days late at step 30, with no address; its invoices 45 and
    # 120 days late passed step 30 too long ago for an email (stale: for a person to chase).
    assert set(rows) == {"LATE", "WORST"}
    assert rows["LATE"].email == "qian@late.example"  # the finance contact before the office address
    assert rows["WORST"].status == CollectionEmail.NO_ADDRESS
    steps = sorted(CollectionItem.objects.values_list("invoice__account__code", "step", "outstanding"))
    assert steps == [("LATE", 7, D("400.00")), ("WORST", 30, D("300.00"))]
    first = collections.collections_send(run.pk, stop_after=0)  # the worker dies before sending
    assert first.sent == 0
    rest = collections.collections_send(run.pk)
    assert (rest.sent, rest.finished) == (1, True)
    assert collections.collections_send(run.pk).sent == 0
    [message] = smtp.messages
    assert message.rcpt_tos == ["qian@late.example"]
    assert message.subject == "Payment overdue: Late Leaf"
    assert "15 days late" in message.body
    assert "CNY 400.00" in message.body
    assert "600.00" not in message.body
    assert collections.collections_prepare() is None  # nothing new today
    assert book["late"].activities.filter(event="collection_reminder").count() == 1


def test_the_reminder_before_the_due_date_goes_on_its_day_and_a_promise_holds_reminders_back(staff, book, smtp):
    collections.collections_prepare()
    later = collections.collections_prepare(today() + dt.timedelta(days=2))  # the 600 falls 3 days from due
    assert later is not None
    assert list(CollectionItem.objects.filter(email__run=later).values_list("step", flat=True)) == [-3]
    services.promise_record(
        actor=staff.finance,
        account=book["late"],
        data={"amount": "1000.00", "currency": "CNY", "promised_on": (today() + dt.timedelta(days=10)).isoformat()},
    )
    assert collections.collections_prepare(today() + dt.timedelta(days=5)) is None  # on the due date: promised


def test_a_promise_is_checked_field_by_field(staff, book):
    late = book["late"]
    with pytest.raises(ValidationError) as bad:
        services.promise_record(
            actor=staff.finance,
            account=late,
            data={"amount": "-5", "currency": "XXX", "promised_on": "2020-01-01", "invoice": "NOPE"},
        )
    assert set(bad.value.message_dict) == {"amount", "currency", "promised_on", "invoice"}
    owed = Invoice.objects.filter(account=late).order_by("due_date").first()
    with pytest.raises(ValidationError) as too_much:
        services.promise_record(
            actor=staff.finance,
            account=late,
            data={"amount": "401", "currency": "CNY", "promised_on": today().isoformat(), "invoice": owed.number},
        )
    assert "More than the CNY 400.00 still owed" in too_much.value.message_dict["amount"][0]
    with pytest.raises(PermissionDenied):  # marketing records no money matters
        services.promise_record(
            actor=staff.marketing, account=late, data={"amount": "1", "promised_on": today().isoformat()}
        )
    assert PromiseToPay.objects.count() == 0


def test_a_kept_promise_closes_and_a_broken_one_opens_one_task_and_raises_the_risk(staff, book):
    late = book["late"]
    kept = services.promise_record(
        actor=staff.sales,
        account=late,
        data={"amount": "400.00", "promised_on": today().isoformat(), "contact": "Ms Qian"},
    )
    broken = services.promise_record(
        actor=staff.sales, account=book["fine"], data={"amount": "1000.00", "promised_on": today().isoformat()}
    )
    sales.payment_record(actor=staff.finance, account=late, amount="400.00", received_on=today())
    assert services.promises_check() == {"kept": 1, "broken": 0}
    kept.refresh_from_db()
    assert (kept.status, kept.paid) == ("kept", D("400.00"))
    tomorrow = today() + dt.timedelta(days=1)
    assert services.promises_check(tomorrow) == {"kept": 0, "broken": 1}
    assert services.promises_check(tomorrow) == {"kept": 0, "broken": 0}  # decided once
    broken.refresh_from_db()
    assert broken.status == "broken"
    [task] = Task.objects.filter(account=book["fine"], source=Task.COLLECTION)
    assert task.owner == staff.sales
    assert "was broken" in task.subject
    assert book["fine"].activities.filter(event="promise_broken").exists()
    [position] = selectors.account_position(book["fine"], today())
    assert (position.risk.level, position.risk.code) == ("medium", "PROMISE_BROKEN")


def test_filters_keep_the_region_below_sort_in_the_company_currency_and_count_dso_over_what_is_shown(staff):
    from tests.factories import make_region_tree

    regions = make_region_tree()
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2020, 1, 1), rate=D("7"))
    city = make_account(staff.sales, code="SZ", region=regions["SZ"])  # a city in Guangdong
    far = make_account(staff.sales, code="HZ", region=regions["HZ"])  # in Zhejiang
    invoice(staff.finance, city, "1000.00", 10)
    invoice(staff.finance, far, "200.00", 10, currency="USD")  # 1,400 in CNY: more overdue than 1,000
    everyone = list(selectors.aging_by_account(user=staff.finance, today=today()))
    assert [r["account_id"] for r in everyone] == [far.pk, city.pk]
    guangdong = selectors.Filters(region=regions["GD"].pk)
    assert [
        r["account_id"] for r in selectors.aging_by_account(user=staff.finance, today=today(), filters=guangdong)
    ] == [city.pk]
    # DSO of what is shown: Guangdong owes 1,000 of 1,000 invoiced in 90 days: 90 days, not diluted by Zhejiang.
    assert selectors.aging_totals(user=staff.finance, today=today(), filters=guangdong).dso == D("90.0")
