"""The coupon pages through the test client: a campaign written in the form, its reach before a run, the
run, its dashboard against the hold-out, codes issued for print, and looking a code up."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from patron.accounts.models import Region
from patron.coupons.models import Campaign, CampaignSend, Coupon
from tests.api_client import as_user
from tests.factories import make_account

FORM = {
    "name": "Spring tea",
    "customer_text": "Fresh leaves are in.",
    "kind": "percent_off",
    "benefit": "percent_off",
    "percent": "10",
    "currency": "CNY",
    "starts_at": "2026-01-01T09:00",
    "uses_per_code": "1",
    "with_policies": "on",
    "code_prefix": "spr",
}


@pytest.fixture
def west(staff: Any) -> Region:
    region = Region.objects.create(code="W", name_zh="华西", name_en="West")
    for i in range(40):
        make_account(staff.sales, code=f"W{i:02d}", region=region, email=f"w{i}@shop.example")
    return region


def test_marketing_writes_a_campaign_starts_it_previews_the_reach_and_sends_it(staff, west):
    client = as_user(staff.marketing)
    bad = client.post(reverse("coupons:campaign_new"), {**FORM, "percent": "150"})
    assert bad.status_code == 400
    assert 'data-testid="form-errors"' in bad.content.decode()
    made = client.post(reverse("coupons:campaign_new"), FORM)
    assert made.status_code == 302
    campaign = Campaign.objects.get(name="Spring tea")
    assert campaign.prefix == "SPR"
    client.post(reverse("coupons:campaign_status", args=[campaign.pk]), {"status": "active"})
    page = reverse("coupons:campaign_detail", args=[campaign.pk])
    preview = client.get(page, {"preview": "1", "regions": [str(west.pk)], "holdout_percent": "10"}).content.decode()
    assert "40 accounts (40 with an address, 40 addresses); about 4 held out." in preview
    sent = client.post(
        reverse("coupons:campaign_run", args=[campaign.pk]), {"regions": [str(west.pk)], "holdout_percent": "10"}
    )
    assert sent.status_code == 302
    run = CampaignSend.objects.get()
    assert run.accounts == 40
    dashboard = client.get(page).content.decode()
    assert f'data-testid="issued">{40 - run.held_out}<' in dashboard
    assert "10% off." in dashboard
    chinese = as_user(staff.marketing, "zh-hans").get(page).content.decode()
    assert "顾客看到的规则" in chinese


def test_codes_for_print_download_and_a_code_is_looked_up_however_typed(staff):
    client = as_user(staff.marketing)
    client.post(reverse("coupons:campaign_new"), FORM)
    campaign = Campaign.objects.get()
    client.post(reverse("coupons:campaign_status", args=[campaign.pk]), {"status": "active"})
    download = client.post(reverse("coupons:campaign_codes", args=[campaign.pk]), {"count": "5"})
    assert download.status_code == 200
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert body.count("SPR-") == 5
    code = Coupon.objects.first().code
    found = as_user(staff.sales).get(reverse("coupons:code_lookup"), {"code": code.lower()}).content.decode()
    assert 'data-testid="coupon"' in found
    missing = as_user(staff.sales).get(reverse("coupons:code_lookup"), {"code": "NOPE"}).content.decode()
    assert 'data-testid="not-found"' in missing
    assert as_user(staff.sales).get(reverse("coupons:campaign_new")).status_code == 403
    assert as_user(staff.finance).get(reverse("coupons:campaign_list")).status_code == 403
