"""Coupons in headless Chromium: marketing writes a campaign, starts it, sees the reach, sends it with a
hold-out, and a salesperson looks a code up as a customer read it out."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from patron.accounts.models import Region
from patron.coupons.models import Coupon
from patron.staff.models import User
from tests.factories import make_account

pytestmark = pytest.mark.browser


def test_marketing_writes_starts_and_sends_a_campaign_and_a_code_is_looked_up(live_server, sign_in, page, staff):
    User.objects.update(language="en")
    region = Region.objects.create(code="W", name_zh="华西", name_en="West")
    for i in range(30):
        make_account(staff.sales, code=f"W{i:02d}", region=region, email=f"w{i}@shop.example")
    sign_in("marketing")
    page.locator(".mainnav a", has_text="Coupons").click()
    page.get_by_test_id("new-campaign").click()
    page.fill("input[name=name]", "Spring tea")
    page.fill("input[name=percent]", "150")  # too much: refused beside the field
    page.fill("input[name=starts_at]", "2026-01-01T09:00")
    page.fill("input[name=code_prefix]", "spr")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    page.fill("input[name=percent]", "10")
    page.get_by_test_id("save").click()
    page.get_by_test_id("activate").click()
    expect(page.get_by_test_id("status")).to_have_text("Active")
    page.select_option("select[name=regions]", [str(region.pk)])
    page.fill("input[name=holdout_percent]", "10")
    page.get_by_test_id("preview").click()
    expect(page.get_by_test_id("reach")).to_contain_text("30 accounts")
    page.get_by_test_id("run").click()
    expect(page.locator(".messages")).to_contain_text("Sent to")
    expect(page.get_by_test_id("runs")).to_contain_text("30 accounts")
    code = Coupon.objects.filter(account__isnull=False).first().code
    page.goto(f"{live_server.url}/coupons/lookup/")
    typed = f"{code[:3].lower()}-{code[3:7].lower()} {code[7:]}"  # as a customer reads it out
    page.fill("input[name=code]", typed)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("coupon")).to_contain_text("Spring tea")
