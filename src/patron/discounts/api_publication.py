"""REST endpoints for publishing a policy to the accounts it targets, and following the emails.

``POST /discount-policies/{id}/publish`` answers 202 once the recipients are written (the
emails leave through the queue); the same version published again answers 200 with the
publication already made. Only those who may edit discounts publish or read publications.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Path, Query, Router, Schema, Status

from patron.api.schemas import UserRef, responses
from patron.core.pagination import keyset_page

from . import publication as publishing
from .models import Policy
from .publication_models import PolicyPublication, PublicationRecipient

router = Router(tags=["discounts"])

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class PublicationOut(Schema):
    id: int
    policy: int
    version: int
    kind: Literal["first", "change"]
    status: Literal["sending", "done"]
    created: bool = Field(False, description="False when this version had been published already.")
    created_at: dt.datetime
    created_by: UserRef
    changes_from: dt.datetime | None = Field(description="When the changes apply (a change publication).")
    changes: dict[str, Any] = Field(description="Against the previous publication: rule ids added, removed, ...")
    accounts_targeted: int
    accounts_dropped: int = Field(description="Accounts told the offer no longer applies to them.")
    accounts_unchanged: int = Field(description="Targeted accounts the change does not concern (not written to).")
    recipients: int = Field(description="Addresses written to.")
    without_address: int = Field(description="Accounts with neither an email nor a consenting contact.")
    queued: int
    sent: int
    failed: int
    viewed: int = Field(description="Recipients who opened their page.")
    finished_at: dt.datetime | None


class RecipientOut(Schema):
    id: int
    account: int
    contact: int | None
    email: str
    language: str
    status: Literal["queued", "sent", "failed", "no_address"]
    attempts: int
    last_error: str
    queued_at: dt.datetime
    next_attempt_at: dt.datetime | None
    sent_at: dt.datetime | None
    viewed_at: dt.datetime | None


class RecipientPage(Schema):
    items: list[RecipientOut]
    next_cursor: str | None


class RecipientQuery(Schema):
    status: Literal["queued", "sent", "failed", "no_address"] | None = None
    cursor: Annotated[str, Field(max_length=500)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _out(p: PolicyPublication, counts: dict[str, int], created: bool = False) -> dict[str, Any]:
    return {
        "id": p.pk,
        "policy": p.policy_id,
        "version": p.version,
        "kind": p.kind,
        "status": p.status,
        "created": created,
        "created_at": p.created_at,
        "created_by": p.created_by,
        "changes_from": p.changes_from,
        "changes": p.changes or {},
        "accounts_targeted": p.accounts_targeted,
        "accounts_dropped": p.accounts_dropped,
        "accounts_unchanged": p.accounts_unchanged,
        "recipients": p.recipients_count,
        "without_address": p.without_address,
        "queued": counts.get("queued", 0),
        "sent": counts.get("sent", 0),
        "failed": counts.get("failed", 0),
        "viewed": counts.get("viewed", 0),
        "finished_at": p.finished_at,
    }


@router.post(
    "/discount-policies/{policy_id}/publish",
    response=responses({200: PublicationOut, 202: PublicationOut}, 404, 409, 422),
    summary="Publish a policy to the accounts it targets (emails leave through the queue)",
)
def policy_publish(request: HttpRequest, policy_id: Id) -> Any:
    publishing.require_editor(_user(request))
    policy = get_object_or_404(Policy, pk=policy_id)
    result = publishing.policy_publish(actor=_user(request), policy=policy)
    counts = next(
        (row for row in publishing.publication_list(policy) if row["publication"].pk == result.publication.pk), {}
    )
    body = _out(result.publication, counts, created=result.created)
    return Status(202 if result.created else 200, body)


@router.get(
    "/discount-policies/{policy_id}/publications",
    response=responses({200: list[PublicationOut]}, 404, 422),
    summary="A policy's publications, newest first, with their emails counted",
)
def publication_list(request: HttpRequest, policy_id: Id) -> Any:
    publishing.require_editor(_user(request))
    policy = get_object_or_404(Policy, pk=policy_id)
    return [_out(row["publication"], row) for row in publishing.publication_list(policy)]


@router.get(
    "/discount-publications/{publication_id}/recipients",
    response=responses({200: RecipientPage}, 404, 422),
    summary="A publication's recipients and what became of each email (e.g. ?status=failed)",
)
def recipient_list(request: HttpRequest, publication_id: Id, query: Query[RecipientQuery]) -> Any:
    publishing.require_editor(_user(request))
    publication = get_object_or_404(PolicyPublication, pk=publication_id)
    rows = PublicationRecipient.objects.filter(publication=publication)
    if query.status:
        rows = rows.filter(status=query.status)
    page = keyset_page(rows, sort="id", cursor=query.cursor, limit=query.limit)
    items = [
        {
            "id": r.pk,
            "account": r.account_id,
            "contact": r.contact_id,
            "email": r.email,
            "language": r.language,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "queued_at": r.queued_at,
            "next_attempt_at": r.next_attempt_at,
            "sent_at": r.sent_at,
            "viewed_at": r.viewed_at,
        }
        for r in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}
