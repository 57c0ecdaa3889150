"""Apply the access table (``patron.domain.access``) to users and records.

Every surface (API, pages, exports, admin) asks these functions; none of them
re-states the rules.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet

from patron.domain.access import Action, Relation, Role, allows, reach
from patron.staff.models import User

from .models import Account


def relation_to(user: Any, owner_id: int | None, owner_team_manager_id: int | None) -> Relation:
    if owner_id is not None and owner_id == user.pk:
        return Relation.OWN
    if owner_team_manager_id is not None and owner_team_manager_id == user.pk:
        return Relation.TEAM
    return Relation.OTHER


def account_relation(user: Any, account: Account) -> Relation:
    owner = account.owner
    manager_id = owner.team.manager_id if owner is not None and owner.team is not None else None
    return relation_to(user, account.owner_id, manager_id)


def role_of(user: Any) -> Role:
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    return Role(user.role)


def can(user: Any, action: Action, account: Account | None = None) -> bool:
    """May ``user`` take ``action`` on ``account`` (or, with no account, on some account)?"""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    role = role_of(user)
    if account is None:
        return bool(reach(role, action))
    return allows(role, action, account_relation(user, account))


def require(user: Any, action: Action, account: Account | None = None) -> None:
    if not can(user, action, account):
        raise PermissionDenied(action.value)


def account_scope(user: Any, action: Action, prefix: str = "") -> Q | None:
    """A filter for the accounts on which ``user`` may take ``action``; None means none at all.

    ``prefix`` points from another model to its account ("account__").
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    relations = reach(role_of(user), action)
    if Relation.OTHER in relations:
        return Q()
    q = Q(pk__in=[])
    if Relation.OWN in relations:
        q |= Q(**{f"{prefix}owner": user.pk})
    if Relation.TEAM in relations:
        q |= Q(**{f"{prefix}owner__team__manager": user.pk})
    return q if (Relation.OWN in relations or Relation.TEAM in relations) else None


def scope_owners(user: Any, action: Action) -> list[int] | None:
    """The owners whose accounts ``user`` may take ``action`` on, as a list of user ids (empty: none),
    or None for every account. The same reach as ``account_scope``, read once: a query over most of
    the accounts filters an owner column by a short list (the planner knows how many rows that keeps),
    where the joined team's manager left it guessing a twentieth and probing row by row."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    relations = reach(role_of(user), action)
    if Relation.OTHER in relations:
        return None
    owners = [user.pk] if Relation.OWN in relations else []
    if Relation.TEAM in relations:
        owners += list(User.objects.filter(team__manager=user).exclude(pk=user.pk).values_list("pk", flat=True))
    return owners


def scoped(queryset: QuerySet[Any], user: Any, action: Action, prefix: str = "") -> QuerySet[Any]:
    """Restrict any queryset of accounts (or of records with an account) to what ``user`` may reach.

    An account merged into another is out of reach for every action: everything it had
    now belongs to the account it joined, so lists, pickers, exports and pages skip it.
    """
    q = account_scope(user, action, prefix)
    if q is None:
        return queryset.none()
    if queryset.model is Account and not prefix:
        queryset = queryset.filter(merged_into__isnull=True)
    return queryset.filter(q)


def visible_accounts(user: Any) -> QuerySet[Account]:
    """The accounts ``user`` may see; merged accounts are not among them (see ``scoped``)."""
    return scoped(Account.objects.all(), user, Action.VIEW_ACCOUNT)
