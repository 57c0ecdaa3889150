"""The credit check when an order is confirmed, and finance's override when it blocks.

What the account owes on open invoices plus what it has ordered and not been invoiced for is its
exposure (``patron.domain.credit``). Confirming an order that takes the exposure over the account's
credit limit is refused until finance approves an override for exactly that order (its number, total
and the limit at the time); the salesperson asks for it with a reason. A warning (near the limit,
something overdue) lets the order through and is written to the audit trail, as is every override used.
The account row is locked while an order with a limit is confirmed, so two orders confirmed at once
cannot both slip under the same limit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Case, DecimalField, F, Min, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can, require
from patron.accounts.models import Account
from patron.accounts.services import activity_add
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.domain import credit as rules
from patron.domain.access import Action
from patron.domain.explain import Reason
from patron.domain.money import Money, convert
from patron.web.templatetags.patron_web import money

from .models import CreditNote, Invoice, Order, Return
from .selectors import rate_on

SUBJECT = "order_credit"
# Reasons that explain an ok verdict and need not be said when warning.
QUIET = frozenset({rules.NO_LIMIT, rules.WITHIN_LIMIT})
_AMOUNT: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=2)


def _sum_of(queryset: Any, field: str) -> Any:
    return Coalesce(
        Subquery(queryset.values("order").annotate(t=Sum(field)).values("t")[:1]), Value(0), output_field=_AMOUNT
    )


def _on_order(account: Account) -> Any:
    """Each confirmed order with what of it was returned, invoiced (not void) and credited back."""
    return (
        Order.objects.filter(account=account, status=Order.CONFIRMED)
        .annotate(
            returned=_sum_of(Return.objects.filter(order=OuterRef("pk")), "total"),
            invoiced=_sum_of(Invoice.objects.filter(order=OuterRef("pk")).exclude(status=Invoice.VOID), "amount"),
            credited=Coalesce(
                Subquery(
                    CreditNote.objects.filter(ret__order=OuterRef("pk"))
                    .values("ret__order")
                    .annotate(t=Sum("amount"))
                    .values("t")[:1]
                ),
                Value(0),
                output_field=_AMOUNT,
            ),
        )
        .values_list("pk", "currency", "net_total", "returned", "invoiced", "credited")
    )


def credit_position(
    account: Account, today: dt.date, *, leave_out: int | None = None, orders: bool = True
) -> rules.CreditPosition:
    """The account's exposure now, in the company currency (``leave_out``: the order being checked).
    ``orders=False``: what is on order but not invoiced is not summed (without a limit it decides nothing)."""
    company = settings.PATRON_COMPANY_CURRENCY
    owed: dict[str, Decimal] = defaultdict(Decimal)
    late: dict[str, Decimal] = defaultdict(Decimal)
    oldest: dt.date | None = None
    outstanding = F("amount") - F("paid_amount")
    for row in (
        Invoice.objects.filter(account=account, status=Invoice.OPEN)
        .values("currency")
        .annotate(
            owed=Sum(outstanding),
            late=Coalesce(Sum(Case(When(due_date__lt=today, then=outstanding))), Value(0), output_field=_AMOUNT),
            oldest=Min(Case(When(due_date__lt=today, then=F("due_date")))),
        )
        .order_by()
    ):
        owed[row["currency"]] += row["owed"] or 0
        late[row["currency"]] += row["late"] or 0
        if row["oldest"] is not None and (oldest is None or row["oldest"] < oldest):
            oldest = row["oldest"]
    uninvoiced: dict[str, Decimal] = defaultdict(Decimal)
    on_order = _on_order(account) if orders else []
    for pk, currency, net, returned, invoiced, credited in on_order:
        if pk != leave_out:
            uninvoiced[currency] += max(Decimal(0), net - returned - invoiced + credited)
    uncounted: set[str] = set()

    def total(amounts: dict[str, Decimal]) -> Decimal:
        result = Decimal(0)
        for currency, amount in amounts.items():
            if not amount:
                continue
            rate = rate_on(currency, today)
            if rate is None:
                uncounted.add(currency)
            else:
                result += convert(Money(amount, currency), rate, company).amount
        return result

    return rules.CreditPosition(
        limit=account.credit_limit,
        open_invoices=total(owed),
        uninvoiced_orders=total(uninvoiced),
        overdue=total(late),
        oldest_overdue_days=(today - oldest).days if oldest else 0,
        uncounted_currencies=tuple(sorted(uncounted)),
    )


def order_amount(order: Order, today: dt.date) -> tuple[Decimal, str | None]:
    """The order's total in the company currency, or (0, its currency) when no rate converts it."""
    rate = rate_on(order.currency, today)
    if rate is None:
        return Decimal(0), order.currency
    return convert(Money(order.net_total, order.currency), rate, settings.PATRON_COMPANY_CURRENCY).amount, None


