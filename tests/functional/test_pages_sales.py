"""The sales pages through Django's test client: what each role sees, may post, and is refused."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from patron.accounts.models import Account
from patron.audit.models import AuditEvent
from patron.discounts.models import DiscountLimit
from patron.sales import services as sales
from patron.sales.models import Category, Invoice, Order, Payment, Product, Return
from patron.staff.models import User
from tests.factories import make_account, make_invoice, make_order, make_product


@dataclass
class World:
    staff: object
    mine: Account  # owned by staff.sales (team South)
    teammate: Account  # owned by staff.sales2 (team South)
    north: Account  # owned by staff.sales3 (team North)
    tea: Product
    cup: Product
    order: Order  # confirmed, on ``mine``


@pytest.fixture
def world(staff) -> World:
    User.objects.update(language="en")  # assert on Django's own messages in English
    mine = make_account(staff.sales, code="MINE", name="Mine Ltd")
    teammate = make_account(staff.sales2, code="MATE", name="Mate Ltd")
    north = make_account(staff.sales3, code="NORTH", name="North Ltd")
    tea = make_product("TEA-1", price="100.00", name="Green tea")
    cup = make_product("CUP-1", price="25.50", name="Tea cup")
    order = make_order(staff.sales, mine, [(tea, "2"), (cup, "4")], order_date=dt.date(2026, 3, 2))
    return World(staff, mine, teammate, north, tea, cup, order)


def as_user(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def line_chunks(html: str) -> dict[int, str]:
    """The HTML of each line of the order form, by its index."""
    chunks: dict[int, str] = {}
    for part in html.split('data-testid="order-line"')[1:]:
        index = int(re.search(r'data-index="(\d+)"', part).group(1))
        chunks[index] = part.split('data-testid="order-line"')[0]
    return chunks


def order_post(account: str, lines: list[tuple[str, str, str]], **extra: str) -> dict[str, str]:
    data = {
        "account": account,
        "currency": "CNY",
        "channel": "sales_rep",
        "order_date": "2026-03-10",
        "note": "",
        "lines-TOTAL_FORMS": str(len(lines)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "100",
    }
    for i, (product, quantity, price) in enumerate(lines):
        data[f"lines-{i}-product"] = product
        data[f"lines-{i}-quantity"] = quantity
        data[f"lines-{i}-net_unit_price"] = price
    data.update(extra)
    return data


# --- orders -------------------------------------------------------------------


def test_order_list_shows_each_role_only_the_orders_it_may_see(world):
    s = world.staff
    make_order(s.sales2, world.teammate, [(world.tea, "1")])
    make_order(s.sales3, world.north, [(world.tea, "1")])
    url = reverse("sales:order_list")

    def accounts_listed(user: User) -> set[str]:
        html = as_user(user).get(url).content.decode()
        return {code for code in ("MINE", "MATE", "NORTH") if f">{code} " in html}

    assert accounts_listed(s.sales) == {"MINE"}
    assert accounts_listed(s.manager) == {"MINE", "MATE"}
    assert accounts_listed(s.manager2) == {"NORTH"}
    assert accounts_listed(s.finance) == {"MINE", "MATE", "NORTH"}
    assert accounts_listed(s.admin) == {"MINE", "MATE", "NORTH"}


def test_order_list_filters_by_status_dates_and_account_and_ignores_bad_input(world):
    s = world.staff
    draft = make_order(s.sales, world.mine, [(world.tea, "1")], confirm=False, order_date=dt.date(2026, 1, 5))
    client = as_user(s.sales)
    url = reverse("sales:order_list")

    html = client.get(url, {"status": "draft"}).content.decode()
    assert draft.number in html
    assert world.order.number not in html

    html = client.get(url, {"date_from": "2026-03-01", "date_to": "2026-03-31"}).content.decode()
    assert world.order.number in html
    assert draft.number not in html

    assert "No orders match" in client.get(url, {"q": "nothing-like-this"}).content.decode()
    assert "No orders match" in client.get(url, {"account": "MIN"}).content.decode()  # a code, exactly
    assert world.order.number in client.get(url, {"account": "MINE"}).content.decode()  # the account page's link
    assert world.order.number in client.get(url, {"q": "mine"}).content.decode()

    response = client.get(url, {"date_from": "2026-13-45", "status": "bogus", "after": "%%%not-a-cursor"})
    assert response.status_code == 200
    html = response.content.decode()
    assert world.order.number in html
    assert draft.number in html


def test_order_list_pages_with_a_cursor(world, settings):
    s = world.staff
    for day in range(1, 4):
        make_order(s.sales, world.mine, [(world.tea, "1")], order_date=dt.date(2026, 2, day))
    from patron.sales import views

    original = views.PAGE_SIZE
    views.PAGE_SIZE = 2
    try:
        client = as_user(s.sales)
        first = client.get(reverse("sales:order_list"), {"status": "confirmed"}).content.decode()
        next_url = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
        assert "status=confirmed" in next_url
        second = client.get(reverse("sales:order_list") + next_url).content.decode()
        numbers = lambda html: set(re.findall(r">(SO\d+)<", html))  # noqa: E731
        assert len(numbers(first)) == 2
        assert len(numbers(second)) == 2
        assert not numbers(first) & numbers(second)
    finally:
        views.PAGE_SIZE = original


def test_order_detail_shows_lines_discounts_and_totals(world):
    DiscountLimit.objects.create(role="salesperson", percent=Decimal(10), amount=Decimal(1000))
    s = world.staff
    order = sales.order_create(
        actor=s.sales,
        account=world.mine,
        lines=[sales.LineInput(product=world.tea, quantity="3", net_unit_price="90")],
        confirm=True,
    )
    html = as_user(s.sales).get(reverse("sales:order_detail", args=[order.number])).content.decode()
    assert "Green tea" in html
    assert "Manual discount" in html
    assert "Manual price: CNY 90.00 per unit" in html
    assert "CNY 30.00" in html
    assert "CNY 300.00" in html  # list total
    assert "CNY 270.00" in html  # net total
    assert reverse("accounts:detail", args=["MINE"]) in html


def test_order_detail_is_404_for_accounts_the_user_may_not_see(world):
    s = world.staff
    url = reverse("sales:order_detail", args=[world.order.number])
    assert as_user(s.sales2).get(url).status_code == 404
    assert as_user(s.sales3).get(url).status_code == 404
    assert as_user(s.manager2).get(url).status_code == 404
    assert as_user(s.manager).get(url).status_code == 200
    assert as_user(s.sales).get(reverse("sales:order_detail", args=["NO-SUCH"])).status_code == 404


def test_order_detail_offers_only_the_actions_the_user_may_take(world):
    s = world.staff
    draft = make_order(s.sales, world.mine, [(world.tea, "1")], confirm=False)
    draft_url = reverse("sales:order_detail", args=[draft.number])
    confirmed_url = reverse("sales:order_detail", args=[world.order.number])

    html = as_user(s.sales).get(draft_url).content.decode()
    assert 'data-testid="confirm-order"' in html
    assert 'data-testid="cancel-order"' in html
    assert 'data-testid="invoice-order"' not in html
    assert 'data-testid="return-order"' not in html

    html = as_user(s.sales).get(confirmed_url).content.decode()
    assert 'data-testid="return-order"' in html
    assert 'data-testid="confirm-order"' not in html
    assert 'data-testid="invoice-order"' not in html  # salespeople do not invoice

    html = as_user(s.finance).get(confirmed_url).content.decode()
    assert 'data-testid="invoice-order"' in html
    assert 'data-testid="return-order"' not in html
    assert 'data-testid="cancel-order"' not in html

    html = as_user(s.marketing).get(confirmed_url).content.decode()
    for action in ("confirm-order", "cancel-order", "return-order", "invoice-order"):
        assert f'data-testid="{action}"' not in html
    assert 'data-testid="order-invoices"' not in html  # no receivables for marketing


def test_new_order_page_preselects_the_account_and_offers_only_recordable_accounts(world):
    s = world.staff
    response = as_user(s.sales).get(reverse("sales:order_new"), {"account": "MINE"})
    assert response.status_code == 200
    html = response.content.decode()
    assert re.search(r'<option value="MINE" selected>', html)
    assert 'value="MATE"' not in html
    assert 'value="NORTH"' not in html
    assert html.count('data-testid="order-line"') == 3  # empty lines for use without JS
    assert 'value="TEA-1"' in html

    manager_html = as_user(s.manager).get(reverse("sales:order_new")).content.decode()
    assert 'value="MINE"' in manager_html
    assert 'value="MATE"' in manager_html
    assert 'value="NORTH"' not in manager_html


def test_new_order_page_refuses_users_who_may_not_record_orders(world):
    s = world.staff
    assert as_user(s.finance).get(reverse("sales:order_new")).status_code == 403
    assert as_user(s.marketing).get(reverse("sales:order_new")).status_code == 403
    assert as_user(s.sales).get(reverse("sales:order_new"), {"account": "NORTH"}).status_code == 404
    assert as_user(s.sales).get(reverse("sales:order_new"), {"account": "NOPE"}).status_code == 404


def test_anonymous_users_are_sent_to_sign_in(world):
    response = Client().get(reverse("sales:order_list"))
    assert response.status_code == 302
    assert reverse("login") in response["Location"]


def test_a_salesperson_saves_a_draft_and_a_confirmed_order(world):
    s = world.staff
    client = as_user(s.sales)
    before = Order.objects.count()
    response = client.post(
        reverse("sales:order_new"),
        order_post("MINE", [("TEA-1", "2", ""), ("", "", ""), ("CUP-1", "1.5", "20")], action="draft"),
    )
    assert response.status_code == 302
    order = Order.objects.exclude(pk=world.order.pk).latest("id")
    assert response["Location"] == reverse("sales:order_detail", args=[order.number])
    assert order.status == Order.DRAFT
    assert [(li.product.sku, li.quantity, li.net_unit_price) for li in order.lines.all()] == [
        ("TEA-1", Decimal("2"), Decimal("100")),
        ("CUP-1", Decimal("1.5"), Decimal("20")),
    ]
    assert order.net_total == Decimal("230.00")

    response = client.post(reverse("sales:order_new"), order_post("MINE", [("CUP-1", "1", "")], action="confirm"))
    assert response.status_code == 302
    assert Order.objects.count() == before + 2
    assert Order.objects.latest("id").status == Order.CONFIRMED
    page = client.get(response["Location"]).content.decode()
    assert "confirmed" in page.lower()


def test_bad_lines_show_errors_on_their_own_line_and_write_nothing(world):
    s = world.staff
    client = as_user(s.sales)
    before = (Order.objects.count(), AuditEvent.objects.count())
    response = client.post(
        reverse("sales:order_new"),
        order_post(
            "MINE",
            [
                ("TEA-1", "1", ""),  # fine
                ("", "", ""),  # skipped
                ("TEA-1", "0", ""),  # zero quantity
                ("GHOST", "1", ""),  # unknown product
                ("CUP-1", "1.23456", ""),  # too many decimals
                ("CUP-1", "2", "9.123456"),  # price with too many decimals
                ("CUP-1", "-3", ""),  # negative
            ],
            action="confirm",
        ),
    )
    assert response.status_code == 200
    assert (Order.objects.count(), AuditEvent.objects.count()) == before
    lines = line_chunks(response.content.decode())
    assert "field-error" not in lines[0]
    assert "field-error" not in lines[1]
    assert "Must be greater than zero." in lines[2]
    assert "Unknown product." in lines[3]
    assert '<option value="GHOST" selected>' in lines[3]
    assert "At most 3 decimal places." in lines[4]
    assert "At most 4 decimal places." in lines[5]
    assert "Must be greater than zero." in lines[6]
    # What the user typed is still there.
    assert 'value="1.23456"' in lines[4]


def test_half_filled_lines_and_garbage_numbers_are_field_errors(world):
    s = world.staff
    client = as_user(s.sales)
    before = Order.objects.count()
    response = client.post(
        reverse("sales:order_new"),
        order_post(
            "MINE",
            [("TEA-1", "", ""), ("", "3", ""), ("TEA-1", "abc", ""), ("TEA-1", "1e30", ""), ("TEA-1", "NaN", "")],
        ),
    )
    assert response.status_code == 200
    assert Order.objects.count() == before
    lines = line_chunks(response.content.decode())
    assert "Enter a quantity." in lines[0]
    assert "Choose a product." in lines[1]
    assert "field-error" in lines[2]
    assert "field-error" in lines[3]
    assert "field-error" in lines[4]


def test_huge_quantities_are_refused_without_a_server_error(world):
    s = world.staff
    client = as_user(s.sales)
    before = Order.objects.count()
    for quantity in ("99999999999999", "123456789012.5", "1" + "0" * 13):
        response = client.post(reverse("sales:order_new"), order_post("MINE", [("TEA-1", quantity, "")]))
        assert response.status_code == 200, quantity
        assert "field-error" in line_chunks(response.content.decode())[0]
    assert Order.objects.count() == before


def test_an_order_without_lines_or_with_a_foreign_account_is_refused(world):
    s = world.staff
    client = as_user(s.sales)
    before = Order.objects.count()
    html = client.post(reverse("sales:order_new"), order_post("MINE", [("", "", "")])).content.decode()
    assert "An order needs at least one line." in html
    html = client.post(reverse("sales:order_new"), order_post("NORTH", [("TEA-1", "1", "")])).content.decode()
    assert "Select a valid choice" in html
    response = client.post(reverse("sales:order_new"), order_post("MINE", [("TEA-1", "1", "")], order_date="x"))
    assert response.status_code == 200
    assert "Enter a valid date." in response.content.decode()
    far = (timezone.localdate() + dt.timedelta(days=800)).isoformat()
    html = client.post(reverse("sales:order_new"), order_post("MINE", [("TEA-1", "1", "")], order_date=far)).content
    assert "more than a year ahead" in html.decode()
    response = client.post(reverse("sales:order_new"), {"account": "MINE"})  # no management form at all
    assert response.status_code == 200
    assert Order.objects.count() == before


def test_a_product_in_another_currency_is_an_error_on_its_line(world):
    s = world.staff
    make_product("USD-1", price="10.00", currency="USD")
    response = as_user(s.sales).post(reverse("sales:order_new"), order_post("MINE", [("USD-1", "1", "")]))
    assert "priced in USD" in line_chunks(response.content.decode())[0]


def test_add_line_with_htmx_returns_one_line_and_the_new_count(world):
    client = as_user(world.staff.sales)
    response = client.get(reverse("sales:order_line"), {"lines-TOTAL_FORMS": "3"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="lines-3-product"' in html
    assert 'name="lines-3-quantity"' in html
    assert re.search(r'name="lines-TOTAL_FORMS" value="4" id="id_lines-TOTAL_FORMS" hx-swap-oob="true"', html)
    assert client.get(reverse("sales:order_line"), {"lines-TOTAL_FORMS": "x"}).status_code == 400
    assert client.get(reverse("sales:order_line"), {"lines-TOTAL_FORMS": "100"}).status_code == 204
    assert as_user(world.staff.finance).get(reverse("sales:order_line"), {"lines-TOTAL_FORMS": "1"}).status_code == 403


def test_add_line_without_javascript_keeps_what_was_typed_and_saves_nothing(world):
    client = as_user(world.staff.sales)
    before = Order.objects.count()
    data = order_post("MINE", [("TEA-1", "2", ""), ("CUP-1", "", "")], add_line="1", note="call first")
    response = client.post(reverse("sales:order_new"), data)
    assert response.status_code == 200
    html = response.content.decode()
    assert Order.objects.count() == before
    assert html.count('data-testid="order-line"') == 3
    assert "field-error" not in html
    assert "call first" in html
    lines = line_chunks(html)
    assert '<option value="TEA-1" selected>' in lines[0]
    assert 'value="2"' in lines[0]
    assert '<option value="CUP-1" selected>' in lines[1]


def test_confirm_and_cancel(world):
    s = world.staff
    draft = make_order(s.sales, world.mine, [(world.tea, "1")], confirm=False)
    client = as_user(s.sales)
    assert client.get(reverse("sales:order_confirm", args=[draft.number])).status_code == 405
    assert as_user(s.finance).post(reverse("sales:order_confirm", args=[draft.number])).status_code == 403
    assert as_user(s.sales3).post(reverse("sales:order_confirm", args=[draft.number])).status_code == 404
    draft.refresh_from_db()
    assert draft.status == Order.DRAFT

    response = client.post(reverse("sales:order_confirm", args=[draft.number]), follow=True)
    draft.refresh_from_db()
    assert draft.status == Order.CONFIRMED
    assert f"Order {draft.number} confirmed." in response.content.decode()

    response = client.post(reverse("sales:order_cancel", args=[draft.number]), {"reason": "duplicate"}, follow=True)
    draft.refresh_from_db()
    assert draft.status == Order.CANCELLED
    # Confirming a cancelled order is a conflict, shown as a message.
    response = client.post(reverse("sales:order_confirm", args=[draft.number]), follow=True)
    assert response.status_code == 200
    assert "A cancelled order cannot be confirmed." in response.content.decode()


def test_cancelling_an_invoiced_order_is_refused_with_a_message(world):
    s = world.staff
    make_invoice(s.finance, world.order)
    response = as_user(s.sales).post(reverse("sales:order_cancel", args=[world.order.number]), follow=True)
    assert "This order has been invoiced" in response.content.decode()
    world.order.refresh_from_db()
    assert world.order.status == Order.CONFIRMED


# --- returns ------------------------------------------------------------------


def test_return_form_shows_ordered_and_returned_and_records_a_return(world):
    s = world.staff
    tea_line = world.order.lines.get(product=world.tea)
    sales.return_create(actor=s.sales, order=world.order, lines=[sales.ReturnLineInput(tea_line, "1")])
    client = as_user(s.sales)
    url = reverse("sales:return_new") + f"?order={world.order.number}"
    html = client.get(url).content.decode()
    assert html.count('data-testid="return-line"') == 2
    assert "at most 1" in html
    assert "at most 4" in html

    cup_line = world.order.lines.get(product=world.cup)
    response = client.post(url, {"return_date": timezone.localdate().isoformat(), f"line_{cup_line.pk}": "2"})
    assert response.status_code == 302
    assert Return.objects.filter(order=world.order).count() == 2
    html = client.get(reverse("sales:order_detail", args=[world.order.number])).content.decode()
    assert 'data-testid="order-returns"' in html


def test_returning_too_much_is_an_error_on_that_line_and_writes_nothing(world):
    s = world.staff
    client = as_user(s.sales)
    tea_line = world.order.lines.get(product=world.tea)
    cup_line = world.order.lines.get(product=world.cup)
    url = reverse("sales:return_new") + f"?order={world.order.number}"
    today = timezone.localdate().isoformat()
    response = client.post(url, {"return_date": today, f"line_{tea_line.pk}": "3", f"line_{cup_line.pk}": "1.0001"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "At most 2 can still be returned." in html
    assert "At most 3 decimal places." in html
    assert not Return.objects.exists()
    html = client.post(url, {"return_date": today}).content.decode()
    assert "A return needs at least one line." in html
    html = client.post(url, {"return_date": "2020-01-01", f"line_{tea_line.pk}": "1"}).content.decode()
    assert "cannot be dated before its order" in html
    assert not Return.objects.exists()


def test_return_page_access(world):
    s = world.staff
    url = reverse("sales:return_new") + f"?order={world.order.number}"
    assert as_user(s.sales3).get(url).status_code == 404
    assert as_user(s.finance).get(url).status_code == 403
    assert as_user(s.sales).get(reverse("sales:return_new")).status_code == 404
    draft = make_order(s.sales, world.mine, [(world.tea, "1")], confirm=False)
    response = as_user(s.sales).get(reverse("sales:return_new") + f"?order={draft.number}")
    assert response.status_code == 302


# --- invoices -----------------------------------------------------------------


def test_invoice_from_an_order_defaults_to_what_is_left(world):
    s = world.staff
    client = as_user(s.finance)
    url = reverse("sales:invoice_new") + f"?order={world.order.number}"
    html = client.get(url).content.decode()
    assert 'value="302.00"' in html  # 2 x 100 + 4 x 25.50
    response = client.post(url, {"amount": "100", "issue_date": "2026-03-05", "due_date": ""})
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.amount, invoice.due_date) == (Decimal("100"), dt.date(2026, 4, 4))
    html = client.get(url).content.decode()
    assert 'value="202.00"' in html
    response = client.post(url, {"amount": "", "issue_date": "2026-03-05"})
    assert response.status_code == 302
    assert sorted(Invoice.objects.values_list("amount", flat=True)) == [Decimal("100"), Decimal("202")]
    # Fully invoiced: the order page no longer offers an invoice.
    html = client.get(reverse("sales:order_detail", args=[world.order.number])).content.decode()
    assert 'data-testid="invoice-order"' not in html


def test_bad_invoices_are_field_errors_and_write_nothing(world):
    s = world.staff
    client = as_user(s.finance)
    url = reverse("sales:invoice_new") + f"?order={world.order.number}"
    cases = [
        ({"amount": "302.01", "issue_date": "2026-03-05"}, "left to invoice"),
        ({"amount": "1.001", "issue_date": "2026-03-05"}, "At most 2 decimal places."),
        ({"amount": "-5", "issue_date": "2026-03-05"}, "Must be greater than zero."),
        ({"amount": "10", "issue_date": "2026-03-05", "due_date": "2026-03-01"}, "before the issue date"),
        ({"amount": "10", "issue_date": "yesterday"}, "Enter a valid date."),
    ]
    for data, message in cases:
        response = client.post(url, data)
        assert response.status_code == 200, data
        assert message in response.content.decode(), data
    assert not Invoice.objects.exists()


def test_a_free_invoice_for_an_account(world):
    s = world.staff
    client = as_user(s.finance)
    url = reverse("sales:invoice_new") + "?account=NORTH"
    html = client.get(url).content.decode()
    assert '<option value="NORTH" selected>' in html
    response = client.post(url, {"account": "NORTH", "currency": "JPY", "amount": "1500.5", "issue_date": "2026-03-05"})
    assert "At most 0 decimal places." in response.content.decode()
    response = client.post(url, {"account": "NORTH", "currency": "JPY", "amount": "1500", "issue_date": "2026-03-05"})
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.account, invoice.currency, invoice.order) == (world.north, "JPY", None)


def test_invoice_pages_are_for_finance_and_admin(world):
    s = world.staff
    url = reverse("sales:invoice_new") + f"?order={world.order.number}"
    for user in (s.sales, s.manager, s.marketing):
        assert as_user(user).get(url).status_code == 403
        assert as_user(user).post(url, {"amount": "1", "issue_date": "2026-03-05"}).status_code == 403
    assert as_user(s.admin).get(url).status_code == 200
    assert not Invoice.objects.exists()


def test_invoice_list_and_detail_are_scoped(world):
    s = world.staff
    mine = make_invoice(s.finance, world.order)
    north_order = make_order(s.sales3, world.north, [(world.tea, "1")])
    north = make_invoice(s.finance, north_order)
    url = reverse("sales:invoice_list")
    html = as_user(s.sales).get(url).content.decode()
    assert mine.number in html
    assert north.number not in html
    html = as_user(s.finance).get(url).content.decode()
    assert mine.number in html
    assert north.number in html
    assert as_user(s.marketing).get(url).status_code == 403
    html = as_user(s.finance).get(url, {"status": "overdue", "q": "NORTH"}).content.decode()
    assert "No invoices match" in html

    detail = reverse("sales:invoice_detail", args=[north.number])
    assert as_user(s.sales).get(detail).status_code == 404
    assert as_user(s.marketing).get(detail).status_code == 403  # sees the account, not its receivables
    html = as_user(s.sales3).get(detail).content.decode()
    assert "CNY 100.00" in html
    assert 'data-testid="record-payment"' in html


# --- payments -----------------------------------------------------------------


def test_a_salesperson_records_a_partial_payment_on_their_account(world):
    s = world.staff
    invoice = make_invoice(s.finance, world.order)
    client = as_user(s.sales)
    url = reverse("sales:payment_new")
    html = client.get(url, {"account": "MINE"}).content.decode()
    assert 'data-testid="owed-CNY"' in html
    assert "CNY 302.00" in html
    assert f'name="alloc_{invoice.pk}"' in html
    response = client.post(
        url,
        {
            "account": "MINE",
            "amount": "120.00",
            "currency": "CNY",
            "received_on": timezone.localdate().isoformat(),
            "method": "wechat_pay",
            "reference": "WX-1",
        },
    )
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert response["Location"] == reverse("sales:payment_detail", args=[payment.number])
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("120.00")
    assert invoice.status == Invoice.OPEN
    html = client.get(reverse("sales:invoice_detail", args=[invoice.number])).content.decode()
    assert "CNY 182.00" in html
    assert payment.number in html


def test_payment_allocations_go_to_the_invoices_chosen(world):
    s = world.staff
    first = make_invoice(s.finance, world.order, amount="100")
    second = make_invoice(s.finance, world.order)
    client = as_user(s.finance)
    today = timezone.localdate().isoformat()
    base = {"account": "MINE", "currency": "CNY", "received_on": today, "method": "bank_transfer"}

    response = client.post(
        reverse("sales:payment_new"), {**base, "amount": "50", f"alloc_{second.pk}": "50", f"alloc_{first.pk}": ""}
    )
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.paid_amount, second.paid_amount) == (Decimal("0"), Decimal("50"))


def test_bad_payments_are_field_errors_and_write_nothing(world):
    s = world.staff
    invoice = make_invoice(s.finance, world.order)
    client = as_user(s.sales)
    today = timezone.localdate().isoformat()
    base = {"account": "MINE", "currency": "CNY", "received_on": today, "method": "cash"}
    url = reverse("sales:payment_new")
    cases = [
        ({"amount": "302.01"}, "amount", "larger than what the account owes"),
        ({"amount": "10.001"}, "amount", "At most 2 decimal places."),
        ({"amount": "0"}, "amount", "Must be greater than zero."),
        ({"amount": "abc"}, "amount", "Enter a number."),
        ({"amount": "10", f"alloc_{invoice.pk}": "400"}, f"alloc_{invoice.pk}", "outstanding"),
        ({"amount": "10", f"alloc_{invoice.pk}": "5"}, None, "The allocations add up to"),
        ({"amount": "10", "received_on": "2999-01-01"}, "received_on", "cannot be received in the future"),
        ({"amount": "10", "currency": "USD"}, "amount", "owes"),
        ({"amount": "10", "method": "barter"}, "method", "Select a valid choice"),
    ]
    for extra, field, message in cases:
        response = client.post(url, {**base, **extra})
        assert response.status_code == 200, extra
        html = response.content.decode()
        assert message in html, extra
        if field:
            chunk = html.split(f'data-field="{field}"')[1].split('data-field="')[0]
            assert message in chunk, (extra, field)
    assert not Payment.objects.exists()
    invoice.refresh_from_db()
    assert invoice.paid_amount == 0


def test_payment_pages_access(world):
    s = world.staff
    url = reverse("sales:payment_new")
    assert as_user(s.marketing).get(url).status_code == 403
    assert as_user(s.sales).get(url, {"account": "NORTH"}).status_code == 404
    assert as_user(s.manager).get(url, {"account": "MATE"}).status_code == 200
    assert as_user(s.finance).get(url, {"account": "NORTH"}).status_code == 200
    # Posting to an account one may not pay into is an invalid choice, not a payment.
    today = timezone.localdate().isoformat()
    response = as_user(s.sales).post(
        url, {"account": "NORTH", "amount": "1", "currency": "CNY", "received_on": today, "method": "cash"}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Payment.objects.exists()


def test_choosing_an_account_with_htmx_shows_what_it_owes(world):
    s = world.staff
    make_invoice(s.finance, world.order)
    response = as_user(s.sales).get(reverse("sales:payment_new"), {"account": "MINE"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert html.startswith('<section id="receivables"')
    assert "CNY 302.00" in html
    assert 'hx-swap-oob="true"' in html
    assert "<html" not in html


def test_payment_list_and_detail_are_scoped(world):
    s = world.staff
    make_invoice(s.finance, world.order)
    payment = sales.payment_record(actor=s.sales, account=world.mine, amount="10")
    url = reverse("sales:payment_list")
    assert payment.number in as_user(s.sales).get(url).content.decode()
    assert payment.number in as_user(s.manager).get(url).content.decode()
    assert payment.number not in as_user(s.sales2).get(url).content.decode()
    assert as_user(s.marketing).get(url).status_code == 403
    detail = reverse("sales:payment_detail", args=[payment.number])
    assert as_user(s.sales2).get(detail).status_code == 404
    assert as_user(s.marketing).get(detail).status_code == 403
    html = as_user(s.finance).get(detail).content.decode()
    assert "CNY 10.00" in html
    assert 'data-testid="payment-allocations"' in html


# --- products -----------------------------------------------------------------


def test_product_list_search_and_category_filter(world):
    s = world.staff
    cups = Category.objects.create(code="CUPS", name_zh="杯", name_en="Cups")
    make_product("MUG-1", name="Big mug", category=cups)
    make_product("OLD-1", name="Old tea", active=False)
    client = as_user(s.marketing)
    url = reverse("sales:product_list")
    html = client.get(url).content.decode()
    assert "TEA-1" in html
    assert "MUG-1" in html
    assert "OLD-1" not in html
    assert 'data-testid="new-product"' not in html
    html = client.get(url, {"q": "mug"}).content.decode()
    assert "MUG-1" in html
    assert "TEA-1" not in html
    html = client.get(url, {"category": "CUPS"}).content.decode()
    assert "MUG-1" in html
    assert "TEA-1" not in html
    assert "OLD-1" in client.get(url, {"inactive": "on"}).content.decode()
    assert client.get(url, {"category": "NOPE"}).status_code == 200


def test_product_create_and_edit_are_for_managers_and_admins(world):
    s = world.staff
    for user in (s.sales, s.finance, s.marketing):
        assert as_user(user).get(reverse("sales:product_new")).status_code == 403
        assert as_user(user).get(reverse("sales:product_edit", args=["TEA-1"])).status_code == 403
    assert as_user(s.manager).get(reverse("sales:product_edit", args=["NOPE"])).status_code == 404

    client = as_user(s.manager)
    data = {"sku": "NEW-1", "name": "New tea", "unit": "kg", "currency": "CNY", "list_price": "12.3456", "active": "on"}
    assert client.post(reverse("sales:product_new"), data).status_code == 302
    product = Product.objects.get(sku="NEW-1")
    assert (product.list_price, product.unit_cost, product.active) == (Decimal("12.3456"), Decimal("0"), True)


def test_bad_product_input_is_a_field_error(world):
    client = as_user(world.staff.manager)
    base = {"sku": "NEW-2", "name": "x", "unit": "pcs", "currency": "CNY", "list_price": "1"}
    cases = [
        ({"list_price": "1.23456"}, "At most 4 decimal places."),
        ({"list_price": "-1"}, "Must not be negative."),
        ({"sku": "有 空格"}, "Must not contain spaces."),
        ({"sku": "TEA-1"}, "already exists"),
        ({"unit_cost": "x"}, "Enter a number."),
    ]
    for extra, message in cases:
        response = client.post(reverse("sales:product_new"), {**base, **extra})
        assert response.status_code == 200, extra
        assert message in response.content.decode(), extra
    assert not Product.objects.filter(sku="NEW-2").exists()


def test_a_price_change_is_audited_and_an_untouched_price_is_not(world):
    client = as_user(world.staff.admin)
    url = reverse("sales:product_edit", args=["TEA-1"])
    html = client.get(url).content.decode()
    assert 'value="100.00"' in html
    data = {"sku": "TEA-1", "name": "Green tea", "unit": "pcs", "currency": "CNY", "list_price": "100.00"}
    data |= {"unit_cost": "60.00", "category": str(world.tea.category_id), "active": "on"}
    assert client.post(url, data).status_code == 302
    assert not AuditEvent.objects.filter(action="PRODUCT_PRICE_CHANGED").exists()
    assert client.post(url, {**data, "list_price": "110"}).status_code == 302
    event = AuditEvent.objects.get(action="PRODUCT_PRICE_CHANGED")
    assert Decimal(event.changes["list_price"][1]) == Decimal("110")
    world.tea.refresh_from_db()
    assert world.tea.list_price == Decimal("110")
    assert "110" in client.get(url).content.decode()


def test_with_many_accounts_and_products_the_user_types_codes(world, monkeypatch):
    from patron.sales import forms, views

    monkeypatch.setattr(forms, "CHOICE_LIMIT", 1)
    monkeypatch.setattr(views, "CHOICE_LIMIT", 1)
    client = as_user(world.staff.manager)  # two accounts, two products: "many"
    html = client.get(reverse("sales:order_new"), {"account": "MATE"}).content.decode()
    assert re.search(r'<input type="text" name="account" value="MATE"', html)
    assert 'list="product-options"' in html
    assert '<datalist id="product-options">' in html
    assert 'name="lines-0-product"' in html
    response = client.post(reverse("sales:order_new"), order_post("MATE", [("CUP-1", "2", "")]))
    assert response.status_code == 302
    assert Order.objects.filter(account=world.teammate).count() == 1
    html = client.post(reverse("sales:order_new"), order_post("NORTH", [("NOPE", "2", "")])).content.decode()
    assert "Select a valid choice" in html
    html = as_user(world.staff.finance).get(reverse("sales:payment_new"), {"account": "NORTH"}).content.decode()
    assert re.search(r'<input type="text" name="account" value="NORTH"[^>]*hx-get=', html)


def test_every_page_renders_for_a_user_reading_chinese(world):
    s = world.staff
    User.objects.filter(pk=s.admin.pk).update(language="zh-hans")
    invoice = make_invoice(s.finance, world.order)
    payment = sales.payment_record(actor=s.finance, account=world.mine, amount="1")
    client = as_user(s.admin)
    urls = [
        reverse("sales:order_list"),
        reverse("sales:order_new") + "?account=MINE",
        reverse("sales:order_detail", args=[world.order.number]),
        reverse("sales:return_new") + f"?order={world.order.number}",
        reverse("sales:invoice_list"),
        reverse("sales:invoice_new") + "?account=MINE",
        reverse("sales:invoice_detail", args=[invoice.number]),
        reverse("sales:payment_list"),
        reverse("sales:payment_new") + "?account=MINE",
        reverse("sales:payment_detail", args=[payment.number]),
        reverse("sales:product_list"),
        reverse("sales:product_new"),
        reverse("sales:product_edit", args=["TEA-1"]),
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Content-Language"] == "zh-hans"


def test_lists_and_order_page_cost_a_fixed_number_of_queries(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    s = world.staff
    client = as_user(s.admin)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    def grow() -> Order:
        order = make_order(s.sales, world.mine, [(world.tea, "3"), (world.cup, "2")])
        make_invoice(s.finance, order, amount="10")
        sales.return_create(actor=s.sales, order=order, lines=[sales.ReturnLineInput(order.lines.first(), "1")])
        return order

    first = grow()
    sales.payment_record(actor=s.finance, account=world.mine, amount="5")
    lists = [reverse(name) for name in ("sales:order_list", "sales:invoice_list", "sales:payment_list")]
    lists.append(reverse("sales:product_list"))
    small = [count(url) for url in lists]
    small_detail = count(reverse("sales:order_detail", args=[first.number]))
    for _ in range(4):
        grow()
        sales.payment_record(actor=s.finance, account=world.mine, amount="5")
        make_product()
    sales.return_create(actor=s.sales, order=first, lines=[sales.ReturnLineInput(first.lines.last(), "1")])
    assert [count(url) for url in lists] == small
    assert count(reverse("sales:order_detail", args=[first.number])) == small_detail
