"""Orders priced by the discount rules; manual prices beyond a salesperson's limit wait for approval,
approval covers exactly the terms approved, and each confirmed discount is recorded for analysis."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from patron.approvals.models import ApprovalRequest
from patron.approvals.services import ApprovalRefused, approval_approve
from patron.core.errors import Conflict
from patron.discounts import mappers
from patron.discounts import services as discounts
from patron.discounts.models import AppliedDiscount, DiscountLimit, Policy
from patron.sales import services as sales
from patron.sales.models import Order
from tests.api_client import ApiClient
from tests.factories import make_account, make_product


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture
def shop(staff: Any) -> Any:
    DiscountLimit.objects.create(role="salesperson", percent=Decimal(5), amount=Decimal(1000))
    DiscountLimit.objects.create(role="sales_manager", percent=Decimal(15), amount=Decimal(10000))

    class Shop:
        account = make_account(staff.sales)
        tea = make_product("TEA-1", price="100.00", cost="50.00")

    return Shop


def winter_policy(staff: Any, percent: str = "10") -> Policy:
    policy = discounts.policy_create(actor=staff.manager, data={"name": "Winter"})
    discounts.rule_create(
        actor=staff.manager,
        policy=policy,
        data={"name": "Winter tea", "benefit": {"kind": "percent_off", "percent": percent}},
    )
    return discounts.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)


def order(staff: Any, shop: Any, price: str | None = None, qty: str = "2", confirm: bool = True) -> Order:
    return sales.order_create(
        actor=staff.sales,
        account=shop.account,
        lines=[sales.LineInput(product=shop.tea, quantity=qty, net_unit_price=price, reason="price match")],
        confirm=confirm,
    )


def test_rules_price_the_order_and_its_discounts_are_recorded_on_confirmation(staff, shop):
    policy = winter_policy(staff)
    o = order(staff, shop)
    assert o.status == Order.CONFIRMED
    assert (o.list_total, o.net_total) == (Decimal("200.00"), Decimal("180.00"))
    (line,) = o.lines.all()
    (d,) = line.discounts
    assert (d["name"], d["policy"], d["amount"], d["how"]["code"]) == ("Winter tea", "Winter", "20.00", "PERCENT_OFF")
    (applied,) = AppliedDiscount.objects.all()
    assert (applied.policy_id, applied.amount, applied.source) == (policy.pk, Decimal("20.00"), "policy")
    sales.order_cancel(actor=staff.sales, order=o)
    assert not AppliedDiscount.objects.exists()


def test_a_manual_price_within_the_limit_goes_through(staff, shop):
    o = order(staff, shop, price="96")  # 4% off
    assert o.status == Order.CONFIRMED
    assert not o.approval_level
    assert AppliedDiscount.objects.get().source == "manual"


def test_beyond_the_limit_the_order_waits_for_a_manager_who_is_not_the_submitter(staff, shop):
    o = order(staff, shop, price="90")  # 10%: over 5%, within the manager's 15%
    assert (o.status, o.approval_level) == (Order.DRAFT, "manager")
    request = ApprovalRequest.objects.get(subject_type="order_discount", subject_id=o.pk)
    assert request.status == "pending"
    assert request.terms["lines"][0]["unit_price"] == "90"
    with pytest.raises(Conflict):
        sales.order_confirm(actor=staff.sales, order=o)
    with pytest.raises(ApprovalRefused):
        approval_approve(actor=staff.sales, request=request, comment="I approve myself")
    approval_approve(actor=staff.manager, request=request, comment="ok, loyal customer")
    confirmed = sales.order_confirm(actor=staff.sales, order=o)
    assert confirmed.status == Order.CONFIRMED
    assert confirmed.net_total == Decimal("180.00")


def test_beyond_the_managers_limit_it_needs_an_admin(staff, shop):
    o = order(staff, shop, price="80")  # 20%
    assert o.approval_level == "admin"
    request = ApprovalRequest.objects.get(subject_id=o.pk)
    with pytest.raises(ApprovalRefused):
        approval_approve(actor=staff.manager, request=request)
    approval_approve(actor=staff.admin, request=request)
    assert sales.order_confirm(actor=staff.sales, order=o).status == Order.CONFIRMED


def test_editing_an_approved_orders_price_reopens_approval(staff, shop):
    o = order(staff, shop, price="90")
    approval_approve(actor=staff.manager, request=ApprovalRequest.objects.get(subject_id=o.pk))
    sales.order_update_lines(
        actor=staff.sales, order=o, lines=[sales.LineInput(product=shop.tea, quantity="2", net_unit_price="88")]
    )
    with pytest.raises(Conflict):
        sales.order_confirm(actor=staff.sales, order=o)
    statuses = list(ApprovalRequest.objects.filter(subject_id=o.pk).order_by("id").values_list("status", flat=True))
    assert statuses == ["superseded", "pending"]
    # Back to the price approved: a new request for those exact terms (the old approval was replaced).
    sales.order_update_lines(
        actor=staff.sales, order=o, lines=[sales.LineInput(product=shop.tea, quantity="2", net_unit_price="96")]
    )
    assert ApprovalRequest.objects.filter(subject_id=o.pk, status="pending").count() == 0
    assert sales.order_confirm(actor=staff.sales, order=o).status == Order.CONFIRMED  # 4%: no approval needed


def test_rules_changed_after_approval_do_not_touch_the_approved_prices(staff, shop):
    o = order(staff, shop, price="90")
    approval_approve(actor=staff.manager, request=ApprovalRequest.objects.get(subject_id=o.pk))
    winter_policy(staff, percent="30")  # a deeper rule arrives before the order is confirmed
    confirmed = sales.order_confirm(actor=staff.sales, order=o)
    assert confirmed.net_total == Decimal("180.00")
    assert [line.net_unit_price for line in confirmed.lines.all()] == [Decimal("90")]


def test_cancelling_a_waiting_order_withdraws_its_request(staff, shop):
    o = order(staff, shop, price="90")
    sales.order_cancel(actor=staff.sales, order=o)
    assert ApprovalRequest.objects.get(subject_id=o.pk).status == "superseded"


def test_through_the_api_a_salesperson_cannot_approve_and_the_manager_can(staff, shop):
    seller, manager = ApiClient(staff.sales), ApiClient(staff.manager)
    created = seller.post(
        "/api/orders",
        {
            "account": shop.account.code,
            "lines": [{"product": "TEA-1", "quantity": "2", "net_unit_price": "90"}],
            "confirm": True,
        },
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["status"] == "draft"
    assert body["approval"]["level"] == "manager"
    assert body["approval"]["status"] == "pending"
    number, request_id = body["number"], body["approval"]["request"]
    assert seller.post(f"/api/orders/{number}/confirm").status_code == 409
    refused = seller.post(f"/api/approvals/{request_id}/approve", {"comment": "mine"})
    assert refused.status_code == 403
    assert manager.post(f"/api/approvals/{request_id}/approve", {"comment": "fine"}).status_code == 200
    assert seller.post(f"/api/orders/{number}/confirm").json()["status"] == "confirmed"


def test_the_api_names_a_manual_price_above_the_rules(staff, shop):
    winter_policy(staff)
    response = ApiClient(staff.sales).post(
        "/api/orders",
        {"account": shop.account.code, "lines": [{"product": "TEA-1", "quantity": "1", "net_unit_price": "95"}]},
    )
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "lines", 0, "net_unit_price"]]
    assert not Order.objects.exists()


def test_replacing_lines_needs_a_draft(staff, shop):
    o = order(staff, shop)
    response = ApiClient(staff.sales).client.put(
        f"/api/orders/{o.number}/lines",
        '{"lines": [{"product": "TEA-1", "quantity": "1"}]}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {ApiClient(staff.sales).token}"},
    )
    assert response.status_code == 409


def test_the_order_page_says_who_must_approve_and_offers_confirmation_only_after(staff, shop):
    from django.test import Client
    from django.urls import reverse

    o = order(staff, shop, price="90")
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    client = Client()
    client.force_login(staff.sales)
    url = reverse("sales:order_detail", args=[o.number])
    page = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    assert 'data-testid="order-approval"' in page
    assert "a sales manager must approve them" in page
    assert 'data-testid="confirm-order"' not in page
    approval_approve(actor=staff.manager, request=ApprovalRequest.objects.get(subject_id=o.pk))
    page = client.get(url, headers={"Accept-Language": "en"}).content.decode()
    assert "were approved; it can be confirmed" in page
    assert 'data-testid="confirm-order"' in page


def test_the_order_form_shows_the_rules_prices_before_saving(staff, shop):
    from django.test import Client
    from django.urls import reverse

    from tests.functional.test_pages_sales import order_post

    winter_policy(staff)
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    client = Client()
    client.force_login(staff.sales)
    data = order_post(shop.account.code, [("TEA-1", "2", ""), ("TEA-1", "1", "85")], action="preview")
    page = client.post(reverse("sales:order_new"), data).content.decode()
    assert 'data-testid="order-quote"' in page
    assert "Winter tea" in page  # the rule that gave the discount, on each line
    assert "CNY 265.00" in page  # 180.00 + 85.00
    assert "need a sales manager" in page  # 85 after the rules' 90: 5.56% by hand, over the 5% limit
    assert not Order.objects.exists()
