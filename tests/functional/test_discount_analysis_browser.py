"""A sales manager replays a draft policy on March 2025 and reads its effect, in headless Chromium.

The data and its hand-worked figures are those of ``tests/integration/test_discount_analysis.py``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.integration import test_discount_analysis as data

pytestmark = pytest.mark.browser

march = data.march
vip = data.vip
_builtins = data._builtins
_fresh_book = data._fresh_book


def _screenshot(page: Any, name: str) -> None:
    """Keep a picture of the page when PATRON_SCREENSHOT_DIR is set (for a human to look at)."""
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_a_manager_replays_a_draft_on_march_and_finds_it_again(live_server: Any, sign_in: Any, staff: Any, march: Any):
    staff.manager.language = "en"
    staff.manager.save(update_fields=["language"])
    page = sign_in("manager")
    page.goto(f"{live_server.url}/discounts/analysis/")
    row = page.get_by_test_id("analysis-row").filter(has_text="High tier 5%")
    row.get_by_test_id("what-if-link").click()
    expect(page).to_have_url(f"{live_server.url}/discounts/analysis/policies/{march.draft.pk}/what-if/")

    # The last day before the first: the form says so beside the field and keeps what was typed.
    page.get_by_label("Custom dates").check()
    page.fill("#id_start", "2025-03-31")
    page.fill("#id_end", "2025-03-01")
    page.select_option("#id_classification", "value_tier")
    page.get_by_test_id("run-what-if").click()
    _screenshot(page, "what-if-form-error")
    expect(page.locator('[data-field="end"] .error')).to_contain_text("The last day must not come before the first.")

    page.fill("#id_start", "2025-03-01")
    page.fill("#id_end", "2025-03-31")
    page.get_by_label("Each order's date").check()
    page.get_by_test_id("run-what-if").click()
    expect(page).to_have_url(re.compile(r"/discounts/analysis/what-if/\d+/$"))
    expect(page.get_by_test_id("what-if-period")).to_contain_text("2025-03-01 – 2025-03-31")
    high = page.locator('[data-testid="what-if-row"][data-key="high"]')
    expect(high.get_by_test_id("current-discount")).to_have_text("40.00")
    expect(high.get_by_test_id("policy-discount")).to_contain_text("59.50")
    expect(high.get_by_test_id("policy-margin")).to_have_text("120.50")
    expect(high.get_by_test_id("extra-discount")).to_have_text("19.50")
    totals = page.get_by_test_id("what-if-totals")
    expect(totals.get_by_test_id("policy-discount")).to_have_text("79.50")
    expect(totals.get_by_test_id("extra-discount")).to_have_text("19.50")
    expect(page.get_by_test_id("discount-chart").locator("rect")).to_have_count(9)  # 3 classes x 3 bars
    expect(page.get_by_test_id("margin-chart")).to_be_visible()
    _screenshot(page, "what-if-result")

    # The run is listed with the policy's earlier replays.
    page.get_by_test_id("new-what-if").click()
    expect(page.get_by_test_id("what-if-run-row")).to_have_count(1)


def test_a_manager_reads_the_effect_of_a_policy_in_english_and_chinese(
    live_server: Any, sign_in: Any, staff: Any, vip: Any
):
    staff.manager.language = "en"
    staff.manager.save(update_fields=["language"])
    page = sign_in("manager")
    page.goto(f"{live_server.url}/discounts/analysis/")
    page.get_by_test_id("analysis-row").filter(has_text="VIP March").get_by_test_id("effect-link").click()
    expect(page.get_by_test_id("effect-before")).to_have_text("2025-01-29 – 2025-02-28")
    expect(page.get_by_test_id("effect-during")).to_contain_text("2025-03-01 – 2025-03-31")
    targeted = page.locator('[data-testid="effect-row"][data-key="targeted"]')
    expect(targeted.get_by_test_id("sales-during")).to_have_text("540.00")
    expect(targeted.get_by_test_id("group-discount")).to_have_text("60.00")
    expect(page.get_by_test_id("did-sales")).to_have_text("93.33")
    expect(page.get_by_test_id("did-mix-sales")).to_have_text("-40.00")
    expect(page.get_by_test_id("effect-monthly").locator("polyline")).to_have_count(2)
    _screenshot(page, "effect")

    page.select_option("#topbar-language", "zh-hans")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_test_id("did-sales")).to_have_text("93.33")


def test_finance_reads_results_but_is_not_offered_a_replay(live_server: Any, sign_in: Any, staff: Any, march: Any):
    staff.finance.language = "en"
    staff.finance.save(update_fields=["language"])
    page = sign_in("finance")
    page.goto(f"{live_server.url}/discounts/analysis/policies/{march.draft.pk}/what-if/")
    expect(page.get_by_test_id("what-if-runs")).to_be_visible()
    expect(page.get_by_test_id("what-if-form")).to_have_count(0)
