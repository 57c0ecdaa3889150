"""Rebates in headless Chromium: a manager reads a program's accruals and opens an account's statement
(in the customer's language, then in English); finance settles the quarter, overrides a line with a
reason, and an admin approves it once."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from patron.rebates import services
from patron.rebates.models import RebatePayout, RebateProgram, RebateSettlement
from patron.staff.models import User
from tests.factories import make_account, make_order, make_product

pytestmark = pytest.mark.browser

TERMS = {"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]}


@pytest.fixture
def program(staff: Any) -> RebateProgram:
    User.objects.update(language="en")
    made = services.program_create(
        actor=staff.manager, data={"name": "Quarterly volume", "effective_from": "2026-01-01", "terms": TERMS}
    )
    active = services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    shop = make_account(staff.sales, code="SHOP-1", name="Harbour Tea", language="zh-hans")
    services.agreement_create(actor=staff.manager, program=active, account=shop, signed_on="2026-01-01")
    make_order(staff.sales, shop, [(make_product(sku="OOLONG", price="1000.00"), "25")], order_date=dt.date(2026, 2, 1))
    return active


def test_a_manager_reads_accruals_and_the_customers_statement(live_server, sign_in, page, staff, program):
    sign_in("manager")
    page.locator(".mainnav a", has_text="Rebates").click()
    page.get_by_test_id("program-name").filter(has_text="Quarterly volume").click()
    expect(page.get_by_test_id("tiers")).to_contain_text("20,000.00")
    page.get_by_test_id("announce").click()
    expect(page.locator(".messages")).to_contain_text("Announced to 1 accounts")
    expect(page.get_by_test_id("announcements")).to_contain_text("accounts without an address 1")
    page.goto(f"{live_server.url}/rebates/statements/{program.agreements.get().pk}/2026-01-01/")
    expect(page.locator("h1")).to_contain_text("返利对账单")  # the customer reads Chinese
    expect(page.get_by_test_id("statement-line")).to_contain_text("OOLONG")
    page.get_by_test_id("other-language").click()
    expect(page.locator("h1")).to_contain_text("Rebate statement")
    expect(page.get_by_test_id("rebate")).to_have_text("CNY 750.00")  # 3% of 25,000
    expect(page.get_by_test_id("lines-total")).to_have_text("CNY 25,000.00")
    with page.expect_download() as downloading:
        page.get_by_test_id("download-pdf").click()
    saved = downloading.value
    assert saved.suggested_filename == "rebate-statement-SHOP-1-2026-01-01.pdf"
    from pypdf import PdfReader

    text = PdfReader(saved.path()).pages[0].extract_text()
    for figure in ("CNY 750.00", "CNY 25,000.00", "Rebate statement", "OOLONG"):
        assert figure in text


def test_finance_settles_and_an_admin_approves_once(live_server, sign_in, page, staff, program):
    sign_in("finance")
    page.goto(f"{live_server.url}/rebates/programs/{program.pk}/")
    page.fill("input[name=day]", "2026-02-01")
    page.get_by_test_id("settle").click()
    expect(page.get_by_test_id("total")).to_have_text("CNY 750.00")
    expect(page.get_by_test_id("approve")).to_have_count(0)  # who ran it cannot approve it
    page.get_by_test_id("override-amount").fill("700")
    page.get_by_test_id("override-save").click()
    expect(page.locator(".messages")).to_contain_text("Say why")
    page.get_by_test_id("override-amount").fill("700")
    page.get_by_test_id("override-comment").fill("Agreed after a late delivery")
    page.get_by_test_id("override-save").click()
    expect(page.get_by_test_id("override")).to_have_text("CNY 700.00")
    settlement = RebateSettlement.objects.get()
    page.context.clear_cookies()
    sign_in("admin")
    page.goto(f"{live_server.url}/rebates/settlements/{settlement.pk}/")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    assert RebatePayout.objects.get().amount == 700


def test_a_manager_writes_a_program_in_the_browser_and_activates_it(live_server, sign_in, page, staff):
    User.objects.update(language="en")
    sign_in("manager")
    page.goto(f"{live_server.url}/rebates/")
    page.get_by_test_id("new-program").click()
    page.fill("input[name=name]", "Summer volume")
    page.fill("input[name=effective_from]", "2026-06-01")
    page.select_option("select[name=mode]", "incremental")
    page.fill("input[name=threshold]", "10000")
    page.fill("input[name=tier_from_0]", "0")
    page.fill("input[name=tier_value_0]", "2")
    page.fill("input[name=tier_from_1]", "20000")
    page.fill("input[name=tier_value_1]", "1")  # gives less than the tier before: refused beside the field
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("tier-error")).to_contain_text("Must give more than the previous tier")
    page.fill("input[name=tier_value_1]", "3")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("tiers")).to_contain_text("20,000.00")
    page.get_by_test_id("activate").click()
    expect(page.get_by_test_id("status")).to_have_text("Active")


def test_a_manager_reads_cost_against_margin_and_replays_richer_tiers(live_server, sign_in, page, staff):
    from django.utils import timezone

    from patron.domain.periods import PeriodKind, period_containing, previous_period

    User.objects.update(language="en")
    last_quarter = previous_period(period_containing(timezone.localdate(), PeriodKind.QUARTER))
    made = services.program_create(
        actor=staff.manager, data={"name": "Volume 2", "effective_from": "2024-01-01", "terms": TERMS}
    )
    active = services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    shop = make_account(staff.sales, code="SHOP-2", name="Hill Tea")
    services.agreement_create(actor=staff.manager, program=active, account=shop, signed_on="2024-01-01")
    tea = make_product(sku="OOLONG", price="1000.00", cost="800.00")
    make_order(staff.sales, shop, [(tea, "25")], order_date=last_quarter.start)
    sign_in("manager")
    page.goto(f"{live_server.url}/rebates/")
    page.get_by_test_id("rebate-analysis").click()
    expect(page.get_by_test_id("overview-cost")).to_have_text("CNY 750.00")
    expect(page.get_by_test_id("program-costs")).to_be_visible()
    page.get_by_role("link", name="Volume 2").first.click()
    expect(page.get_by_test_id("period-chart")).to_be_visible()
    expect(page.get_by_test_id("period-cost").nth(1)).to_have_text("750.00")  # after this open quarter
    page.fill("input[name=tier_value_1]", "4")
    page.get_by_test_id("replay-run").click()
    expect(page.get_by_test_id("replay-status")).to_have_text("Done")
    expect(page.get_by_test_id("replay-reasons")).to_contain_text("they would have cost CNY 1,000.00")
    expect(page.get_by_test_id("replay-changes")).to_contain_text("SHOP-2")
    expect(page.get_by_test_id("replay-chart")).to_be_visible()
