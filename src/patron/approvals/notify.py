"""Emails about approval requests, each in its recipient's language, sent through the queue after commit.

A new request goes to those who may decide it (``selectors.deciders_of``); a decision goes to the
submitter. People without an email address are skipped (they still see the count in the navigation).
Links are absolute when ``PATRON_BASE_URL`` is set (e.g. "https://crm.example.cn"), else site-relative.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from patron.staff.models import User

from . import registry
from .models import ApprovalRequest
from .selectors import deciders_of
from .terms_display import term_label, term_text

SUBMITTED = "submitted"
DECIDED = "decided"


def _link(request: ApprovalRequest) -> str:
    base = str(getattr(settings, "PATRON_BASE_URL", "") or "").rstrip("/")
    return base + reverse("approvals:detail", args=[request.pk])


def _language(user: User) -> str:
    return user.language or settings.LANGUAGE_CODE


def _account_text(request: ApprovalRequest) -> str:
    account = request.account
    return f"{account.name} ({account.code})" if account is not None else ""


def _terms_lines(request: ApprovalRequest, handler_labels: Any) -> list[str]:
    lines = []
    terms = request.terms if isinstance(request.terms, dict) else {}
    for key, value in terms.items():
        if key == "lines" and isinstance(value, list):
            lines.append(_("Lines: %(count)d") % {"count": len(value)})
        elif not isinstance(value, dict | list) or (isinstance(value, dict) and set(value) == {"amount", "currency"}):
            lines.append(f"{term_label(key, handler_labels)}: {term_text(value)}")
    return lines


def submitted_message(request: ApprovalRequest) -> tuple[str, str]:
    """(subject, body) of the email to an approver, in the active language."""
    subject = registry.describe(request)
    handler = registry.handler_for(request.subject_type)
    labels = handler.term_labels if handler is not None else {}
    title = _("Approval requested: %(subject)s") % {"subject": subject.label}
    body = [
        _("%(name)s asks for your approval.") % {"name": request.submitter.display_name()},
        "",
        _("Subject: %(subject)s") % {"subject": subject.label},
    ]
    if request.account is not None:
        title += f" · {request.account.name}"
        body.append(_("Account: %(account)s") % {"account": _account_text(request)})
    if subject.summary:
        body.append(subject.summary)
    body.append(_("Needs: %(level)s") % {"level": request.get_required_level_display()})
    if request.reason:
        body += ["", _("Reason given:"), request.reason]
    terms = _terms_lines(request, labels)
    if terms:
        body += ["", _("Terms:"), *(f"  {line}" for line in terms)]
    body += ["", _("Approve or reject it here: %(link)s") % {"link": _link(request)}]
    return title, "\n".join(body) + "\n"


def decided_message(request: ApprovalRequest) -> tuple[str, str]:
    """(subject, body) of the email to the submitter once a request is approved or rejected."""
    subject = registry.describe(request)
    who = request.decided_by.display_name() if request.decided_by is not None else ""
    when = timezone.localtime(request.decided_at).strftime("%Y-%m-%d %H:%M") if request.decided_at else ""
    if request.status == "approved":
        title = _("Approved: %(subject)s") % {"subject": subject.label}
        first = _("%(name)s approved your request at %(time)s.") % {"name": who, "time": when}
    else:
        title = _("Rejected: %(subject)s") % {"subject": subject.label}
        first = _("%(name)s rejected your request at %(time)s.") % {"name": who, "time": when}
    body = [first, "", _("Subject: %(subject)s") % {"subject": subject.label}]
    if request.account is not None:
        body.append(_("Account: %(account)s") % {"account": _account_text(request)})
    if request.comment:
        body += ["", _("Comment:"), request.comment]
    body += ["", _("Details: %(link)s") % {"link": _link(request)}]
    return title, "\n".join(body) + "\n"


def message_for(request: ApprovalRequest, kind: str, recipient: User) -> tuple[str, str]:
    with translation.override(_language(recipient)):
        return submitted_message(request) if kind == SUBMITTED else decided_message(request)


def _load(request_id: int) -> ApprovalRequest:
    return ApprovalRequest.objects.select_related(
        "account__owner__team__manager", "submitter__team__manager", "decided_by"
    ).get(pk=request_id)


def send(request_id: int, kind: str, recipient_id: int) -> None:
    """Send one email now (the queue's task calls this)."""
    request = _load(request_id)
    recipient = User.objects.get(pk=recipient_id)
    if not recipient.email or not recipient.is_active:
        return
    title, body = message_for(request, kind, recipient)
    send_mail(title, body, settings.DEFAULT_FROM_EMAIL, [recipient.email], fail_silently=False)


def _enqueue(request_id: int, kind: str, recipients: list[User]) -> None:
    from .tasks import send_approval_email

    for person in recipients:
        if person.email and person.is_active:
            send_approval_email(request_id, kind, person.pk)


def notify_submitted(request_id: int) -> None:
    """After commit: tell each person who may decide the new request."""
    request = _load(request_id)
    _enqueue(request_id, SUBMITTED, deciders_of(request))


def notify_decided(request_id: int) -> None:
    """After commit: tell the submitter what was decided."""
    request = _load(request_id)
    _enqueue(request_id, DECIDED, [request.submitter])
