"""Credit-limit blocking end to end: an order over the limit stays a draft until finance approves an override."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from patron.approvals.models import ApprovalRequest
from patron.approvals.selectors import approvals_to_decide
from patron.approvals.services import ApprovalRefused, approval_approve, approval_reject
from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.sales import credit
from patron.sales import services as sales
from patron.sales.models import ExchangeRate, Order
from tests.factories import make_account, make_invoice, make_order, make_product

D = Decimal


@pytest.fixture
def tea(db: None) -> Any:
    return make_product(sku="TEA", price="100.00")


@pytest.fixture
def shop(staff: Any) -> Any:
    return make_account(staff.sales, code="SHOP", credit_limit=D("1000"))


def draft(staff: Any, account: Any, product: Any, quantity: str) -> Order:
    return make_order(staff.sales, account, [(product, quantity)], confirm=False)


def test_an_order_within_the_limit_confirms(staff, shop, tea):
    order = make_order(staff.sales, shop, [(tea, "8")])  # 800 of 1,000
    assert order.status == Order.CONFIRMED


def test_an_order_over_the_limit_is_refused_with_the_figures_and_stays_a_draft(staff, shop, tea):
    make_order(staff.sales, shop, [(tea, "6")])  # 600 on order, not invoiced
    order = draft(staff, shop, tea, "5")  # 500 more: 1,100
    with pytest.raises(Conflict) as refused:
        sales.order_confirm(actor=staff.sales, order=order)
    assert refused.value.field == "credit"
    assert "Over the credit limit by CNY 100.00" in refused.value.message
    assert "owed and on order CNY 1,100.00 with this order, limit CNY 1,000.00" in refused.value.message
    assert "Ask finance to approve an override" in refused.value.message
    order.refresh_from_db()
    assert order.status == Order.DRAFT


def test_invoices_owed_count_and_payments_free_the_limit(staff, shop, tea):
    first = make_order(staff.sales, shop, [(tea, "9")])
    invoice = make_invoice(staff.finance, first, amount="900.00")
    order = draft(staff, shop, tea, "2")
    _position, verdict = credit.check(order)
    assert (verdict.blocked, verdict.exposure_after) == (True, D("1100.00"))  # invoiced counts once, not twice
    sales.payment_record(
        actor=staff.finance,
        account=shop,
        amount="500.00",
        received_on=timezone.localdate(),
        allocations=[sales.AllocationInput(invoice=invoice, amount=D("500.00"))],
    )
    confirmed = sales.order_confirm(actor=staff.sales, order=order)
    assert confirmed.status == Order.CONFIRMED  # 400 owed + 200: within 1,000, 60%


def test_a_cancelled_or_returned_order_no_longer_counts(staff, shop, tea):
    big = make_order(staff.sales, shop, [(tea, "9")])
    order = draft(staff, shop, tea, "5")
    assert credit.check(order)[1].blocked
    sales.order_cancel(actor=staff.sales, order=big, reason="customer changed their mind")
    assert sales.order_confirm(actor=staff.sales, order=order).status == Order.CONFIRMED


def test_an_order_created_confirmed_over_the_limit_is_kept_as_a_draft_with_the_reason(staff, shop, tea):
    order = make_order(staff.sales, shop, [(tea, "11")])
    assert order.status == Order.DRAFT
    assert "Over the credit limit by CNY 100.00" in order.credit_refusal


def test_finance_approves_an_override_for_exactly_that_order_and_the_use_is_audited(staff, shop, tea):
    order = draft(staff, shop, tea, "12")
    with pytest.raises(ValidationError) as missing:
        credit.override_request(actor=staff.sales, order=order, reason="  ")
    assert "reason" in missing.value.message_dict
    request = credit.override_request(actor=staff.sales, order=order, reason="Pays by the 10th, per their CFO.")
    again = credit.override_request(actor=staff.sales, order=order, reason="Pays by the 10th, per their CFO.")
    assert again.pk == request.pk  # asking twice asks once
    assert (request.required_level, request.status) == ("finance", "pending")
    with pytest.raises(Conflict) as waiting:
        sales.order_confirm(actor=staff.sales, order=order)
    assert "Finance has been asked to approve an override" in waiting.value.message
    # Finance decides it; a sales manager may not, nor does it wait in the manager's list.
    assert list(approvals_to_decide(user=staff.finance)) == [request]
    assert list(approvals_to_decide(user=staff.manager)) == []
    with pytest.raises(ApprovalRefused) as manager:
        approval_approve(actor=staff.manager, request=request, comment="ok")
    assert "finance" in str(manager.value.message)
    approval_approve(actor=staff.finance, request=request, comment="Agreed once.")
    confirmed = sales.order_confirm(actor=staff.sales, order=order)
    assert confirmed.status == Order.CONFIRMED
    used = AuditEvent.objects.get(action="CREDIT_OVERRIDE_USED", entity_id=str(order.pk))
    assert used.changes["approval"] == [None, request.pk]
    assert used.changes["over_by"] == [None, "200.00"]
    assert order.account.activities.filter(event="credit_override_approved").exists()


def test_an_override_no_longer_holds_when_the_order_changes(staff, shop, tea):
    order = draft(staff, shop, tea, "12")
    request = credit.override_request(actor=staff.sales, order=order, reason="Trusted for years.")
    approval_approve(actor=staff.finance, request=request, comment="")
    sales.order_update_lines(actor=staff.sales, order=order, lines=[sales.LineInput(product=tea, quantity=D("20"))])
    with pytest.raises(Conflict):
        sales.order_confirm(actor=staff.sales, order=order)


def test_a_refused_override_can_be_asked_again_and_an_order_within_credit_needs_none(staff, shop, tea):
    order = draft(staff, shop, tea, "12")
    request = credit.override_request(actor=staff.sales, order=order, reason="Big season.")
    approval_reject(actor=staff.finance, request=request, comment="Pay the March invoice first.")
    assert order.account.activities.filter(event="credit_override_rejected").exists()
    with pytest.raises(Conflict):
        sales.order_confirm(actor=staff.sales, order=order)
    fresh = credit.override_request(actor=staff.sales, order=order, reason="They paid March today.")
    assert fresh.pk != request.pk
    small = draft(staff, make_account(staff.sales, credit_limit=D("1000")), tea, "1")
    with pytest.raises(Conflict, match="needs no override"):
        credit.override_request(actor=staff.sales, order=small, reason="just in case")


def test_near_the_limit_or_overdue_warns_and_the_warning_is_audited(staff, shop, tea):
    order = make_order(staff.sales, shop, [(tea, "9")])
    assert order.status == Order.CONFIRMED
    warning = AuditEvent.objects.get(action="CREDIT_WARNING", entity_id=str(order.pk))
    assert warning.changes["reasons"][1][0][0] == "NEAR_LIMIT"


def test_no_limit_means_no_check(staff, tea):
    free = make_account(staff.sales)
    assert make_order(staff.sales, free, [(tea, "1000")]).status == Order.CONFIRMED


@override_settings(PATRON_CREDIT_BLOCK=False)
def test_a_company_that_only_warns_lets_the_order_through(staff, shop, tea):
    order = make_order(staff.sales, shop, [(tea, "12")])
    assert order.status == Order.CONFIRMED
    trail = AuditEvent.objects.filter(entity_type="order", entity_id=str(order.pk)).order_by("id")
    assert list(trail.values_list("action", flat=True)) == ["ORDER_CREATED", "CREDIT_WARNING", "ORDER_CONFIRMED"]


def test_foreign_currency_counts_at_todays_rate_and_a_missing_rate_is_said(staff, shop, tea):
    ExchangeRate.objects.create(currency="USD", valid_from=dt.date(2020, 1, 1), rate=D("7.00"))
    today = timezone.localdate()
    sales.invoice_create(actor=staff.finance, account=shop, amount="100.00", currency="USD", issue_date=today)
    order = draft(staff, shop, tea, "4")
    assert credit.check(order)[1].exposure_after == D("1100.00")  # 100 USD = 700 CNY, and 400
    sales.invoice_create(actor=staff.finance, account=shop, amount="1.00", currency="EUR", issue_date=today)
    position, verdict = credit.check(order)
    assert position.uncounted_currencies == ("EUR",)
    assert "Amounts in EUR are not counted" in credit.reason_text(verdict.reasons[-1])


def test_the_api_shows_a_drafts_credit_and_asks_for_an_override(staff, shop, tea):
    from tests.api_client import ApiClient, error_fields

    client = ApiClient(staff.sales)
    made = client.post(
        "/api/orders", {"account": "SHOP", "lines": [{"product": "TEA", "quantity": "12"}], "confirm": True}
    )
    assert made.status_code == 201, made.json()
    body = made.json()
    assert body["status"] == "draft"
    assert body["credit"]["outcome"] == "block"
    assert body["credit"]["over_by"] == "200.00"
    assert body["credit"]["reasons"][0]["code"] == "OVER_LIMIT"
    number = body["number"]
    refused = client.post(f"/api/orders/{number}/confirm", {})
    assert refused.status_code == 409
    bad = client.post(f"/api/orders/{number}/credit-override", {"reason": ""})
    assert bad.status_code == 422
    assert "reason" in error_fields(bad)
    asked = client.post(f"/api/orders/{number}/credit-override", {"reason": "Season stock."})
    assert asked.status_code == 201
    request = ApprovalRequest.objects.get(pk=asked.json()["request"])
    approval_approve(actor=staff.finance, request=request, comment="")
    assert client.post(f"/api/orders/{number}/confirm", {}).json()["status"] == "confirmed"
    # Marketing sees orders but not receivables: no credit figures for them.
    other = draft(staff, shop, tea, "1")
    seen = ApiClient(staff.marketing).get(f"/api/orders/{other.number}")
    assert seen.status_code == 200
    assert seen.json()["credit"] is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="connections racing need PostgreSQL")
def test_orders_confirmed_at_once_never_pass_the_limit_together(staff, tea):
    """Ten drafts of 300 each against a limit of 1,000, confirmed from ten connections at once: exactly three."""
    shop = make_account(staff.sales, code="RACE", credit_limit=D("1000"))
    drafts = [draft(staff, shop, tea, "3") for _ in range(10)]
    barrier = threading.Barrier(len(drafts))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(order: Order) -> None:
        try:
            barrier.wait(timeout=60)
            sales.order_confirm(actor=staff.sales, order=order)
            result = "ok"
        except Conflict as exc:
            result = exc.field or "?"
        except BaseException as exc:  # reported below
            result = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(order,)) for order in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["credit"] * 7 + ["ok"] * 3, outcomes
    assert Order.objects.filter(account=shop, status=Order.CONFIRMED).count() == 3
