"""The navigation's count of requests waiting for the reader's decision.

Called only where the Approvals entry is drawn, and it asks the database only for people who
decide (sales managers, admins): a salesperson's pages cost no query more.
"""

from __future__ import annotations

from typing import Any

from django import template

from patron.approvals.selectors import approval_pending_count

register = template.Library()


@register.simple_tag(takes_context=True)
def approvals_waiting(context: dict[str, Any]) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return approval_pending_count(user=user)
