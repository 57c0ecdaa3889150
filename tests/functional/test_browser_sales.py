"""A salesperson takes an order and logs the customer's payment, in headless Chromium."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from patron.discounts.models import DiscountLimit
from patron.sales import services as sales
from patron.sales.models import Invoice, Order, Payment
from tests.factories import make_account, make_product

pytestmark = pytest.mark.browser


def _screenshot(page, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def shop(staff):
    # A salesperson may take 10% off by hand; 80 for 88 (9.1%) needs nobody's approval.
    DiscountLimit.objects.create(role="salesperson", percent=Decimal(10), amount=Decimal(1000))
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    account = make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")
    make_account(staff.sales3, code="BJ-TEA", name="Beijing Tea Garden")
    make_product("OOLONG", price="88.00", name="Oolong")
    make_product("CUP-6", price="25.50", name="Tea cups, set of 6")
    return account


def test_salesperson_takes_an_order_and_records_a_partial_payment(live_server, sign_in, staff, shop):
    page = sign_in("sales")

    # The account page links here with ?account=CODE; the account is chosen already.
    page.goto(f"{live_server.url}/sales/orders/new/?account=SZ-TEA")
    expect(page.locator("#id_account")).to_have_value("SZ-TEA")
    expect(page.locator("#id_account option")).to_have_count(2)  # the empty choice and their one account
    lines = page.get_by_test_id("order-line")
    expect(lines).to_have_count(3)

    page.select_option("#id_lines-0-product", "OOLONG")
    page.fill("#id_lines-0-quantity", "3")
    page.fill("#id_lines-0-net_unit_price", "80")
    page.select_option("#id_lines-2-product", "CUP-6")  # the second line stays empty and is skipped

    # One more line through htmx: the form grows without a reload and keeps what was typed.
    page.get_by_test_id("add-line").click()
    expect(lines).to_have_count(4)
    expect(page.locator("#id_lines-TOTAL_FORMS")).to_have_value("4")
    expect(page.locator("#id_lines-0-quantity")).to_have_value("3")
    page.select_option("#id_lines-3-product", "CUP-6")
    page.fill("#id_lines-3-quantity", "2")
    page.fill("#id_lines-2-quantity", "0")  # a mistake first: shown on its own line, nothing saved
    _screenshot(page, "order-form")

    page.get_by_test_id("save-confirm").click()
    bad_line = page.locator('[data-testid="order-line"][data-index="2"]')
    expect(bad_line.get_by_test_id("field-error")).to_have_text("Must be greater than zero.")
    assert not Order.objects.exists()
    _screenshot(page, "order-form-errors")

    page.select_option("#id_lines-2-product", "")
    page.fill("#id_lines-2-quantity", "")
    # Prices first, as the rules and the limit see them; nothing is saved yet.
    page.get_by_test_id("preview-prices").click()
    quote = page.get_by_test_id("order-quote")
    expect(quote.get_by_test_id("net-total")).to_have_text("CNY 291.00")  # 3 x 80 + 2 x 25.50
    expect(quote.get_by_test_id("approval")).to_contain_text("within your limit")
    assert not Order.objects.exists()
    page.get_by_test_id("save-confirm").click()

    expect(page.get_by_test_id("order-status")).to_have_text("Confirmed")
    order = Order.objects.get()
    expect(page).to_have_url(re.compile(rf"/sales/orders/{order.number}/$"))
    assert order.status == Order.CONFIRMED
    assert order.net_total == Decimal("291.00")  # 3 x 80 + 2 x 25.50
    rows = page.get_by_test_id("order-lines").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Oolong")
    expect(rows.nth(0)).to_contain_text("Manual discount")
    expect(rows.nth(1)).to_contain_text("Tea cups")
    expect(page.get_by_test_id("order-net-total")).to_have_text("CNY 291.00")
    _screenshot(page, "order-page")

    # Finance issues the invoice; the salesperson collects part of it.
    invoice = sales.invoice_create(actor=staff.finance, account=shop, order=order)
    page.goto(f"{live_server.url}/sales/invoices/{invoice.number}/")
    expect(page.get_by_test_id("invoice-outstanding")).to_have_text("CNY 291.00")
    page.get_by_test_id("record-payment").click()

    expect(page.locator("#id_account")).to_have_value("SZ-TEA")
    expect(page.get_by_test_id("owed-CNY")).to_contain_text("CNY 291.00")
    page.fill("#id_amount", "100")
    page.select_option("#id_method", "wechat_pay")
    page.fill("#id_reference", "WX-20260310")
    _screenshot(page, "payment-form")
    page.get_by_test_id("save-payment").click()

    payment = Payment.objects.get()
    expect(page).to_have_url(re.compile(rf"/sales/payments/{payment.number}/$"))
    expect(page.get_by_test_id("payment-amount")).to_have_text("CNY 100.00")
    page.get_by_role("link", name=invoice.number).click()
    expect(page.get_by_test_id("invoice-outstanding")).to_have_text("CNY 191.00")
    expect(page.get_by_test_id("invoice-payments")).to_contain_text(payment.number)
    invoice.refresh_from_db()
    assert (invoice.paid_amount, invoice.status) == (Decimal("100.00"), Invoice.OPEN)
    _screenshot(page, "invoice-after-payment")


def test_choosing_another_account_shows_what_it_owes(live_server, sign_in, staff, shop):
    second = make_account(staff.sales, code="GZ-TEA", name="Guangzhou Tea")
    order = sales.order_create(
        actor=staff.sales, account=second, lines=[sales.LineInput(product="OOLONG", quantity="1")], confirm=True
    )
    invoice = sales.invoice_create(actor=staff.finance, account=second, order=order)
    page = sign_in("sales")
    page.goto(f"{live_server.url}/sales/payments/new/")
    expect(page.get_by_test_id("receivables")).to_contain_text("Choose an account")
    page.select_option("#id_account", "GZ-TEA")
    expect(page.get_by_test_id("owed-CNY")).to_contain_text("CNY 88.00")
    expect(page.locator(f"#id_alloc_{invoice.pk}")).to_be_visible()
    page.fill("#id_amount", "30")
    page.fill(f"#id_alloc_{invoice.pk}", "30")
    page.get_by_test_id("save-payment").click()
    expect(page.get_by_test_id("payment-allocations")).to_contain_text(invoice.number)
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("30.00")
