"""The reader's words for why a coupon cannot be used (translated here, at the edge)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy

from patron.discounts.messages import REASONS as PRICING_REASONS
from patron.discounts.messages import words_of
from patron.domain.explain import Reason

REASONS: dict[str, Any] = {
    "UNKNOWN": gettext_lazy("No coupon has this code."),
    "MALFORMED": gettext_lazy("This is not a coupon code: check it for a typing mistake."),
    "NOT_RUNNING": gettext_lazy("This coupon's campaign is not running."),
    "CURRENCY": gettext_lazy("This coupon is in %(currency)s; the order is in %(order)s."),
    "TWICE": gettext_lazy("This code is given twice."),
    "NOT_WITH_COUPONS": gettext_lazy("This coupon does not combine with other coupons."),
    "CANCELLED": gettext_lazy("This coupon was cancelled."),
    "NOT_YET_VALID": gettext_lazy("This coupon is valid from %(starts)s."),
    "EXPIRED": gettext_lazy("This coupon expired on %(ended)s."),
    "OTHER_ACCOUNT": gettext_lazy("This coupon belongs to another account."),
    "USED_UP": gettext_lazy("This coupon has been used up."),
    "ACCOUNT_USED_UP": gettext_lazy("This account has used this campaign's coupons as often as allowed (%(uses)s)."),
    "MIN_SPEND": gettext_lazy("The minimum spend is %(min)s: %(missing)s more is needed."),
    "BUDGET_SPENT": gettext_lazy("The campaign's budget is spent (%(left)s left)."),
    "FIRST_ORDER_ONLY": gettext_lazy(
        "This coupon is for a new customer's first order; this account has ordered before."
    ),
    "NO_BENEFIT": gettext_lazy("This coupon gives nothing on this order."),
}


def reason_text(reason: Reason) -> str:
    """A coupon's refusal, or the pricing engine's reason it gave nothing on this cart."""
    return words_of(REASONS if reason.code in REASONS else PRICING_REASONS, reason)
