"""Reads of approval requests, scoped by who asks.

Who sees a request: its submitter, the owner of its account, admins, finance (the finance-level ones),
and the sales managers in whose reach it is (the account is one they can see: their own or their
team's; a request with no account, when the submitter is in a team they manage). Who decides one:
an admin, or such a manager if the request needs only a manager, finance for a finance-level
request (a credit-limit override),
never its submitter.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from patron.accounts.access import account_scope, can, role_of
from patron.domain.access import Action, Role
from patron.domain.approvals import LIVE, Level, Status, level_of, reaches
from patron.staff.models import User

from .models import ApprovalEvent, ApprovalRequest
from .terms import terms_hash


def decider_level(user: Any) -> Level | None:
    """The approver level of ``user`` (admin, manager, finance) or None: salespeople and marketing decide nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    return level_of(role_of(user))


def _reach_q(user: Any) -> Q | None:
    """Requests in ``user``'s reach as an approver, whatever level they need; None for none."""
    level = decider_level(user)
    if level is None:
        return None
    if level is Level.ADMIN:
        return Q()
    if level is Level.FINANCE:
        return Q(required_level=Level.FINANCE.value)
    team = account_scope(user, Action.VIEW_ACCOUNT, "account__")
    by_account = Q(account__isnull=False) & team if team is not None else Q(pk__in=[])
    return by_account | Q(account__isnull=True, submitter__team__manager=user.pk)


def in_reach(user: Any, request: ApprovalRequest) -> bool:
    """The one-request form of the reach above (the services ask it before deciding)."""
    level = decider_level(user)
    if level is None:
        return False
    if level is Level.ADMIN:
        return True
    if level is Level.FINANCE:
        return request.required_level == Level.FINANCE.value
    if request.account_id is not None:
        return request.account is not None and can(user, Action.VIEW_ACCOUNT, request.account)
    team = request.submitter.team
    return team is not None and team.manager_id == user.pk


def _base() -> QuerySet[ApprovalRequest]:
    return ApprovalRequest.objects.select_related("account", "submitter", "decided_by")


def approvals_visible(*, user: Any) -> QuerySet[ApprovalRequest]:
    """Every request ``user`` may open: those they submitted, those about accounts they own, those in their reach."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ApprovalRequest.objects.none()
    reach = _reach_q(user)
    if reach is not None and not reach:  # every request (an empty Q would vanish from "mine | reach")
        return _base()
    mine = Q(submitter=user.pk) | Q(account__owner=user.pk)
    return _base().filter(mine | reach if reach is not None else mine)


def _decidable_levels(level: Level) -> list[str]:
    return [lvl.value for lvl in Level if reaches(level, lvl)]


def approvals_to_decide(*, user: Any) -> QuerySet[ApprovalRequest]:
    """Pending requests ``user`` may approve or reject now (never their own)."""
    level = decider_level(user)
    reach = _reach_q(user)
    if level is None or reach is None:
        return ApprovalRequest.objects.none()
    return (
        _base()
        .filter(reach, status=Status.PENDING.value, required_level__in=_decidable_levels(level))
        .exclude(submitter=user.pk)
    )


def approval_pending_count(*, user: Any) -> int:
    """How many requests wait for ``user``'s decision; no query at all for someone who decides nothing."""
    if decider_level(user) is None:
        return 0
    return approvals_to_decide(user=user).count()


def approvals_submitted(*, user: Any) -> QuerySet[ApprovalRequest]:
    """Requests ``user`` submitted, in any state."""
    if user is None or not user.is_authenticated:
        return ApprovalRequest.objects.none()
    return _base().filter(submitter=user.pk)


def approvals_decided(*, user: Any) -> QuerySet[ApprovalRequest]:
    """Requests ``user`` may see that are no longer pending (the history)."""
    return approvals_visible(user=user).exclude(status=Status.PENDING.value)


def approval_get(*, user: Any, pk: int) -> ApprovalRequest:
    """The request, if ``user`` may see it; ``ApprovalRequest.DoesNotExist`` otherwise (a 404, not a 403)."""
    return approvals_visible(user=user).get(pk=pk)


def approval_events(request: ApprovalRequest) -> list[ApprovalEvent]:
    return list(request.events.select_related("actor").order_by("at", "id"))


def approval_history(*, subject_type: str, subject_id: int) -> QuerySet[ApprovalRequest]:
    """Every request ever made for one subject, oldest first."""
    return _base().filter(subject_type=subject_type, subject_id=subject_id).order_by("created_at", "id")


def approval_current(*, subject_type: str, subject_id: int) -> ApprovalRequest | None:
    """The subject's live request (pending, or approved and not replaced), if it has one."""
    return (
        _base()
        .filter(subject_type=subject_type, subject_id=subject_id, status__in=[s.value for s in LIVE])
        .order_by("-created_at", "-id")
        .first()
    )


def approval_for_terms(*, subject_type: str, subject_id: int, terms: dict[str, Any]) -> ApprovalRequest | None:
    """The live request for exactly these terms, if there is one (pending or approved)."""
    current = approval_current(subject_type=subject_type, subject_id=subject_id)
    if current is not None and current.terms_hash == terms_hash(terms):
        return current
    return None


def approval_granted(*, subject_type: str, subject_id: int, terms: dict[str, Any]) -> bool:
    """Were exactly these terms approved (and not replaced since)?"""
    found = approval_for_terms(subject_type=subject_type, subject_id=subject_id, terms=terms)
    return found is not None and found.status == Status.APPROVED.value


def _admins() -> QuerySet[User]:
    return User.objects.filter(Q(role=Role.ADMIN.value) | Q(is_superuser=True), is_active=True)


def deciders_of(request: ApprovalRequest) -> list[User]:
    """Who is told of a new request: the managers who may decide it (the submitter's and the account owner's
    team managers); for a finance-level request, finance; for an admin-level request, or when nobody else
    may decide it, the admins."""
    people: list[User] = []
    if request.required_level == Level.FINANCE.value:
        people = list(
            User.objects.filter(role=Role.FINANCE.value, is_active=True).exclude(pk=request.submitter_id).order_by("pk")
        )
    if request.required_level == Level.MANAGER.value:
        candidates: list[User] = []
        submitter_team = request.submitter.team
        if submitter_team is not None and submitter_team.manager is not None:
            candidates.append(submitter_team.manager)
        owner = request.account.owner if request.account is not None else None
        if owner is not None:
            candidates.append(owner)
            if owner.team is not None and owner.team.manager is not None:
                candidates.append(owner.team.manager)
        for person in candidates:
            if (
                person.pk != request.submitter_id
                and person not in people
                and decider_level(person) is Level.MANAGER
                and in_reach(person, request)
            ):
                people.append(person)
    if not people:
        people = list(_admins().exclude(pk=request.submitter_id).order_by("pk"))
    return people
