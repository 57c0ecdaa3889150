"""The discounts API over HTTP: policies and rules written and refused field by field, and the quote
that prices a cart and explains every line."""

from __future__ import annotations

from typing import Any

import pytest

from patron.discounts import mappers
from patron.discounts.models import DiscountRule, Policy
from tests.api_client import ApiClient, error_fields
from tests.factories import make_account, make_product, make_region_tree


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


@pytest.fixture
def world(staff: Any) -> Any:
    regions = make_region_tree()

    class World:
        mine = make_account(staff.sales, code="MINE", region=regions["SZ"])
        theirs = make_account(staff.sales3, code="THEIRS")
        tea = make_product("TEA-1", price="100.00", cost="40.00")
        gd = regions["GD"]

    return World


def active_policy(manager: ApiClient, *rules: dict[str, Any]) -> dict[str, Any]:
    created = manager.post("/api/discount-policies", {"name": "Winter", "customer_text": "Warm tea, warm prices"})
    assert created.status_code == 201, created.json()
    policy = created.json()
    for rule in rules:
        response = manager.post(f"/api/discount-policies/{policy['id']}/rules", rule)
        assert response.status_code == 201, response.json()
    activated = manager.post(f"/api/discount-policies/{policy['id']}/status", {"status": "active"})
    assert activated.status_code == 200, activated.json()
    return activated.json()


TIERS = {
    "name": "Volume",
    "priority": 10,
    "benefit": {"kind": "tiers", "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "8"}]},
}


def test_a_quote_explains_each_line_the_rules_that_did_not_apply_and_the_next_tier(staff, world):
    manager = ApiClient(staff.manager)
    active_policy(
        manager,
        TIERS,
        {"name": "Guangdong", "who": {"regions": [world.gd.pk]}, "benefit": {"kind": "amount_off_unit", "amount": "2"}},
        {
            "name": "Big orders",
            "when": {"min_cart_amount": "5000"},
            "benefit": {"kind": "cart_amount_off", "amount": "100"},
        },
    )
    response = ApiClient(staff.sales).post(
        "/api/quotes",
        {"account": "MINE", "lines": [{"product": "TEA-1", "quantity": "12"}]},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 200, response.json()
    quote = response.json()
    # 12 x 100 = 1,200; tier 1 (10+) 5% = 60.00 -> 1,140.00; then 2.00 off each unit = 24.00 -> 1,116.00
    assert (quote["list_total"], quote["discount_total"], quote["net_total"]) == ("1200.00", "84.00", "1116.00")
    (line,) = quote["lines"]
    assert [(d["name"], d["amount"]) for d in line["discounts"]] == [("Volume", "60.00"), ("Guangdong", "24.00")]
    assert line["discounts"][0]["how"]["text"] == "Tier 1 (from 10): 5% off"
    missed = next(r for r in quote["rules"] if r["name"] == "Big orders")
    assert missed["applied"] is False
    assert missed["reasons"][0]["code"] == "MIN_SPEND_NOT_MET"
    assert missed["reasons"][0]["text"] == "Threshold missed by CNY 3,884.00."
    assert any(h["code"] == "NEXT_TIER" and "38" in h["text"] for h in quote["hints"])
    assert quote["approval"] == {"level": None, "reasons": []}


def test_a_quote_with_a_manual_discount_says_who_must_approve(staff, world):
    response = ApiClient(staff.sales).post(
        "/api/quotes",
        {
            "account": "MINE",
            "lines": [{"product": "TEA-1", "quantity": "1", "manual": {"kind": "percent", "value": "10"}}],
        },
    )
    assert response.status_code == 200
    assert response.json()["approval"]["level"] == "manager"
    assert response.json()["net_total"] == "90.00"


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"account": "NOPE", "lines": [{"product": "TEA-1", "quantity": "1"}]}, {"account"}),
        ({"account": "THEIRS", "lines": [{"product": "TEA-1", "quantity": "1"}]}, {"account"}),  # not visible
        ({"account": "MINE", "lines": []}, {"lines"}),
        ({"account": "MINE", "lines": [{"product": "NOPE", "quantity": "1"}]}, {"lines.0.product"}),
        ({"account": "MINE", "lines": [{"product": "TEA-1", "quantity": "0"}]}, {"lines.0.quantity"}),
        ({"account": "MINE", "lines": [{"product": "TEA-1", "quantity": "abc"}]}, {"lines.0.quantity"}),
        (
            {
                "account": "MINE",
                "lines": [{"product": "TEA-1", "quantity": "1", "manual": {"kind": "percent", "value": "101"}}],
            },
            {"lines.0.manual.value"},
        ),
        ({"account": "MINE", "lines": [{"product": "TEA-1", "quantity": "1"}], "at": "2026-12-01T10:00:00"}, {"at"}),
    ],
)
def test_bad_quotes_are_refused_naming_the_field(staff, world, body, fields):
    response = ApiClient(staff.sales).post("/api/quotes", body)
    assert response.status_code == 422
    assert error_fields(response) == fields


