import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.discounts.models import DiscountLimit
from patron.sales import services as sales
from patron.sales.models import Invoice, Order
from tests.factories import make_account, make_invoice, make_order, make_product


def test_order_with_manual_discount_records_the_breakdown_and_updates_order_dates(staff):
    DiscountLimit.objects.create(role="salesperson", percent=Decimal(10), amount=Decimal(1000))
    account = make_account(staff.sales)
    product = make_product(price="100.00")
    order = sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=product, quantity="3", net_unit_price="90")],
        confirm=True,
        order_date=dt.date(2026, 3, 1),
    )
    line = order.lines.get()
    assert order.net_total == Decimal("270.00")
    assert order.list_total == Decimal("300.00")
    (manual,) = line.discounts
    assert (manual["source"], manual["amount"], manual["how"]["code"]) == ("manual", "30.00", "MANUAL_PRICE")
    assert order.status == "confirmed"  # 10% is within the salesperson's limit: nobody had to approve
    account.refresh_from_db()
    assert account.first_order_date == account.last_order_date == dt.date(2026, 3, 1)
    assert order.number.startswith("SO")
    assert AuditEvent.objects.filter(action="ORDER_CONFIRMED", account=account).exists()


def test_bad_lines_are_reported_by_line_and_field_and_nothing_is_written(staff):
    account = make_account(staff.sales)
    product = make_product()
    with pytest.raises(ValidationError) as err:
        sales.order_create(
            actor=staff.sales,
            account=account,
            lines=[
                sales.LineInput(product=product, quantity="0"),
                sales.LineInput(product="NOPE", quantity="1"),
                sales.LineInput(product=product, quantity="1", net_unit_price="1.23456"),
            ],
        )
    assert set(err.value.message_dict) == {"lines.0.quantity", "lines.1.product", "lines.2.net_unit_price"}
    assert not account.orders.exists()


def test_payment_cannot_exceed_what_is_owed(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="50.00"), "2")])
    make_invoice(staff.finance, order)
    with pytest.raises(ValidationError) as err:
        sales.payment_record(actor=staff.finance, account=account, amount="100.01")
    assert "amount" in err.value.message_dict


def test_partial_payments_settle_the_oldest_invoice_first(staff):
    account = make_account(staff.sales)
    first = make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="60.00"), "1")]))
    second = make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="40.00"), "1")]))
    sales.payment_record(actor=staff.finance, account=account, amount="70.00")
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.paid_amount) == (Invoice.PAID, Decimal("60.00"))
    assert (second.status, second.paid_amount) == (Invoice.OPEN, Decimal("10.00"))


def test_a_payment_replayed_with_its_number_is_recorded_once(staff):
    account = make_account(staff.sales)
    make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="60.00"), "1")]))
    p1 = sales.payment_record(actor=staff.finance, account=account, amount="20.00", number="BANK-1")
    p2 = sales.payment_record(actor=staff.finance, account=account, amount="20.00", number="BANK-1")
    assert p1.pk == p2.pk
    with pytest.raises(Conflict):
        sales.payment_record(actor=staff.finance, account=account, amount="30.00", number="BANK-1")


def test_returns_cannot_exceed_the_quantity_ordered(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="10.00"), "5")])
    line = order.lines.get()
    ret = sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(line, "3")])
    assert ret.total == Decimal("30.00")
    with pytest.raises(ValidationError) as err:
        sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(line, "3")])
    assert "At most 2" in err.value.message_dict["lines.0.quantity"][0]


def test_an_invoiced_order_cannot_be_cancelled(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account)
    make_invoice(staff.finance, order)
    with pytest.raises(Conflict):
        sales.order_cancel(actor=staff.sales, order=order)


def test_two_partial_returns_refund_exactly_the_line_total(staff):
    account = make_account(staff.sales)
    order = make_order(staff.sales, account, [(make_product(price="10.0050"), "2")])
    line = order.lines.get()
    assert line.line_total == Decimal("20.01")
    first = sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(line, "1")])
    second = sales.return_create(actor=staff.sales, order=order, lines=[sales.ReturnLineInput(line, "1")])
    assert first.total + second.total == Decimal("20.01")
    assert sales.order_invoiceable(order) == Decimal("0.00")


def test_the_discount_breakdown_adds_up_to_the_rounded_totals(staff):
    account = make_account(staff.sales)
    product = make_product(price="1.0049")
    order = sales.order_create(
        actor=staff.sales,
        account=account,
        lines=[sales.LineInput(product=product, quantity="1", net_unit_price="0.9999")],
    )
    line = order.lines.get()
    assert order.list_total - order.net_total == sum(Decimal(d["amount"]) for d in line.discounts)


def test_a_payment_replayed_with_its_number_matches_the_amount_however_written(staff):
    account = make_account(staff.sales)
    make_invoice(staff.finance, make_order(staff.sales, account, [(make_product(price="200.00"), "1")]))
    first = sales.payment_record(actor=staff.finance, account=account, amount="100", number="BANK-9")
    again = sales.payment_record(actor=staff.finance, account=account, amount="100.00", number="BANK-9")
    assert first.pk == again.pk


@pytest.mark.parametrize("number", ["new", "NEW"])
def test_document_numbers_the_pages_use_are_reserved(staff, number):
    account = make_account(staff.sales)
    with pytest.raises(ValidationError) as err:
        sales.order_create(
            actor=staff.sales, account=account, lines=[sales.LineInput(make_product(), "1")], number=number
        )
    assert "number" in err.value.message_dict


def test_an_order_confirmed_as_it_is_written_widens_the_order_dates_and_leaves_the_whole_trail(staff):
    account = make_account(staff.sales)
    product = make_product(price="40.00")

    def confirmed(day: dt.date, **kw: object) -> object:
        lines = [sales.LineInput(product=product.sku, quantity="1"), sales.LineInput(product=product.pk, quantity="2")]
        return sales.order_create(actor=staff.sales, account=account, lines=lines, order_date=day, **kw)

    first = confirmed(dt.date(2026, 5, 10), confirm=True)
    assert (first.status, first.net_total, [b.product.sku for b in first.lines.all()]) == (
        "confirmed",
        Decimal("120.00"),
        [product.sku, product.sku],  # by SKU and by id: one product read for both
    )
    stored = Order.objects.get(pk=first.pk)
    assert stored.confirmed_at == stored.created_at == first.confirmed_at  # confirmed the moment it was made
    confirmed(dt.date(2026, 3, 1), confirm=True)  # earlier: the first date moves back
    confirmed(dt.date(2026, 4, 1), confirm=True)  # between: neither moves
    confirmed(dt.date(2026, 9, 1))  # a draft does not count
    account.refresh_from_db()
    assert (account.first_order_date, account.last_order_date) == (dt.date(2026, 3, 1), dt.date(2026, 5, 10))
    trail = list(
        AuditEvent.objects.filter(entity_type="order", entity_id=str(first.pk)).order_by("id").values_list("action")
    )
    assert trail == [("ORDER_CREATED",), ("ORDER_CONFIRMED",)]
    assert first.account.activities.filter(event="order_confirmed").count() == 3
    assert first.account.activities.filter(event="order_draft").count() == 1
