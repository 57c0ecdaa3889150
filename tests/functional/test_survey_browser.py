"""The public survey page in headless Chromium: answered without signing in, once; a guessed link finds nothing."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from patron.service import surveys
from patron.service.models import SurveyRecipient
from tests.factories import make_account

pytestmark = pytest.mark.browser


def test_a_customer_answers_the_survey_in_a_browser_without_signing_in(live_server, page, staff):
    make_account(staff.sales, code="SHOP", email="shop@example.com", language="en")
    survey = surveys.survey_create(
        actor=staff.marketing,
        data={
            "name": "How are we doing?",
            "questions": [{"kind": "choice", "text": "How do you order?", "choices": ["Phone", "WeChat"]}],
        },
    )
    surveys.survey_send(actor=staff.marketing, survey=survey, target={})
    row = SurveyRecipient.objects.get()
    page.goto(f"{live_server.url}/s/{row.token}/")
    expect(page.get_by_role("heading", name="How are we doing?")).to_be_visible()
    page.get_by_test_id("send").click()  # nothing chosen
    expect(page.get_by_test_id("error")).to_be_visible()
    page.get_by_test_id("nps-9").check()
    page.get_by_label("WeChat").check()
    page.get_by_test_id("send").click()
    expect(page.get_by_test_id("thanks")).to_be_visible()
    row.refresh_from_db()
    assert (row.nps, row.answers) == (9, {"q1": "WeChat"})
    page.goto(f"{live_server.url}/s/{row.token}/")
    expect(page.get_by_test_id("thanks")).to_be_visible()  # once: the page only thanks
    response = page.goto(f"{live_server.url}/s/{row.token[:-2]}xx/")
    assert response is not None
    assert response.status == 404
