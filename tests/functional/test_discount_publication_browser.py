"""A manager publishes a policy from its page in headless Chromium; a customer opens the emailed link,
signed in nowhere, and reads their offer in Chinese, then in English."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from playwright.sync_api import expect

from patron.discounts import mappers
from tests.functional.test_discount_publication_pages import two_region_policy
from tests.integration.test_discount_publication import World

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fresh_book() -> Any:
    mappers.forget()
    yield
    mappers.forget()


def test_a_manager_publishes_and_a_customer_opens_the_link(live_server, sign_in, staff, settings, browser):
    settings.PATRON_PUBLISH_PER_SECOND = 0
    settings.PATRON_BASE_URL = live_server.url
    staff.manager.language = "en"
    staff.manager.save(update_fields=["language"])
    world = World(staff)
    policy = two_region_policy(world)

    page = sign_in("manager")
    page.goto(f"{live_server.url}/discounts/{policy.pk}/")
    card = page.get_by_test_id("publications")
    expect(card.get_by_test_id("publish-reach")).to_contain_text("The rules reach 4 accounts today.")
    page.once("dialog", lambda dialog: dialog.accept())
    card.get_by_test_id("publish").click()
    expect(page.locator(".messages")).to_contain_text("is on its way: 4 emails to 4 accounts")
    page.reload()  # the emails left after the commit, through the queue
    expect(page.get_by_test_id("publication-sent")).to_have_text("4")
    expect(page.get_by_test_id("publish")).to_have_count(0)

    (email,) = [m for m in mail.outbox if m.to == ["sz@example.cn"]]
    link = re.search(r"https?://\S+/offers/\S+/", email.body)
    assert link is not None
    customer = browser.new_context().new_page()  # nobody signed in
    customer.goto(link.group(0))
    offer = customer.get_by_test_id("offer")
    expect(offer.locator("h1")).to_have_text("Winter tea")
    expect(customer.get_by_test_id("offer-rules")).to_contain_text("绿茶")
    expect(customer.get_by_test_id("offer-rules").locator("li")).to_have_count(1)
    expect(customer.get_by_test_id("offer-dates")).to_contain_text("2030年12月1日")
    customer.get_by_role("link", name="English").click()
    expect(customer.get_by_test_id("offer-rules")).to_contain_text("10% off on everything in Green tea.")
    expect(customer.locator("html")).to_have_attribute("lang", "en")
    customer.context.close()
