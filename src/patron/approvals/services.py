"""Writes of approvals: submit, approve, reject, withdraw, supersede.

Every one runs in a transaction, writes an ``ApprovalEvent`` and an audit row, and sends its
emails after commit. A decision locks the request's row (PostgreSQL: ``SELECT ... FOR UPDATE``;
SQLite: every transaction begins IMMEDIATE, so writers queue) and checks its state again
under the lock, so two approvers deciding the same request at once give one decision; the
other is told who decided it and when (``Conflict``, HTTP 409).

Refusals:

- ``ApprovalRefused`` (a ``PermissionDenied``, HTTP 403) with a message for the reader:
  a salesperson deciding, a manager before an admin-level request or one outside their team,
  a submitter deciding their own request, someone else withdrawing it;
- ``Conflict`` (409): the request is no longer pending;
- ``ValidationError`` naming the field: bad terms, a reject without a comment.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can, role_of
from patron.accounts.models import Account
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.domain.access import Action
from patron.domain.approvals import (
    ALREADY_DECIDED,
    LIVE,
    REASON_LEVEL_TOO_LOW,
    REASON_NOT_SUBMITTER,
    SELF_APPROVAL,
    ApprovalError,
    Level,
    Status,
    Verb,
    transition,
)

from . import registry
from .models import ApprovalEvent, ApprovalRequest
from .selectors import decider_level, in_reach
from .terms import TermsError, canonical, terms_hash

MAX_REASON = 4000
MAX_COMMENT = 4000
AUDIT_ACTIONS = {
    ApprovalEvent.SUBMIT: "APPROVAL_REQUEST_SUBMITTED",
    Verb.APPROVE: "APPROVAL_REQUEST_APPROVED",
    Verb.REJECT: "APPROVAL_REQUEST_REJECTED",
    Verb.WITHDRAW: "APPROVAL_REQUEST_WITHDRAWN",
    Verb.SUPERSEDE: "APPROVAL_REQUEST_SUPERSEDED",
}


class ApprovalRefused(PermissionDenied):
    """Not this person: ``code`` is the state machine's ("self_approval", "not_allowed"), ``message`` the words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- words for refusals ----------------------------------------------------------------------------------------


def _when(moment: Any) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment else ""


def status_label(status: str) -> str:
    return str(dict(ApprovalRequest.STATUSES).get(status, status))


def already_text(request: ApprovalRequest) -> str:
    """'This request was already approved by 王经理 at 2026-11-25 10:04.' from its last event."""
    last = request.events.select_related("actor").order_by("-at", "-id").first()
    who = last.actor.display_name() if last is not None and last.actor is not None else ""
    at = _when(last.at if last is not None else None)
    status = request.status
    if status == Status.APPROVED.value:
        return _("This request was already approved by %(name)s at %(time)s.") % {"name": who, "time": at}
    if status == Status.REJECTED.value:
        return _("This request was already rejected by %(name)s at %(time)s.") % {"name": who, "time": at}
    if status == Status.WITHDRAWN.value:
        return _("This request was withdrawn by %(name)s at %(time)s.") % {"name": who, "time": at}
    return _("This request was replaced by a newer one at %(time)s.") % {"time": at}


def _refusal(error: ApprovalError, actor: Any, request: ApprovalRequest) -> Exception:
    if error.code == ALREADY_DECIDED:
        return Conflict(already_text(request), "status")
    if error.code == SELF_APPROVAL:
        return ApprovalRefused(error.code, _("You cannot approve or reject a request you submitted."))
    if error.reason.code == REASON_NOT_SUBMITTER:
        return ApprovalRefused(error.code, _("Only the person who submitted a request may withdraw it."))
    if error.reason.code == REASON_LEVEL_TOO_LOW:
        required = error.reason.params.get("required")
        if required == Level.FINANCE.value:
            return ApprovalRefused(
                error.code, _("This request needs finance's approval; a sales manager cannot decide it.")
            )
        if required == Level.MANAGER.value:
            return ApprovalRefused(
                error.code, _("This request needs a sales manager's approval; finance decides only credit overrides.")
            )
        return ApprovalRefused(
            error.code, _("This request needs an admin's approval; a sales manager cannot decide it.")
        )
    return ApprovalRefused(
        error.code,
        _("Only a sales manager, finance or an admin may approve or reject requests; your role (%(role)s) may not.")
        % {"role": _role_label(actor)},
    )


def _role_label(actor: Any) -> str:
    from patron.staff.models import User

    return str(dict(User.ROLE_CHOICES).get(role_of(actor).value, role_of(actor).value))


