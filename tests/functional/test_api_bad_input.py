"""Bad input is a 4xx that names the field, never a 500, and writes nothing."""

from __future__ import annotations

import base64
import json

import pytest

from patron.accounts.models import Account, Contact, CustomField
from patron.audit.models import AuditEvent
from patron.sales.models import Invoice, Order, Payment, Product
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account, make_invoice, make_order, make_product, make_region_tree


def _counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Account, Contact, Product, Order, Invoice, Payment, AuditEvent))


@pytest.fixture
def admin(staff) -> ApiClient:
    return ApiClient(staff.admin)


@pytest.fixture
def world(staff):
    """An account with a confirmed order of 100.00 invoiced, so payments have something to settle."""
    account = make_account(staff.sales, code="ACME")
    make_product(sku="TEA-1", price="50.00")
    order = make_order(staff.sales, account, [(Product.objects.get(sku="TEA-1"), "2")])
    invoice = make_invoice(staff.finance, order)
    return {"account": account, "order": order, "invoice": invoice}


def _refused(response, status: int = 422) -> set[str]:
    assert response.status_code == status, response.content
    return error_fields(response)


def _order(account: str = "ACME", **line) -> dict:
    return {"account": account, "lines": [{"product": "TEA-1", "quantity": "1"} | line]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_order(quantity="-1"), "lines.0.quantity"),
        (_order(quantity="0"), "lines.0.quantity"),
        (_order(quantity="1.0001"), "lines.0.quantity"),
        (_order(quantity="lots"), "lines.0.quantity"),
        (_order(quantity="NaN"), "lines.0.quantity"),
        (_order(quantity=2), "lines.0.quantity"),  # a JSON number, not text
        (_order(quantity="99999999999999999999"), "lines.0.quantity"),
        (_order(product="NOPE"), "lines.0.product"),
        (_order(net_unit_price="1.23456"), "lines.0.net_unit_price"),
        (_order(net_unit_price="-5"), "lines.0.net_unit_price"),
        (_order(account="NOBODY"), "account"),
        (_order() | {"lines": []}, "lines"),
        (_order() | {"order_date": "2026-02-30"}, "order_date"),
        (_order() | {"currency": "XXX"}, "currency"),
        (_order() | {"channel": "carrier-pigeon"}, "channel"),
        (_order() | {"number": "SO 1"}, "number"),
        ({"lines": []}, "account"),
    ],
)
def test_bad_orders_are_refused_by_field(world, admin, body, field):
    before = _counts()
    assert field in _refused(admin.post("/api/orders", body))
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "10.001"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-3"}, "amount"),
        ({"amount": "100.01"}, "amount"),  # more than the 100.00 owed
        ({"amount": 10.5}, "amount"),  # a float
        ({"amount": "10", "received_on": "2999-01-01"}, "received_on"),
        ({"amount": "10", "method": "barter"}, "method"),
        ({"amount": "10", "allocations": [{"invoice": "NOPE", "amount": "10"}]}, "allocations.0.invoice"),
        ({"amount": "10", "allocations": [{"invoice": "{invoice}", "amount": "10.001"}]}, "allocations.0.amount"),
        ({"amount": "10", "allocations": [{"invoice": "{invoice}", "amount": "9"}]}, "allocations"),
        ({"amount": "10", "number": "ＡＢＣ"}, "number"),
        ({"account": "NOBODY", "amount": "10"}, "account"),
    ],
)
def test_bad_payments_are_refused_by_field(world, staff, body, field):
    body = {"account": "ACME"} | json.loads(json.dumps(body).replace("{invoice}", world["invoice"].number))
    before = _counts()
    assert field in _refused(ApiClient(staff.finance).post("/api/payments", body))
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": "10.001"}, "amount"),
        ({"amount": "10", "issue_date": "2026-03-10", "due_date": "2026-03-01"}, "due_date"),
        ({"amount": "10", "currency": "ZZZ"}, "currency"),
        ({"order": "SO-NOPE"}, "order"),
        ({"order": "{order}", "amount": "100.01"}, "amount"),  # more than is left to invoice
    ],
)
def test_bad_invoices_are_refused_by_field(world, staff, body, field):
    body = {"account": "ACME"} | json.loads(json.dumps(body).replace("{order}", world["order"].number))
    before = _counts()
    assert field in _refused(ApiClient(staff.finance).post("/api/invoices", body))
    assert _counts() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "AB C"}, "code"),
        ({"code": "ＡＢＣ"}, "code"),
        ({"code": " ABC"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "A" * 41}, "code"),
        ({"phone": "电话020-12345"}, "phone"),
        ({"email": "not-an-email"}, "email"),
        ({"tax_id": "123"}, "tax_id"),
        ({"region": "ATLANTIS"}, "region"),
        ({"industry": "ALCHEMY"}, "industry"),
        ({"owner": "nobody"}, "owner"),
        ({"credit_limit": "10.001"}, "credit_limit"),
        ({"credit_limit": "abc"}, "credit_limit"),
        ({"credit_limit": "-5"}, "credit_limit"),
        ({"credit_limit": 100}, "credit_limit"),
        ({"payment_terms_days": -1}, "payment_terms_days"),
        ({"payment_terms_days": 10**30}, "payment_terms_days"),
        ({"kind": "robot"}, "kind"),
        ({"birthday": "2000-01-01"}, "birthday"),  # only a person has a birthday
        ({"custom": {"nonsense": "1"}}, "custom.nonsense"),
        ({"custom": {"size": "big"}}, "custom.size"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
    ],
)
def test_bad_accounts_are_refused_by_field(staff, admin, body, field):
    make_region_tree()
    CustomField.objects.create(key="size", label_zh="规模", kind="number")
    before = _counts()
    assert field in _refused(admin.post("/api/accounts", {"code": "NEW-1", "name": "New"} | body))
    assert _counts() == before


