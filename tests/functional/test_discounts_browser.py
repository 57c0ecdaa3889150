"""Discounts in headless Chromium: a sales manager writes a policy with a tiered rule through the form and
activates it; a salesperson quotes a cart in the simulator, sees the tier applied and what the next tier
needs, in English and in Chinese, then tries a richer tier in the sandbox."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from patron.discounts import mappers, services
from patron.discounts.models import DiscountRule, Policy
from patron.sales.models import Category
from patron.staff.models import User
from tests.factories import make_account, make_product, make_region_tree

pytestmark = pytest.mark.browser

TIERS = {
    "kind": "tiers",
    "basis": "quantity",
    "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "8"}],
}


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


def _screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def tea(staff: Any) -> Any:
    User.objects.update(language="en")
    regions = make_region_tree()
    category = Category.objects.create(code="TEA", name_zh="茶", name_en="Tea")
    make_product("LJ", price="200.00", cost="120.00", category=category, name="Longjing")
    make_product("CUP", price="30.00", cost="10.00", category=Category.objects.create(code="CUPS", name_zh="杯"))
    make_account(staff.sales, code="SHOP-1", name="Tea House", region=regions["SZ"])
    return category


def test_a_manager_writes_a_tiered_rule_and_activates_the_policy(live_server, sign_in, page, staff, tea):
    sign_in("manager")
    page.locator(".mainnav a", has_text="Discounts").click()
    expect(page).to_have_url(f"{live_server.url}/discounts/")
    page.get_by_test_id("new-policy").click()
    page.fill("#id_name", "Volume tea")
    page.fill("#id_customer_text", "The more tea you buy, the less each box costs.")
    page.fill("#id_effective_from", "2020-01-01T08:00")
    page.get_by_test_id("save").click()
    policy = Policy.objects.get(name="Volume tea")
    expect(page).to_have_url(f"{live_server.url}/discounts/{policy.pk}/")
    expect(page.get_by_test_id("policy-status")).to_have_text("Draft")

    page.get_by_test_id("add-rule").click()
    expect(page.locator("#id_percent")).to_be_visible()
    expect(page.get_by_test_id("tiers")).to_be_hidden()
    page.fill("#id_name", "Tea tiers")
    page.select_option("#id_benefit_kind", "tiers")
    expect(page.get_by_test_id("tiers")).to_be_visible()
    expect(page.locator("#id_percent")).to_be_hidden()
    page.fill("#id_tier_from_0", "10")
    page.fill("#id_tier_percent_0", "5")
    page.fill("#id_tier_from_1", "50")
    page.fill("#id_tier_percent_1", "3")
    page.select_option("#id_categories", [str(tea.pk)])
    page.get_by_test_id("save-rule").click()
    # The second tier gives less than the first: said beside it, nothing saved.
    expect(page.locator("#id_tier_percent_1_error")).to_have_text("Must give more than the previous tier (5%).")
    assert not DiscountRule.objects.exists()
    page.fill("#id_tier_percent_1", "8")
    expect(page.get_by_test_id("preview-sentence")).to_have_text(
        "5% off from 10 units; 8% off from 50 units on everything in Tea, for every customer."
    )
    _screenshot(page, "discounts-rule-editor")
    page.get_by_test_id("save-rule").click()
    expect(page).to_have_url(re.compile(rf"/discounts/{policy.pk}/#rule-\d+$"))
    expect(page.get_by_test_id("rule-sentence")).to_have_text(
        "5% off from 10 units; 8% off from 50 units on everything in Tea, for every customer."
    )
    assert DiscountRule.objects.get().definition["benefit"] == TIERS

    page.get_by_test_id("status-active").click()
    expect(page.get_by_test_id("policy-status")).to_have_text("Active")
    expect(page.locator(".messages")).to_contain_text("is active")
    expect(page.locator('[data-testid="history-row"][data-action="DISCOUNT_POLICY_STATUS_CHANGED"]')).to_be_visible()
    _screenshot(page, "discounts-policy")
    policy.refresh_from_db()
    assert policy.status == Policy.ACTIVE


def test_a_salesperson_quotes_in_the_simulator_in_english_and_chinese_then_tries_a_sandbox(
    live_server, sign_in, page, staff, tea
):
    policy = services.policy_create(actor=staff.manager, data={"name": "Volume tea"})
    rule = services.rule_create(
        actor=staff.manager,
        policy=policy,
        data={"name": "Tea tiers", "what": {"categories": [tea.pk]}, "benefit": TIERS},
    )
    services.policy_set_status(actor=staff.manager, policy=policy, status=Policy.ACTIVE)

    sign_in("sales")
    page.locator(".mainnav a", has_text="Discounts").click()
    expect(page.get_by_test_id("new-policy")).to_have_count(0)
    page.get_by_test_id("open-simulator").click()
    expect(page).to_have_url(f"{live_server.url}/discounts/simulator/")
    page.fill("#id_account", "SHOP-1")
    page.fill("#id_line0-product", "LJ")
    page.fill("#id_line0-quantity", "20")
    page.fill("#id_line1-product", "CUP")
    page.fill("#id_line1-quantity", "2")
    page.get_by_test_id("quote").click()

    live = page.get_by_test_id("quote-live")
    tea_line = live.locator('[data-testid="quote-line"][data-line="1"]')
    expect(tea_line.get_by_test_id("net-amount")).to_have_text("3,800.00")
    expect(tea_line.get_by_test_id("how")).to_have_text("Tier 1 (from 10): 5% off")
    expect(live.get_by_test_id("net-total")).to_have_text("CNY 3,860.00")
    expect(live.get_by_test_id("hint")).to_have_text("“Tea tiers”: 30 more for 8% off.")
    expect(page.get_by_test_id("quote-for")).to_contain_text("For Tea House (SHOP-1)")
    _screenshot(page, "discounts-simulator")

    switch = page.get_by_test_id("language-switch").locator("select")
    switch.select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator(".mainnav")).to_contain_text("折扣")
    live = page.get_by_test_id("quote-live")
    expect(live.locator('[data-testid="quote-line"][data-line="1"]').get_by_test_id("net-amount")).to_have_text(
        "3,800.00"
    )
    expect(live.get_by_test_id("net-total")).to_have_text("CNY 3,860.00")
    expect(live.get_by_test_id("hint")).to_have_count(1)
    expect(live.get_by_test_id("hint")).to_contain_text("Tea tiers")
    _screenshot(page, "discounts-simulator-zh")
    switch = page.get_by_test_id("language-switch").locator("select")
    switch.select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # The sandbox: the first tier at 10% instead of 5%, priced beside the live rules.
    page.get_by_test_id("sandbox-start").click()
    expect(page.get_by_test_id("sandbox-edit-rule")).to_be_visible()
    page.get_by_test_id("sandbox-edit-rule").click()
    expect(page.get_by_test_id("sandbox-badge")).to_be_visible()
    expect(page.get_by_test_id("tiers")).to_be_visible()
    page.fill("#id_tier_percent_0", "10")
    page.fill("#id_tier_percent_1", "12")
    page.get_by_test_id("save-rule").click()
    comparison = page.get_by_test_id("comparison")
    expect(comparison.locator('[data-testid="diff-row"][data-line="1"] [data-testid="diff-amount"]')).to_have_text(
        "-200.00"
    )
    expect(comparison.get_by_test_id("diff-total")).to_have_text("-200.00")
    sandbox = page.get_by_test_id("quote-sandbox")
    expect(sandbox.locator('[data-testid="quote-line"][data-line="1"]').get_by_test_id("net-amount")).to_have_text(
        "3,600.00"
    )
    _screenshot(page, "discounts-simulator-sandbox")
    rule.refresh_from_db()
    assert rule.definition["benefit"] == TIERS
