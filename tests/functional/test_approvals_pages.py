"""The approval pages through Django's test client: the tabs, one request with its terms, account and log,
the decision forms (and who sees them), refusals, and the navigation's count of what waits."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from patron.approvals import registry
from patron.approvals.models import ApprovalRequest
from patron.approvals.services import approval_approve, approval_reject, approval_submit
from patron.sales.models import Order
from patron.staff.models import User
from tests.api_client import as_user
from tests.factories import make_account, make_order, make_product

TERMS = {
    "lines": [
        {"sku": "TEA-1", "name": "龙井", "quantity": 10, "list_price": Decimal("100"), "unit_price": Decimal("70.00")},
        {"sku": "CUP-2", "name": "Cup", "quantity": 2, "list_price": Decimal("25.00"), "unit_price": Decimal("25.00")},
    ],
    "discount_percent": Decimal("28.00"),
    "margin": {"amount": "120.00", "currency": "CNY"},
    "floor_breached": True,
}


@pytest.fixture(autouse=True)
def english(staff: Any) -> None:
    User.objects.update(language="en")


def submit(actor: Any, account: Any, subject_id: int = 1, level: str = "manager", **kw: Any) -> ApprovalRequest:
    return approval_submit(
        actor=actor,
        subject_type="order_discount",
        subject_id=subject_id,
        account=account,
        required_level=level,
        reason=kw.get("reason", "Competitor at 28%; first order."),
        terms=kw.get("terms", TERMS),
    )


@pytest.fixture
def shop(staff: Any) -> Any:
    account = make_account(staff.sales, code="SHOP-1", name="Tea House")
    product = make_product(price="100.00")
    for days in (10, 40, 500):
        make_order(staff.sales, account, [(product, "3")], order_date=timezone.localdate() - dt.timedelta(days=days))
    return account


@pytest.fixture
def pending(staff: Any, shop: Any) -> ApprovalRequest:
    return submit(staff.sales, shop)


def html(response: Any) -> str:
    return response.content.decode()


def rows(body: str) -> list[str]:
    return re.findall(r'data-testid="approval-row" data-id="(\d+)"', body)


def nav(body: str) -> str:
    return body.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]


def test_a_manager_sees_what_waits_in_the_first_tab(staff, pending):
    body = html(as_user(staff.manager).get(reverse("approvals:list")))
    assert rows(body) == [str(pending.pk)]
    assert 'data-testid="tab-decide" aria-current="page"' in body
    assert "Tea House" in body
    # The sales app describes its orders: order 1 by its number, or as deleted where it does not exist.
    order = Order.objects.filter(pk=1).first()
    assert (f"Order {order.number}" if order else "Order #1 (deleted)") in body


def test_the_tabs(staff, pending, shop):
    mine = submit(staff.manager, shop, subject_id=2)
    decided = submit(staff.sales, shop, subject_id=3)
    approval_reject(actor=staff.manager, request=decided, comment="no")
    manager = as_user(staff.manager)
    assert rows(html(manager.get(reverse("approvals:list") + "?tab=mine"))) == [str(mine.pk)]
    assert rows(html(manager.get(reverse("approvals:list") + "?tab=decided"))) == [str(decided.pk)]
    assert rows(html(manager.get(reverse("approvals:list") + "?tab=nonsense"))) == [str(pending.pk)]
    # a salesperson has no "to decide" tab and starts on their own requests
    body = html(as_user(staff.sales).get(reverse("approvals:list")))
    assert 'data-testid="tab-decide"' not in body
    assert rows(body) == [str(decided.pk), str(pending.pk)]
    body = html(as_user(staff.sales).get(reverse("approvals:list") + "?tab=decide"))
    assert 'data-testid="tab-mine" aria-current="page"' in body
    assert rows(html(as_user(staff.sales3).get(reverse("approvals:list")))) == []


def test_the_detail_shows_terms_account_figures_reason_and_log(staff, pending):
    body = html(as_user(staff.manager).get(reverse("approvals:detail", args=[pending.pk])))
    terms = body.split('data-testid="terms-lines"', 1)[1].split("</table>", 1)[0]
    assert re.findall(r"<th scope=\"col\"[^>]*>([^<]*)</th>", terms) == [
        "SKU",
        "Name",
        "Quantity",
        "List price",
        "Net price",  # the sales app's word for an order line's unit_price
    ]
    assert "龙井" in terms
    assert '<td class="num">70.00</td>' in terms
    assert '<th scope="col" class="num">Net price</th>' in terms
    assert '<th scope="col">SKU</th>' in terms
    values = body.split('data-testid="terms-values"', 1)[1].split("</dl>", 1)[0]
    assert "<dt>Discount (%)</dt><dd>28.00</dd>" in values
    assert "<dt>Margin</dt><dd>CNY 120.00</dd>" in values
    assert "<dt>Floor breached</dt><dd>Yes</dd>" in values
    assert "Competitor at 28%; first order." in body
    assert reverse("accounts:detail", args=["SHOP-1"]) in body
    assert re.search(r'data-testid="recent-orders">2<', body)  # two orders in the last year, not the old one
    assert re.search(r'data-testid="recent-sales">CNY 600.00<', body)
    assert 'data-testid="approve"' in body
    assert 'data-testid="reject"' in body
    assert 'data-action="submit"' in body


def test_the_submitter_sees_no_decision_but_may_withdraw(staff, pending):
    client = as_user(staff.sales)
    body = html(client.get(reverse("approvals:detail", args=[pending.pk])))
    assert 'data-testid="approve"' not in body
    assert 'data-testid="reject"' not in body
    assert "You cannot decide your own request." in body
    assert 'data-testid="withdraw"' in body
    response = client.post(reverse("approvals:withdraw", args=[pending.pk]))
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == "withdrawn"


def test_a_salesperson_sees_no_approve_button_and_a_forced_post_is_refused(staff, shop):
    request = submit(staff.manager, shop, subject_id=2)  # about the salesperson's account
    client = as_user(staff.sales)
    body = html(client.get(reverse("approvals:detail", args=[request.pk])))
    assert 'data-testid="approve"' not in body
    assert 'data-testid="withdraw"' not in body
    response = client.post(reverse("approvals:approve", args=[request.pk]), {"comment": "sure"})
    assert response.status_code == 403
    assert "Only a sales manager, finance or an admin may approve or reject requests" in html(response)
    request.refresh_from_db()
    assert request.status == "pending"


def test_a_manager_approves_with_a_comment(staff, pending):
    client = as_user(staff.manager)
    response = client.post(reverse("approvals:approve", args=[pending.pk]), {"comment": "This order only."})
    assert response.status_code == 302
    assert response["Location"] == reverse("approvals:detail", args=[pending.pk])
    body = html(client.get(response["Location"]))
    assert "Request approved." in body
    assert 'data-testid="status">Approved<' in body
    assert "This order only." in body
    assert 'data-testid="approve"' not in body
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == ("approved", staff.manager)


def test_a_reject_without_a_comment_shows_the_error_on_the_form(staff, pending):
    client = as_user(staff.manager)
    response = client.post(reverse("approvals:reject", args=[pending.pk]), {"comment": "  "})
    assert response.status_code == 422
    assert re.search(r'data-testid="reject-error">Say why the request is rejected.<', html(response))
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_a_late_decision_is_told_who_was_first(staff, pending):
    approval_approve(actor=staff.manager, request=pending, comment="")
    client = as_user(staff.admin)
    response = client.post(reverse("approvals:reject", args=[pending.pk]), {"comment": "no"}, follow=True)
    assert "This request was already approved by manager at " in html(response)
    pending.refresh_from_db()
    assert pending.status == "approved"


def test_other_peoples_requests_are_404(staff, pending):
    for who in ("sales2", "sales3", "manager2", "finance", "marketing"):
        client = as_user(getattr(staff, who))
        assert client.get(reverse("approvals:detail", args=[pending.pk])).status_code == 404, who
        assert client.post(reverse("approvals:approve", args=[pending.pk])).status_code == 404, who


def test_a_registered_subject_links_to_its_page(staff, pending):
    with registry.replaced(
        "order_discount",
        label="Order discount",
        describe=lambda r: registry.Subject("Order SO-0001", "/sales/orders/SO-0001/", "2 lines, 28% off"),
        term_labels={"floor_breached": "Below the floor price"},
    ):
        body = html(as_user(staff.manager).get(reverse("approvals:detail", args=[pending.pk])))
        listing = html(as_user(staff.manager).get(reverse("approvals:list")))
    assert '<a href="/sales/orders/SO-0001/">Order SO-0001</a>' in body
    assert "2 lines, 28% off" in body
    assert "<dt>Below the floor price</dt><dd>Yes</dd>" in body
    assert "Order SO-0001" in listing


def test_the_navigation_counts_what_waits_for_the_reader(staff, pending, shop):
    submit(staff.sales, shop, subject_id=2, level="admin")
    assert re.search(r'data-testid="approvals-waiting"[^>]*>1<', nav(html(as_user(staff.manager).get("/"))))
    assert re.search(r'data-testid="approvals-waiting"[^>]*>2<', nav(html(as_user(staff.admin).get("/"))))
    sales_nav = nav(html(as_user(staff.sales).get("/")))
    assert reverse("approvals:list") in sales_nav
    assert "approvals-waiting" not in sales_nav
    assert reverse("approvals:list") not in nav(html(as_user(staff.marketing).get("/")))
    finance_nav = nav(html(as_user(staff.finance).get("/")))  # finance decides credit overrides, none waits
    assert reverse("approvals:list") in finance_nav
    assert "approvals-waiting" not in finance_nav
    approval_approve(actor=staff.manager, request=pending, comment="")
    assert "approvals-waiting" not in nav(html(as_user(staff.manager).get("/")))


def test_the_pages_read_in_chinese(staff, pending):
    body = html(as_user(staff.manager, "zh-hans").get(reverse("approvals:detail", args=[pending.pk])))
    assert '<html lang="zh-hans">' in body
    assert "销售经理" in body  # "Needs: Sales manager"


def test_the_list_costs_a_fixed_number_of_queries(staff, shop, django_assert_max_num_queries):
    for n in range(1, 4):
        submit(staff.sales, shop, subject_id=n)
    client = as_user(staff.manager)
    client.get(reverse("approvals:list"))
    with django_assert_max_num_queries(10) as few:
        client.get(reverse("approvals:list"))
    for n in range(4, 20):
        submit(staff.sales, shop, subject_id=n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse("approvals:list")).status_code == 200
    with django_assert_max_num_queries(16):
        assert client.get(reverse("approvals:detail", args=[ApprovalRequest.objects.first().pk])).status_code == 200
