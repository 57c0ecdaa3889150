"""Running a coupon campaign: reach shown first, a recorded hold-out, a code per account, emails through a
real SMTP server in each account's language, and nobody sent twice when the sender stops and starts again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from patron.accounts.models import Contact, Region
from patron.coupons import delivery, services
from patron.coupons.models import Campaign, CampaignRecipient, CampaignSend, Coupon
from patron.domain.coupons.codes import normalize
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp

NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    settings.PATRON_PUBLISH_PER_SECOND = 0
    with serving_smtp(settings) as server:
        yield server


@pytest.fixture
def spring(staff: Any) -> Campaign:
    made = services.campaign_create(
        actor=staff.marketing,
        data={
            "name": "Spring tea",
            "customer_text": "Fresh leaves are in.",
            "prefix": "SPR",
            "starts_at": timezone.now() - dt.timedelta(days=1),
            "terms": {"kind": "percent_off", "benefit": {"kind": "percent_off", "percent": "10"}, "valid_days": 30},
        },
    )
    return services.campaign_set_status(actor=staff.marketing, campaign=made, status=Campaign.ACTIVE)


@pytest.fixture
def south(staff: Any) -> Region:
    region = Region.objects.create(code="S", name_zh="华南", name_en="South")
    for i in range(6):
        account = make_account(
            staff.sales, code=f"S{i}", name=f"South {i}", region=region, email=f"s{i}@shop.example", language="en"
        )
        if i == 0:
            Contact.objects.create(
                account=account, name="Buyer", email="buyer@s0.example", email_consent=True, email_consent_at=NOW
            )
    make_account(staff.sales, code="S-NONE", name="No mail", region=region, language="zh-hans")
    make_account(staff.sales, code="NORTH", name="North", email="n@shop.example")
    return region


def test_the_reach_is_shown_before_the_run(staff, south):
    reach = delivery.campaign_reach({"regions": [south.pk]}, holdout_percent=10)
    assert (reach.accounts, reach.with_address, reach.addresses, reach.held_out) == (7, 6, 7, 1)


def test_each_account_gets_its_own_code_by_email_in_its_language(
    staff, spring, south, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = delivery.campaign_run(actor=staff.marketing, campaign=spring, target={"regions": [south.pk]})
    assert (run.accounts, run.held_out) == (7, 0)
    assert CampaignSend.objects.get(pk=run.pk).status == CampaignSend.DONE
    codes = dict(Coupon.objects.filter(campaign=spring).values_list("account__code", "code"))
    assert set(codes) == {"S0", "S1", "S2", "S3", "S4", "S5", "S-NONE"}  # the one without an address too
    received = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert set(received) == {f"s{i}@shop.example" for i in range(6)} | {"buyer@s0.example"}
    for i in range(6):
        body = received[f"s{i}@shop.example"].body
        assert normalize(body.split("Your code: ")[1].split()[0]) == codes[f"S{i}"]  # the right code per recipient
    assert "10% off." in received["s1@shop.example"].body
    assert "Valid until " in received["s1@shop.example"].body
    assert received["buyer@s0.example"].subject == "A coupon for you: Spring tea"
    assert CampaignRecipient.objects.get(account__code="S-NONE").status == CampaignRecipient.NO_ADDRESS


def test_a_sender_stopped_halfway_and_started_again_sends_nobody_twice(staff, spring, south, smtp):
    run = delivery.campaign_run(actor=staff.marketing, campaign=spring, target={"regions": [south.pk]})
    assert delivery.campaign_send(run.pk, stop_after=3).sent == 3
    assert delivery.campaign_sends_due() == [run.pk]
    rest = delivery.campaign_send(run.pk)
    assert (rest.sent, rest.finished) == (4, True)
    addresses = [m.rcpt_tos[0] for m in smtp.messages]
    assert len(addresses) == 7 == len(set(addresses))


def test_the_hold_out_is_chosen_once_recorded_and_gets_nothing(staff, spring, smtp):
    region = Region.objects.create(code="E", name_zh="华东", name_en="East")
    for i in range(200):
        make_account(staff.sales, code=f"E{i:03d}", region=region, email=f"e{i}@shop.example")
    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"regions": [region.pk]}, holdout_percent=10
    )
    held = set(CampaignRecipient.objects.filter(send=run, status="held_out").values_list("account_id", flat=True))
    assert len(held) == run.held_out
    assert 8 <= len(held) <= 35  # about 10% of 200
    assert all(delivery.held_out(run.seed, pk, 10) for pk in held)  # the same draw, reproducible
    assert not Coupon.objects.filter(account_id__in=held).exists()
    delivery.campaign_send(run.pk)
    assert len(smtp.messages) == 200 - len(held)


def test_only_editors_run_a_campaign_and_a_bad_target_is_named(staff, spring):
    with pytest.raises(PermissionDenied):
        delivery.campaign_run(actor=staff.sales, campaign=spring)
    with pytest.raises(ValidationError) as bad:
        delivery.campaign_run(actor=staff.marketing, campaign=spring, target={"regions": "south"})
    assert "target.regions" in bad.value.message_dict
    with pytest.raises(ValidationError):
        delivery.campaign_run(actor=staff.marketing, campaign=spring, holdout_percent=80)


def test_a_campaigns_effect_counts_what_was_sent_redeemed_and_earned_against_the_hold_out(staff, spring, smtp):
    from decimal import Decimal as D

    from patron.coupons.effect import campaign_effect
    from patron.sales import services as sales
    from tests.factories import make_product

    region = Region.objects.create(code="W", name_zh="华西", name_en="West")
    for i in range(60):
        make_account(staff.sales, code=f"W{i:02d}", region=region, email=f"w{i}@shop.example")
    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"regions": [region.pk]}, holdout_percent=20
    )
    delivery.campaign_send(run.pk)
    tea = make_product(price="100.00", cost="60.00")
    coupons = list(Coupon.objects.filter(campaign=spring).select_related("account")[:3])
    for coupon in coupons:  # three treated accounts buy with their code
        sales.order_create(
            actor=staff.sales,
            account=coupon.account,
            lines=[sales.LineInput(product=tea, quantity="5")],
            coupons=[coupon.code],
            confirm=True,
        )
    effect = campaign_effect(spring)
    assert effect["issued"] == 60 - run.held_out
    assert effect["delivered"] == 60 - run.held_out
    assert (effect["redeemed"], effect["orders"]) == (3, 3)
    assert effect["cost"] == D("150.00")  # 10% of 500, three times
    assert effect["sales"] == D("1350.00")
    assert effect["margin"] == D("450.00")  # 1,350 less 15 units at 60
    assert effect["roi"] == D("3.00")  # 600 of margin before the 150 of discount: (600 - 150) / 150
    lift = effect["uplift"]
    assert (lift.treated.accounts, lift.held_out.accounts) == (60 - run.held_out, run.held_out)
    assert lift.treated.buyers == 3
    assert lift.held_out.buyers == 0
    assert lift.spend_per_account.value > 0


def test_a_customer_rates_the_offer_once_from_the_emails_link_without_signing_in(staff, spring, south, smtp):
    from django.test import Client

    run = delivery.campaign_run(actor=staff.marketing, campaign=spring, target={"regions": [south.pk]})
    delivery.campaign_send(run.pk)
    body = next(m for m in smtp.messages if m.rcpt_tos == ["s1@shop.example"]).body
    link = body.split("What do you think of this offer? ")[1].split()[0]
    path = "/" + link.split("/", 3)[3]
    anonymous = Client()
    assert anonymous.get(path).status_code == 200
    assert anonymous.post(path, {"rating": "9"}).status_code == 400
    assert anonymous.post(path, {"rating": "4", "comment": "Good tea"}).status_code == 200
    assert anonymous.post(path, {"rating": "1", "comment": "changed my mind"}).status_code == 200
    row = CampaignRecipient.objects.get(token=path.rstrip("/").split("/")[-1])
    assert (row.rating, row.comment) == (4, "Good tea")  # the first answer counts
    assert anonymous.get(path[:-5] + "xxxx/").status_code == 404  # an altered token gets nothing
    from tests.api_client import as_user

    dashboard = as_user(staff.marketing).get(f"/coupons/{spring.pk}/").content.decode()
    assert "4/5 · “Good tea”" in dashboard
