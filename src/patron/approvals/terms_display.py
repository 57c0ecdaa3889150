"""Terms as a reader sees them: any JSON object as a table of lines (if it has "lines") and labelled values.

Words for the usual keys are here, translated; an app adds or overrides its own with
``registry.register(..., term_labels=...)``. Other keys are shown as written ("net_total" as "Net total").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy as _

LABELS: dict[str, Any] = {
    "lines": _("Lines"),
    "line": _("Line"),
    "product": _("Product"),
    "sku": _("SKU"),
    "name": _("Name"),
    "quantity": _("Quantity"),
    "unit_price": _("Unit price"),
    "list_price": _("List price"),
    "price": _("Price"),
    "floor_price": _("Floor price"),
    "unit_cost": _("Unit cost"),
    "discount": _("Discount"),
    "discount_percent": _("Discount (%)"),
    "discount_amount": _("Discount amount"),
    "limit": _("Limit"),
    "limit_percent": _("Limit (%)"),
    "margin": _("Margin"),
    "margin_percent": _("Margin (%)"),
    "amount": _("Amount"),
    "total": _("Total"),
    "list_total": _("List total"),
    "net_total": _("Net total"),
    "currency": _("Currency"),
    "order": _("Order"),
    "number": _("Number"),
    "period": _("Period"),
    "rate": _("Rate"),
    "note": _("Note"),
}


def term_label(key: str, extra: Mapping[str, Any] | None = None) -> str:
    if extra and key in extra:
        return str(extra[key])
    if key in LABELS:
        return str(LABELS[key])
    return key.replace("_", " ").strip().capitalize() or key


def _is_money(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"amount", "currency"}


def term_text(value: Any) -> str:
    """One value as text: money as "CNY 120.00", yes/no, lists joined, anything else as compact JSON."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if _is_money(value):
        return f"{value['currency']} {value['amount']}"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return ", ".join(str(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass
class TermsView:
    columns: list[tuple[str, bool]] = field(default_factory=list)  # (label, a column of numbers)
    rows: list[list[tuple[str, bool]]] = field(default_factory=list)  # (text, right-aligned as a number)
    values: list[tuple[str, str]] = field(default_factory=list)


def _numeric(text: str) -> bool:
    try:
        return Decimal(text.replace(",", "").split(" ")[-1].rstrip("%")).is_finite()
    except InvalidOperation:
        return False


def terms_view(terms: Any, extra: Mapping[str, Any] | None = None) -> TermsView:
    """The page's view of ``terms``: lines as a table (columns in order of first appearance) and other values."""
    view = TermsView()
    if not isinstance(terms, dict):
        return view
    lines = terms.get("lines")
    if isinstance(lines, list) and lines and all(isinstance(line, dict) for line in lines):
        keys: list[str] = []
        for line in lines:
            keys += [k for k in line if k not in keys]
        texts = [[term_text(line.get(k)) for k in keys] for line in lines]
        numeric = [
            all(_numeric(row[n]) or row[n] == "–" for row in texts) and any(row[n] != "–" for row in texts)
            for n in range(len(keys))
        ]
        view.columns = list(zip((term_label(k, extra) for k in keys), numeric, strict=True))
        view.rows = [list(zip(row, numeric, strict=True)) for row in texts]
    for key, value in terms.items():
        if key == "lines" and view.columns:
            continue
        if isinstance(value, dict) and not _is_money(value):
            for inner, item in value.items():
                view.values.append((f"{term_label(key, extra)} · {term_label(inner, extra)}", term_text(item)))
        else:
            view.values.append((term_label(key, extra), term_text(value)))
    return view