# --- writing ---------------------------------------------------------------------------------------------------


def _require_active(actor: Any) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied("approvals")


def _event(request: ApprovalRequest, action: str, actor: Any, before: str, comment: str = "") -> ApprovalEvent:
    event = ApprovalEvent.objects.create(
        request=request,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        comment=comment,
        from_status=before,
        to_status=request.status,
    )
    changes: dict[str, Any] = {"status": [before or None, request.status]}
    if action == ApprovalEvent.SUBMIT:
        changes.update(
            {
                "subject": [None, f"{request.subject_type}:{request.subject_id}"],
                "required_level": [None, request.required_level],
                "terms_hash": [None, request.terms_hash],
            }
        )
    if comment:
        changes["comment"] = [None, comment]
    if request.superseded_by_id is not None and action == Verb.SUPERSEDE:
        changes["superseded_by"] = [None, request.superseded_by_id]
    audit_record(
        actor=actor, action=AUDIT_ACTIONS[action], instance=request, account_id=request.account_id, changes=changes
    )
    return event


def _flip_superseded(request: ApprovalRequest, *, actor: Any) -> str:
    """Mark a locked, live request superseded; returns the state it had. Its event is written by the caller."""
    before = request.status
    request.status = transition(
        before,
        Verb.SUPERSEDE,
        actor_id=getattr(actor, "pk", None),
        submitter_id=request.submitter_id,
        actor_level=None,
        required_level=request.required_level,
    ).value
    request.save(update_fields=["status"])
    return before


def _live_locked(subject_type: str, subject_id: int) -> list[ApprovalRequest]:
    return list(
        ApprovalRequest.objects.select_for_update()
        .filter(subject_type=subject_type, subject_id=subject_id, status__in=[s.value for s in LIVE])
        .order_by("id")
    )


def _checked_submission(
    *, subject_type: Any, subject_id: Any, account: Account | None, required_level: Any, reason: Any, terms: Any
) -> tuple[dict[str, Any], str, str]:
    errors = FieldErrors()
    if not isinstance(subject_type, str) or not subject_type.strip() or len(subject_type) > 40:
        errors.add("subject_type", _("Give the subject type in 1 to 40 characters."))
    if not isinstance(subject_id, int) or isinstance(subject_id, bool) or not 1 <= subject_id <= 2**63 - 1:
        errors.add("subject_id", _("Give the subject as a positive whole number."))
    if required_level not in {lvl.value for lvl in Level}:
        errors.add("required_level", _("Choose manager, finance or admin."))
    text = reason.strip() if isinstance(reason, str) else ""
    if reason is not None and not isinstance(reason, str):
        errors.add("reason", _("Give the reason as text."))
    elif len(text) > MAX_REASON:
        errors.add("reason", _("At most %(count)d characters.") % {"count": MAX_REASON})
    if account is not None and not isinstance(account, Account):
        errors.add("account", _("Choose an account."))
    plain: dict[str, Any] = {}
    try:
        plain, _text = canonical(terms)
    except TermsError as exc:
        errors.add(
            exc.path,
            _("Terms must be plain data (text, whole numbers, Decimal, dates): %(problem)s.")
            % {"problem": exc.message},
        )
    errors.raise_if_any()
    return plain, terms_hash(plain), text


@transaction.atomic
def approval_submit(
    *,
    actor: Any,
    subject_type: str,
    subject_id: int,
    account: Account | None,
    required_level: str,
    reason: str,
    terms: dict[str, Any],
) -> ApprovalRequest:
    """Ask for a yes on exactly ``terms``.

    A live request for the same subject with the same terms is returned as it is (pending, or
    already approved): submitting twice asks once. One with other terms is superseded and a new
    request made. The approvers are emailed after commit.
    """
    _require_active(actor)
    if account is not None and isinstance(account, Account) and not can(actor, Action.VIEW_ACCOUNT, account):
        raise PermissionDenied(Action.VIEW_ACCOUNT.value)
    plain, fingerprint, text = _checked_submission(
        subject_type=subject_type,
        subject_id=subject_id,
        account=account,
        required_level=required_level,
        reason=reason,
        terms=terms,
    )
    subject_type = subject_type.strip()
    live = _live_locked(subject_type, subject_id)
    for existing in live:
        if existing.terms_hash == fingerprint:
            return existing
    try:
        with transaction.atomic():
            replaced = [(existing, _flip_superseded(existing, actor=actor)) for existing in live]
            request = ApprovalRequest.objects.create(
                subject_type=subject_type,
                subject_id=subject_id,
                account=account,
                required_level=required_level,
                submitter=actor,
                reason=text,
                terms=plain,
                terms_hash=fingerprint,
            )
    except IntegrityError:
        # Another submission for the subject committed between our read and our write (the constraint
        # allows one live request per subject): the same terms are that request; other terms, a conflict.
        raced = ApprovalRequest.objects.filter(
            subject_type=subject_type, subject_id=subject_id, status__in=[s.value for s in LIVE]
        ).first()
        if raced is not None and raced.terms_hash == fingerprint:
            return raced
        raise Conflict(
            _("Another approval request for this was submitted at the same moment; look at it and try again."),
            "subject_id",
        ) from None
    for existing, before in replaced:
        existing.superseded_by = request
        existing.save(update_fields=["superseded_by"])
        _event(existing, Verb.SUPERSEDE, actor, before)
    _event(request, ApprovalEvent.SUBMIT, actor, "")
    from .notify import notify_submitted

    transaction.on_commit(lambda: notify_submitted(request.pk))
    return request


