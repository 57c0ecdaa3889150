"""Credit-limit blocking and collections in headless Chromium: a salesperson's order over the limit waits for
finance (who works in Chinese), who approves it; then finance reads the aging report and records a promise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.receivables.models import PromiseToPay
from patron.sales import services as sales
from patron.sales.models import Order
from tests.factories import make_account, make_order, make_product

pytestmark = pytest.mark.browser


def test_an_order_over_the_credit_limit_waits_for_finance_then_is_confirmed(live_server, sign_in, staff):
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    shop = make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House", credit_limit=Decimal("1000"))
    tea = make_product("OOLONG", price="100.00", name="Oolong")
    make_order(staff.sales, shop, [(tea, "8")])
    order = make_order(staff.sales, shop, [(tea, "4")], confirm=False)

    page = sign_in("sales")
    page.goto(f"{live_server.url}/sales/orders/{order.number}/")
    panel = page.get_by_test_id("order-credit")
    expect(panel).to_have_attribute("data-outcome", "block")
    expect(panel).to_contain_text("Over the credit limit by CNY 200.00")
    page.get_by_test_id("confirm-order").click()
    expect(page.locator(".messages, [role=alert]").first).to_contain_text("Ask finance to approve an override")
    page.fill("#override-reason", "Paying the March invoice on Friday")
    page.get_by_test_id("ask-override").click()
    expect(page.get_by_test_id("credit-override")).to_contain_text("Waiting for finance")
    page.context.clear_cookies()

    page = sign_in("finance")  # reads Chinese
    page.goto(f"{live_server.url}/approvals/")
    page.get_by_role("link", name=f"订单 {order.number}").first.click()
    expect(page.get_by_test_id("level")).to_have_text("财务")
    expect(page.get_by_test_id("reason")).to_contain_text("Paying the March invoice on Friday")
    page.fill("#approve-comment", "同意，仅此一单。")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("status")).to_have_text("已批准")
    page.context.clear_cookies()

    page = sign_in("sales")
    page.goto(f"{live_server.url}/sales/orders/{order.number}/")
    expect(page.get_by_test_id("credit-override")).to_contain_text("Finance approved an override")
    page.get_by_test_id("confirm-order").click()
    expect(page.get_by_test_id("order-status")).to_have_text("Confirmed")
    order.refresh_from_db()
    assert order.status == Order.CONFIRMED


def test_finance_reads_the_aging_report_and_records_a_promise_in_chinese(live_server, sign_in, staff):
    late = make_account(staff.sales, code="LATE", name="迟付茶行")
    due = timezone.localdate() - dt.timedelta(days=100)
    sales.invoice_create(
        actor=staff.finance, account=late, amount="900.00", issue_date=due - dt.timedelta(days=30), due_date=due
    )
    page = sign_in("finance")
    page.get_by_role("link", name="应收账款").first.click()
    expect(page.get_by_test_id("total-owed")).to_have_text("CNY 900.00")
    row = page.locator('[data-testid="aging-row"][data-account="LATE"]')
    expect(row.get_by_test_id("risk")).to_have_text("高")
    expect(page.get_by_test_id("aging-chart")).to_be_visible()
    row.get_by_role("link", name="迟付茶行").click()
    form = page.get_by_test_id("promise-form")
    form.locator("input[name=amount]").fill("abc")
    form.get_by_test_id("record-promise").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    assert not PromiseToPay.objects.exists()
    form = page.get_by_test_id("promise-form")
    form.locator("input[name=amount]").fill("900")
    form.locator("input[name=promised_on]").fill((timezone.localdate() + dt.timedelta(days=5)).isoformat())
    form.locator("input[name=contact]").fill("钱女士")
    form.get_by_test_id("record-promise").click()
    expect(page.locator('[data-testid="promise"][data-status="open"]')).to_contain_text("钱女士")
    page.get_by_test_id("statement-link").click()
    expect(page.get_by_test_id("closing")).to_have_text("900.00")
