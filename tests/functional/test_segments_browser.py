"""A sales manager writes a classification in headless Chromium: preview, save, recompute, counts, and why.

Huey runs at once under the test settings: the recompute is over when its page answers.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.segments.models import Classification, SegmentRun
from tests.factories import make_account, make_order, make_product

pytestmark = pytest.mark.browser


def _screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_manager_writes_a_classification_previews_saves_recomputes_and_reads_why(live_server, sign_in, staff):
    staff.manager.language = "en"
    staff.manager.save(update_fields=["language"])
    product = make_product(price="100.00", cost="60.00")
    day = timezone.localdate() - dt.timedelta(days=40)
    for code, quantity in (("S-1", "5"), ("S-2", "20"), ("S-3", "80"), ("S-4", "90")):
        account = make_account(staff.sales if code != "S-4" else staff.sales2, code=code, name=f"Shop {code}")
        make_order(staff.admin, account, [(product, quantity)], order_date=day)
    make_account(staff.sales, code="S-5", name="Shop without orders")

    page = sign_in("manager")
    page.goto(f"{live_server.url}/segments/")
    page.get_by_test_id("new-classification").click()
    expect(page).to_have_url(f"{live_server.url}/segments/new/")
    page.fill("#id_key", "big_buyers")
    page.fill("#id_name_zh", "大买家")
    page.fill("#id_name_en", "Big buyers")
    page.select_option("#id_indicator", "sales")
    page.select_option("#id_method", "thresholds")
    page.fill("#id_class_label_2", "Top buyers")
    page.fill("#id_cut_1", "1000")
    page.fill("#id_cut_2", "5000abc")

    page.get_by_test_id("preview-button").click()
    expect(page.locator("#id_cut_2_error")).to_contain_text("Enter an amount as text")
    page.fill("#id_cut_2", "5000")
    page.get_by_test_id("preview-button").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_be_visible()
    expect(preview.locator('[data-key="high"] [data-testid="count"]')).to_have_text("2")
    expect(preview.locator('[data-key="low"] [data-testid="count"]')).to_have_text("2")
    expect(page.get_by_test_id("preview-total")).to_have_text("5")
    _screenshot(page, "segments-editor-preview")
    assert not Classification.objects.filter(key="big_buyers").exists()

    page.get_by_test_id("save").click()
    expect(page).to_have_url(f"{live_server.url}/segments/big_buyers/")
    expect(page.get_by_test_id("snapshot-day")).to_contain_text("Not computed yet.")

    page.goto(f"{live_server.url}/segments/")
    page.get_by_test_id("recompute").click()
    expect(page.get_by_test_id("run-status")).to_have_text("Done")
    assert SegmentRun.objects.get().status == SegmentRun.DONE
    expect(page.locator('[data-key="big_buyers"] [data-testid="dist-big_buyers"]')).to_be_visible()
    _screenshot(page, "segments-list")

    page.locator('[data-key="big_buyers"] h2 a').click()
    expect(page).to_have_url(f"{live_server.url}/segments/big_buyers/")
    counts = page.get_by_test_id("class-count")
    expect(counts.nth(0)).to_contain_text("Low")
    expect(page.locator('[data-testid="class-count"][data-key="high"] [data-testid="count"]')).to_have_text("2")
    expect(page.locator('[data-testid="class-count"][data-key="mid"] [data-testid="count"]')).to_have_text("1")
    expect(page.get_by_test_id("cut-points")).to_have_text("CNY 1,000.00, CNY 5,000.00")
    _screenshot(page, "segments-classification")

    page.goto(f"{live_server.url}/accounts/S-3/")
    row = page.locator('[data-testid="account-segment"][data-key="big_buyers"]')
    expect(row.get_by_test_id("segment-class")).to_have_text("Top buyers")
    expect(row.get_by_test_id("reasons")).to_have_text(
        re.compile(r"Cumulative sales is CNY 8,000\.00, at least CNY 5,000\.00: Top buyers\.")
    )
    _screenshot(page, "segments-account")