def _locked(request: ApprovalRequest) -> ApprovalRequest:
    return (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related("account", "submitter")
        .get(pk=request.pk)
    )


def _decide(*, actor: Any, request: ApprovalRequest, verb: Verb, comment: str) -> ApprovalRequest:
    _require_active(actor)
    locked = _locked(request)
    before = locked.status
    level = decider_level(actor)
    # Finance's reach is a level, not a team: the transition below says which level a request needs.
    if level not in (None, Level.FINANCE) and actor.pk != locked.submitter_id and not in_reach(actor, locked):
        raise ApprovalRefused(
            "not_allowed", _("This request concerns an account outside your team; its own manager decides it.")
        )
    try:
        after = transition(
            before,
            verb,
            actor_id=actor.pk,
            submitter_id=locked.submitter_id,
            actor_level=level,
            required_level=locked.required_level,
        )
    except ApprovalError as error:
        raise _refusal(error, actor, locked) from None
    now = timezone.now()
    locked.status = after.value
    locked.decided_by = actor
    locked.decided_at = now
    locked.comment = comment
    locked.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    _event(locked, verb, actor, before, comment)
    registry.decided(locked)
    from .notify import notify_decided

    transaction.on_commit(lambda: notify_decided(locked.pk))
    return locked


def _comment(value: Any, *, required: bool) -> str:
    errors = FieldErrors()
    text = value.strip() if isinstance(value, str) else ""
    if value is not None and not isinstance(value, str):
        errors.add("comment", _("Give the comment as text."))
    elif required and not text:
        errors.add("comment", _("Say why the request is rejected."))
    elif len(text) > MAX_COMMENT:
        errors.add("comment", _("At most %(count)d characters.") % {"count": MAX_COMMENT})
    errors.raise_if_any()
    return text


@transaction.atomic
def approval_approve(*, actor: Any, request: ApprovalRequest, comment: str = "") -> ApprovalRequest:
    """Approve a pending request; the subject's app hears of it in the same transaction, the submitter by email."""
    text = _comment(comment, required=False)
    return _decide(actor=actor, request=request, verb=Verb.APPROVE, comment=text)


@transaction.atomic
def approval_reject(*, actor: Any, request: ApprovalRequest, comment: str) -> ApprovalRequest:
    """Reject a pending request, saying why (``comment`` is required)."""
    text = _comment(comment, required=True)
    return _decide(actor=actor, request=request, verb=Verb.REJECT, comment=text)


@transaction.atomic
def approval_withdraw(*, actor: Any, request: ApprovalRequest) -> ApprovalRequest:
    """The submitter takes back a pending request."""
    _require_active(actor)
    locked = _locked(request)
    before = locked.status
    try:
        after = transition(
            before,
            Verb.WITHDRAW,
            actor_id=actor.pk,
            submitter_id=locked.submitter_id,
            actor_level=decider_level(actor),
            required_level=locked.required_level,
        )
    except ApprovalError as error:
        raise _refusal(error, actor, locked) from None
    locked.status = after.value
    locked.save(update_fields=["status"])
    _event(locked, Verb.WITHDRAW, actor, before)
    return locked


@transaction.atomic
def approval_supersede(*, subject_type: str, subject_id: int, actor: Any = None) -> list[ApprovalRequest]:
    """The subject changed (an order's price was edited): its live request, pending or approved, no longer applies.

    Returns the requests superseded (none if the subject had no live request). ``actor``, if given,
    is who changed the subject, for the log.
    """
    live = _live_locked(subject_type, subject_id)
    for request in live:
        before = _flip_superseded(request, actor=actor)
        _event(request, Verb.SUPERSEDE, actor, before)
    return live