def test_a_duplicate_account_code_is_refused_on_the_code(staff, admin):
    make_account(staff.admin, code="DUP")
    assert _refused(admin.post("/api/accounts", {"code": "DUP", "name": "Again"})) == {"code"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"phone": "电话12345678"}, "phone"),
        ({"email": "li@"}, "email"),
        ({"email_consent": True}, "email_consent"),  # consent needs an address
        ({"role": "boss"}, "role"),
        (
            {"email": "li@example.com", "email_consent": True, "email_consent_at": "2020-01-01T10:00:00"},
            "email_consent_at",
        ),
        (
            {"email": "li@example.com", "email_consent": True, "email_consent_at": "2999-01-01T10:00:00+08:00"},
            "email_consent_at",
        ),
    ],
)
def test_bad_contacts_are_refused_by_field(staff, admin, body, field):
    account = make_account(staff.admin)
    before = _counts()
    assert field in _refused(admin.post(f"/api/accounts/{account.code}/contacts", {"name": "Li"} | body))
    assert _counts() == before


def test_a_future_or_naive_note_time_is_refused(staff, admin):
    account = make_account(staff.admin)
    url = f"/api/accounts/{account.code}/notes"
    assert _refused(admin.post(url, {"subject": "x", "occurred_at": "2999-01-01T00:00:00Z"})) == {"occurred_at"}
    assert _refused(admin.post(url, {"subject": "x", "occurred_at": "2026-01-01T00:00:00"})) == {"occurred_at"}
    assert _refused(admin.post(url, {"subject": " "})) == {"subject"}
    assert _refused(admin.post(url, {"subject": "x", "kind": "telepathy"})) == {"kind"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'["x", "y"]').decode()}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b"[1, 99999999999999999999999]").decode()}, "cursor"),
        ({"sort": "password"}, "sort"),
        ({"region": "ATLANTIS"}, "region"),
        ({"owner": "nobody"}, "owner"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"credit_limit_min": "1e999"}, "credit_limit_min"),
        ({"credit_limit_min": "NaN"}, "credit_limit_min"),
        ({"key_account": "perhaps"}, "key_account"),
        ({"custom.nonsense": "1"}, "custom.nonsense"),
        ({"custom.size": "big..huge"}, "custom.size"),
    ],
)
def test_bad_list_parameters_are_refused_by_name(staff, admin, params, field):
    CustomField.objects.create(key="size", label_zh="规模", kind="number")
    assert _refused(admin.get("/api/accounts", params)) == {field}