def check(
    order: Order, *, today: dt.date | None = None, exposure: bool = True
) -> tuple[rules.CreditPosition, rules.CreditCheck]:
    """The position before the order and the verdict on it (for the order page and for confirming).
    ``exposure=False``: for the verdict alone, an account without a limit skips summing its orders."""
    today = today or timezone.localdate()
    orders = exposure or order.account.credit_limit > 0
    position = credit_position(order.account, today, leave_out=order.pk, orders=orders)
    amount, uncounted = order_amount(order, today)
    if uncounted and uncounted not in position.uncounted_currencies:
        position = replace(position, uncounted_currencies=tuple(sorted({*position.uncounted_currencies, uncounted})))
    return position, rules.check_order(position, amount, block=settings.PATRON_CREDIT_BLOCK)


def override_terms(order: Order) -> dict[str, Any]:
    """What finance approves: this order at this total over this limit; a change to either asks again."""
    company = settings.PATRON_COMPANY_CURRENCY
    return {
        "order": order.number,
        "net_total": Money(order.net_total, order.currency),
        "credit_limit": Money(order.account.credit_limit, company),
    }


def override_state(order: Order) -> Any:
    """The order's live override request for its current terms (pending or approved), or None."""
    from patron.approvals.selectors import approval_for_terms

    return approval_for_terms(subject_type=SUBJECT, subject_id=order.pk, terms=override_terms(order))


def reason_text(reason: Reason) -> str:
    company = settings.PATRON_COMPANY_CURRENCY
    p = reason.params
    if reason.code == rules.OVER_LIMIT:
        return _(
            "Over the credit limit by %(over)s: owed and on order %(exposure)s with this order, limit %(limit)s."
        ) % {
            "over": money(p["over_by"], company),
            "exposure": money(p["exposure"], company),
            "limit": money(p["limit"], company),
        }
    if reason.code == rules.NEAR_LIMIT:
        return _("%(percent)s%% of the credit limit used with this order; %(available)s left of %(limit)s.") % {
            "percent": p["percent"],
            "available": money(p["available"], company),
            "limit": money(p["limit"], company),
        }
    if reason.code == rules.WITHIN_LIMIT:
        return _("Within the credit limit: %(available)s left of %(limit)s after this order.") % {
            "available": money(p["available"], company),
            "limit": money(p["limit"], company),
        }
    if reason.code == rules.OVERDUE:
        return _("%(amount)s is overdue, the oldest invoice %(days)s days late.") % {
            "amount": money(p["amount"], company),
            "days": p["days"],
        }
    if reason.code == rules.RATE_MISSING:
        return _("Amounts in %(currencies)s are not counted: no exchange rate for today.") % p
    if reason.code == rules.NO_LIMIT:
        return _("No credit limit is set for this account.")
    return reason.code


