"""A salesperson's day in headless Chromium: sign in, find an account, add a contact, switch to Chinese."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.accounts.models import Contact, CustomField
from tests.factories import make_account, make_industry, make_invoice, make_order, make_product, make_region_tree

pytestmark = pytest.mark.browser


def _screenshot(page, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


@pytest.fixture
def tea_world(staff):
    staff.sales.language = "en"
    staff.sales.save(update_fields=["language"])
    regions = make_region_tree()
    CustomField.objects.create(key="budget", label_zh="预算", label_en="Budget", kind="number")
    own = make_account(
        staff.sales,
        code="SZ-TEA",
        name="Shenzhen Tea House",
        region=regions["SZ"],
        industry=make_industry(),
        is_key_account=True,
        phone="0755-8888",
        custom={"budget": "5000"},
    )
    make_account(staff.sales, code="HZ-SILK", name="Hangzhou Silk Co", region=regions["HZ"])
    make_account(staff.sales3, code="BJ-TEA", name="Beijing Tea Garden", region=regions["CN"])
    oolong = make_product(price="88.00", name="Oolong")
    make_order(staff.sales, own, [(oolong, "5")])
    today = timezone.localdate()
    for months_back, quantity in ((1, "12"), (2, "7"), (4, "20"), (7, "3")):
        make_order(staff.sales, own, [(oolong, quantity)], order_date=today - dt.timedelta(days=30 * months_back))
    late = make_order(staff.sales, own, [(oolong, "2")], order_date=today - dt.timedelta(days=75))
    make_invoice(staff.finance, late, issue_date=late.order_date, due_date=late.order_date + dt.timedelta(days=30))
    return own


def test_salesperson_finds_an_account_adds_a_contact_and_switches_to_chinese(live_server, sign_in, staff, tea_world):
    page = sign_in("sales")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("sales-chart")).to_be_visible()
    _screenshot(page, "dashboard")

    # The account list shows only the salesperson's own accounts.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Accounts").click()
    table = page.get_by_test_id("account-table")
    expect(table.get_by_role("link", name="SZ-TEA")).to_be_visible()
    expect(table.get_by_role("link", name="HZ-SILK")).to_be_visible()
    expect(table.get_by_role("link", name="BJ-TEA")).to_have_count(0)

    # Searching narrows the list without a full reload (htmx), and the URL keeps the search.
    page.get_by_label("Search").fill("tea")
    expect(table.get_by_role("link", name="HZ-SILK")).to_have_count(0)
    expect(page.get_by_test_id("account-table").get_by_role("link", name="SZ-TEA")).to_be_visible()
    expect(page.get_by_test_id("account-table").get_by_role("link", name="BJ-TEA")).to_have_count(0)
    page.wait_for_url("**/accounts/?*q=tea*")
    _screenshot(page, "account-list")

    # The account page.
    page.get_by_test_id("account-table").get_by_role("link", name="Shenzhen Tea House").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Shenzhen Tea House")
    expect(page.get_by_test_id("custom-fields")).to_contain_text("5000")
    expect(page.get_by_test_id("receivables")).to_be_visible()

    # Add a contact who consents to email.
    page.get_by_role("link", name="Add contact").first.click()
    form = page.get_by_test_id("contact-form")
    form.get_by_label("Name").fill("Ms Lin")
    form.get_by_label("Role").select_option("buyer")
    form.get_by_label("Title").fill("Purchasing manager")
    form.get_by_label("Email", exact=True).fill("lin@example.com")
    form.get_by_label("Consents to email").check()
    form.get_by_role("button", name="Save").click()
    contacts = page.get_by_test_id("contacts")
    expect(contacts).to_contain_text("Ms Lin")
    expect(contacts).to_contain_text("Purchasing manager")
    expect(contacts).to_contain_text("Email consent since")
    assert Contact.objects.get(account=tea_world).email_consent
    _screenshot(page, "account-page")

    # Switch the language in the top bar: the page comes back in Chinese.
    switch = page.get_by_test_id("language-switch").locator("select")
    switch.select_option("zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("language-switch").locator("select")).to_have_value("zh-hans")
    # Reference data is bilingual already: the region shows its Chinese name.
    expect(page.locator("#profile")).to_contain_text("深圳")
    assert page.url.endswith("/accounts/SZ-TEA/")
    _screenshot(page, "account-page-zh")
    staff.sales.refresh_from_db()
    assert staff.sales.language == "zh-hans"

    # The history tab shows who added the contact, with the values before and after.
    page.goto(f"{live_server.url}/accounts/SZ-TEA/history/")
    expect(page.get_by_test_id("history")).to_contain_text("Ms Lin")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    _screenshot(page, "account-history-zh")


def test_salesperson_gets_not_found_for_someone_elses_account(live_server, sign_in, staff, tea_world):
    page = sign_in("sales")
    response = page.goto(f"{live_server.url}/accounts/BJ-TEA/")
    assert response is not None
    assert response.status == 404


def test_bad_account_input_is_shown_against_the_fields(live_server, sign_in, staff, tea_world):
    page = sign_in("sales")
    page.goto(f"{live_server.url}/accounts/new/")
    form = page.get_by_test_id("account-form")
    form.get_by_label("Code").fill("BAD CODE")
    form.locator("#id_name").fill("Broken")
    form.get_by_label("Budget").fill("lots")
    form.get_by_role("button", name="Save").click()
    expect(page.locator('[data-field="code"] .error')).to_be_visible()
    expect(page.locator('[data-field="cf_budget"] .error')).to_be_visible()
    expect(form.locator("#id_name")).to_have_value("Broken")
    _screenshot(page, "account-form-errors")
