"""The coupon API for shops and tills: check codes against a cart (throttled), and reverse a use.

Redeeming is part of recording the order (``POST /api/orders`` with ``coupons``), so a code is
used exactly when an order is; ``POST /api/coupons/check`` answers beforehand whether each code
would apply to this cart and account, what it would give, and if not, exactly why.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from patron.accounts.access import can
from patron.api.schemas import responses
from patron.domain.access import Action
from patron.domain.coupons.codes import normalize

from .models import Redemption
from .redemption import coupon_rule, find, judge, reason_words, redemption_reverse
from .throttles import check_rate, throttles

router = Router(tags=["coupons"])


class CheckLineIn(Schema):
    product: Annotated[str, Field(max_length=64)] | int = Field(description="SKU (text) or product id (number).")
    quantity: Annotated[str, Field(max_length=30)]


class CheckIn(Schema):
    account: Annotated[str, Field(max_length=64)] = Field(description="Account code.")
    lines: list[CheckLineIn] = Field(max_length=500)
    currency: Annotated[str, Field(max_length=3)] = "CNY"
    codes: list[Annotated[str, Field(max_length=64)]] = Field(max_length=10)


class VerdictOut(Schema):
    code: str
    valid: bool
    discount: str
    reasons: list[str]


class CheckOut(Schema):
    valid: bool
    coupons: list[VerdictOut]
    list_total: str
    net_total: str


class ReverseIn(Schema):
    reason: Annotated[str, Field(max_length=200)] = ""


class RedemptionOut(Schema):
    id: int
    code: str
    order: str
    amount: str
    reversed_at: dt.datetime | None


@router.post(
    "/coupons/check",
    response=responses({200: CheckOut}, 422),
    summary="Would these codes apply to this cart, and what would they give?",
    throttle=throttles(),
)
def coupon_check(request: HttpRequest, payload: CheckIn) -> Any:
    from patron.discounts import quoting
    from patron.discounts.mappers import quote_context

    user = request.auth  # type: ignore[attr-defined]
    context = quote_context(user, payload.account)
    account = context.account
    if account is None:
        raise ValidationError({"account": [_("Unknown account.")]})
    now = timezone.now()
    found, errors = find(payload.codes, account_id=account.pk, currency=payload.currency, now=now)
    lines = quoting.line_requests([line.dict() for line in payload.lines], currency=payload.currency, held=context.held)
    rules = [coupon_rule(f.coupon, f.terms) for f in found]
    priced = quoting.price(
        account, lines, currency=payload.currency, user=user, held=context.held, profile=context.profile, coupons=rules
    )
    verdicts = []
    by_code = {f.coupon.code: f for f in found}
    for i, typed in enumerate(payload.codes):
        where = f"coupons[{i}]"
        item = by_code.get(normalize(typed)) if where not in errors else None
        if item is None:
            verdicts.append({"code": typed, "valid": False, "discount": "0", "reasons": errors.get(where, [])})
            continue
        given, refused = judge(item, priced, account_id=account.pk, now=now)
        verdicts.append(
            {
                "code": item.coupon.code,
                "valid": not refused,
                "discount": str(given),
                "reasons": [reason_words(r) for r in refused],
            }
        )
    quote = priced.quote
    return {
        "valid": all(v["valid"] for v in verdicts),
        "coupons": verdicts,
        "list_total": str(quote.list_total.amount),
        "net_total": str(quote.net_total.amount),
    }


@router.post(
    "/coupon-redemptions/{redemption_id}/reverse",
    response=responses({200: RedemptionOut}, 403, 404, 422),
    summary="Give a code's use back (the order was not completed at the till)",
)
def redemption_reverse_api(request: HttpRequest, redemption_id: int, payload: ReverseIn) -> Any:
    user = request.auth  # type: ignore[attr-defined]
    redemption = get_object_or_404(Redemption.objects.select_related("order__account", "coupon"), pk=redemption_id)
    if not can(user, Action.RECORD_ORDER, redemption.order.account):
        raise PermissionDenied(Action.RECORD_ORDER.value)
    if not payload.reason.strip():
        raise ValidationError({"reason": [_("Say why the use is given back.")]})
    redemption_reverse(redemption, reason=payload.reason.strip())
    redemption.refresh_from_db()
    return {
        "id": redemption.pk,
        "code": redemption.coupon.code,
        "order": redemption.order.number,
        "amount": str(redemption.amount),
        "reversed_at": redemption.reversed_at,
    }


__all__ = ["check_rate", "router"]