def test_a_cursor_from_another_list_is_refused(staff, admin):
    for _ in range(3):
        make_account(staff.admin)
    by_name = admin.get("/api/accounts", {"sort": "name", "limit": 1}).json()["next_cursor"]
    response = admin.get("/api/accounts", {"sort": "-created_at", "cursor": by_name})
    assert _refused(response) == {"cursor"}
    response = admin.get("/api/orders", {"cursor": by_name})
    assert _refused(response) == {"cursor"}


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"code": "A1", "name": ',
        b"\xff\xfe\x00",
        b'"just a string"',
        b"[1, 2]",
        b'{"code": "\\ud800", "name": "lone surrogate"}',
        b'{"code": "NUL", "name": "a\\u0000b"}',
        b"[" * 100_000 + b"]" * 100_000,
        b"",
    ],
)
def test_a_malformed_body_is_a_422_on_the_body(staff, admin, raw):
    before = _counts()
    response = admin.post("/api/accounts", raw, raw=True)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][0] == "body"
    assert _counts() == before


def test_an_empty_body_names_the_missing_fields(staff, admin):
    response = admin.post("/api/accounts", {})
    assert _refused(response) == {"code", "name"}


def test_every_invalid_field_is_reported_at_once(world, admin):
    response = admin.post(
        "/api/orders",
        {
            "account": "ACME",
            "lines": [
                {"product": "TEA-1", "quantity": "0"},
                {"product": "NOPE", "quantity": "1"},
                {"product": "TEA-1", "quantity": "1", "net_unit_price": "1.23456"},
            ],
        },
    )
    assert _refused(response) == {"lines.0.quantity", "lines.1.product", "lines.2.net_unit_price"}
    assert [e["type"] for e in response.json()["detail"]] == ["value_error"] * 3


def test_unknown_records_in_the_url_are_404(staff, admin):
    for path in (
        "/api/accounts/NOPE",
        "/api/accounts/ＡＢＣ",
        "/api/accounts/NOPE/contacts",
        "/api/accounts/NOPE/timeline",
        "/api/orders/NOPE",
        "/api/invoices/NOPE",
        "/api/payments/NOPE",
    ):
        response = admin.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"detail": "Not found."} or response.json()["detail"]
    assert admin.patch("/api/contacts/999999", {"name": "x"}).status_code == 404
    assert admin.patch("/api/products/NOPE", {"name": "x"}).status_code == 404
    assert admin.post("/api/orders/NOPE/confirm").status_code == 404


def test_a_huge_contact_id_is_refused_not_overflowed(staff, admin):
    response = admin.patch(f"/api/contacts/{10**30}", {"name": "x"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "contact_id"]


def test_returns_of_lines_from_another_order_are_refused(world, staff, admin):
    other = make_order(staff.sales, world["account"], [(Product.objects.get(sku="TEA-1"), "1")])
    foreign_line = other.lines.get().pk
    response = admin.post(
        f"/api/orders/{world['order'].number}/returns", {"lines": [{"order_line": foreign_line, "quantity": "1"}]}
    )
    assert _refused(response) == {"lines.0.order_line"}


def test_a_draft_order_cannot_take_returns(world, staff, admin):
    draft = make_order(staff.sales, world["account"], [(Product.objects.get(sku="TEA-1"), "1")], confirm=False)
    line = draft.lines.get().pk
    response = admin.post(f"/api/orders/{draft.number}/returns", {"lines": [{"order_line": line, "quantity": "1"}]})
    assert response.status_code == 409
    assert response.json()["field"] == "order"


def test_nul_characters_in_query_parameters_are_refused(staff, admin):
    response = admin.get("/api/accounts", {"q": "a\x00b"})
    assert _refused(response) == {"q"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/invoices", {"account": "ACME", "amount": "1", "issue_date": "9999-12-31"}, "issue_date"),
        ("/api/payments", {"account": "ACME", "amount": "1", "received_on": "0001-01-01"}, "received_on"),
        ("/api/orders", _order() | {"order_date": "0001-01-01"}, "order_date"),
    ],
)
def test_dates_outside_any_plausible_range_are_refused(world, admin, path, body, field):
    before = _counts()
    assert field in _refused(admin.post(path, body))
    assert _counts() == before


def test_an_amount_at_the_column_limit_does_not_break_later_reads(staff, admin):
    """More digits than both databases store exactly are refused, so later reads never break."""
    response = admin.post("/api/products", {"sku": "BIG", "name": "Big", "list_price": "99999999999999.9999"})
    assert response.status_code == 422
    assert "list_price" in error_fields(response)
    assert admin.get("/api/products").status_code == 200
