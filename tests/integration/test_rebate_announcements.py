"""Announcing a rebate program, and its changes, to the accounts it concerns: emails in each account's
language through a real SMTP server, each address once even when the sender is stopped halfway."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from patron.accounts.models import Contact
from patron.core.errors import Conflict
from patron.rebates import announce, services
from patron.rebates.models import AnnouncementRecipient, RebateAnnouncement, RebateProgram
from tests.factories import make_account
from tests.smtp import SmtpServer, serving_smtp

TERMS = {"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]}
DAY = dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpServer]:
    settings.PATRON_PUBLISH_PER_SECOND = 0
    with serving_smtp(settings) as server:
        yield server


@pytest.fixture
def program(staff: Any) -> RebateProgram:
    tea = make_account(staff.sales, code="TEA", name="茶叶铺", email="shop@tea.example", language="zh-hans")
    Contact.objects.create(
        account=tea, name="王经理", email="wang@tea.example", email_consent=True, email_consent_at=NOW
    )
    Contact.objects.create(account=tea, name="No Mail", email="no@tea.example", email_consent=False)
    Contact.objects.create(
        account=tea, name="Same", email="SHOP@tea.example", email_consent=True, email_consent_at=NOW
    )  # once only
    bay = make_account(staff.sales, code="BAY", name="Bay Stores", email="buyer@bay.example", language="en")
    silent = make_account(staff.sales, code="SILENT", name="No Address Ltd", language="en")
    ended = make_account(staff.sales, code="ENDED", name="Ended Co", email="old@ended.example")
    prospect = make_account(staff.sales, code="NEW", name="Prospect Co", email="hello@new.example", language="en")
    made = services.program_create(
        actor=staff.manager,
        data={
            "name": "Quarterly volume",
            "customer_text": "Buy more, earn more.",
            "effective_from": "2027-01-01",
            "terms": TERMS,
            "eligibility": {"accounts": [prospect.pk]},
        },
    )
    for shop in (tea, bay, silent):
        services.agreement_create(actor=staff.manager, program=made, account=shop, signed_on="2026-11-01")
    services.agreement_create(
        actor=staff.manager, program=made, account=ended, signed_on="2026-01-01", valid_from="2026-01-01"
    )
    made.agreements.filter(account=ended).update(valid_to=dt.date(2026, 6, 30))
    return made


def test_a_program_is_announced_to_each_address_of_the_accounts_it_concerns_in_their_language(
    staff, program, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        made = announce.program_announce(actor=staff.manager, program=program, day=DAY)
    assert made.kind == RebateAnnouncement.FIRST
    assert made.effective_on == dt.date(2027, 1, 1)
    assert made.accounts == 4  # TEA, BAY, SILENT with agreements; NEW by eligibility; not ENDED
    rows = {(r.account.code, r.email, r.status) for r in made.recipients.select_related("account")}
    assert rows == {
        ("TEA", "shop@tea.example", "sent"),
        ("TEA", "wang@tea.example", "sent"),
        ("BAY", "buyer@bay.example", "sent"),
        ("NEW", "hello@new.example", "sent"),
        ("SILENT", "", "no_address"),
    }
    by_address = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert set(by_address) == {"shop@tea.example", "wang@tea.example", "buyer@bay.example", "hello@new.example"}
    chinese = by_address["wang@tea.example"]
    assert chinese.subject == "返利方案“Quarterly volume”自2027年1月1日起实行"
    assert "王经理" in chinese.body
    assert "3%" in chinese.body
    english = by_address["buyer@bay.example"]
    assert english.subject == "Rebate program “Quarterly volume” from Jan. 1, 2027"
    assert "Dear Bay Stores," in english.body
    assert "Buy more, earn more." in english.body
    assert "Nothing is earned below CNY 10,000.00." in english.body
    assert "from CNY 0.00: 2%; from CNY 20,000.00: 3%" in english.body
    assert "Paid as: credit note against later invoices, 30 days after each period ends." in english.body
    assert RebateAnnouncement.objects.get().status == RebateAnnouncement.DONE
    again = announce.program_announce(actor=staff.manager, program=program, day=DAY)
    assert again.pk == made.pk  # the same version: nobody is told twice
    assert len(smtp.messages) == 4


def test_a_change_tells_each_account_what_changed_and_from_when(
    staff, program, smtp, django_capture_on_commit_callbacks
):
    announce.program_announce(actor=staff.manager, program=program, day=DAY)
    announce.announcement_send(RebateAnnouncement.objects.get().pk)
    smtp.messages.clear()
    services.program_update(actor=staff.manager, program=program, data={"description": "internal note"})
    with pytest.raises(Conflict):  # nothing customers are told has changed
        announce.program_announce(actor=staff.manager, program=program, day=DAY)
    services.program_update(
        actor=staff.manager, program=program, data={"terms": {**TERMS, "threshold": "8000"}, "payout_form": "cash"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        change = announce.program_announce(actor=staff.manager, program=program, day=DAY)
    assert change.kind == RebateAnnouncement.CHANGE
    assert change.effective_on == dt.date(2027, 1, 1)  # not started yet: from its start
    assert set(change.changes) == {"terms", "payout_form"}
    english = next(m for m in smtp.messages if m.rcpt_tos == ["buyer@bay.example"])
    assert english.subject == "Rebate program “Quarterly volume” changes from Jan. 1, 2027"
    assert "What changed:" in english.body
    assert "Nothing is earned below CNY 8,000.00." in english.body
    assert "(before: Counted on your net purchases" in english.body
    assert "Paid as: cash or bank transfer" in english.body
    assert "(before: Paid as: credit note against later invoices" in english.body
    chinese = next(m for m in smtp.messages if m.rcpt_tos == ["wang@tea.example"])
    assert "变更内容" in chinese.body


def test_a_sender_stopped_halfway_and_started_again_sends_each_address_once(staff, program, smtp):
    made = announce.program_announce(actor=staff.manager, program=program, day=DAY)  # callbacks not run
    first = announce.announcement_send(made.pk, stop_after=2)
    assert first.sent == 2
    assert not first.finished
    assert announce.announcements_due() == [made.pk]
    second = announce.announcement_send(made.pk)
    assert (second.sent, second.finished) == (2, True)
    addresses = [m.rcpt_tos[0] for m in smtp.messages]
    assert len(addresses) == 4 == len(set(addresses))
    assert announce.announcements_due() == []


def test_only_editors_announce_and_a_closed_program_is_not_announced(staff, program):
    with pytest.raises(PermissionDenied):
        announce.program_announce(actor=staff.sales, program=program, day=DAY)
    services.program_set_status(actor=staff.manager, program=program, status=RebateProgram.ACTIVE)
    services.program_set_status(actor=staff.manager, program=program, status=RebateProgram.CLOSED)
    with pytest.raises(Conflict):
        announce.program_announce(actor=staff.manager, program=program, day=DAY)
    assert not AnnouncementRecipient.objects.exists()


def test_the_program_page_announces_and_shows_how_sending_went(
    staff, program, smtp, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from tests.api_client import as_user

    client = as_user(staff.manager)
    with django_capture_on_commit_callbacks(execute=True):
        posted = client.post(reverse("rebates:program_announce", args=[program.pk]))
    text = client.get(posted["Location"]).content.decode()
    assert "Announced to 4 accounts" in text
    assert "emails sent 4, waiting 0, failed 0; accounts without an address 1" in text  # the queue runs at once
    assert as_user(staff.sales).post(reverse("rebates:program_announce", args=[program.pk])).status_code == 403


def test_an_approved_settlement_tells_each_paid_account_with_its_receipt_link(
    staff, program, smtp, django_capture_on_commit_callbacks
):
    from django.test import Client

    from patron.rebates.models import PayoutNotice, RebatePayout, RebateSettlement
    from patron.rebates.notices import notice_send
    from patron.rebates.settlement import settlement_approve, settlement_start
    from patron.sales import services as sales
    from tests.factories import make_product

    services.program_update(actor=staff.manager, program=program, data={"effective_from": "2026-01-01"})
    program = services.program_set_status(actor=staff.manager, program=program, status=RebateProgram.ACTIVE)
    program.agreements.update(valid_from=dt.date(2026, 1, 1))  # signed when the program was to start in 2027
    tea = make_product(price="1000.00")
    for code in ("TEA", "BAY"):
        account = program.agreements.get(account__code=code).account
        sales.order_create(
            actor=staff.manager,
            account=account,
            lines=[sales.LineInput(product=tea, quantity="12")],
            order_date=dt.date(2026, 11, 20),
            confirm=True,
        )
    settlement = settlement_start(
        actor=staff.finance, program=program, day=dt.date(2026, 11, 20), kind=RebateSettlement.PARTIAL
    )
    with django_capture_on_commit_callbacks(execute=True):
        settlement_approve(actor=staff.admin, settlement=settlement)
    notice = PayoutNotice.objects.get(settlement=settlement)
    assert notice.status == PayoutNotice.DONE
    by_address = {m.rcpt_tos[0]: m for m in smtp.messages}
    assert set(by_address) == {"shop@tea.example", "wang@tea.example", "buyer@bay.example"}
    english = by_address["buyer@bay.example"]
    assert english.subject == "Your rebate from “Quarterly volume”: CNY 240.00"
    payout = RebatePayout.objects.get(account__code="BAY")
    link = f"/rebates/receipt/{payout.token}/"
    assert link in english.body
    assert "Paid as: Credit note against later invoices" in english.body
    assert "您的返利" in by_address["wang@tea.example"].subject
    assert Client().post(link).status_code == 200  # the customer confirms from the link, signed in or not
    payout.refresh_from_db()
    assert payout.confirmed_at is not None
    assert notice_send(notice.pk).sent == 0  # sent once: nothing left
