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
