"""Navigation shared by every page; later capabilities add their entries to NAVIGATION."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from patron.accounts.access import can
from patron.domain.access import Action

# (url name, label, the action a user must be able to take somewhere to see the entry)
NAVIGATION: list[tuple[str, Any, Action | None]] = [
    ("home", _("Dashboard"), None),
    ("accounts:list", _("Accounts"), Action.VIEW_ACCOUNT),
    ("accounts:duplicates", _("Duplicates"), Action.EDIT_ACCOUNT),
    ("sales:order_list", _("Orders"), Action.VIEW_ACCOUNT),
    ("sales:invoice_list", _("Invoices"), Action.VIEW_RECEIVABLES),
    ("sales:product_list", _("Products"), None),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": []}
    return {"navigation": [(name, label) for name, label, action in NAVIGATION if action is None or can(user, action)]}
