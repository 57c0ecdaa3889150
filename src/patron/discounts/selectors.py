"""Reads: quotes (the one way Patron prices a cart), policies, and the limits a person has."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, QuerySet

from patron.domain.access import Role
from patron.domain.pricing import Quote
from patron.domain.pricing.cart import Cart
from patron.domain.pricing.limits import UNLIMITED, Limit, Need, required_approval

from .mappers import Compiled, LimitRow, compiled
from .models import Policy


def policy_list(status: str | None = None) -> QuerySet[Policy]:
    policies = Policy.objects.select_related("owner").annotate(rule_count=Count("rules"))
    if status:
        policies = policies.filter(status=status)
    return policies.order_by("status", "-updated_at", "id")


def _role(user: Any) -> str:
    return str(getattr(user, "role", "") or "")


def _as_limit(rows: Sequence[LimitRow], classes: frozenset[str] = frozenset()) -> Limit:
    """No general row means nothing may be given by hand (0%, 0); a row's empty field means no limit on it.

    Rows for a segment the account is in win over the rows for every account; of several such
    segments, the most generous row counts."""
    mine = [r for r in rows if not r.segment or r.segment in classes]

    def pick(candidates: list[LimitRow]) -> LimitRow | None:
        specific = [r for r in candidates if r.segment]
        if specific:
            return max(specific, key=lambda r: (r.percent is None, r.percent or 0, r.amount is None, r.amount or 0))
        return candidates[0] if candidates else None

    general = pick([r for r in mine if r.category_id is None])
    by_category: dict[int, Decimal] = {}
    for category in {r.category_id for r in mine if r.category_id is not None}:
        row = pick([r for r in mine if r.category_id == category])
        if row is not None and row.percent is not None and category is not None:
            by_category[category] = row.percent
    return Limit(
        percent=(general.percent if general else Decimal(0)),
        amount=(general.amount if general else Decimal(0)),
        by_category=by_category,
    )


@dataclass(frozen=True)
class PersonLimits:
    own: Limit  # what this person may give without asking
    manager: Limit  # what a sales manager may approve


def limits_for(user: Any, held: Compiled | None = None, classes: frozenset[str] = frozenset()) -> PersonLimits:
    """A user's own rows win over their role's; an admin has no limit of their own; nothing written for a
    salesperson means every manual discount is asked for. ``classes``: the account's segments, for the
    limits written for a segment. Read from the rule book's copy (no query)."""
    role = _role(user)
    rows = (held or compiled()).limits
    mine = [r for r in rows if r.user_id == user.pk] or [r for r in rows if r.role == role and r.user_id is None]
    managers = [r for r in rows if r.role == Role.SALES_MANAGER.value and r.user_id is None]
    own = UNLIMITED if role == Role.ADMIN.value else _as_limit(mine, classes)
    # No manager limit written: a manager may approve any amount (the admin has set no ceiling).
    return PersonLimits(own=own, manager=_as_limit(managers, classes) if managers else UNLIMITED)


def approval_needed(
    cart: Cart, quote: Quote, user: Any, held: Compiled | None = None, classes: frozenset[str] = frozenset()
) -> Need:
    limits = limits_for(user, held, classes)
    return required_approval(cart, quote, own=limits.own, manager=limits.manager)
