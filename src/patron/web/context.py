"""Navigation shared by every page; later capabilities add their entries to NAVIGATION."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from patron.accounts.access import can
from patron.domain.access import Action

# (url name, label, the action(s) a user must be able to take somewhere to see the entry; any of a tuple)
NAVIGATION: list[tuple[str, Any, Action | tuple[Action, ...] | None]] = [
    ("home", _("Dashboard"), None),
    ("service:my_day", _("My day"), Action.EDIT_ACCOUNT),
    ("pipeline:board", _("Pipeline"), Action.EDIT_ACCOUNT),
    ("accounts:list", _("Accounts"), Action.VIEW_ACCOUNT),
    ("accounts:duplicates", _("Duplicates"), Action.EDIT_ACCOUNT),
    ("sales:order_list", _("Orders"), Action.VIEW_ACCOUNT),
    ("sales:invoice_list", _("Invoices"), Action.VIEW_RECEIVABLES),
    ("receivables:aging", _("Receivables"), Action.VIEW_RECEIVABLES),
    ("sales:product_list", _("Products"), None),
    ("segments:list", _("Segments"), Action.VIEW_ACCOUNT),
    ("approvals:list", _("Approvals"), (Action.RECORD_ORDER, Action.RECORD_PAYMENT)),
    ("discounts:policy_list", _("Discounts"), Action.RECORD_ORDER),
    ("rebates:program_list", _("Rebates"), (Action.RECORD_ORDER, Action.EDIT_REBATES, Action.SETTLE_REBATES)),
    ("coupons:campaign_list", _("Coupons"), (Action.EDIT_COUPONS, Action.RECORD_ORDER)),
    ("service:complaint_list", _("Complaints"), Action.EDIT_ACCOUNT),
    ("service:survey_list", _("Surveys"), (Action.EDIT_COUPONS, Action.EDIT_SEGMENTS)),
    (
        "imports:list",
        _("Imports"),
        (Action.CREATE_ACCOUNT, Action.EDIT_PRODUCT, Action.RECORD_ORDER, Action.RECORD_PAYMENT),
    ),
    ("exports:list", _("Exports"), None),
]


def _may(user: Any, action: Action | tuple[Action, ...] | None) -> bool:
    if action is None:
        return True
    return any(can(user, a) for a in (action if isinstance(action, tuple) else (action,)))


def _current(request: HttpRequest, entries: list[tuple[str, Any]]) -> str:
    """The entry to mark: the page's own, else the first entry of the page's app (a detail page's list)."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return ""
    names = [name for name, _label in entries]
    if match.view_name in names:
        return str(match.view_name)
    same_app = [name for name in names if match.app_name and name.split(":")[0] == match.app_name]
    # "sales:invoice_detail" belongs under "sales:invoice_list", "discounts:rule_edit" under the app's first entry.
    word = str(match.url_name or "").split("_")[0]
    fallback = same_app[0] if same_app else ""
    return next((name for name in same_app if name.split(":")[1].split("_")[0] == word), fallback)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"navigation": [], "navigation_current": ""}
    entries = [(name, label) for name, label, action in NAVIGATION if _may(user, action)]
    return {"navigation": entries, "navigation_current": _current(request, entries)}
