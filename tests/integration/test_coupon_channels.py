"""Campaigns by SMS and app push through a webhook on a real local HTTP server (signed, idempotent,
retried when the gateway is away, failed when it refuses a number), consent to SMS respected, quiet
hours waited out, and runs scheduled for later."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patron.accounts.models import Contact
from patron.core import outbox
from patron.coupons import delivery, services
from patron.coupons.models import Campaign, CampaignRecipient, CampaignSend, Coupon
from patron.domain.coupons.codes import normalize
from tests.factories import make_account

SECRET = "gateway-secret"
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


class Gateway:
    """A local HTTP server that takes messages as an SMS gateway would; it can be told to be away (503)
    or to refuse a number (400)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.away = 0  # answer 503 to this many requests
        self.refuse: set[str] = set()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                payload = json.loads(body)
                if gateway.away > 0:
                    gateway.away -= 1
                    self.send_response(503)
                    self.end_headers()
                    return
                if payload["to"] in gateway.refuse:
                    self.send_response(400)
                    self.end_headers()
                    self.wfile.write(b"unknown number")
                    return
                digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                assert self.headers["X-Patron-Signature"] == f"sha256={digest}"
                gateway.received.append(payload)
                gateway.headers.append(dict(self.headers))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"


@pytest.fixture
def gateway(settings: Any) -> Iterator[Gateway]:
    server = Gateway()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    settings.PATRON_MESSAGE_WEBHOOK_URL = server.url
    settings.PATRON_MESSAGE_WEBHOOK_SECRET = SECRET
    settings.PATRON_PUBLISH_PER_SECOND = 0
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


@pytest.fixture
def spring(staff: Any) -> Campaign:
    made = services.campaign_create(
        actor=staff.marketing,
        data={
            "name": "Spring tea",
            "customer_text": "Fresh leaves are in.",
            "starts_at": timezone.now() - dt.timedelta(days=1),
            "terms": {"kind": "amount_off", "benefit": {"kind": "cart_amount_off", "amount": "20"}},
        },
    )
    return services.campaign_set_status(actor=staff.marketing, campaign=made, status=Campaign.ACTIVE)


@pytest.fixture
def texting(staff: Any) -> list[Any]:
    """Three accounts: two contacts agreed to SMS (one with two people on one number), one did not."""
    accounts = []
    for i in range(3):
        account = make_account(staff.sales, code=f"T{i}", name=f"Tea house {i}", phone=f"1390000000{i}", language="en")
        accounts.append(account)
    for account, phone, consent in (
        (accounts[0], "139 0000 1000", True),
        (accounts[0], "13900001000", True),  # the same number again: one message
        (accounts[1], "13900001001", True),
        (accounts[2], "13900001002", False),  # did not agree: no message
    ):
        Contact.objects.create(
            account=account,
            name=f"Buyer {phone[-1]}",
            phone=phone,
            sms_consent=consent,
            sms_consent_at=NOW if consent else None,
        )
    return accounts


def test_sms_goes_to_consenting_numbers_through_the_signed_webhook_with_each_accounts_code(
    staff, spring, texting, gateway
):
    reach = delivery.campaign_reach({"accounts": [a.pk for a in texting]}, channel="sms")
    assert (reach.accounts, reach.with_address, reach.addresses) == (3, 2, 3)  # 3 numbers before repeats drop
    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"accounts": [a.pk for a in texting]}, channel="sms"
    )
    report = delivery.campaign_send(run.pk)
    assert (report.sent, report.failed, report.finished) == (2, 0, True)
    assert sorted(m["to"] for m in gateway.received) == ["13900001000", "13900001001"]
    for message in gateway.received:
        row = CampaignRecipient.objects.get(phone=message["to"])
        coupon = Coupon.objects.get(pk=row.coupon_id)
        assert normalize(message["data"]["code"]) == coupon.code
        assert coupon.account_id == row.account_id
        assert message["data"]["account"] == row.account.code
        assert message["channel"] == "sms"
        assert "Fresh leaves are in." in message["text"]
        assert message["data"]["code"] in message["text"]
        assert "CNY 20.00 off the order" in message["text"]
    assert {h["Idempotency-Key"] for h in gateway.headers} == {
        f"campaign-recipient:{r.pk}" for r in CampaignRecipient.objects.filter(status="sent")
    }
    no_number = CampaignRecipient.objects.get(account=texting[2])
    assert no_number.status == CampaignRecipient.NO_ADDRESS


def test_a_gateway_away_is_retried_later_and_a_refused_number_fails_alone(staff, spring, texting, gateway):
    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"accounts": [a.pk for a in texting]}, channel="sms"
    )
    gateway.away = 1
    away = delivery.campaign_send(run.pk)
    assert (away.outage, away.sent) == (True, 0)
    assert away.retry_in is not None
    assert away.retry_in > 0
    gateway.refuse = {"13900001001"}
    CampaignSend.objects.filter(pk=run.pk).update(lease_until=None)  # the retry's time has come
    again = delivery.campaign_send(run.pk)
    assert (again.sent, again.failed, again.finished) == (1, 1, True)
    failed = CampaignRecipient.objects.get(status=CampaignRecipient.FAILED)
    assert failed.phone == "13900001001"
    assert "HTTP 400" in failed.last_error
    delivery.campaign_send(run.pk)
    assert len(gateway.received) == 1  # nobody twice


