"""Approvals in headless Chromium: a manager opens what waits, reads the terms and approves with a comment;
a salesperson reading a request about their account finds no approve button."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from patron.approvals.models import ApprovalRequest
from patron.approvals.services import approval_submit
from patron.staff.models import User
from tests.factories import make_account

pytestmark = pytest.mark.browser

TERMS = {
    "lines": [{"sku": "TEA-1", "quantity": 10, "list_price": Decimal("100.00"), "unit_price": Decimal("70.00")}],
    "discount_percent": Decimal("30.00"),
    "margin": {"amount": "100.00", "currency": "CNY"},
}


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def submit(actor: Any, account: Any, subject_id: int) -> ApprovalRequest:
    return approval_submit(
        actor=actor,
        subject_type="order_discount",
        subject_id=subject_id,
        account=account,
        required_level="manager",
        reason="The customer signs a year's contract.",
        terms=TERMS,
    )


def test_a_manager_approves_with_a_comment_and_a_salesperson_cannot(live_server, sign_in, page, staff):
    User.objects.update(language="en")
    account = make_account(staff.sales, code="SHOP-1", name="Tea House")
    request = submit(staff.sales, account, 1)
    by_manager = submit(staff.manager, account, 2)  # about the salesperson's account, asked by the manager

    sign_in("manager")
    expect(page.get_by_test_id("approvals-waiting")).to_have_text("1")
    page.locator(".mainnav a", has_text="Approvals").click()
    expect(page).to_have_url(f"{live_server.url}/approvals/")
    rows = page.get_by_test_id("approval-row")
    expect(rows).to_have_count(1)
    rows.first.get_by_test_id("open").click()
    expect(page).to_have_url(f"{live_server.url}/approvals/{request.pk}/")
    expect(page.get_by_test_id("terms-lines")).to_contain_text("70.00")
    expect(page.get_by_test_id("reason")).to_have_text("The customer signs a year's contract.")
    _screenshot(page, "approval-detail")

    page.fill("#approve-comment", "For this order only.")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("status")).to_have_text("Approved")
    expect(page.get_by_test_id("decision-comment")).to_have_text("For this order only.")
    expect(page.get_by_test_id("approve")).to_have_count(0)
    expect(page.locator('[data-testid="event"][data-action="approve"]')).to_contain_text("For this order only.")
    expect(page.get_by_test_id("approvals-waiting")).to_have_count(0)
    request.refresh_from_db()
    assert (request.status, request.decided_by, request.comment) == ("approved", staff.manager, "For this order only.")

    page.context.clear_cookies()
    sign_in("sales")
    page.goto(f"{live_server.url}/approvals/{by_manager.pk}/")
    expect(page.get_by_test_id("status")).to_have_text("Pending")
    expect(page.get_by_test_id("terms")).to_be_visible()
    expect(page.get_by_test_id("approve")).to_have_count(0)
    expect(page.get_by_test_id("reject")).to_have_count(0)
    expect(page.get_by_test_id("not-yours")).to_contain_text("Waiting for a sales manager's or an admin's decision.")
    by_manager.refresh_from_db()
    assert by_manager.status == "pending"
