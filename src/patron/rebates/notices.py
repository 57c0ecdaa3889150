"""Telling each account of an approved settlement what it is paid, with the link to confirm receipt.

Approving a settlement writes one notice and, per payout (claw-backs are finance's letter, not
these), one row per address of the account: its own and its contacts' who agreed to email, in
the account's language. The emails go through ``patron.core.outbox`` after the approval
commits: paced, retried, and never sent twice after a restart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation

from patron.accounts.addresses import addresses_of, consenting_contacts, mail_language
from patron.accounts.models import Account
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send

from .models import PayoutNotice, PayoutNoticeRecipient, RebatePayout, RebateSettlement

CHUNK = 5000
NOTICES = Outbox("payout notice", PayoutNotice, PayoutNoticeRecipient, "notice")


def receipt_link(token: str) -> str:
    return settings.PATRON_BASE_URL.rstrip("/") + reverse("rebates:receipt", args=[token])


def notice_prepare(settlement: RebateSettlement) -> PayoutNotice:
    """Inside the approval's transaction: the rows, then the sending once it commits."""
    notice, created = PayoutNotice.objects.get_or_create(settlement=settlement)
    if not created:
        return notice
    payouts = (
        RebatePayout.objects.filter(line__settlement=settlement, amount__gt=0)
        .order_by("account_id", "pk")
        .values_list("pk", "account_id")
    )
    by_account: dict[int, list[int]] = {}
    for pk, account_id in payouts:
        by_account.setdefault(account_id, []).append(pk)
    ids = sorted(by_account)
    accounts = Account.objects.filter(pk__in=ids)
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        contacts = consenting_contacts(accounts, chunk[0], chunk[-1])
        rows = []
        for account in accounts.filter(pk__in=chunk).values("pk", "email", "name", "language"):
            language = mail_language(account["language"])
            addresses = addresses_of(account, contacts)
            for payout_id in by_account[account["pk"]]:
                for contact_id, email, name in addresses:
                    rows.append(
                        PayoutNoticeRecipient(
                            notice=notice,
                            payout_id=payout_id,
                            account_id=account["pk"],
                            contact_id=contact_id,
                            email=email,
                            name=name,
                            language=language,
                        )
                    )
                if not addresses:
                    rows.append(
                        PayoutNoticeRecipient(
                            notice=notice,
                            payout_id=payout_id,
                            account_id=account["pk"],
                            name=account["name"],
                            language=language,
                            status=PayoutNoticeRecipient.NO_ADDRESS,
                        )
                    )
        PayoutNoticeRecipient.objects.bulk_create(rows, batch_size=1000)
    if not notice.recipients.filter(status=PayoutNoticeRecipient.QUEUED).exists():
        notice.status, notice.finished_at = PayoutNotice.DONE, timezone.now()
        notice.save(update_fields=["status", "finished_at"])
    else:
        from .tasks import send_payout_notice

        transaction.on_commit(lambda: send_payout_notice(notice.pk))
    return notice


def build_message(row: PayoutNoticeRecipient, notice: PayoutNotice) -> EmailMultiAlternatives:
    payout = RebatePayout.objects.select_related("line").get(pk=row.payout_id)
    program = notice.settlement.program
    with translation.override(row.language):
        context = {
            "row": row,
            "payout": payout,
            "program": program,
            "period_start": payout.line.period_start,
            "form": payout.get_form_display(),
            "link": receipt_link(payout.token),
        }
    return email_message("rebates/email/payout", context, row.email, row.language)


def _messages(notice: PayoutNotice) -> Any:
    notice = PayoutNotice.objects.select_related("settlement__program").get(pk=notice.pk)
    return lambda row: build_message(row, notice)


def notice_send(
    notice_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    return outbox_send(NOTICES, notice_id, _messages, stop_after=stop_after, budget=budget, outages=outages)


def notices_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(NOTICES, now)
