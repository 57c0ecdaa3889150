"""Orders priced by the one pricing engine, with manual discounts sent for approval.

A line's price comes from the discount rules; a net unit price typed by the salesperson
is a *manual price* on top of them (never a surcharge). What the manual prices need
(nobody, a sales manager, an admin: ``patron.domain.pricing.limits``) is worked out
when the order is recorded; an order that needs approval stays a draft until its exact
terms (lines, prices, discounts) are approved. Changing a draft's lines afterwards
replaces those terms: an approval given for the old ones no longer counts, and a new
request goes out if the new terms need one. The rules are not re-run on an approved
order: its prices stay as they were approved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from patron.accounts.models import Account
from patron.core.errors import error_dict
from patron.domain.money import Money
from patron.domain.pricing import ManualDiscount

from .models import Order, OrderLine

SUBJECT = "order_discount"


@dataclass(frozen=True)
class PricedLines:
    lines: list[OrderLine]
    list_total: Decimal
    net_total: Decimal
    level: str  # approval needed: "" | "manager" | "admin"
    reasons: list[dict[str, Any]]
    manual_reasons: str
    priced: Any = None  # the quote itself (discounts.quoting.Priced), for a preview
    requests: Any = None


def price_lines(
    *, actor: Any, account: Account, lines: Sequence[Any], currency: str, channel: str, coupons: Sequence[Any] = ()
) -> PricedLines:
    """``lines`` are ``LineInput``s already checked (product, quantity, optional net unit price)."""
    from patron.discounts import quoting
    from patron.discounts.mappers import LineRequest

    requests = [
        LineRequest(
            product=line.product,
            quantity=line.quantity,
            manual=ManualDiscount("price", line.net_unit_price, line.reason)
            if line.net_unit_price is not None and line.net_unit_price != line.product.list_price
            else None,
        )
        for line in lines
    ]
    try:
        priced = quoting.price(account, requests, currency=currency, channel=channel, user=actor, coupons=coupons)
    except ValidationError as exc:
        # The order's words for the quote's fields: a manual price is the line's net unit price.
        raise ValidationError(
            {k.replace(".manual.value", ".net_unit_price"): v for k, v in error_dict(exc).items()}
        ) from None
    built = []
    for i, (request, quoted) in enumerate(zip(requests, priced.quote.lines, strict=True)):
        built.append(
            OrderLine(
                position=i + 1,
                product=request.product,
                quantity=request.quantity,
                list_unit_price=request.product.list_price,
                net_unit_price=_tidy(quoted.net_unit_price.amount),
                line_total=quoted.net_amount.amount,
                discounts=[quoting.line_discount_data(d) for d in quoted.discounts],
            )
        )
    need = priced.need
    return PricedLines(
        lines=built,
        list_total=priced.quote.list_total.amount,
        net_total=priced.quote.net_total.amount,
        level=need.level if need else "",
        reasons=[quoting.reason_data(r) for r in need.reasons] if need else [],
        manual_reasons="; ".join(sorted({r.manual.reason for r in requests if r.manual and r.manual.reason})),
        priced=priced,
        requests=requests,
    )


def _tidy(value: Decimal) -> Decimal:
    """75.0000 -> 75, 75.5000 -> 75.5: the unit price as a person would write it."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def order_terms(order: Order) -> dict[str, Any]:
    """What an approval of this order's prices approves: every line as it stands."""
    rows = order.lines.select_related("product").order_by("position")
    lines = []
    margin = Decimal(0)
    for line in rows:
        cost = line.quantity * Decimal(line.product.unit_cost or 0)
        margin += line.line_total - cost
        manual = [d for d in line.discounts if d.get("source") == "manual"]
        lines.append(
            {
                "sku": line.product.sku,
                "quantity": line.quantity,
                "list_price": _tidy(line.list_unit_price),
                "unit_price": _tidy(line.net_unit_price),
                "line_total": line.line_total,
                "manual_discount": sum((Decimal(d["amount"]) for d in manual), Decimal(0)),
            }
        )
    return {
        "order": order.number,
        "currency": order.currency,
        "lines": lines,
        "list_total": Money(order.list_total, order.currency),
        "net_total": Money(order.net_total, order.currency),
        "margin": Money(margin, order.currency),
    }


def submit_for_approval(*, actor: Any, order: Order, level: str, reasons: list[dict[str, Any]], note: str) -> Any:
    from patron.approvals.services import approval_submit

    why = "; ".join(r["text"] for r in reasons)
    return approval_submit(
        actor=actor,
        subject_type=SUBJECT,
        subject_id=order.pk,
        account=order.account,
        required_level=level,
        reason=(note + " — " if note else "") + why,
        terms=order_terms(order),
    )


def approval_state(order: Order) -> Any:
    """The order's live approval request (pending or approved for its current terms), or None."""
    if not order.approval_level:
        return None
    from patron.approvals.selectors import approval_current

    return approval_current(subject_type=SUBJECT, subject_id=order.pk)


_UNREAD = object()


def approved(order: Order, live: Any = _UNREAD) -> bool:
    """Were the order's terms, as they stand, approved? ``live``: its live request, if read already."""
    if not order.approval_level:
        return True
    from patron.approvals.selectors import approval_current
    from patron.approvals.terms import terms_hash

    if live is _UNREAD:
        live = approval_current(subject_type=SUBJECT, subject_id=order.pk)
    return live is not None and live.status == "approved" and live.terms_hash == terms_hash(order_terms(order))


def waiting_message(order: Order) -> str:
    return _("The manual discounts of this order wait for approval; it can be confirmed once they are approved.")


def record_applied(order: Order, lines: Sequence[OrderLine] | None = None) -> None:
    """Each discount of a confirmed order, one row, for what each policy cost and earned.
    ``lines``: the order's lines as just written (else they are read)."""
    from patron.discounts.models import AppliedDiscount, DiscountRule

    rows = []
    lines = list(order.lines.all()) if lines is None else lines
    rule_ids = {d.get("rule_id") for line in lines for d in line.discounts if d.get("rule_id")}
    # A rule deleted since the quote leaves its rows without a rule or policy (the amounts stay).
    policy_of = dict(DiscountRule.objects.filter(pk__in=rule_ids).values_list("pk", "policy_id")) if rule_ids else {}
    for line in lines:
        for d in line.discounts:
            rule_id = d.get("rule_id")
            rows.append(
                AppliedDiscount(
                    order=order,
                    line=line,
                    account_id=order.account_id,
                    policy_id=policy_of.get(rule_id),
                    rule_id=rule_id if rule_id in policy_of else None,
                    source=d.get("source") or "manual",
                    amount=Decimal(d.get("amount") or 0),
                    currency=order.currency,
                    order_date=order.order_date,
                )
            )
    AppliedDiscount.objects.bulk_create(rows)


def forget_applied(order: Order) -> None:
    from patron.discounts.models import AppliedDiscount

    AppliedDiscount.objects.filter(order=order).delete()
