"""`patron demo` loads a consistent data set once, with staff who can sign in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, DecimalField, Max, Min, Q, Sum, Value
from django.db.models.functions import Coalesce

from patron.accounts.models import Account, Activity, Contact, CustomField, Region
from patron.audit.models import AuditEvent
from patron.demo.generator import DemoSpec, account_bundles
from patron.demo.loader import MARKER, load_demo
from patron.domain.money import Money, line_amount
from patron.sales import services as sales
from patron.sales.models import (
    ExchangeRate,
    Invoice,
    Order,
    OrderLine,
    Payment,
    PaymentAllocation,
    Product,
    Return,
    ReturnLine,
)
from patron.staff.models import Team, User
from patron.web.demo_users import DEMO_PASSWORD, DEMO_USERS
from tests.factories import make_account

TODAY = dt.date(2026, 3, 15)
SPEC = DemoSpec(today=TODAY, seed=7, accounts=120)
MODELS = (
    Account,
    Contact,
    Activity,
    Order,
    OrderLine,
    Return,
    ReturnLine,
    Invoice,
    Payment,
    PaymentAllocation,
    Product,
    Region,
    ExchangeRate,
    CustomField,
    User,
    Team,
    AuditEvent,
)
ZERO = Value(Decimal(0), output_field=DecimalField(max_digits=18, decimal_places=2))


def _counts() -> dict[str, int]:
    return {m.__name__: m._default_manager.count() for m in MODELS}


@pytest.fixture
def loaded(db: None) -> dict[str, int]:
    result = load_demo(SPEC)
    assert result.loaded, result.message
    return result.counts


def test_the_data_set_is_loaded_with_every_kind_of_record(loaded: dict[str, int]) -> None:
    assert Account.objects.count() == loaded["accounts"] == 120
    assert Order.objects.count() == loaded["orders"] > 500
    assert OrderLine.objects.count() == loaded["order lines"]
    assert Invoice.objects.count() == loaded["invoices"] > 0
    assert Payment.objects.count() == loaded["payments"] > 0
    assert Return.objects.exists()
    assert Activity.objects.count() == loaded["timeline entries"]
    assert Account.objects.filter(is_key_account=True).exists()
    assert Account.objects.filter(kind="person", birthday__isnull=False).exists()
    assert Account.tags.through.objects.count() == loaded["account tags"] > 0
    assert Region.objects.get(code="GD-SZ").path == "CN/GD/GD-SZ/"
    assert ExchangeRate.objects.filter(currency="USD").count() >= 36
    assert Order.objects.filter(currency="USD").exists() or not any(
        b.account.currency == "USD" for b in account_bundles(SPEC)
    )
    assert set(Order.objects.values_list("status", flat=True)) == {"draft", "confirmed", "cancelled"}
    first = Order.objects.order_by("id").first()
    assert first is not None
    assert first.number == f"SO{first.pk:08d}"


def test_stored_times_and_amounts_are_the_generated_ones(loaded: dict[str, int]) -> None:
    bundle = next(iter(account_bundles(SPEC)))
    account = Account.objects.get(code=bundle.account.code)
    assert account.created_at == bundle.account.created_at
    assert account.custom == bundle.account.custom
    order = Order.objects.filter(account=account).order_by("id").first()
    assert order is not None
    assert (order.created_at, order.net_total, order.order_date) == (
        bundle.orders[0].created_at,
        bundle.orders[0].net_total,
        bundle.orders[0].order_date,
    )


def test_a_second_load_changes_nothing_and_says_so(loaded: dict[str, int]) -> None:
    before = _counts()
    again = load_demo(DemoSpec(today=TODAY, seed=8, accounts=50))
    assert not again.loaded
    assert "already loaded" in again.message
    assert "seed 7" in again.message
    assert _counts() == before


def test_a_database_with_accounts_of_its_own_is_left_alone(db: None) -> None:
    make_account(None)
    result = load_demo(SPEC)
    assert not result.loaded
    assert "1 accounts of its own" in result.message
    assert Account.objects.count() == 1
    assert not Order.objects.exists()


def test_order_totals_are_the_sums_of_their_lines(loaded: dict[str, int]) -> None:
    # Compared in Python: SQLite keeps decimals as floating point, so sums are compared after conversion.
    totals = Order.objects.annotate(lines_net=Coalesce(Sum("lines__line_total"), ZERO))
    assert all(net == lines for net, lines in totals.values_list("net_total", "lines_net"))
    for line in OrderLine.objects.select_related("order").order_by("?")[:500]:
        expected = line_amount(line.quantity, Money(line.net_unit_price, line.order.currency)).amount
        assert line.line_total == expected
    for order in Order.objects.prefetch_related("lines")[:200]:
        listed = sum(
            (line_amount(ln.quantity, Money(ln.list_unit_price, order.currency)).amount for ln in order.lines.all()),
            Decimal(0),
        )
        assert order.list_total == listed
    returns = Return.objects.annotate(s=Sum("lines__amount")).values_list("total", "s")
    assert returns
    assert all(total == lines for total, lines in returns)


def test_invoices_never_exceed_what_is_left_after_returns(loaded: dict[str, int]) -> None:
    returned = dict(Return.objects.values("order").annotate(t=Sum("total")).values_list("order", "t"))
    invoiced = Invoice.objects.exclude(status="void").values("order").annotate(t=Sum("amount"))
    nets = dict(Order.objects.values_list("id", "net_total"))
    assert invoiced
    for row in invoiced:
        assert row["t"] <= nets[row["order"]] - returned.get(row["order"], Decimal(0))
    assert not Invoice.objects.exclude(order__status="confirmed").exists()


def test_paid_amounts_are_the_allocations_and_status_follows(loaded: dict[str, int]) -> None:
    invoices = Invoice.objects.annotate(allocated=Coalesce(Sum("allocations__amount"), ZERO))
    for status, amount, paid, allocated in invoices.values_list("status", "amount", "paid_amount", "allocated"):
        assert paid == allocated <= amount
        assert (status == "paid") == (paid == amount)
    payments = Payment.objects.annotate(s=Sum("allocations__amount")).values_list("amount", "s")
    assert all(amount == allocated for amount, allocated in payments)
    assert Invoice.objects.filter(status="open", due_date__lt=TODAY).exists()  # some are overdue
    assert Invoice.objects.filter(status="open", paid_amount__gt=0).exists()  # some are partly paid


def test_account_order_dates_follow_confirmed_orders(loaded: dict[str, int]) -> None:
    dates = Account.objects.annotate(
        first=Min("orders__order_date", filter=Q(orders__status="confirmed")),
        last=Max("orders__order_date", filter=Q(orders__status="confirmed")),
    )
    for account in dates:
        assert (account.first_order_date, account.last_order_date) == (account.first, account.last)


def test_every_account_has_one_primary_contact_and_dated_consent(loaded: dict[str, int]) -> None:
    primaries = Account.objects.annotate(p=Count("contacts", filter=Q(contacts__is_primary=True)))
    assert set(primaries.values_list("p", flat=True)) == {1}
    assert not Contact.objects.filter(email_consent=True, email_consent_at__isnull=True).exists()
    assert not Contact.objects.filter(sms_consent=True, sms_consent_at__isnull=True).exists()
    key = Account.objects.filter(is_key_account=True).annotate(n=Count("contacts"))
    assert all(n >= 3 for n in key.values_list("n", flat=True))


def test_every_document_is_on_its_accounts_timeline(loaded: dict[str, int]) -> None:
    for model, ref_type in ((Order, "order"), (Return, "return"), (Invoice, "invoice"), (Payment, "payment")):
        referenced = set(Activity.objects.filter(ref_type=ref_type).values_list("ref_id", flat=True))
        assert {str(pk) for pk in model._default_manager.values_list("id", flat=True)} == referenced
    invoice = Invoice.objects.order_by("id").first()
    assert invoice is not None
    entry = Activity.objects.get(ref_type="invoice", ref_id=str(invoice.pk))
    assert entry.kind == "invoice"
    assert invoice.number in entry.subject
    assert entry.account_id == invoice.account_id
    assert Activity.objects.filter(kind="call", private=True).exists()
    assert not Activity.objects.filter(kind="order", private=True).exists()


def test_demo_staff_sign_in_in_their_teams(loaded: dict[str, int], client: object) -> None:
    for username, role, team in DEMO_USERS:
        user = User.objects.get(username=username)
        assert user.role == role
        assert (user.team.name if user.team else None) == team
        assert client.login(username=username, password=DEMO_PASSWORD), username  # type: ignore[attr-defined]
    admin = User.objects.get(username="admin")
    assert admin.is_superuser
    assert admin.is_staff
    assert Team.objects.get(name="South").manager == User.objects.get(username="manager")
    assert Team.objects.get(name="North").manager == User.objects.get(username="manager2")
    assert 10 <= Account.objects.filter(owner__username="sales").count() < 60
    assert not User.objects.get(username="wangfang").has_usable_password()


def test_services_keep_working_after_the_load(loaded: dict[str, int]) -> None:
    sales_user = User.objects.get(username="sales")
    account = Account.objects.filter(owner=sales_user).first()
    product = Product.objects.filter(currency="CNY").first()
    assert account is not None
    assert product is not None
    order = sales.order_create(
        actor=sales_user, account=account, lines=[sales.LineInput(product=product, quantity="1")], confirm=True
    )
    assert order.pk > loaded["orders"]
    assert order.number == f"SO{order.pk:08d}"


def test_the_command_loads_once_and_then_reports_that_nothing_changed(db: None) -> None:
    out = StringIO()
    call_command("demo", "--accounts=40", "--seed=3", "--today=2026-03-15", stdout=out)
    text = out.getvalue()
    assert "Loaded the demo data set" in text
    assert "40 accounts" in text
    assert DEMO_PASSWORD in text
    assert "manager2" in text
    assert AuditEvent.objects.filter(action=MARKER).count() == 1
    from patron.rebates.models import RebateAccrual, RebateProgram, RebateSettlement

    assert "rebates: 2 programs" in text
    assert RebateProgram.objects.filter(status="active").count() == 2
    assert RebateAccrual.objects.exists()
    settlement = RebateSettlement.objects.get()  # last quarter's, waiting for review
    assert (settlement.status, settlement.period_start) == ("draft", dt.date(2025, 10, 1))
    assert settlement.lines.count() == 40
    from patron.pipeline.models import Opportunity, StageChange

    assert "pipeline: " in text
    opportunities = list(Opportunity.objects.all())
    assert opportunities
    assert all(o.account.is_key_account for o in opportunities)
    assert StageChange.objects.filter(from_stage="").count() == len(opportunities)
    assert all(o.created_at <= o.stage_since for o in opportunities)
    before = _counts()
    out = StringIO()
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert "nothing changed" in out.getvalue()
    assert _counts() == before
