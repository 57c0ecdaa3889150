"""REST endpoints for approvals: list, one request with its log, approve, reject, withdraw.

A request is visible to its submitter, to admins and to the sales managers whose team's account
it concerns; anyone else gets a 404. Deciding needs a sales manager (manager-level requests of their
team) or an admin; a salesperson's attempt is a 403 that says so, a request already decided a 409
that says by whom and when. Requests are made by the apps that need them (discounts, rebates), not here.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import Http404, HttpRequest
from django.urls import reverse
from ninja import Field, Path, Query, Router, Schema, Status

from patron.api.pagination import PageQuery, page_of
from patron.api.schemas import AccountRef, UserRef, responses

from . import registry, selectors, services
from .models import ApprovalRequest

router = Router(tags=["approvals"])

RequestId = Annotated[int, Path(ge=1, le=2**63 - 1)]
STATUSES = Literal["pending", "approved", "rejected", "withdrawn", "superseded"]


class SubjectOut(Schema):
    type: str
    id: int
    label: str = Field(description="In the caller's language.")
    url: str | None
    summary: str


class ApprovalItem(Schema):
    id: int
    subject: SubjectOut
    account: AccountRef | None
    required_level: Literal["manager", "admin", "finance"]
    status: STATUSES
    submitter: UserRef
    reason: str
    terms_hash: str = Field(description="sha256 of the terms' canonical JSON: the approval applies to exactly these.")
    decided_by: UserRef | None
    decided_at: dt.datetime | None
    comment: str
    superseded_by: int | None = Field(description="The newer request that replaced this one, if any.")
    created_at: dt.datetime
    url: str = Field(description="The request's page.")


class EventOut(Schema):
    action: Literal["submit", "approve", "reject", "withdraw", "supersede"]
    actor: UserRef | None
    at: dt.datetime
    comment: str
    from_status: str = Field(description='"" for the submission.')
    to_status: STATUSES


class ApprovalOut(ApprovalItem):
    terms: dict[str, Any] = Field(description="What is approved: lines, prices, discount, margin, as submitted.")
    events: list[EventOut]
    may: list[Literal["approve", "reject", "withdraw"]] = Field(description="What the caller may do now.")


class ApprovalPage(Schema):
    items: list[ApprovalItem]
    next_cursor: str | None


class ApprovalQuery(PageQuery):
    status: STATUSES | None = Field(None, description="Only requests in this state.")
    mine: bool = Field(False, description="Only requests the caller submitted.")
    to_decide: bool = Field(False, description="Only pending requests the caller may decide now.")


class DecisionIn(Schema):
    comment: Annotated[str, Field(max_length=4000)] = ""


class RejectIn(Schema):
    comment: Annotated[str, Field(max_length=4000, description="Why; required.")]


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _user_ref(user: Any) -> Any:
    return user  # UserRef reads username and display_name()


def _item(approval: ApprovalRequest, subject: registry.Subject | None = None) -> dict[str, Any]:
    subject = subject or registry.describe(approval)
    account = approval.account
    return {
        "id": approval.pk,
        "subject": {
            "type": approval.subject_type,
            "id": approval.subject_id,
            "label": subject.label,
            "url": subject.url,
            "summary": subject.summary,
        },
        "account": {"code": account.code, "name": account.name} if account is not None else None,
        "required_level": approval.required_level,
        "status": approval.status,
        "submitter": _user_ref(approval.submitter),
        "reason": approval.reason,
        "terms_hash": approval.terms_hash,
        "decided_by": _user_ref(approval.decided_by),
        "decided_at": approval.decided_at,
        "comment": approval.comment,
        "superseded_by": approval.superseded_by_id,
        "created_at": approval.created_at,
        "url": reverse("approvals:detail", args=[approval.pk]),
    }


def _may(user: Any, approval: ApprovalRequest) -> list[str]:
    from patron.domain.approvals import Verb, allowed_actions

    allowed = allowed_actions(
        approval.status,
        actor_id=user.pk,
        submitter_id=approval.submitter_id,
        actor_level=selectors.decider_level(user),
        required_level=approval.required_level,
    )
    if not selectors.in_reach(user, approval):
        allowed = allowed - {Verb.APPROVE, Verb.REJECT}
    return sorted(v.value for v in allowed)


def _detail(user: Any, approval: ApprovalRequest) -> dict[str, Any]:
    events = [
        {
            "action": e.action,
            "actor": _user_ref(e.actor),
            "at": e.at,
            "comment": e.comment,
            "from_status": e.from_status,
            "to_status": e.to_status,
        }
        for e in selectors.approval_events(approval)
    ]
    return {**_item(approval), "terms": approval.terms, "events": events, "may": _may(user, approval)}


def _visible(user: Any, pk: int) -> ApprovalRequest:
    try:
        return selectors.approval_get(user=user, pk=pk)
    except ApprovalRequest.DoesNotExist:
        raise Http404("approval request") from None


def _refused(exc: services.ApprovalRefused) -> Any:
    return Status(403, {"detail": exc.message, "field": None})


@router.get(
    "/approvals",
    response=responses({200: ApprovalPage}, 422),
    summary="Approval requests you may see",
    description="Newest first. `mine`: the ones you submitted; `to_decide`: pending ones you may decide now; "
    "`status`: in one state.",
)
def approval_list(request: HttpRequest, query: Query[ApprovalQuery]) -> Any:
    user = _user(request)
    if query.to_decide:
        qs = selectors.approvals_to_decide(user=user)
    elif query.mine:
        qs = selectors.approvals_submitted(user=user)
    else:
        qs = selectors.approvals_visible(user=user)
    if query.mine:
        qs = qs.filter(submitter=user.pk)
    if query.status:
        qs = qs.filter(status=query.status)
    page = page_of(qs, sort="-created_at", query=query)
    subjects = registry.describe_all(page.items)
    return {"items": [_item(r, subjects[r.pk]) for r in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/approvals/{request_id}",
    response=responses({200: ApprovalOut}, 404, 422),
    summary="One approval request, with its terms and its log",
)
def approval_detail(request: HttpRequest, request_id: RequestId) -> Any:
    user = _user(request)
    return _detail(user, _visible(user, request_id))


@router.post(
    "/approvals/{request_id}/approve",
    response=responses({200: ApprovalOut}, 404, 409, 422),
    summary="Approve a pending request",
    description="403 if you may not decide it (a salesperson, a manager before an admin-level request or one "
    "outside their team, the submitter); 409 if it was already decided, saying by whom and when.",
)
def approval_approve(request: HttpRequest, request_id: RequestId, payload: DecisionIn) -> Any:
    user = _user(request)
    approval = _visible(user, request_id)
    try:
        approval = services.approval_approve(actor=user, request=approval, comment=payload.comment)
    except services.ApprovalRefused as exc:
        return _refused(exc)
    return _detail(user, approval)


@router.post(
    "/approvals/{request_id}/reject",
    response=responses({200: ApprovalOut}, 404, 409, 422),
    summary="Reject a pending request, saying why",
    description="`comment` is required. 403 and 409 as for approve.",
)
def approval_reject(request: HttpRequest, request_id: RequestId, payload: RejectIn) -> Any:
    user = _user(request)
    approval = _visible(user, request_id)
    try:
        approval = services.approval_reject(actor=user, request=approval, comment=payload.comment)
    except services.ApprovalRefused as exc:
        return _refused(exc)
    return _detail(user, approval)


@router.post(
    "/approvals/{request_id}/withdraw",
    response=responses({200: ApprovalOut}, 404, 409, 422),
    summary="Withdraw your own pending request",
)
def approval_withdraw(request: HttpRequest, request_id: RequestId) -> Any:
    user = _user(request)
    approval = _visible(user, request_id)
    try:
        approval = services.approval_withdraw(actor=user, request=approval)
    except services.ApprovalRefused as exc:
        return _refused(exc)
    return _detail(user, approval)