def test_a_bad_rule_is_refused_with_every_field_named_and_nothing_written(staff, world):
    manager = ApiClient(staff.manager)
    policy = manager.post("/api/discount-policies", {"name": "Bad"}).json()
    response = manager.post(
        f"/api/discount-policies/{policy['id']}/rules",
        {
            "name": "broken",
            "who": {"regions": [999999]},
            "benefit": {"kind": "tiers", "tiers": [{"from": "50", "percent": "5"}, {"from": "10", "percent": "8"}]},
            "when": {"weekdays": [8]},
        },
    )
    assert response.status_code == 422
    assert error_fields(response) == {"who.regions.0", "benefit.tiers.1.from", "when.weekdays.0"}
    assert not DiscountRule.objects.exists()


def test_a_salesperson_reads_policies_but_cannot_write_them(staff, world):
    active_policy(ApiClient(staff.manager), TIERS)
    seller = ApiClient(staff.sales)
    listed = seller.get("/api/discount-policies").json()
    assert [p["name"] for p in listed] == ["Winter"]
    assert seller.post("/api/discount-policies", {"name": "Mine"}).status_code == 403
    policy_id = listed[0]["id"]
    assert seller.post(f"/api/discount-policies/{policy_id}/status", {"status": "archived"}).status_code == 403
    assert Policy.objects.get().status == "active"


def test_an_archived_policy_refuses_new_rules_and_a_copy_is_a_draft(staff, world):
    manager = ApiClient(staff.manager)
    policy = active_policy(manager, TIERS)
    assert manager.post(f"/api/discount-policies/{policy['id']}/status", {"status": "archived"}).status_code == 200
    refused = manager.post(f"/api/discount-policies/{policy['id']}/rules", TIERS)
    assert refused.status_code == 409
    copy = manager.post(f"/api/discount-policies/{policy['id']}/copy")
    assert copy.status_code == 201
    assert (copy.json()["status"], len(copy.json()["rules"])) == ("draft", 1)


def test_rules_are_edited_and_removed(staff, world):
    manager = ApiClient(staff.manager)
    policy = active_policy(manager, TIERS)
    rule_id = policy["rules"][0]["id"]
    edited = manager.patch(f"/api/discount-rules/{rule_id}", {"priority": 50})
    assert edited.status_code == 200
    assert edited.json()["priority"] == 50
    assert edited.json()["definition"]["benefit"]["kind"] == "tiers"
    bad = manager.patch(f"/api/discount-rules/{rule_id}", {"benefit": {"kind": "percent_off", "percent": "-5"}})
    assert bad.status_code == 422
    assert error_fields(bad) == {"benefit.percent"}
    assert manager.delete(f"/api/discount-rules/{rule_id}").status_code == 204
    assert not DiscountRule.objects.exists()
