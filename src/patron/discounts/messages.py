"""The reader's words for the pricing core's problems and reasons (translated here, at the edge)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from patron.domain.explain import Reason
from patron.domain.money import Money, minor_units
from patron.domain.problems import Problem


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _show(value: Any) -> Any:
    # Both languages Patron ships write 1,234.50: Python's own formatting, ten times cheaper than
    # Django's localised number_format, which a quote explaining dozens of rules would call hundreds of times.
    if isinstance(value, Money):
        places = minor_units(value.currency)
        return f"{value.currency} {value.amount:,.{places}f}"
    if isinstance(value, Decimal):
        return f"{value.normalize():,f}" if value == value.to_integral() else f"{value:,f}"
    if isinstance(value, list | tuple):
        return ", ".join(str(_show(v)) for v in value)
    return value


def words_of(table: Mapping[str, Any], reason: Reason) -> str:
    """A reason in the reader's words from ``table`` (code -> lazy message); an unknown code reads as itself."""
    message = table.get(reason.code)
    return str(message) % shown_params(reason.params) if message is not None else reason.code


def shown_params(params: Mapping[str, Any]) -> _Params:
    """Parameters as a sentence shows them (money with its currency, lists joined); a missing one reads empty."""
    return _Params({k: _show(v) for k, v in params.items()})


EXPECTED = {
    "number": gettext_lazy("a number"),
    "integer": gettext_lazy("a whole number"),
    "boolean": gettext_lazy("yes or no"),
    "list": gettext_lazy("a list"),
    "object": gettext_lazy("a set of named fields"),
    "id": gettext_lazy("an id"),
    "text": gettext_lazy("text"),
}


def problem_text(problem: Problem) -> str:
    if "expected" in problem.params and problem.params["expected"] in EXPECTED:
        problem = Problem(
            problem.path, problem.code, {**problem.params, "expected": EXPECTED[problem.params["expected"]]}
        )
    p = shown_params(problem.params)
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
        "mixed_tiers": _("Tiers are either all percents or all fixed amounts."),
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


PART_NAMES: dict[str, Any] = {
    "accounts": gettext_lazy("named accounts"),
    "classes": gettext_lazy("segments"),
    "tags": gettext_lazy("tags"),
    "regions": gettext_lazy("regions"),
    "industries": gettext_lazy("industries"),
    "stages": gettext_lazy("lifecycle stages"),
}

REASONS: dict[str, Any] = {
    "NOT_NEW_CUSTOMER": gettext_lazy("Only for new customers; this account has ordered before."),
    "NOT_STARTED": gettext_lazy("Not started yet: it starts %(starts)s."),
    "ENDED": gettext_lazy("Ended %(ends)s."),
    "WRONG_DAY": gettext_lazy("Not on this day of the week."),
    "OUTSIDE_HOURS": gettext_lazy("Only between %(from)s and %(to)s."),
    "WRONG_CHANNEL": gettext_lazy("Only for orders through %(channels)s."),
    "FIRST_ORDER_ONLY": gettext_lazy("Only on a customer's first order."),
    "NO_LINE_IN_SCOPE": gettext_lazy("No product in the cart is covered by this rule."),
    "MIN_QUANTITY_NOT_MET": gettext_lazy("Line %(line)s: %(missing)s more units needed (at least %(min)s)."),
    "GIFT_NOT_IN_CART": gettext_lazy("The gift is not in the cart: add %(free)s of it."),
    "MIN_LINE_AMOUNT_NOT_MET": gettext_lazy("Line %(line)s: %(missing)s more needed on the line."),
    "MIN_SPEND_NOT_MET": gettext_lazy("Threshold missed by %(missing)s."),
    "CATEGORY_MIN_NOT_MET": gettext_lazy("Not enough bought in the category."),
    "BELOW_FIRST_TIER": gettext_lazy("Below the first tier: %(missing)s more needed for %(percent)s%%."),
    "EXCLUDED_BY": gettext_lazy("Line %(line)s: excluded by “%(name)s”, an exclusive rule of higher priority."),
    "NOT_COMBINABLE": gettext_lazy("Line %(line)s: does not combine with “%(name)s”, applied before it."),
    "BEATEN_IN_GROUP": gettext_lazy("“%(name)s” gives more in the same group (%(group)s)."),
    "NOTHING_LEFT": gettext_lazy("Line %(line)s is already free."),
    "PRICE_ALREADY_LOWER": gettext_lazy("Line %(line)s: the price is already below this fixed price."),
    "AT_FLOOR": gettext_lazy("Line %(line)s: would cross the floor price."),
    "NO_BENEFIT": gettext_lazy("Gives nothing on this cart."),
    # how a discount was worked out
    "PERCENT_OFF": gettext_lazy("%(percent)s%% off"),
    "AMOUNT_OFF_UNIT": gettext_lazy("%(amount)s off each unit"),
    "FIXED_PRICE": gettext_lazy("Fixed price %(price)s per unit"),
    "CART_AMOUNT_OFF": gettext_lazy("%(amount)s off the order, shared over its lines"),
    "SPEND_SAVE": gettext_lazy("Spend %(spend)s, save %(save)s (× %(times)s)"),
    "BUY_GET": gettext_lazy("Buy %(buy)s get %(free)s free: %(free_units)s free"),
    "GIFT": gettext_lazy("Free gift: %(free_units)s free"),
    "TIER": gettext_lazy("Tier %(index)s (from %(from)s): %(percent)s%% off"),
    "MANUAL_PERCENT": gettext_lazy("Manual discount: %(percent)s%% off"),
    "MANUAL_AMOUNT": gettext_lazy("Manual discount: %(amount)s off each unit"),
    "MANUAL_PRICE": gettext_lazy("Manual price: %(price)s per unit"),
    # notes
    "CAPPED_PER_LINE": gettext_lazy("Capped at %(cap)s per line."),
    "CAPPED_PER_ORDER": gettext_lazy("Capped at %(cap)s per order."),
    "LIMITED_BY_FLOOR": gettext_lazy("Line %(line)s: %(withheld)s held back by the floor price."),
    "BELOW_FLOOR": gettext_lazy("Line %(line)s: below the floor price %(floor)s; needs approval."),
    # hints
    "NEXT_TIER": gettext_lazy("“%(name)s”: %(missing)s more for %(percent)s%% off."),
    "SPEND_MORE": gettext_lazy("“%(name)s”: spend %(missing)s more to save more."),
    # who must approve a manual discount
    "OVER_PERCENT_LIMIT": gettext_lazy("Line %(line)s: %(percent)s%% off by hand, above the limit of %(limit)s%%."),
    "OVER_AMOUNT_LIMIT": gettext_lazy("%(amount)s off by hand in all, above the limit of %(limit)s."),
    "OVER_MANAGER_LIMIT": gettext_lazy("Beyond what a sales manager may approve: an admin must decide."),
}


def reason_text(reason: Reason) -> str:
    """One sentence a salesperson understands, for why a rule did or did not apply."""
    p = shown_params(reason.params)
    if reason.code == "NOT_FOR_ACCOUNT":
        part = reason.params.get("part", "")
        return _("Not for this account: it targets other %(part)s.") % {"part": PART_NAMES.get(part, part)}
    if reason.code == "WRONG_CHANNEL":
        from patron.sales.models import Order

        names = dict(Order.CHANNELS)
        p["channels"] = _(", ").join(str(names.get(c, c)) for c in reason.params.get("channels", ()))
    message = REASONS.get(reason.code)
    return str(message) % p if message is not None else reason.code
