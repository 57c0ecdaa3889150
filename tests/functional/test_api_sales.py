"""The sales API over HTTP: products, orders and returns, invoices and payments, money as text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from patron.audit.models import AuditEvent
from patron.discounts.models import DiscountLimit
from patron.sales.models import Invoice, Order, Payment
from tests.api_client import ApiClient
from tests.factories import make_account, make_invoice, make_order, make_product


@pytest.fixture
def as_user(staff):
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = ApiClient(getattr(staff, name))
        return clients[name]

    return client


def test_products_are_created_changed_and_listed_with_prices_as_text(staff, as_user):
    make_product(sku="TEA-0")  # creates the TEA category
    manager = as_user("manager")
    created = manager.post(
        "/api/products",
        {"sku": "TEA-1", "name": "Longjing 250g", "category": "TEA", "list_price": "128.5", "unit_cost": "60"},
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["list_price"] == "128.5000"
    assert body["category"]["code"] == "TEA"
    changed = manager.patch("/api/products/TEA-1", {"list_price": "138.00", "active": False})
    assert changed.status_code == 200, changed.json()
    assert (changed.json()["list_price"], changed.json()["active"]) == ("138.0000", False)
    assert AuditEvent.objects.filter(action="PRODUCT_PRICE_CHANGED").exists()
    listed = as_user("marketing").get("/api/products", {"active": "false"}).json()["items"]
    assert [p["sku"] for p in listed] == ["TEA-1"]
    assert [p["sku"] for p in as_user("sales").get("/api/products", {"q": "longjing"}).json()["items"]] == ["TEA-1"]


def test_an_order_with_a_manual_price_is_recorded_and_confirmed(staff, as_user):
    DiscountLimit.objects.create(role="salesperson", percent=Decimal(10), amount=Decimal(1000))
    account = make_account(staff.sales)
    make_product(sku="TEA-1", price="100.00")
    response = as_user("sales").post(
        "/api/orders",
        {
            "account": account.code,
            "lines": [{"product": "TEA-1", "quantity": "3", "net_unit_price": "90.00"}],
            "confirm": True,
            "order_date": "2026-03-01",
        },
    )
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "confirmed"
    assert (order["list_total"], order["net_total"]) == ("300.00", "270.00")
    (line,) = order["lines"]
    assert (line["product"]["sku"], line["quantity"], line["line_total"]) == ("TEA-1", "3.000", "270.00")
    assert line["discounts"][0]["source"] == "manual"
    assert order["order_date"] == "2026-03-01"
    assert as_user("sales").get(f"/api/orders/{order['number']}").json() == order


def test_a_draft_order_is_confirmed_then_cannot_be_cancelled_once_invoiced(staff, as_user):
    account = make_account(staff.sales)
    make_product(sku="TEA-1", price="10.00")
    draft = as_user("sales").post(
        "/api/orders", {"account": account.code, "lines": [{"product": "TEA-1", "quantity": "1"}]}
    )
    number = draft.json()["number"]
    assert draft.json()["status"] == "draft"
    confirmed = as_user("sales").post(f"/api/orders/{number}/confirm")
    assert confirmed.status_code == 200
    assert confirmed.json()["status"] == "confirmed"
    make_invoice(staff.finance, Order.objects.get(number=number))
    refused = as_user("sales").post(f"/api/orders/{number}/cancel", {"reason": "changed mind"})
    assert refused.status_code == 409
    assert refused.json()["field"] == "status"
    assert Order.objects.get(number=number).status == Order.CONFIRMED


def test_a_cancelled_order_cannot_be_confirmed(staff, as_user):
    order = make_order(staff.sales, make_account(staff.sales), confirm=False)
    cancelled = as_user("sales").post(f"/api/orders/{order.number}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    refused = as_user("sales").post(f"/api/orders/{order.number}/confirm")
    assert refused.status_code == 409


def test_returns_are_recorded_against_order_lines(staff, as_user):
    order = make_order(staff.sales, make_account(staff.sales), [(make_product(price="25.00"), "4")])
    line_id = order.lines.get().pk
    response = as_user("sales").post(
        f"/api/orders/{order.number}/returns", {"lines": [{"order_line": line_id, "quantity": "1"}], "reason": "broken"}
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["total"], response.json()["order"]) == ("25.00", order.number)
    too_many = as_user("sales").post(
        f"/api/orders/{order.number}/returns", {"lines": [{"order_line": line_id, "quantity": "4"}]}
    )
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["loc"] == ["body", "lines", 0, "quantity"]
    detail = as_user("sales").get(f"/api/orders/{order.number}").json()
    assert [r["total"] for r in detail["returns"]] == ["25.00"]


def test_orders_list_newest_first_with_filters_and_pages(staff, as_user):
    account = make_account(staff.sales)
    other = make_account(staff.sales)
    product = make_product()
    for day in range(1, 8):
        make_order(staff.sales, account if day % 2 else other, [(product, "1")], order_date=dt.date(2026, 1, day))
    client = as_user("sales")
    seen: list[str] = []
    cursor = None
    while True:
        body = client.get("/api/orders", {"limit": 2} | ({"cursor": cursor} if cursor else {})).json()
        seen += [o["order_date"] for o in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == [f"2026-01-0{d}" for d in range(7, 0, -1)]
    filtered = client.get("/api/orders", {"account": other.code, "date_from": "2026-01-03"}).json()["items"]
    assert [o["order_date"] for o in filtered] == ["2026-01-06", "2026-01-04"]


def test_finance_issues_an_invoice_for_an_order_and_records_a_payment(staff, as_user):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="50.00"), "2")])
    finance = as_user("finance")
    invoice = finance.post(
        "/api/invoices",
        {"account": account.code, "order": order.number, "issue_date": "2026-03-01", "due_date": "2026-03-31"},
    )
    assert invoice.status_code == 201, invoice.json()
    assert (invoice.json()["amount"], invoice.json()["outstanding"], invoice.json()["order"]) == (
        "100.00",
        "100.00",
        order.number,
    )
    number = invoice.json()["number"]
    payment = finance.post(
        "/api/payments",
        {"account": account.code, "amount": "60.00", "allocations": [{"invoice": number, "amount": "60.00"}]},
    )
    assert payment.status_code == 201, payment.json()
    assert payment.json()["allocations"] == [{"invoice": number, "amount": "60.00"}]
    after = finance.get(f"/api/invoices/{number}").json()
    assert (after["paid_amount"], after["outstanding"], after["status"]) == ("60.00", "40.00", "open")
    assert finance.get(f"/api/payments/{payment.json()['number']}").json() == payment.json()
    assert [i["number"] for i in finance.get("/api/invoices", {"account": account.code}).json()["items"]] == [number]
    assert len(finance.get("/api/payments", {"account": account.code}).json()["items"]) == 1


def test_a_salesperson_logs_a_payment_they_collected(staff, as_user):
    account = make_account(staff.sales)
    make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="30.00"), "1")]))
    response = as_user("sales").post("/api/payments", {"account": account.code, "amount": "30", "method": "cash"})
    assert response.status_code == 201, response.json()
    assert Invoice.objects.get(account=account).status == Invoice.PAID


def test_a_payment_sent_twice_with_its_number_is_recorded_once(staff, as_user):
    account = make_account(staff.sales)
    make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="60.00"), "1")]))
    body = {"account": account.code, "amount": "20.00", "number": "BANK-77"}
    first = as_user("finance").post("/api/payments", body)
    again = as_user("finance").post("/api/payments", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Payment.objects.filter(number="BANK-77").count() == 1
    clash = as_user("finance").post("/api/payments", body | {"amount": "30.00"})
    assert clash.status_code == 409
    assert clash.json()["field"] == "number"


def test_receivable_lists_only_show_what_the_caller_may_see(staff, as_user):
    mine = make_account(staff.sales)
    theirs = make_account(staff.sales3)
    for account in (mine, theirs):
        make_invoice(staff.finance, make_order(staff.admin, account, [(make_product(price="10.00"), "1")]))
    sales_invoices = as_user("sales").get("/api/invoices").json()["items"]
    assert [i["account"]["code"] for i in sales_invoices] == [mine.code]
    assert len(as_user("finance").get("/api/invoices").json()["items"]) == 2
    assert as_user("marketing").get("/api/invoices").status_code == 403
    assert as_user("marketing").get("/api/payments").status_code == 403


def test_datetimes_are_timezone_aware_and_money_is_never_a_number(staff, as_user):
    order = make_order(staff.sales, make_account(staff.sales), [(make_product(price="9.99"), "3")])
    body = as_user("sales").get(f"/api/orders/{order.number}").json()
    assert dt.datetime.fromisoformat(body["confirmed_at"]).tzinfo is not None
    assert dt.datetime.fromisoformat(body["created_at"]) <= timezone.now()

    def numbers(value):
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return [value] if isinstance(value, float) else []

    assert numbers(body) == []
    assert body["net_total"] == "29.97"
