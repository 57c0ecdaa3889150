"""Approvals over the API: lists and filters, one request with its log, approve, reject, withdraw, and every refusal
with its status and words."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from patron.approvals import registry
from patron.approvals.models import ApprovalRequest
from patron.approvals.services import approval_approve, approval_submit
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account

EN = {"Accept-Language": "en"}
TERMS = {
    "lines": [{"sku": "TEA-1", "quantity": 10, "list_price": Decimal("100.00"), "unit_price": Decimal("70.00")}],
    "discount_percent": Decimal("30"),
    "margin": Decimal("80.00"),
}


@pytest.fixture
def api(staff: Any) -> Any:
    clients: dict[str, ApiClient] = {}

    def client(name: str) -> ApiClient:
        if name not in clients:
            clients[name] = ApiClient(getattr(staff, name))
        return clients[name]

    return client


def submit(actor: Any, account: Any, subject_id: int = 1, level: str = "manager") -> ApprovalRequest:
    return approval_submit(
        actor=actor,
        subject_type="order_discount",
        subject_id=subject_id,
        account=account,
        required_level=level,
        reason="Competitor at 28%.",
        terms=TERMS,
    )


@pytest.fixture
def pending(staff: Any) -> ApprovalRequest:
    return submit(staff.sales, make_account(staff.sales, code="SHOP-1", name="Tea House"))


def test_a_manager_lists_what_waits_and_opens_it(api, staff, pending):
    body = api("manager").get("/api/approvals", {"to_decide": "true"}, headers={"Accept-Language": "en"}).json()
    assert [item["id"] for item in body["items"]] == [pending.pk]
    item = body["items"][0]
    assert item["status"] == "pending"
    assert item["subject"] == {
        "type": "order_discount",
        "id": 1,
        "label": "Order #1 (deleted)",  # the sales app describes its orders; this one does not exist
        "url": None,
        "summary": "",
    }
    assert item["account"] == {"code": "SHOP-1", "name": "Tea House"}
    assert item["submitter"]["username"] == "sales"
    assert item["url"] == f"/approvals/{pending.pk}/"
    detail = api("manager").get(f"/api/approvals/{pending.pk}").json()
    assert detail["terms"]["lines"][0]["unit_price"] == "70.00"
    assert detail["terms_hash"] == pending.terms_hash
    assert [e["action"] for e in detail["events"]] == ["submit"]
    assert detail["may"] == ["approve", "reject"]
    assert api("sales").get(f"/api/approvals/{pending.pk}").json()["may"] == ["withdraw"]


def test_the_registered_subject_describes_itself(api, staff, pending):
    with registry.replaced(
        "order_discount",
        label="Order discount",
        describe=lambda r: registry.Subject(f"Order SO-{r.subject_id}", f"/sales/orders/SO-{r.subject_id}/", "3 lines"),
    ):
        subject = api("manager").get(f"/api/approvals/{pending.pk}").json()["subject"]
    assert subject == {
        "type": "order_discount",
        "id": 1,
        "label": "Order SO-1",
        "url": "/sales/orders/SO-1/",
        "summary": "3 lines",
    }


def test_filters_by_status_and_mine(api, staff, pending):
    other = submit(staff.sales2, make_account(staff.sales2), subject_id=2)
    approval_approve(actor=staff.manager, request=other, comment="")
    manager = api("manager")
    assert [i["id"] for i in manager.get("/api/approvals").json()["items"]] == [other.pk, pending.pk]
    assert [i["id"] for i in manager.get("/api/approvals", {"status": "approved"}).json()["items"]] == [other.pk]
    assert manager.get("/api/approvals", {"mine": "true"}).json()["items"] == []
    assert [i["id"] for i in api("sales").get("/api/approvals", {"mine": "true"}).json()["items"]] == [pending.pk]
    assert [i["id"] for i in api("sales").get("/api/approvals").json()["items"]] == [pending.pk]
    assert api("sales3").get("/api/approvals").json()["items"] == []
    response = manager.get("/api/approvals", {"status": "maybe"})
    assert response.status_code == 422
    assert error_fields(response) == {"status"}


def test_pages_of_the_list(api, staff):
    account = make_account(staff.sales)
    made = [submit(staff.sales, account, subject_id=n).pk for n in range(1, 6)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = api("admin").get("/api/approvals", params).json()
        seen += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(made, reverse=True)


def test_a_manager_approves_with_a_comment(api, staff, pending):
    response = api("manager").post(f"/api/approvals/{pending.pk}/approve", {"comment": "This order only."})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["comment"], body["decided_by"]["username"]) == (
        "approved",
        "This order only.",
        "manager",
    )
    assert [e["action"] for e in body["events"]] == ["submit", "approve"]
    assert body["events"][1]["from_status"] == "pending"
    assert body["may"] == []


def test_a_salesperson_may_not_approve_and_is_told_why(api, staff, pending):
    # their manager asked about their account: they may read it, not decide it
    request = submit(staff.manager, make_account(staff.sales), subject_id=2)
    assert api("sales").get(f"/api/approvals/{request.pk}").json()["may"] == []
    for verb, body in (("approve", {}), ("reject", {"comment": "no"})):
        response = api("sales").post(f"/api/approvals/{request.pk}/{verb}", body, headers=EN)
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "Only a sales manager, finance or an admin may approve or reject requests; your role (Salesperson) may not."
        )
    response = api("sales").post(f"/api/approvals/{pending.pk}/approve", {}, headers=EN)
    assert response.status_code == 403
    assert response.json()["detail"] == "You cannot approve or reject a request you submitted."
    request.refresh_from_db()
    pending.refresh_from_db()
    assert (request.status, pending.status) == ("pending", "pending")


def test_what_is_not_yours_to_see_is_404(api, staff, pending):
    for who in ("sales2", "sales3", "manager2", "finance", "marketing"):
        assert api(who).get(f"/api/approvals/{pending.pk}").status_code == 404, who
        assert api(who).post(f"/api/approvals/{pending.pk}/approve", {}).status_code == 404, who
    pending.refresh_from_db()
    assert pending.status == "pending"


def test_refusals_carry_their_words(api, staff, pending):
    admin_level = submit(staff.sales, make_account(staff.sales), subject_id=2, level="admin")
    response = api("manager").post(f"/api/approvals/{admin_level.pk}/approve", {}, headers=EN)
    assert response.status_code == 403
    assert "needs an admin" in response.json()["detail"]
    response = api("manager").post(f"/api/approvals/{pending.pk}/withdraw", headers=EN)
    assert response.status_code == 403
    assert response.json()["detail"] == "Only the person who submitted a request may withdraw it."
    assert api("manager2").post(f"/api/approvals/{pending.pk}/approve", {}).status_code == 404


def test_a_second_decision_is_a_conflict_naming_the_first(api, staff, pending):
    assert api("manager").post(f"/api/approvals/{pending.pk}/approve", {}).status_code == 200
    response = api("admin").post(f"/api/approvals/{pending.pk}/reject", {"comment": "no"}, headers=EN)
    assert response.status_code == 409
    assert response.json()["detail"].startswith("This request was already approved by manager at ")
    assert response.json()["field"] == "status"


def test_a_reject_without_a_comment_is_a_422_on_the_comment(api, staff, pending):
    for body in ({}, {"comment": ""}, {"comment": "   "}, {"comment": "x" * 4001}):
        response = api("manager").post(f"/api/approvals/{pending.pk}/reject", body, headers=EN)
        assert response.status_code == 422, body
        assert error_fields(response) == {"comment"}
    response = api("manager").post(f"/api/approvals/{pending.pk}/reject", {"comment": "Margin too thin."})
    assert response.status_code == 200
    assert response.json()["status"] == "rejected"


def test_the_submitter_withdraws(api, staff, pending):
    response = api("sales").post(f"/api/approvals/{pending.pk}/withdraw")
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert api("sales").post(f"/api/approvals/{pending.pk}/withdraw").status_code == 409


@pytest.mark.parametrize("path", ["/api/approvals/0", "/api/approvals/999999", "/api/approvals/abc"])
def test_unknown_ids(api, staff, path):
    status = api("admin").get(path).status_code
    assert status in {404, 422}


def test_signed_out_is_401(client, pending):
    assert client.get("/api/approvals").status_code == 401
    assert client.post(f"/api/approvals/{pending.pk}/approve", "{}", content_type="application/json").status_code == 401


def test_every_error_is_declared_in_the_schema(api, staff):
    schema = api("admin").get("/api/openapi.json").json()
    for path, methods in schema["paths"].items():
        if not path.startswith("/api/approvals"):
            continue
        for method, operation in methods.items():
            codes = set(operation["responses"])
            assert {"401", "403", "422"} <= codes, (method, path)
            if "{request_id}" in path:
                assert "404" in codes, (method, path)
            if method == "post":
                assert "409" in codes, (method, path)
