"""The rebates API over HTTP: programs refused field by field, accruals explained, settlements paid once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from patron.rebates.models import RebatePayout
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account, make_order, make_product

TERMS = {"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]}


def active_program(staff: Any) -> dict[str, Any]:
    manager = ApiClient(staff.manager)
    made = manager.post(
        "/api/rebate-programs", {"name": "Quarterly volume", "effective_from": "2026-01-01", "terms": TERMS}
    )
    assert made.status_code == 201, made.json()
    program = made.json()
    assert program["status"] == "draft"
    active = manager.post(f"/api/rebate-programs/{program['id']}/status", {"status": "active"})
    assert active.status_code == 200
    return active.json()


def test_bad_programs_are_refused_naming_each_field(staff):
    manager = ApiClient(staff.manager)
    bad = manager.post(
        "/api/rebate-programs",
        {
            "name": "X",
            "effective_from": "2026-02-01",
            "effective_to": "2026-01-01",
            "terms": {"tiers": [{"from": "0", "percent": "150"}], "mode": "sideways"},
        },
    )
    assert bad.status_code == 422
    assert {"effective_to", "terms.tiers[0].percent", "terms.mode"} <= error_fields(bad)
    assert ApiClient(staff.manager).post("/api/rebate-programs", {"name": "No terms"}).status_code == 422
    refused = ApiClient(staff.sales).post(
        "/api/rebate-programs", {"name": "Mine", "effective_from": "2026-01-01", "terms": TERMS}
    )
    assert refused.status_code == 403


def test_an_account_sees_its_accrual_and_what_the_next_tier_needs(staff):
    program = active_program(staff)
    account = make_account(staff.sales, code="SHOP-1")
    signed = ApiClient(staff.manager).post(
        f"/api/rebate-programs/{program['id']}/agreements", {"account": "SHOP-1", "signed_on": "2026-01-01"}
    )
    assert signed.status_code == 201, signed.json()
    again = ApiClient(staff.manager).post(
        f"/api/rebate-programs/{program['id']}/agreements", {"account": "SHOP-1", "signed_on": "2026-01-01"}
    )
    assert again.status_code == 422
    assert "account" in error_fields(again)
    make_order(staff.sales, account, [(make_product(price="1000.00"), "12")], order_date=dt.date(2026, 2, 1))
    answer = ApiClient(
        staff.sales,
    ).get("/api/accounts/SHOP-1/rebates", headers={"Accept-Language": "en"})
    assert answer.status_code == 200
    q1 = next(a for a in answer.json() if a["period_start"] == "2026-01-01")
    assert (q1["net_sales"], q1["earned"], q1["tier"]) == ("12000.00", "240.00", 1)
    assert q1["next_tier"]["text"] == "CNY 8,000.00 more reaches tier 2."
    assert ApiClient(staff.sales3).get("/api/accounts/SHOP-1/rebates").status_code == 404


def test_a_settlement_over_http_is_paid_once_however_often_it_is_approved(staff):
    program = active_program(staff)
    account = make_account(staff.sales, code="SHOP-2")
    ApiClient(staff.manager).post(
        f"/api/rebate-programs/{program['id']}/agreements", {"account": "SHOP-2", "signed_on": "2026-01-01"}
    )
    make_order(staff.sales, account, [(make_product(price="1000.00"), "25")], order_date=dt.date(2026, 2, 1))
    finance = ApiClient(staff.finance)
    assert (
        ApiClient(staff.sales)
        .post("/api/rebate-settlements", {"program": program["id"], "day": "2026-02-01"})
        .status_code
        == 403
    )
    started = finance.post("/api/rebate-settlements", {"program": program["id"], "day": "2026-02-01"})
    assert started.status_code == 200, started.json()
    settlement = started.json()
    assert (settlement["status"], settlement["total"]) == ("draft", "750.00")
    (line,) = settlement["lines"]
    no_reason = finance.patch(f"/api/rebate-settlement-lines/{line['id']}", {"amount": "700", "comment": ""})
    assert no_reason.status_code == 422
    assert "comment" in error_fields(no_reason)
    changed = finance.patch(
        f"/api/rebate-settlement-lines/{line['id']}", {"amount": "700", "comment": "Agreed with the customer"}
    )
    assert changed.json()["override"] == "700.00"
    assert finance.post(f"/api/rebate-settlements/{settlement['id']}/approve").status_code == 403  # ran it
    admin = ApiClient(staff.admin)
    first = admin.post(f"/api/rebate-settlements/{settlement['id']}/approve")
    second = admin.post(f"/api/rebate-settlements/{settlement['id']}/approve")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["status"] == "approved"
    assert RebatePayout.objects.get().amount == 700
    not_yet = finance.post(
        "/api/rebate-settlements", {"program": program["id"], "day": timezone.localdate().isoformat()}
    )
    assert not_yet.status_code == 409
