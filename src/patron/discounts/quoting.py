"""A quote from what a user typed: lines checked field by field, priced, and explained as data.

Used by the quote API, the order pages and services, and the simulator, so that a
price is worked out, checked and explained the same way wherever it is shown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from patron.domain.explain import Reason
from patron.domain.money import UNIT_PRICE_PLACES, Money
from patron.domain.pricing import AccountProfile, ManualDiscount, Quote, Rule, RuleBook, price_cart
from patron.domain.pricing.cart import MANUAL_KINDS, Cart
from patron.domain.pricing.limits import Need

from . import selectors
from .mappers import Compiled, LineRequest, account_profile, cart_for, compiled, compiled_for, refresh_products
from .messages import reason_text

QUANTITY_PLACES = 3
MAX_QUANTITY = Decimal("99999999999")
MAX_LINES = 500


@dataclass(frozen=True)
class Priced:
    cart: Cart
    quote: Quote
    need: Need | None  # None when nobody is asking (a what-if)


def _number(errors: dict[str, list[str]], field: str, raw: Any, places: int, *, positive: bool) -> Decimal | None:
    if isinstance(raw, bool | float):
        errors[field] = [_('Send numbers as text, e.g. "12.5".')]
        return None
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        errors[field] = [_("Enter a number.")]
        return None
    if not value.is_finite():
        errors[field] = [_("Enter a number.")]
        return None
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        errors[field] = [_("At most %(places)s decimal places.") % {"places": places}]
        return None
    if (positive and value <= 0) or value < 0:
        errors[field] = [_("Must be more than zero.") if positive else _("Must not be negative.")]
        return None
    if value > MAX_QUANTITY:
        errors[field] = [_("This number is too large.")]
        return None
    return value


def line_requests(
    lines: Sequence[Mapping[str, Any]], *, currency: str, held: Compiled | None = None
) -> list[LineRequest]:
    """Lines as sent (``product`` id or SKU, ``quantity``, optional ``manual`` {kind, value, reason})."""
    errors: dict[str, list[str]] = {}
    if not lines:
        raise ValidationError({"lines": [_("Add at least one line.")]})
    if len(lines) > MAX_LINES:
        raise ValidationError({"lines": [_("At most %(n)s lines.") % {"n": MAX_LINES}]})
    refs = [line.get("product") for line in lines]
    held = held or compiled()
    if any(
        (isinstance(r, str) and r.upper() not in held.products)
        or (isinstance(r, int) and not isinstance(r, bool) and r not in held.product_ids)
        for r in refs
    ):
        held = refresh_products()  # a product made since the book was built, or a mistyped one
    found, by_id = held.products, held.product_ids
    out: list[LineRequest] = []
    for i, line in enumerate(lines):
        prefix = f"lines.{i}."
        ref = line.get("product")
        product = found.get(ref.upper()) if isinstance(ref, str) else by_id.get(ref) if isinstance(ref, int) else None
        if product is None:
            errors[prefix + "product"] = [_("Unknown product.")]
        elif not product.active:
            errors[prefix + "product"] = [_("This product is no longer sold.")]
        elif product.currency != currency:
            errors[prefix + "product"] = [
                _("This product is priced in %(product)s, the order in %(order)s.")
                % {"product": product.currency, "order": currency}
            ]
        quantity = _number(errors, prefix + "quantity", line.get("quantity"), QUANTITY_PLACES, positive=True)
        manual = None
        raw_manual = line.get("manual")
        if raw_manual:
            kind = raw_manual.get("kind") if isinstance(raw_manual, Mapping) else None
            if kind not in MANUAL_KINDS:
                errors[prefix + "manual.kind"] = [_("Choose percent, amount or price.")]
            else:
                value = _number(
                    errors,
                    prefix + "manual.value",
                    raw_manual.get("value"),
                    UNIT_PRICE_PLACES,
                    positive=kind != "price",
                )
                if value is not None and kind == "percent" and value > 100:
                    errors[prefix + "manual.value"] = [_("A percent is at most 100.")]
                elif value is not None and kind == "amount" and product is not None and value > product.list_price:
                    errors[prefix + "manual.value"] = [_("More than the list price.")]
                elif value is not None:
                    reason = str(raw_manual.get("reason") or "")[:500]
                    manual = ManualDiscount(kind, value, reason)
        if product is not None and quantity is not None and prefix + "product" not in errors:
            out.append(LineRequest(product=product, quantity=quantity, manual=manual))
    if errors:
        raise ValidationError(errors)
    return out


def price(
    account: Any,  # an Account, or mappers.PricedAccount
    lines: Sequence[LineRequest],
    *,
    currency: str = "CNY",
    channel: str = "sales_rep",
    now: dt.datetime | None = None,
    user: Any = None,
    book: RuleBook | None = None,
    coupons: Sequence[Rule] = (),
    held: Compiled | None = None,
    profile: AccountProfile | None = None,
) -> Priced:
    """``profile``: the account's, if the caller read it already (``mappers.quote_context``)."""
    active = compiled_for([account.region_id], [r.product.category_id for r in lines], held)
    cart = cart_for(lines, active.catalogue, currency=currency, channel=channel)
    profile = profile or account_profile(account, active.catalogue)
    quote = price_cart(cart, book or active.book, profile, now=now or timezone.localtime(), coupons=coupons)
    need = selectors.approval_needed(cart, quote, user, active, profile.classes) if user is not None else None
    refuse_surcharges(lines, quote)
    return Priced(cart=cart, quote=quote, need=need)


