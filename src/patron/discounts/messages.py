"""The reader's words for the pricing core's problems and reasons (translated here, at the edge)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from patron.domain.explain import Reason
from patron.domain.money import Money
from patron.domain.problems import Problem


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _show(value: Any) -> Any:
    if isinstance(value, Money):
        return f"{value.currency} {number_format(value.amount, decimal_pos=2, use_l10n=True, force_grouping=True)}"
    if isinstance(value, Decimal):
        return number_format(value.normalize() if value == value.to_integral() else value, use_l10n=True)
    if isinstance(value, list | tuple):
        return ", ".join(str(_show(v)) for v in value)
    return value


def _params(params: Mapping[str, Any]) -> _Params:
    return _Params({k: _show(v) for k, v in params.items()})


def problem_text(problem: Problem) -> str:
    p = _params(problem.params)
    messages = {
        "required": _("This is required."),
        "wrong_type": _("This value has the wrong type (expected %(expected)s)."),
        "unknown_field": _("Unknown field."),
        "unknown_kind": _("Unknown kind of benefit."),
        "invalid_choice": _("Choose one of: %(allowed)s."),
        "out_of_range": _("This value is out of range."),
        "not_positive": _("Must be more than zero."),
        "empty_range": _("This window is empty: it ends before it starts."),
        "not_increasing": _("Must be above the previous tier (%(previous)s)."),
        "not_better": _("Must give more than the previous tier (%(previous)s%%)."),
        "duplicate": _("Listed twice."),
        "empty": _("Give at least one."),
        "excluded_included": _("The exclusions remove everything the rule includes."),
        "scope_mismatch": _("This benefit cannot apply to the rule's scope."),
    }
    if problem.code == "out_of_range" and "max" in problem.params and problem.params.get("max") is not None:
        return _("Must be between %(min)s and %(max)s.") % _Params({"min": p["min"] or "0", "max": p["max"]})
    if problem.code == "out_of_range" and "places" in problem.params:
        return _("At most %(places)s decimal places.") % p
    if problem.code == "scope_mismatch":
        reasons = {
            "fixed_price_needs_products": _("A fixed price needs products, categories or a product set to apply to."),
            "cart_benefit": _("A per-line cap on a cart discount needs a per-order cap too."),
        }
        return str(reasons.get(problem.params.get("reason", ""), messages["scope_mismatch"]))
    return str(messages.get(problem.code, problem.code)) % p


def reason_text(reason: Reason) -> str:
    """One sentence a salesperson understands, for why a rule did or did not apply."""
    p = _params(reason.params)
    part_names = {
        "accounts": _("named accounts"),
        "classes": _("segments"),
        "tags": _("tags"),
        "regions": _("regions"),
        "industries": _("industries"),
        "stages": _("lifecycle stages"),
    }
    if reason.code == "NOT_FOR_ACCOUNT":
        return _("Not for this account: it targets other %(part)s.") % {
            "part": part_names.get(reason.params.get("part", ""), reason.params.get("part", ""))
        }
    messages = {
        "NOT_NEW_CUSTOMER": _("Only for new customers; this account has ordered before."),
        "NOT_STARTED": _("Not started yet: it starts %(starts)s."),
        "ENDED": _("Ended %(ends)s."),
        "WRONG_DAY": _("Not on this day of the week."),
        "OUTSIDE_HOURS": _("Only between %(from)s and %(to)s."),
        "WRONG_CHANNEL": _("Only for orders through %(channels)s."),
        "FIRST_ORDER_ONLY": _("Only on a customer's first order."),
        "NO_LINE_IN_SCOPE": _("No product in the cart is covered by this rule."),
        "MIN_QUANTITY_NOT_MET": _("Line %(line)s: %(missing)s more units needed (at least %(min)s)."),
        "MIN_LINE_AMOUNT_NOT_MET": _("Line %(line)s: %(missing)s more needed on the line."),
        "MIN_SPEND_NOT_MET": _("Threshold missed by %(missing)s."),
        "CATEGORY_MIN_NOT_MET": _("Not enough bought in the category."),
        "BELOW_FIRST_TIER": _("Below the first tier: %(missing)s more needed for %(percent)s%%."),
        "EXCLUDED_BY": _("Line %(line)s: excluded by “%(name)s”, an exclusive rule of higher priority."),
        "NOT_COMBINABLE": _("Line %(line)s: does not combine with “%(name)s”, applied before it."),
        "BEATEN_IN_GROUP": _("“%(name)s” gives more in the same group (%(group)s)."),
        "NOTHING_LEFT": _("Line %(line)s is already free."),
        "PRICE_ALREADY_LOWER": _("Line %(line)s: the price is already below this fixed price."),
        "AT_FLOOR": _("Line %(line)s: would cross the floor price."),
        "NO_BENEFIT": _("Gives nothing on this cart."),
        # how a discount was worked out
        "PERCENT_OFF": _("%(percent)s%% off"),
        "AMOUNT_OFF_UNIT": _("%(amount)s off each unit"),
        "FIXED_PRICE": _("Fixed price %(price)s per unit"),
        "CART_AMOUNT_OFF": _("%(amount)s off the order, shared over its lines"),
        "SPEND_SAVE": _("Spend %(spend)s, save %(save)s (× %(times)s)"),
        "BUY_GET": _("Buy %(buy)s get %(free)s free: %(free_units)s free"),
        "TIER": _("Tier %(index)s (from %(from)s): %(percent)s%% off"),
        "MANUAL_PERCENT": _("Manual discount: %(percent)s%% off"),
        "MANUAL_AMOUNT": _("Manual discount: %(amount)s off each unit"),
        "MANUAL_PRICE": _("Manual price: %(price)s per unit"),
        # notes
        "CAPPED_PER_LINE": _("Capped at %(cap)s per line."),
        "CAPPED_PER_ORDER": _("Capped at %(cap)s per order."),
        "LIMITED_BY_FLOOR": _("Line %(line)s: %(withheld)s held back by the floor price."),
        "BELOW_FLOOR": _("Line %(line)s: below the floor price %(floor)s; needs approval."),
        # hints
        "NEXT_TIER": _("“%(name)s”: %(missing)s more for %(percent)s%% off."),
        "SPEND_MORE": _("“%(name)s”: spend %(missing)s more to save more."),
    }
    message = messages.get(reason.code)
    return str(message) % p if message is not None else reason.code
