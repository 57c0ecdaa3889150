"""Navigation shared by every page; later capabilities add their entries to NAVIGATION."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# (url name, label, roles allowed or None for everyone signed in)
NAVIGATION: list[tuple[str, Any, frozenset[str] | None]] = [
    ("home", _("Dashboard"), None),
    ("accounts:list", _("Accounts"), None),
    ("sales:order_list", _("Orders"), frozenset({"admin", "sales_manager", "salesperson", "finance"})),
    ("sales:invoice_list", _("Invoices"), frozenset({"admin", "sales_manager", "salesperson", "finance"})),
    ("sales:product_list", _("Products"), None),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    role = getattr(user, "role", "")
    return {"navigation": [(name, label) for name, label, roles in NAVIGATION if roles is None or role in roles]}
