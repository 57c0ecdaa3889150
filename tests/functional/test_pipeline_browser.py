"""The pipeline in headless Chromium: a salesperson opens an opportunity from the account page, names the
decision maker, moves the card across the board to won, and sees it in the forecast."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.accounts.models import Contact
from patron.pipeline.models import Opportunity
from patron.staff.models import User
from tests.factories import make_account

pytestmark = pytest.mark.browser


def _screenshot(page: Any, name: str) -> None:
    folder = os.environ.get("PATRON_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def test_an_opportunity_goes_from_the_account_across_the_board_to_won_and_into_the_forecast(
    live_server, sign_in, page, staff
):
    User.objects.update(language="en")
    make_account(staff.sales, code="PLANT", name="Hangzhou Tea Plant", is_key_account=True)
    Contact.objects.create(account_id=staff.sales.accounts.get().pk, name="Mr Wang", role="decider")

    sign_in("sales")
    page.goto(f"{live_server.url}/accounts/PLANT/")
    page.get_by_test_id("new-opportunity").click()
    page.get_by_label("Name").fill("Canteen supply 2027")
    page.get_by_label("Amount").fill("120000.00")
    close = timezone.localdate() + dt.timedelta(days=20)
    page.get_by_label("Expected close").fill(close.isoformat())
    page.get_by_test_id("save").click()
    expect(page.get_by_test_id("stage")).to_have_text("Qualification")
    opportunity = Opportunity.objects.get()

    form = page.get_by_test_id("person-form")
    form.get_by_label("Contact person").select_option(label="Mr Wang · Decider")
    form.get_by_label("Role in the decision").select_option("decision_maker")
    form.get_by_label("Attitude").select_option("supporter")
    page.get_by_test_id("add-person").click()
    expect(page.get_by_test_id("decision-maker")).to_contain_text("Decision maker")
    _screenshot(page, "pipeline-detail")

    page.locator(".mainnav a", has_text="Pipeline").click()
    card = page.get_by_test_id("column-qualification").get_by_test_id("card")
    expect(card).to_contain_text("Canteen supply 2027")
    _screenshot(page, "pipeline-board")
    for stage, column in (
        ("proposal", "column-proposal"),
        ("negotiation", "column-negotiation"),
        ("won", "column-won"),
    ):
        current = page.locator('[data-testid="card"][data-name="Canteen supply 2027"]')
        current.locator("select[name=stage]").select_option(stage)
        current.get_by_test_id("move").click()
        expect(page.get_by_test_id(column).get_by_test_id("card")).to_contain_text("Canteen supply 2027")
    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.probability) == ("won", 100)
    assert list(opportunity.stage_changes.values_list("to_stage", flat=True)) == [
        "qualification",
        "proposal",
        "negotiation",
        "won",
    ]

    page.get_by_test_id("to-forecast").click()
    expect(page.get_by_test_id("forecast-chart")).to_be_visible()
    expect(page.get_by_test_id("total-won")).to_have_text("120,000.00")
    expect(page.get_by_test_id("total-weighted")).to_have_text("120,000.00")
    _screenshot(page, "pipeline-forecast")
