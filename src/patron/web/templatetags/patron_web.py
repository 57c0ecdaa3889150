"""Small formatting helpers shared by every page."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from patron.domain.money import MINOR_UNITS

register = template.Library()


@register.filter
def money(value: Any, currency: str = "") -> str:
    """``1234.5|money:"CNY"`` -> ``CNY 1,234.50``; empty for None."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    places = MINOR_UNITS.get(currency, 2)
    text = f"{amount:,.{places}f}"
    return f"{currency} {text}" if currency else text


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
