"""Formatting shared by every page.

Rounding stays in ``patron.domain.money``; these filters only choose how many
decimals to show: a stored amount with its currency's minor units, a unit price
with at least those and at most ``UNIT_PRICE_PLACES``, a quantity without
trailing zeros.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from patron.domain.money import MoneyError, minor_units, quantize

register = template.Library()


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        return None


@register.filter
def money(value: Any, currency: str = "") -> str:
    """``CNY 1,234.50``: an amount rounded half-up to the currency's minor unit."""
    number = _decimal(value)
    if number is None:
        return ""
    try:
        text = f"{quantize(number, currency):,}"
    except MoneyError:  # no currency given: two decimals, the most common minor unit
        text = f"{number:,.2f}"
    return f"{currency} {text}".strip()


@register.filter
def amount(value: Any, currency: str = "") -> str:
    """``1,234.50``: like ``money`` without the currency code (for table columns)."""
    number = _decimal(value)
    if number is None:
        return ""
    try:
        return f"{quantize(number, currency):,}"
    except MoneyError:
        return f"{number:,.2f}"


def price_text(value: Decimal, currency: str) -> str:
    try:
        places = minor_units(currency)
    except MoneyError:
        places = 2
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    shown = max(places, -exponent) if isinstance(exponent, int) else places
    return f"{value:,.{shown}f}"


@register.filter
def price(value: Any, currency: str = "") -> str:
    """A unit price: the currency's decimals, more only when the price has them (``0.1234``)."""
    number = _decimal(value)
    if number is None:
        return ""
    return price_text(number, currency)


def quantity_text(value: Decimal) -> str:
    normal = value.normalize()
    # normalize() writes 100 as 1E+2; quantize back to an integer exponent for display.
    if normal == normal.to_integral_value():
        return f"{normal.quantize(Decimal(1)):,}"
    return f"{normal:,f}"


@register.filter
def qty(value: Any) -> str:
    number = _decimal(value)
    return "" if number is None else quantity_text(number)


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    """``mapping|get_item:key`` for dicts with keys that templates cannot spell."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def display_value(value: Any) -> str:
    """A before/after value of the audit trail, readably."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "✓"
    if value is False:
        return "✗"
    if isinstance(value, list):
        return ", ".join(display_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {display_value(v)}" for k, v in value.items()) or "—"
    return str(value)
