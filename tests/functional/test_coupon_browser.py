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
    page.on("dialog", lambda dialog: dialog.accept())  # "Start the campaign?"
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
    expect(page.locator(".messages")).to_contain_text("codes issued")
    expect(page.get_by_test_id("run-row")).to_contain_text("30")
    code = Coupon.objects.filter(account__isnull=False).first().code
    page.goto(f"{live_server.url}/coupons/lookup/")
    typed = f"{code[:3].lower()}-{code[3:7].lower()} {code[7:]}"  # as a customer reads it out
    page.fill("input[name=code]", typed)
    page.get_by_role("button", name="Look up").click()
    expect(page.get_by_test_id("coupon")).to_contain_text("Spring tea")


def test_the_wizard_in_chinese_writes_a_gift_schedules_a_run_and_imports_codes(
    live_server, sign_in, page, staff, tmp_path
):
    from patron.coupons.models import Campaign, CampaignSend
    from tests.factories import make_product

    User.objects.update(language="zh-hans")
    make_product(sku="CUP", price="25.00")
    region = Region.objects.create(code="E", name_zh="华东", name_en="East")
    for i in range(12):
        make_account(staff.sales, code=f"E{i:02d}", region=region, email=f"e{i}@shop.example")
    sign_in("marketing")
    page.goto(f"{live_server.url}/coupons/new/")
    expect(page.locator(".steps li[aria-current=step]")).to_have_text("类型与规则")
    page.fill("input[name=name]", "赠杯活动")
    page.select_option("select[name=kind]", "gift")
    page.select_option("select[name=benefit]", "gift")
    page.fill("input[name=gift_product]", "CUP")
    page.fill("input[name=starts_at]", "2026-01-01T09:00")
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("rules")).to_contain_text("赠送")
    page.select_option("select[name=regions]", [str(region.pk)])
    page.fill("input[name=holdout_percent]", "0")
    page.fill("input[name=at]", "2030-01-01T10:00")
    page.get_by_test_id("preview").click()
    expect(page.get_by_test_id("reach")).to_contain_text("12")
    expect(page.get_by_test_id("run")).to_contain_text("排期于 2030-01-01 10:00 发送")
    page.get_by_test_id("run").click()
    expect(page.locator(".messages")).to_contain_text("已排期于 2030-01-01 10:00")
    expect(page.get_by_test_id("runs")).to_contain_text("已排期")
    campaign = Campaign.objects.get(name="赠杯活动")
    assert campaign.status == Campaign.ACTIVE
    assert CampaignSend.objects.get(campaign=campaign).status == CampaignSend.SCHEDULED
    codes = tmp_path / "codes.csv"
    codes.write_text("code\nPARTNER01\nPARTNER01\n", encoding="utf-8")
    page.set_input_files("input[name=file]", str(codes))
    page.get_by_test_id("import-codes").click()
    expect(page.locator(".messages")).to_contain_text("第 3 行")
    codes.write_text("code\nPARTNER01\nPARTNER02\n", encoding="utf-8")
    page.set_input_files("input[name=file]", str(codes))
    page.get_by_test_id("import-codes").click()
    expect(page.locator(".messages")).to_contain_text("已导入 2 个券码")
