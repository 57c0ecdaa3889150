"""Who may do what through the API: every role x action x whose record, read as a table.

Relations, from the caller's point of view:
  own    the account is the caller's;
  team   it is owned by sales2, a salesperson in the South team that ``manager`` leads
         (for ``sales``, a teammate's account; for finance, marketing and admin, someone else's);
  other  it is owned by sales3 in the North team.

Answers: a record the caller may not see is 404 (in a URL) or an unknown ``account`` (422, in a
body), so neither tells whether it exists; an action on a visible record that the role may not
take is 403. A refused request writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from patron.accounts.models import Account
from patron.audit.models import AuditEvent
from patron.sales import services
from tests.api_client import ApiClient
from tests.factories import make_account, make_invoice, make_order, make_product

ROLES = ("admin", "manager", "sales", "finance", "marketing")
RELATIONS = ("own", "team", "other")

# action -> role -> expected status for (own, team, other)
MATRIX: dict[str, dict[str, tuple[int, int, int]]] = {
    "view_account": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (200, 200, 200),
        "marketing": (200, 200, 200),
    },
    "edit_account": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (403, 403, 403),
        "marketing": (403, 403, 403),
    },
    "add_contact": {
        "admin": (201, 201, 201),
        "manager": (201, 201, 404),
        "sales": (201, 404, 404),
        "finance": (403, 403, 403),
        "marketing": (403, 403, 403),
    },
    "log_note": {
        "admin": (201, 201, 201),
        "manager": (201, 201, 404),
        "sales": (201, 404, 404),
        "finance": (403, 403, 403),
        "marketing": (403, 403, 403),
    },
    "view_history": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (200, 200, 200),
        "marketing": (403, 403, 403),
    },
    "view_receivables": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (200, 200, 200),
        "marketing": (403, 403, 403),
    },
    "view_order": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (200, 200, 200),
        "marketing": (200, 200, 200),
    },
    "record_order": {
        "admin": (201, 201, 201),
        "manager": (201, 201, 422),
        "sales": (201, 422, 422),
        "finance": (403, 403, 403),
        "marketing": (403, 403, 403),
    },
    "cancel_order": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (403, 403, 403),
        "marketing": (403, 403, 403),
    },
    "record_return": {
        "admin": (201, 201, 201),
        "manager": (201, 201, 404),
        "sales": (201, 404, 404),
        "finance": (403, 403, 403),
        "marketing": (403, 403, 403),
    },
    "issue_invoice": {
        "admin": (201, 201, 201),
        "manager": (403, 403, 422),
        "sales": (403, 422, 422),
        "finance": (201, 201, 201),
        "marketing": (403, 403, 403),
    },
    "view_invoice": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (200, 200, 200),
        "marketing": (403, 403, 403),
    },
    "record_payment": {
        "admin": (201, 201, 201),
        "manager": (201, 201, 422),
        "sales": (201, 422, 422),
        "finance": (201, 201, 201),
        "marketing": (403, 403, 403),
    },
    "view_payment": {
        "admin": (200, 200, 200),
        "manager": (200, 200, 404),
        "sales": (200, 404, 404),
        "finance": (200, 200, 200),
        "marketing": (403, 403, 403),
    },
}


@dataclass
class Case:
    staff: Any
    account: Account

    def order(self, confirm: bool = True) -> Any:
        return make_order(self.staff.admin, self.account, [(make_product(price="10.00"), "2")], confirm=confirm)

    def invoice(self) -> Any:
        return make_invoice(self.staff.admin, self.order())


def _prepare(action: str, case: Case) -> Callable[[ApiClient], Any]:
    """Build the records the action needs, then return the request (so setup is not counted as writes)."""
    code = case.account.code
    if action == "view_account":
        return lambda c: c.get(f"/api/accounts/{code}")
    if action == "edit_account":
        return lambda c: c.patch(f"/api/accounts/{code}", {"name": "Renamed"})
    if action == "add_contact":
        return lambda c: c.post(f"/api/accounts/{code}/contacts", {"name": "Zhang San"})
    if action == "log_note":
        return lambda c: c.post(f"/api/accounts/{code}/notes", {"subject": "Called"})
    if action == "view_history":
        return lambda c: c.get(f"/api/accounts/{code}/history")
    if action == "view_receivables":
        return lambda c: c.get(f"/api/accounts/{code}/receivables")
    if action == "view_order":
        number = case.order().number
        return lambda c: c.get(f"/api/orders/{number}")
    if action == "record_order":
        sku = make_product().sku
        return lambda c: c.post("/api/orders", {"account": code, "lines": [{"product": sku, "quantity": "1"}]})
    if action == "cancel_order":
        number = case.order(confirm=False).number
        return lambda c: c.post(f"/api/orders/{number}/cancel")
    if action == "record_return":
        order = case.order()
        body = {"lines": [{"order_line": order.lines.get().pk, "quantity": "1"}]}
        return lambda c: c.post(f"/api/orders/{order.number}/returns", body)
    if action == "issue_invoice":
        number = case.order().number
        return lambda c: c.post("/api/invoices", {"account": code, "order": number})
    if action == "view_invoice":
        number = case.invoice().number
        return lambda c: c.get(f"/api/invoices/{number}")
    if action == "record_payment":
        case.invoice()
        return lambda c: c.post("/api/payments", {"account": code, "amount": "5.00"})
    if action == "view_payment":
        case.invoice()
        number = services.payment_record(actor=case.staff.admin, account=case.account, amount="5.00").number
        return lambda c: c.get(f"/api/payments/{number}")
    raise AssertionError(action)


CASES = [
    pytest.param(action, role, relation, MATRIX[action][role][i], id=f"{action}-{role}-{relation}")
    for action in MATRIX
    for role in ROLES
    for i, relation in enumerate(RELATIONS)
]


@pytest.mark.parametrize(("action", "role", "relation", "expected"), CASES)
def test_permission_matrix(staff, action, role, relation, expected):
    caller = getattr(staff, role)
    owner = {"own": caller, "team": staff.sales2, "other": staff.sales3}[relation]
    case = Case(staff=staff, account=make_account(owner))
    client = ApiClient(caller)
    request = _prepare(action, case)
    events_before = AuditEvent.objects.count()
    response = request(client)
    assert response.status_code == expected, response.content
    if expected >= 400:
        assert AuditEvent.objects.count() == events_before  # nothing was written
        body = response.json()
        if expected == 422:
            assert [e["loc"] for e in body["detail"]] == [["body", "account"]]
        else:
            assert isinstance(body["detail"], str)
            assert case.account.name not in response.content.decode()


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 201), ("manager", 201), ("sales", 403), ("finance", 403), ("marketing", 403)]
)
def test_who_may_create_and_change_products(staff, role, expected):
    client = ApiClient(getattr(staff, role))
    created = client.post("/api/products", {"sku": f"NEW-{role}", "name": "New", "list_price": "1.00"})
    assert created.status_code == expected
    product = make_product(sku=f"OLD-{role}")
    changed = client.patch(f"/api/products/{product.sku}", {"name": "Renamed"})
    assert changed.status_code == (200 if expected == 201 else 403)


@pytest.mark.parametrize(
    ("role", "expected"), [("admin", 201), ("manager", 201), ("sales", 201), ("finance", 403), ("marketing", 403)]
)
def test_who_may_create_accounts(staff, role, expected):
    response = ApiClient(getattr(staff, role)).post("/api/accounts", {"code": f"C-{role}", "name": "New account"})
    assert response.status_code == expected
    assert Account.objects.filter(code=f"C-{role}").exists() == (expected == 201)


@pytest.mark.parametrize("relation", ["team", "other"])
def test_a_salesperson_cannot_touch_another_salespersons_contacts(staff, relation):
    owner = staff.sales2 if relation == "team" else staff.sales3
    contact = make_account(owner).contacts.create(name="Wang Wu")
    client = ApiClient(staff.sales)
    assert client.patch(f"/api/contacts/{contact.pk}", {"name": "Hacked"}).status_code == 404
    assert client.delete(f"/api/contacts/{contact.pk}").status_code == 404
    contact.refresh_from_db()
    assert contact.name == "Wang Wu"


def test_marketing_may_read_contacts_but_not_change_them(staff):
    contact = make_account(staff.sales).contacts.create(name="Zhao Liu")
    client = ApiClient(staff.marketing)
    assert client.get(f"/api/accounts/{contact.account.code}/contacts").status_code == 200
    assert client.patch(f"/api/contacts/{contact.pk}", {"name": "X"}).status_code == 403
    assert client.delete(f"/api/contacts/{contact.pk}").status_code == 403
