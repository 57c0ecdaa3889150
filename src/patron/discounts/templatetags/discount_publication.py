"""``{% publication_panel policy %}``: the policy page's publication card (editors only): the Publish button
when the current version has not gone out, how many accounts it would reach, and each publication's emails."""

from __future__ import annotations

from typing import Any

from django import template

from patron.accounts.access import can
from patron.domain.access import Action

from ..models import Policy
from ..publication import publication_list, targeted_accounts

register = template.Library()

SHOWN = 10


@register.inclusion_tag("discounts/_publications.html", takes_context=True)
def publication_panel(context: template.Context, policy: Policy) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not can(user, Action.EDIT_DISCOUNTS):
        return {"show": False}
    pending = policy.status == Policy.ACTIVE and (policy.published_version or 0) < policy.version
    return {
        "show": True,
        "policy": policy,
        "rows": publication_list(policy)[:SHOWN],
        "pending": pending,
        "republish": pending and policy.published_version is not None,
        "reach": targeted_accounts(policy).count() if pending else None,
        "csrf_token": context.get("csrf_token"),
    }
