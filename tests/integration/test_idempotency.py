"""Money moves once: a payment sent twice (double click, client retry) is recorded once."""

from decimal import Decimal

import pytest

from patron.core.errors import Conflict
from patron.sales import services as sales
from patron.sales.models import Payment
from tests.api_client import ApiClient
from tests.factories import make_account, make_invoice, make_order, make_product


@pytest.fixture
def owed(staff):
    account = make_account(staff.sales)
    invoice = make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="80.00"), "1")]))
    return account, invoice


def test_a_payment_sent_twice_with_one_key_is_recorded_once(staff, owed):
    account, invoice = owed
    first = sales.payment_record(actor=staff.sales, account=account, amount="30.00", idempotency_key="k-1")
    again = sales.payment_record(actor=staff.sales, account=account, amount="30.00", idempotency_key="k-1")
    assert first.pk == again.pk
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("30.00")


def test_a_key_reused_for_a_different_payment_is_refused(staff, owed):
    account, _ = owed
    sales.payment_record(actor=staff.sales, account=account, amount="30.00", idempotency_key="k-2")
    with pytest.raises(Conflict):
        sales.payment_record(actor=staff.sales, account=account, amount="31.00", idempotency_key="k-2")


def test_the_payment_form_submitted_twice_records_one_payment(client, staff, owed):
    account, _invoice = owed
    client.force_login(staff.sales)
    data = {
        "account": account.code,
        "amount": "20.00",
        "currency": "CNY",
        "received_on": "2026-01-05",
        "method": "bank_transfer",
        "reference": "",
        "submission": "form-key-1",
    }
    first = client.post("/sales/payments/new/", data)
    second = client.post("/sales/payments/new/", data)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Payment.objects.filter(account=account).count() == 1


def test_the_api_replays_a_payment_with_the_same_idempotency_key(staff, owed):
    account, _invoice = owed
    api = ApiClient(staff.finance)
    body = {"account": account.code, "amount": "25.00", "currency": "CNY"}
    first = api.post("/api/payments", body, headers={"Idempotency-Key": "retry-7"})
    second = api.post("/api/payments", body, headers={"Idempotency-Key": "retry-7"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["number"] == second.json()["number"]
    too_long = api.post("/api/payments", body, headers={"Idempotency-Key": "x" * 65})
    assert too_long.status_code == 422
    assert Payment.objects.filter(account=account).count() == 1


def test_an_order_form_submitted_twice_records_one_order(client, staff):
    account = make_account(staff.sales)
    product = make_product(price="10.00")
    client.force_login(staff.sales)
    page = client.get(f"/sales/orders/new/?account={account.code}").content.decode()
    key = page.split('name="submission" value="', 1)[1].split('"', 1)[0]
    assert len(key) == 32
    data = {
        "account": account.code,
        "currency": "CNY",
        "channel": "sales_rep",
        "order_date": "2026-01-05",
        "note": "",
        "submission": key,
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-0-product": product.sku,
        "lines-0-quantity": "2",
        "lines-0-net_unit_price": "",
        "action": "confirm",
    }
    first = client.post("/sales/orders/new/", data)
    second = client.post("/sales/orders/new/", data)
    assert first.status_code == second.status_code == 302
    assert account.orders.count() == 1


def test_the_api_replays_orders_returns_and_invoices_with_the_same_key(staff):
    account = make_account(staff.sales)
    product = make_product(price="10.00")
    sales_api = ApiClient(staff.sales)
    body = {"account": account.code, "lines": [{"product": product.sku, "quantity": "3"}], "confirm": True}
    first = sales_api.post("/api/orders", body, headers={"Idempotency-Key": "o-1"})
    again = sales_api.post("/api/orders", body, headers={"Idempotency-Key": "o-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    number = first.json()["number"]
    line_id = first.json()["lines"][0]["id"]
    ret = {"lines": [{"order_line": line_id, "quantity": "1"}]}
    assert sales_api.post(f"/api/orders/{number}/returns", ret, headers={"Idempotency-Key": "r-1"}).status_code == 201
    assert sales_api.post(f"/api/orders/{number}/returns", ret, headers={"Idempotency-Key": "r-1"}).status_code == 200
    finance_api = ApiClient(staff.finance)
    inv = {"account": account.code, "order": number}
    assert finance_api.post("/api/invoices", inv, headers={"Idempotency-Key": "i-1"}).status_code == 201
    assert finance_api.post("/api/invoices", inv, headers={"Idempotency-Key": "i-1"}).status_code == 200
    assert account.orders.count() == 1
    assert account.returns.count() == 1
    assert account.invoices.count() == 1


def test_a_key_used_for_one_account_is_refused_for_another(staff):
    first = make_account(staff.sales)
    second = make_account(staff.sales)
    product = make_product()
    sales.order_create(actor=staff.sales, account=first, lines=[sales.LineInput(product, "1")], idempotency_key="k")
    with pytest.raises(Conflict):
        sales.order_create(
            actor=staff.sales, account=second, lines=[sales.LineInput(product, "1")], idempotency_key="k"
        )