def refuse_surcharges(lines: Sequence[LineRequest], quote: Quote) -> None:
    """A manual price above what the rules give would be a surcharge: refused, naming the line."""
    errors = {}
    for i, (request, line) in enumerate(zip(lines, quote.lines, strict=True)):
        manual = request.manual
        lowered = any(d.source == "manual" for d in line.discounts)
        if (
            manual is not None
            and manual.kind == "price"
            and not lowered
            and manual.value * request.quantity > line.net_amount.amount
        ):
            message = _("Above the price the rules give; a manual price can only lower it.")
            errors[f"lines.{i}.manual.value"] = [message]
    if errors:
        raise ValidationError(errors)


# --- as data, for the API, the pages and the order's stored breakdown ------------------------------------------


def _money(m: Money | None) -> str | None:
    return None if m is None else str(m.amount)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Money):
        return {"amount": str(value.amount), "currency": value.currency}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Reason):
        return reason_data(value)
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


# Worded reasons by language, code and parameters. A quote explains dozens of rules and most of the
# sentences repeat from quote to quote ("gives more in the same group", "no product is covered"), so
# the HTTP quote words each once. Cleared whole when it grows past its bound; the bound keeps it small.
_WORDED: dict[tuple[Any, ...], dict[str, Any]] = {}
_WORDED_MAX = 20_000


def _token(value: Any) -> Any:
    # By type and written form: 1.0 and 1.00 are equal Decimals but read differently.
    kind = value.__class__
    if kind is Decimal:
        return (kind, str(value))
    if kind is Money:
        return (kind, str(value.amount), value.currency)
    if kind is list or kind is tuple:
        return (kind, *map(_token, value))
    return (kind, value)


def _worded(reason: Reason, language: str | None) -> dict[str, Any]:
    params = reason.params
    key = (language, reason.code, *[(k, _token(v)) for k, v in params.items()])
    try:
        worded = _WORDED.get(key)
        remember = True
    except TypeError:  # something unhashable among the parameters: worded every time
        worded, remember = None, False
    if worded is None:
        worded = {"code": reason.code, "params": _jsonable(params), "text": reason_text(reason)}
        if remember:
            if len(_WORDED) >= _WORDED_MAX:
                _WORDED.clear()
            _WORDED[key] = worded
    return dict(worded)


def reason_data(reason: Reason) -> dict[str, Any]:
    return _worded(reason, get_language())


def rule_id(key: str) -> int | None:
    return int(key[1:]) if key.startswith("R") and key[1:].isdigit() else None


def policy_id(key: str) -> int | None:
    return int(key[1:]) if key.startswith("P") and key[1:].isdigit() else None


def quote_data(priced: Priced) -> dict[str, Any]:
    quote = priced.quote
    need = priced.need
    language = get_language()
    return {
        "currency": quote.currency,
        "list_total": _money(quote.list_total),
        "discount_total": _money(quote.discount_total),
        "net_total": _money(quote.net_total),
        "manual_total": _money(quote.manual_total),
        "lines": [
            {
                "line": ln.key,
                "sku": ln.sku,
                "quantity": str(ln.quantity),
                "list_unit_price": _money(ln.list_unit_price),
                "list_amount": _money(ln.list_amount),
                "net_amount": _money(ln.net_amount),
                "net_unit_price": _money(ln.net_unit_price),
                "floor_amount": _money(ln.floor_amount),
                "below_floor": ln.below_floor,
                "margin": _money(ln.margin),
                "discounts": [line_discount_data(d, language) for d in ln.discounts],
            }
            for ln in quote.lines
        ],
        "rules": [
            {
                "rule": o.rule,
                "rule_id": rule_id(o.rule),
                "name": o.name,
                "policy": o.policy,
                "source": o.source,
                "applied": o.applied,
                "amount": _money(o.amount),
                "lines": list(o.lines),
                "reasons": [_worded(r, language) for r in o.reasons],
            }
            for o in quote.outcomes
        ],
        "hints": [_worded(h, language) for h in quote.hints],
        "approval": None
        if need is None
        else {"level": need.level or None, "reasons": [_worded(r, language) for r in need.reasons]},
    }


def line_discount_data(d: Any, language: str | None = None) -> dict[str, Any]:
    language = language or get_language()
    return {
        "rule": d.rule,
        "rule_id": rule_id(d.rule),
        "name": d.name,
        "policy": d.policy,
        "source": d.source,
        "amount": _money(d.amount),
        "how": _worded(d.detail, language),
        "notes": [_worded(n, language) for n in d.notes],
    }
