"""Promises to pay: recorded with the account, followed up when the day passes.

A promise is *kept* once payments received since it was made reach its amount; when its day
passes without that, it is *broken*: the account's owner gets a follow-up task, the timeline says
so, and two broken promises in a year flag the account as a high bad-debt risk.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import require
from patron.accounts.models import Account
from patron.accounts.services import activity_add
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.core.messages import money_error
from patron.domain.access import Action
from patron.domain.money import Money, MoneyError, check_places, to_decimal
from patron.sales.models import CURRENCIES, Invoice, Payment

from .models import PromiseToPay


def promise_record(*, actor: Any, account: Account, data: dict[str, Any]) -> PromiseToPay:
    """``data``: amount, currency, promised_on, optional invoice (number), contact, note."""
    require(actor, Action.RECORD_PAYMENT, account)
    errors = FieldErrors()
    today = timezone.localdate()
    currency = (data.get("currency") or "CNY").strip().upper()
    if currency not in CURRENCIES:
        errors.add("currency", _("Unknown currency."))
    amount: Decimal | None = None
    try:
        amount = check_places(to_decimal(data.get("amount")), 2)
        if amount <= 0:
            errors.add("amount", _("Must be more than zero."))
            amount = None
    except MoneyError as exc:
        errors.add("amount", money_error(exc, 2))
    promised_on = data.get("promised_on")
    if isinstance(promised_on, str):
        try:
            promised_on = dt.date.fromisoformat(promised_on.strip())
        except ValueError:
            errors.add("promised_on", _("Enter a date as YYYY-MM-DD."))
            promised_on = None
    if promised_on is None and "promised_on" not in errors.errors:
        errors.add("promised_on", _("This field is required."))
    elif isinstance(promised_on, dt.date) and promised_on < today:
        errors.add("promised_on", _("A promise is for today or a later day."))
    elif isinstance(promised_on, dt.date) and promised_on > today + dt.timedelta(days=366):
        errors.add("promised_on", _("More than a year ahead is not a promise to follow."))
    invoice = None
    if number := (data.get("invoice") or "").strip():
        invoice = Invoice.objects.filter(account=account, number=number, status=Invoice.OPEN).first()
        if invoice is None:
            errors.add("invoice", _("No open invoice %(number)s on this account.") % {"number": number})
        elif invoice.currency != currency:
            errors.add("currency", _("The invoice is in %(currency)s.") % {"currency": invoice.currency})
        elif amount is not None and amount > invoice.outstanding:
            errors.add(
                "amount",
                _("More than the %(owed)s still owed on the invoice.")
                % {"owed": f"{invoice.currency} {invoice.outstanding}"},
            )
    contact = (data.get("contact") or "").strip()
    if len(contact) > 100:
        errors.add("contact", _("At most 100 characters."))
    note = (data.get("note") or "").strip()
    if len(note) > 2000:
        errors.add("note", _("At most 2,000 characters."))
    errors.raise_if_any()
    assert amount is not None
    assert isinstance(promised_on, dt.date)
    with transaction.atomic():
        promise = PromiseToPay.objects.create(
            account=account,
            invoice=invoice,
            amount=amount,
            currency=currency,
            promised_on=promised_on,
            contact=contact,
            note=note,
            recorded_by=actor,
            recorded_on=today,
        )
        audit_record(
            actor=actor,
            action="PROMISE_RECORDED",
            instance=promise,
            account_id=account.pk,
            changes={
                "amount": [None, str(amount)],
                "currency": [None, currency],
                "promised_on": [None, promised_on.isoformat()],
                "invoice": [None, invoice.number if invoice else None],
            },
        )
        activity_add(
            account=account,
            kind="note",
            actor=actor,
            ref=promise,
            body=note,
            event="promise_recorded",
            params={"amount": Money(amount, currency), "date": promised_on.isoformat()},
        )
    return promise


@transaction.atomic
def promise_cancel(*, actor: Any, promise: PromiseToPay, reason: str = "") -> PromiseToPay:
    promise = PromiseToPay.objects.select_for_update().select_related("account").get(pk=promise.pk)
    require(actor, Action.RECORD_PAYMENT, promise.account)
    if promise.status == PromiseToPay.CANCELLED:
        return promise
    if promise.status != PromiseToPay.OPEN:
        raise Conflict(_("Only an open promise can be cancelled."), "status")
    promise.status, promise.closed_at = PromiseToPay.CANCELLED, timezone.now()
    promise.save(update_fields=["status", "closed_at"])
    audit_record(
        actor=actor,
        action="PROMISE_CANCELLED",
        instance=promise,
        account_id=promise.account_id,
        changes={"status": [PromiseToPay.OPEN, PromiseToPay.CANCELLED], "reason": [None, reason]},
    )
    return promise


def paid_since(promise: PromiseToPay, today: dt.date) -> Decimal:
    """Received from the account in the promise's currency since it was made (up to today)."""
    return Payment.objects.filter(
        account_id=promise.account_id,
        currency=promise.currency,
        received_on__gte=promise.recorded_on,
        received_on__lte=today,
    ).aggregate(t=Sum("amount"))["t"] or Decimal(0)