def _refusal(order: Order, verdict: rules.CreditCheck) -> Conflict:
    why = " ".join(reason_text(r) for r in verdict.reasons if r.code == rules.OVER_LIMIT)
    live = override_state(order)
    if live is not None and live.status == "pending":
        then = _("Finance has been asked to approve an override; the order can be confirmed once they do.")
    else:
        then = _("Ask finance to approve an override, or take a payment first.")
    return Conflict(f"{why} {then}", "credit")


def assess(order: Order, *, account_locked: bool = False) -> rules.CreditCheck:
    """The verdict on confirming the order, in the caller's transaction. An account with a limit is
    locked first (unless the caller holds its row already), so two orders confirmed at once cannot
    both fit under the same limit."""
    account = order.account
    if account.credit_limit > 0 and not account_locked:
        Account.objects.select_for_update().filter(pk=account.pk).values_list("pk").get()
    return check(order, exposure=False)[1]


def gate(*, actor: Any, order: Order) -> rules.CreditCheck:
    """Called by ``order_confirm`` inside its transaction: lets the order through, or raises ``Conflict``."""
    account = order.account
    verdict = assess(order)
    if verdict.blocked:
        live = override_state(order)
        if live is None or live.status != "approved":
            raise _refusal(order, verdict)
        audit_record(
            actor=actor,
            action="CREDIT_OVERRIDE_USED",
            instance=order,
            account_id=account.pk,
            changes={"approval": [None, live.pk], "over_by": [None, str(verdict.over_by)], **_reasons(verdict)},
        )
    elif (warning := warning_changes(verdict)) is not None:
        audit_record(actor=actor, action="CREDIT_WARNING", instance=order, account_id=account.pk, changes=warning)
    return verdict


def warning_changes(verdict: rules.CreditCheck) -> dict[str, Any] | None:
    """What the audit trail records of a verdict that lets the order through with a warning; None otherwise."""
    if verdict.outcome is not rules.Outcome.WARN or verdict.blocked:
        return None
    return _reasons(verdict)


def _reasons(verdict: rules.CreditCheck) -> dict[str, list[Any]]:
    """The verdict's reasons as the audit trail keeps them."""
    return {"reasons": [None, [[r.code, {k: str(v) for k, v in r.params.items()}] for r in verdict.reasons]]}


@transaction.atomic
def override_request(*, actor: Any, order: Order, reason: str) -> Any:
    """Ask finance to let a blocked draft be confirmed. Asking twice for the same terms asks once."""
    from patron.approvals.services import approval_submit

    order = Order.objects.select_related("account__owner__team").get(pk=order.pk)
    require(actor, Action.RECORD_ORDER, order.account)
    if order.status != Order.DRAFT:
        raise Conflict(_("Only a draft order needs a credit override."), "status")
    errors = FieldErrors()
    reason = (reason or "").strip()
    if not reason:
        errors.add("reason", _("Say why the order should go ahead; finance reads it."))
    elif len(reason) > 2000:
        errors.add("reason", _("At most 2,000 characters."))
    errors.raise_if_any()
    _position, verdict = check(order)
    if not verdict.blocked:
        raise Conflict(_("This order is within the account's credit; it needs no override."), "credit")
    why = " ".join(reason_text(r) for r in verdict.reasons if r.code == rules.OVER_LIMIT)
    request = approval_submit(
        actor=actor,
        subject_type=SUBJECT,
        subject_id=order.pk,
        account=order.account,
        required_level="finance",
        reason=f"{reason} — {why}",
        terms=override_terms(order),
    )
    activity_add(
        account=order.account,
        kind="order",
        actor=actor,
        ref=order,
        body=reason,
        event="credit_override_requested",
        params={"number": order.number, "over_by": Money(verdict.over_by, settings.PATRON_COMPANY_CURRENCY)},
    )
    return request


def may_request(user: Any, order: Order) -> bool:
    return order.status == Order.DRAFT and can(user, Action.RECORD_ORDER, order.account)