def test_app_push_reaches_every_account_by_its_code(staff, spring, texting, gateway):
    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"accounts": [a.pk for a in texting]}, channel="push"
    )
    assert delivery.campaign_send(run.pk).sent == 3
    assert sorted(m["to"] for m in gateway.received) == ["T0", "T1", "T2"]
    assert {m["channel"] for m in gateway.received} == {"push"}


def test_nothing_goes_out_in_the_quiet_hours_and_the_run_waits_for_their_end(
    staff, spring, texting, gateway, settings, monkeypatch
):
    settings.PATRON_QUIET_HOURS = "21:00-08:00"
    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"accounts": [a.pk for a in texting]}, channel="push"
    )
    late = timezone.make_aware(dt.datetime(2026, 12, 6, 23, 30))  # local time
    monkeypatch.setattr(outbox, "local_now", lambda: late)
    report = delivery.campaign_send(run.pk)
    assert (report.sent, gateway.received) == (0, [])
    assert report.retry_in is not None
    held = CampaignSend.objects.get(pk=run.pk)
    assert held.lease_until == timezone.make_aware(dt.datetime(2026, 12, 7, 8, 0))  # no sender before then
    assert delivery.campaign_sends_due(timezone.make_aware(dt.datetime(2026, 12, 7, 7, 59))) == []
    assert delivery.campaign_sends_due(timezone.make_aware(dt.datetime(2026, 12, 7, 8, 0))) == [run.pk]
    monkeypatch.setattr(outbox, "local_now", lambda: timezone.make_aware(dt.datetime(2026, 12, 7, 8, 1)))
    CampaignSend.objects.filter(pk=run.pk).update(lease_until=None)
    assert delivery.campaign_send(run.pk).sent == 3


def test_a_run_scheduled_for_later_draws_its_hold_out_and_codes_when_it_starts(staff, spring, texting, gateway):
    target = {"accounts": [a.pk for a in texting]}
    at = timezone.now() + dt.timedelta(hours=2)
    run = delivery.campaign_run(actor=staff.marketing, campaign=spring, target=target, channel="push", at=at)
    assert (run.status, run.scheduled_for, run.accounts) == (CampaignSend.SCHEDULED, at, 0)
    assert not Coupon.objects.filter(campaign=spring).exists()
    assert delivery.scheduled_runs_start(timezone.now()) == []  # not yet
    assert delivery.scheduled_runs_start(at + dt.timedelta(minutes=1)) == [run.pk]
    run.refresh_from_db()
    assert (run.status, run.accounts) == (CampaignSend.SENDING, 3)
    assert Coupon.objects.filter(campaign=spring).count() == 3
    assert delivery.scheduled_runs_start(at + dt.timedelta(minutes=2)) == []  # started once
    later = delivery.campaign_run(actor=staff.marketing, campaign=spring, target=target, channel="push", at=at)
    delivery.scheduled_run_cancel(actor=staff.marketing, run=later)
    assert not CampaignSend.objects.filter(pk=later.pk).exists()
    with pytest.raises(ValidationError) as bad:
        delivery.campaign_run(actor=staff.marketing, campaign=spring, target=target, channel="pigeon")
    assert "channel" in bad.value.message_dict


def test_a_past_time_is_refused_and_a_second_run_leaves_out_the_accounts_reached(staff, spring, texting, gateway):
    target = {"accounts": [a.pk for a in texting]}
    with pytest.raises(ValidationError) as past:
        delivery.campaign_run(
            actor=staff.marketing, campaign=spring, target=target, at=timezone.now() - dt.timedelta(hours=1)
        )
    assert "This time has passed" in past.value.message_dict["at"][0]
    first = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"accounts": [texting[0].pk]}, channel="push"
    )
    assert first.accounts == 1
    reach = delivery.campaign_reach(target, channel="push", campaign=spring)
    assert (reach.accounts, reach.already) == (2, 1)
    second = delivery.campaign_run(actor=staff.marketing, campaign=spring, target=target, channel="push")
    assert second.accounts == 2  # T0 had its code from the first run
    assert Coupon.objects.filter(campaign=spring, account=texting[0]).count() == 1


def test_the_run_says_what_it_did_in_numbers_that_add_up(staff, spring, texting, gateway, settings):
    from patron.coupons.views import run_summary

    run = delivery.campaign_run(
        actor=staff.marketing, campaign=spring, target={"accounts": [a.pk for a in texting]}, channel="sms"
    )
    assert run_summary(run) == (
        "3 codes issued; 2 messages on their way; 1 account has nowhere to send to; 0 accounts held out."
    )