def promises_check(today: dt.date | None = None) -> dict[str, int]:
    """Open promises: kept once paid; broken the day after their day without it (a task for the owner).
    Each promise is decided once, under its row lock, so two workers never open two tasks."""
    today = today or timezone.localdate()
    counts = {"kept": 0, "broken": 0}
    for pk in PromiseToPay.objects.filter(status=PromiseToPay.OPEN).values_list("pk", flat=True).order_by("pk"):
        with transaction.atomic():
            promise = (
                PromiseToPay.objects.select_for_update(of=("self",))
                .select_related("account__owner")
                .filter(pk=pk, status=PromiseToPay.OPEN)
                .first()
            )
            if promise is None:
                continue
            paid = paid_since(promise, today)
            if paid >= promise.amount:
                _close(promise, PromiseToPay.KEPT, paid)
                counts["kept"] += 1
            elif promise.promised_on < today:
                _close(promise, PromiseToPay.BROKEN, paid)
                _follow_up(promise, paid)
                counts["broken"] += 1
    return counts


def _close(promise: PromiseToPay, status: str, paid: Decimal) -> None:
    promise.status, promise.paid, promise.closed_at = status, paid, timezone.now()
    promise.save(update_fields=["status", "paid", "closed_at"])
    audit_record(
        actor=None,
        action="PROMISE_KEPT" if status == PromiseToPay.KEPT else "PROMISE_BROKEN",
        instance=promise,
        account_id=promise.account_id,
        changes={"status": [PromiseToPay.OPEN, status], "paid": [None, str(paid)]},
    )
    activity_add(
        account=promise.account,
        kind="note",
        actor=None,
        ref=promise,
        event="promise_kept" if status == PromiseToPay.KEPT else "promise_broken",
        params={"amount": Money(promise.amount, promise.currency), "date": promise.promised_on.isoformat()},
    )


def _follow_up(promise: PromiseToPay, paid: Decimal) -> None:
    """The owner calls the customer about the broken promise (once: the task's key is the promise's)."""
    from patron.service.models import Task

    owner = promise.account.owner
    if owner is None or not owner.is_active:
        return
    with transaction.atomic():
        Task.objects.get_or_create(
            account=promise.account,
            source_key=f"promise:{promise.pk}",
            status=Task.OPEN,
            defaults={
                "owner": owner,
                "kind": Task.CALL,
                "subject": _("Promise to pay %(amount)s by %(date)s was broken (%(paid)s received)")
                % {
                    "amount": f"{promise.currency} {promise.amount}",
                    "date": promise.promised_on.isoformat(),
                    "paid": f"{promise.currency} {paid}",
                },
                "due_at": timezone.now(),
                "source": Task.COLLECTION,
            },
        )
