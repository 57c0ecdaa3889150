"""Payment reminders by email on a schedule: before the due date, on it, after it (``PATRON_COLLECTION_SCHEDULE``).

``collections_prepare`` finds each open invoice whose step of the schedule has come (only the latest step
reached, never one sent before: ``patron.domain.receivables.reminder_due``), leaves out accounts with an
open promise to pay that has not fallen due, and writes in one transaction a run with one email per account
and a ``CollectionItem`` per invoice and step (unique: an invoice is never reminded twice at one step).
The outbox then sends each email once, paced and retried; a worker stopped midway sends nobody twice.

Whom: the account's contacts whose role is finance, with an email; else the account's own address; else
its primary contact's. A payment reminder is about money owed, not marketing: no consent is asked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from patron.accounts.addresses import mail_language
from patron.accounts.models import Account, Contact
from patron.accounts.services import activity_add
from patron.core.outbox import RUN_BUDGET, Outbox, SendReport, email_message, outbox_due, outbox_send
from patron.domain.money import Money
from patron.domain.receivables import FRESH_DAYS, parse_schedule, reminder_due
from patron.sales.models import Invoice

from .models import CollectionEmail, CollectionItem, CollectionRun, PromiseToPay

BOX = Outbox("collections", CollectionRun, CollectionEmail, "run", related=("account",))


def schedule() -> tuple[int, ...]:
    return parse_schedule(settings.PATRON_COLLECTION_SCHEDULE)


def _recipient(account: Any, contacts: list[tuple[int, str, str, str, bool]]) -> tuple[int | None, str, str]:
    finance = [c for c in contacts if c[3] == "finance" and c[1]]
    if finance:
        return finance[0][0], finance[0][1], finance[0][2]
    if account["email"]:
        return None, account["email"], account["name"]
    primary = [c for c in contacts if c[4] and c[1]]
    if primary:
        return primary[0][0], primary[0][1], primary[0][2]
    return None, "", account["name"]


def collections_prepare(today: dt.date | None = None) -> CollectionRun | None:
    """Today's payment reminders, as one run (None when nothing is due)."""
    today = today or timezone.localdate()
    steps = schedule()
    if not steps:
        return None
    promised = PromiseToPay.objects.filter(
        account=OuterRef("account_id"), status=PromiseToPay.OPEN, promised_on__gte=today
    )
    invoices = (
        Invoice.objects.filter(
            status=Invoice.OPEN,
            due_date__lte=today - dt.timedelta(days=steps[0]),
            due_date__gte=today - dt.timedelta(days=max(steps[-1], 0) + FRESH_DAYS),
            account__merged_into__isnull=True,
        )
        .filter(~Exists(promised))
        .values_list("pk", "account_id", "due_date", "amount", "paid_amount")
    )
    candidates = list(invoices)
    if not candidates:
        return None
    sent: dict[int, set[int]] = defaultdict(set)
    ids = [row[0] for row in candidates]
    for start in range(0, len(ids), 5000):
        for invoice_id, step in CollectionItem.objects.filter(invoice_id__in=ids[start : start + 5000]).values_list(
            "invoice_id", "step"
        ):
            sent[invoice_id].add(step)
    due: dict[int, list[tuple[int, int, Any]]] = defaultdict(list)
    for pk, account_id, due_date, amount, paid in candidates:
        at: int | None = reminder_due(due_date, today, steps, frozenset(sent.get(pk, ())))
        if at is not None and amount - paid > 0:
            due[account_id].append((pk, at, amount - paid))
    if not due:
        return None
    accounts = {a["pk"]: a for a in Account.objects.filter(pk__in=list(due)).values("pk", "email", "name", "language")}
    contacts: dict[int, list[tuple[int, str, str, str, bool]]] = defaultdict(list)
    for account_id, *contact in (
        Contact.objects.filter(account_id__in=list(due))
        .order_by("account_id", "-is_primary", "id")
        .values_list("account_id", "pk", "email", "name", "role", "is_primary")
    ):
        contacts[account_id].append(tuple(contact))  # type: ignore[arg-type]
    try:
        with transaction.atomic():
            run = CollectionRun.objects.create(day=today)
            for account_id, items in sorted(due.items()):
                account = accounts[account_id]
                contact_id, email, name = _recipient(account, contacts.get(account_id, []))
                row = CollectionEmail.objects.create(
                    run=run,
                    account_id=account_id,
                    contact_id=contact_id,
                    email=email,
                    name=name,
                    language=mail_language(account["language"]),
                    status=CollectionEmail.QUEUED if email else CollectionEmail.NO_ADDRESS,
                )
                CollectionItem.objects.bulk_create(
                    [CollectionItem(email=row, invoice_id=pk, step=step, outstanding=left) for pk, step, left in items]
                )
                if email:
                    _on_timeline(account_id, [pk for pk, _step, _left in items])
    except IntegrityError:
        return None  # another run took these invoices a moment ago
    from .tasks import send_collection_reminders

    transaction.on_commit(lambda: send_collection_reminders(run.pk))
    return run


def _on_timeline(account_id: int, invoice_ids: list[int]) -> None:
    account = Account.objects.get(pk=account_id)
    for number, currency, amount, paid in Invoice.objects.filter(pk__in=invoice_ids).values_list(
        "number", "currency", "amount", "paid_amount"
    ):
        activity_add(
            account=account,
            kind="email",
            event="collection_reminder",
            params={"number": number, "amount": Money(amount - paid, currency)},
        )


def _messages(run: CollectionRun) -> Any:
    def build(row: CollectionEmail) -> Any:
        items = list(row.items.select_related("invoice").order_by("invoice__due_date", "invoice__number"))
        lines: list[dict[str, Any]] = [
            {
                "number": item.invoice.number,
                "due": item.invoice.due_date,
                "amount": Money(item.outstanding, item.invoice.currency),
                "days_late": (run.day - item.invoice.due_date).days,
                "step": item.step,
            }
            for item in items
        ]
        context = {
            "name": row.name or row.account.name,
            "account": row.account,
            "lines": lines,
            "late": any(line["days_late"] > 0 for line in lines),
            "company": getattr(settings, "PATRON_COMPANY_NAME", "Patron"),
        }
        return email_message("receivables/email/collection", context, row.email, row.language)

    return build


def collections_send(
    run_id: int, *, stop_after: int | None = None, budget: float = RUN_BUDGET, outages: int = 0
) -> SendReport:
    # Customers are not written to in the quiet hours (PATRON_QUIET_HOURS): the run waits for their end.
    return outbox_send(BOX, run_id, _messages, stop_after=stop_after, budget=budget, outages=outages, quiet=True)


def collection_runs_due(now: dt.datetime | None = None) -> list[int]:
    return outbox_due(BOX, now)
