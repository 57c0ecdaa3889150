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


def test_the_wizard_writes_a_gift_campaign_issued_automatically_and_schedules_a_run_by_sms(staff, west):
    from patron.sales.models import Product
    from tests.factories import make_product

    cup = make_product(sku="CUP", price="25.00")
    client = as_user(staff.marketing)
    no_gift = client.post(reverse("coupons:campaign_new"), {**FORM, "kind": "gift", "benefit": "gift"})
    assert no_gift.status_code == 400
    assert "Name the gift product." in no_gift.content.decode()
    unknown = client.post(
        reverse("coupons:campaign_new"), {**FORM, "kind": "gift", "benefit": "gift", "gift_product": "MUG"}
    )
    assert "No product has the SKU MUG." in unknown.content.decode()
    made = client.post(
        reverse("coupons:campaign_new"),
        {
            **FORM,
            "name": "A cup for loyal shops",
            "kind": "loyal_reward",
            "benefit": "gift",
            "gift_product": "cup",  # as typed, any case
            "gift_units": "1",
            "auto_issue": "on",
            "auto_holdout": "10",
            "channel": "sms",
        },
    )
    assert made.status_code == 302
    campaign = Campaign.objects.get(name="A cup for loyal shops")
    assert campaign.terms["benefit"] == {"kind": "gift", "free": 1}
    assert campaign.terms["what"]["products"] == [Product.objects.get(sku="CUP").pk] == [cup.pk]
    assert (campaign.auto_issue, campaign.holdout_percent, campaign.channel) == (True, 10, "sms")
    page = reverse("coupons:campaign_detail", args=[campaign.pk])
    shown = client.get(page).content.decode()
    assert f"1 × {cup.name} free." in shown
    assert "lifecycle stage" in shown  # issued automatically to the loyal stage
    # The wizard's last step on a draft: whom, hold-out, when; then the reach; then scheduling starts it.
    preview = client.get(
        page,
        {"preview": "1", "regions": [str(west.pk)], "holdout_percent": "0", "channel": "sms", "at": "2030-01-01T10:00"},
    ).content.decode()
    assert "40 accounts (0 with a phone number that agreed to SMS, 0 numbers)" in preview
    assert "Schedule for 2030-01-01 10:00" in preview
    scheduled = client.post(
        reverse("coupons:campaign_run", args=[campaign.pk]),
        {"regions": [str(west.pk)], "holdout_percent": "0", "channel": "sms", "at": "2030-01-01T10:00"},
        follow=True,
    )
    assert "Scheduled for 2030-01-01 10:00." in scheduled.content.decode()
    run = CampaignSend.objects.get(campaign=campaign)
    assert (run.status, run.channel) == (CampaignSend.SCHEDULED, "sms")
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.ACTIVE
    cancelled = client.post(reverse("coupons:run_cancel", args=[campaign.pk, run.pk]), follow=True)
    assert "The scheduled run is cancelled." in cancelled.content.decode()
    assert not CampaignSend.objects.filter(campaign=campaign).exists()


def test_codes_are_imported_from_a_file_a_shared_code_is_made_and_points_are_exchanged(staff):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from patron.rebates.models import PointsEntry

    shop = make_account(staff.sales, code="SHOP")
    PointsEntry.objects.create(account=shop, points=500, reason="rebate")
    client = as_user(staff.marketing)
    client.post(reverse("coupons:campaign_new"), FORM)
    spring = Campaign.objects.get()
    client.post(reverse("coupons:campaign_status", args=[spring.pk]), {"status": "active"})
    upload = SimpleUploadedFile("codes.csv", b"code\nPARTNER01\nPARTNER01\n", content_type="text/csv")
    bad = client.post(reverse("coupons:codes_import", args=[spring.pk]), {"file": upload}, follow=True).content.decode()
    assert "row 3: “PARTNER01” is given twice (first on row 2)." in bad
    assert "Nothing was imported" in bad
    upload = SimpleUploadedFile("codes.csv", b"code\nPARTNER01\nPARTNER02\n", content_type="text/csv")
    good = client.post(reverse("coupons:codes_import", args=[spring.pk]), {"file": upload}, follow=True)
    assert "2 codes imported." in good.content.decode()
    shared = client.post(reverse("coupons:shared_code", args=[spring.pk]), {"code": "tea-2026"}, follow=True)
    assert 'data-testid="shared-code">TEA2026<' in shared.content.decode()
    client.post(reverse("coupons:campaign_new"), {**FORM, "name": "Points", "kind": "points_exchange", "points": "300"})
    points = Campaign.objects.get(name="Points")
    client.post(reverse("coupons:campaign_status", args=[points.pk]), {"status": "active"})
    free = client.post(reverse("coupons:shared_code", args=[points.pk]), {"code": "FREE2026"}, follow=True)
    assert "A points exchange&#x27;s codes are had for points only." in free.content.decode()
    exchanged = client.post(reverse("coupons:points_exchange", args=[points.pk]), {"account": "shop"}, follow=True)
    assert "exchanged 300 points for the code" in exchanged.content.decode()
    assert "200 points left" in exchanged.content.decode()
    short = client.post(reverse("coupons:points_exchange", args=[points.pk]), {"account": "SHOP"}, follow=True)
    assert "300 points are needed; the account has 200 (100 missing)." in short.content.decode()
    assert Coupon.objects.filter(campaign=points).count() == 1
    listing = client.get(reverse("coupons:campaign_list")).content.decode()
    assert 'data-testid="kind-row"' in listing
    assert "Points exchange" in listing


def test_a_draft_changes_entirely_and_a_running_campaign_only_its_words_and_end(staff):
    client = as_user(staff.marketing)
    client.post(reverse("coupons:campaign_new"), FORM)
    campaign = Campaign.objects.get()
    edit = reverse("coupons:campaign_edit", args=[campaign.pk])
    page = client.get(edit).content.decode()
    assert 'value="Spring tea"' in page
    assert 'value="10"' in page  # the percent, read back into its field
    changed = client.post(edit, {**FORM, "percent": "15", "min_spend": "200"})
    assert changed.status_code == 302
    campaign.refresh_from_db()
    assert campaign.terms["benefit"] == {"kind": "percent_off", "percent": "15"}
    assert campaign.terms["min_spend"] == "200"
    client.post(reverse("coupons:campaign_status", args=[campaign.pk]), {"status": "active"})
    live = client.get(edit).content.decode()
    assert 'name="percent"' not in live  # a running campaign's terms are not offered
    past = client.post(edit, {"name": "Spring tea", "ends_at": "2026-06-01T00:00"})
    assert past.status_code == 400
    assert "cannot end in the past" in past.content.decode()
    renamed = client.post(edit, {"name": "Spring tea, extended", "ends_at": "2030-01-01T00:00"})
    assert renamed.status_code == 302
    campaign.refresh_from_db()
    assert (campaign.name, campaign.terms["benefit"]["percent"]) == ("Spring tea, extended", "15")
