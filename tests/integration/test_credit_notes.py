"""Returns after invoicing lower what is owed; invoices issued in error can be voided."""

from decimal import Decimal

import pytest

from patron.core.errors import Conflict
from patron.sales import services as sales
from patron.sales.models import CreditNote, Invoice
from patron.sales.selectors import account_receivables
from tests.factories import make_account, make_invoice, make_order, make_product


def returned(staff, order, quantity):
    line = order.lines.get()
    return sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(line, quantity)])


def test_a_return_of_invoiced_goods_credits_the_open_invoice(staff):
    order = make_order(staff.sales, make_account(staff.sales), [(make_product(price="50.00"), "4")])
    invoice = make_invoice(staff.finance, order)
    ret = returned(staff, order, "1")
    note = CreditNote.objects.get(ret=ret)
    invoice.refresh_from_db()
    assert note.amount == note.applied_amount == Decimal("50.00")
    assert invoice.outstanding == Decimal("150.00")
    assert sales.order_invoiceable(order) == Decimal("0.00")


def test_returns_first_use_up_what_was_never_invoiced(staff):
    order = make_order(staff.sales, make_account(staff.sales), [(make_product(price="25.00"), "4")])
    make_invoice(staff.finance, order, amount="60.00")
    returned(staff, order, "1")  # 25 of the 40 not invoiced: no credit
    assert not CreditNote.objects.exists()
    returned(staff, order, "1")  # 50 returned, 40 never invoiced: 10 credited
    assert CreditNote.objects.get().amount == Decimal("10.00")
    assert sales.order_invoiceable(order) == Decimal("0.00")


def test_returning_everything_after_full_invoicing_leaves_nothing_owed(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="100.00"), "2")])
    make_invoice(staff.finance, order)
    returned(staff, order, "2")
    assert account_receivables(account, order.order_date) == {}


def test_a_credit_beyond_what_is_open_stays_as_the_accounts_credit(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="100.00"), "1")])
    make_invoice(staff.finance, order)
    sales.payment_record(actor=staff.finance, account=account, amount="100.00")
    note = CreditNote.objects.get(ret=returned(staff, order, "1"))
    assert (note.amount, note.applied_amount) == (Decimal("100.00"), Decimal("0.00"))


def test_an_unpaid_invoice_can_be_voided_once_and_then_the_order_cancelled(staff):
    order = make_order(staff.sales, make_account(staff.sales))
    invoice = make_invoice(staff.finance, order)
    sales.invoice_void(actor=staff.finance, invoice=invoice, reason="wrong amount")
    again = sales.invoice_void(actor=staff.finance, invoice=invoice)
    assert again.status == Invoice.VOID
    assert order.account.audit_events.filter(action="INVOICE_VOIDED").count() == 1
    sales.order_cancel(actor=staff.sales, order=order)


def test_an_invoice_with_money_applied_cannot_be_voided(staff):
    account = make_account(staff.sales)
    invoice = make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="80.00"), "1")]))
    sales.payment_record(actor=staff.finance, account=account, amount="10.00")
    with pytest.raises(Conflict):
        sales.invoice_void(actor=staff.finance, invoice=invoice)


def test_a_salesperson_cannot_void_invoices(staff):
    from django.core.exceptions import PermissionDenied

    invoice = make_invoice(staff.finance, make_order(staff.sales, make_account(staff.sales)))
    with pytest.raises(PermissionDenied):
        sales.invoice_void(actor=staff.sales, invoice=invoice)


def test_finance_voids_an_invoice_from_its_page_and_through_the_api(client, staff):
    from tests.api_client import ApiClient

    first = make_invoice(staff.finance, make_order(staff.sales, make_account(staff.sales)))
    second = make_invoice(staff.finance, make_order(staff.sales, make_account(staff.sales)))
    client.force_login(staff.finance)
    page = client.get(f"/sales/invoices/{first.number}/").content.decode()
    assert 'data-testid="void-invoice"' in page
    response = client.post(f"/sales/invoices/{first.number}/void/", {"reason": "typo"})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.status == Invoice.VOID
    api = ApiClient(staff.finance)
    assert api.post(f"/api/invoices/{second.number}/void", {"reason": "duplicate"}).json()["status"] == "void"
    assert ApiClient(staff.sales).post(f"/api/invoices/{second.number}/void").status_code == 403


def test_the_invoice_page_lists_the_credit_notes_applied(client, staff):
    order = make_order(staff.sales, make_account(staff.sales), [(make_product(price="50.00"), "2")])
    invoice = make_invoice(staff.finance, order)
    returned(staff, order, "1")
    client.force_login(staff.finance)
    page = client.get(f"/sales/invoices/{invoice.number}/").content.decode()
    assert 'data-testid="invoice-credits"' in page
    assert CreditNote.objects.get().number in page
