"""Receivables pages through the test client: the aging report, an account's collections page, promises to pay,
the statement, and the order page's credit check with the request for finance's override."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from patron.approvals.models import ApprovalRequest
from patron.receivables.models import PromiseToPay
from patron.sales import services as sales
from patron.sales.models import Order
from tests.api_client import as_user
from tests.factories import make_account, make_order, make_product


def owing(staff, code: str, amount: str, days_late: int, **fields):
    account = make_account(staff.sales, code=code, name=f"{code} Tea", **fields)
    due = timezone.localdate() - dt.timedelta(days=days_late)
    sales.invoice_create(
        actor=staff.finance, account=account, amount=amount, issue_date=due - dt.timedelta(days=30), due_date=due
    )
    return account


def test_finance_reads_the_aging_report_with_totals_chart_and_risk(staff):
    owing(staff, "LATE", "900.00", 100)
    owing(staff, "SOON", "100.00", -5)
    client = as_user(staff.finance)
    page = client.get(reverse("receivables:aging"))
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="aging-chart"' in body
    assert 'data-testid="total-owed">CNY 1,000.00' in body
    assert 'data-testid="total-overdue">CNY 900.00' in body
    assert body.index('data-account="LATE"') < body.index('data-account="SOON"')
    assert 'data-account="LATE" data-risk="high"' in body
    filtered = client.get(reverse("receivables:aging"), {"late": "90", "q": "LATE"}).content.decode()
    assert 'data-account="SOON"' not in filtered
    assert 'data-account="LATE"' in filtered
    odd = client.get(reverse("receivables:aging"), {"late": "7", "owner": "x", "page": "999"})
    assert odd.status_code == 200  # nonsense filters fall back, never a 500


def test_a_salesperson_sees_only_their_accounts_and_marketing_none(staff):
    owing(staff, "MINE", "100.00", 10)
    other = make_account(staff.sales3, code="THEIRS")
    sales.invoice_create(actor=staff.finance, account=other, amount="50.00", issue_date=timezone.localdate())
    body = as_user(staff.sales).get(reverse("receivables:aging")).content.decode()
    assert 'data-account="MINE"' in body
    assert 'data-account="THEIRS"' not in body
    assert as_user(staff.marketing).get(reverse("receivables:aging")).status_code == 403
    assert as_user(staff.sales).get(reverse("receivables:account", args=["THEIRS"])).status_code == 404


def test_a_promise_to_pay_is_recorded_from_the_page_and_bad_input_is_named(staff):
    account = owing(staff, "PROM", "500.00", 20)
    client = as_user(staff.finance)
    page = client.get(reverse("receivables:account", args=["PROM"])).content.decode()
    assert 'data-testid="promise-form"' in page
    assert 'data-testid="available-credit"' not in page  # no limit set: nothing to be available of
    bad = client.post(reverse("receivables:promise_new", args=["PROM"]), {"amount": "abc", "promised_on": "yesterday"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert 'data-field="amount"' in text
    assert 'data-field="promised_on"' in text
    assert PromiseToPay.objects.count() == 0
    when = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    made = client.post(
        reverse("receivables:promise_new", args=["PROM"]),
        {"amount": "500.00", "currency": "CNY", "promised_on": when, "contact": "Mr Li", "note": "After the fair"},
    )
    assert made.status_code == 302
    promise = PromiseToPay.objects.get(account=account)
    assert (promise.amount, promise.contact) == (Decimal("500.00"), "Mr Li")
    page = client.get(reverse("receivables:account", args=["PROM"])).content.decode()
    assert 'data-testid="promise" data-status="open"' in page
    cancelled = client.post(reverse("receivables:promise_cancel", args=[promise.pk]))
    assert cancelled.status_code == 302
    promise.refresh_from_db()
    assert promise.status == "cancelled"
    # Marketing may read no receivables at all; a salesperson may record a promise for their own account.
    assert as_user(staff.marketing).post(reverse("receivables:promise_new", args=["PROM"]), {}).status_code in (
        403,
        404,
    )


def test_the_statement_shows_opening_lines_and_closing_and_refuses_bad_dates(staff):
    account = owing(staff, "STMT", "300.00", 5)
    sales.payment_record(actor=staff.finance, account=account, amount="100.00", received_on=timezone.localdate())
    client = as_user(staff.finance)
    body = client.get(reverse("receivables:statement", args=["STMT"])).content.decode()
    assert 'data-testid="opening">0.00' in body
    assert 'data-testid="closing">200.00' in body
    assert body.count('data-testid="statement-line"') == 2
    bad = client.get(reverse("receivables:statement", args=["STMT"]), {"start": "2026-13-01", "currency": "XYZ"})
    assert bad.status_code == 400
    assert "start:" in bad.content.decode()
    assert "currency:" in bad.content.decode()


def test_the_order_page_shows_the_credit_check_and_asks_finance(staff):
    shop = make_account(staff.sales, code="CRED", credit_limit=Decimal("1000"))
    tea = make_product(sku="TEA", price="100.00")
    make_order(staff.sales, shop, [(tea, "8")])
    order = make_order(staff.sales, shop, [(tea, "5")], confirm=False)
    client = as_user(staff.sales)
    page = client.get(reverse("sales:order_detail", args=[order.number])).content.decode()
    assert 'data-testid="order-credit" data-outcome="block"' in page
    assert "Over the credit limit by CNY 300.00" in page
    refused = client.post(reverse("sales:order_confirm", args=[order.number]), follow=True).content.decode()
    assert "Ask finance to approve an override" in refused
    client.post(reverse("sales:order_credit_override", args=[order.number]), {"reason": ""}, follow=True)
    assert not ApprovalRequest.objects.exists()
    asked = client.post(
        reverse("sales:order_credit_override", args=[order.number]), {"reason": "Paying Friday"}, follow=True
    ).content.decode()
    assert "Waiting for finance to approve an override." in asked
    request = ApprovalRequest.objects.get(subject_type="order_credit")
    finance = as_user(staff.finance)
    assert finance.post(reverse("approvals:approve", args=[request.pk]), {"comment": "ok"}).status_code == 302
    client.post(reverse("sales:order_confirm", args=[order.number]))
    order.refresh_from_db()
    assert order.status == Order.CONFIRMED
    over = as_user(staff.finance).get(reverse("receivables:account", args=["CRED"])).content.decode()
    assert 'data-testid="available-credit" class="warn">over the limit by CNY 300.00' in over  # 1,300 of 1,000
    near = make_order(staff.sales, make_account(staff.sales, credit_limit=Decimal("1000")), [(tea, "1")], confirm=False)
    page = client.get(reverse("sales:order_detail", args=[near.number])).content.decode()
    assert 'data-outcome="ok"' in page
    assert "Within the credit limit" in page


def test_the_api_gives_the_aging_report_a_statement_and_records_promises(staff):
    from tests.api_client import ApiClient, error_fields

    owing(staff, "API1", "700.00", 40)
    finance = ApiClient(staff.finance)
    report = finance.get("/api/receivables/aging?late_over=30")
    assert report.status_code == 200, report.json()
    body = report.json()
    assert body["owed"] == "700.00"
    assert body["buckets"]["late_31_60"] == "700.00"
    assert body["rows"][0]["account"] == "API1"
    assert body["rows"][0]["risk"] == {
        "level": "medium",
        "code": "MOSTLY_OVERDUE",
    }
    assert finance.get("/api/receivables/aging?late_over=7").status_code == 422
    when = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    bad = finance.post("/api/accounts/API1/promises", {"amount": "-1", "promised_on": when})
    assert bad.status_code == 422
    assert "amount" in error_fields(bad)
    made = finance.post("/api/accounts/API1/promises", {"amount": "700.00", "promised_on": when, "contact": "Mr Wu"})
    assert made.status_code == 201
    assert made.json()["status"] == "open"
    position = finance.get("/api/accounts/API1/collections").json()
    assert position["positions"][0]["overdue"] == "700.00"
    assert len(position["promises"]) == 1
    start = (timezone.localdate() - dt.timedelta(days=365)).isoformat()
    stmt = finance.get(f"/api/accounts/API1/statement?start={start}&end={timezone.localdate().isoformat()}")
    assert stmt.status_code == 200
    assert stmt.json()["closing"] == "700.00"
    backwards = finance.get(f"/api/accounts/API1/statement?start={when}&end={start}")
    assert backwards.status_code == 422
    assert "end" in error_fields(backwards)
    assert ApiClient(staff.marketing).get("/api/receivables/aging").status_code == 403
    assert ApiClient(staff.sales3).get("/api/accounts/API1/collections").status_code == 404


def test_not_found_and_not_allowed_are_pages_of_patron_in_the_readers_language(staff):
    owing(staff, "MINE", "100.00", 10)
    sales3 = as_user(staff.sales3, "zh-hans")
    missing = sales3.get(reverse("receivables:account", args=["MINE"]))
    assert missing.status_code == 404
    assert "未找到" in missing.content.decode()
    assert 'class="mainnav"' in missing.content.decode()
    refused = as_user(staff.marketing, "zh-hans").get(reverse("receivables:aging"))
    assert refused.status_code == 403
    assert "无权访问" in refused.content.decode()
