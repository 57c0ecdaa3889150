"""Complaints: opened from any channel with deadlines by severity, answered, resolved, confirmed by the
customer or reopened; a missed deadline escalates to the owner's manager (a task and an email), once per
deadline; statistics by category, owner and time to resolve.

Every change is audited and the opening and the resolution go on the account's timeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from patron.accounts.access import can, require
from patron.accounts.models import Account, Contact
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.domain.access import Action
from patron.domain.followups import RESOLUTION, RESPONSE, SEVERITIES, Deadlines, breaches, complaint_deadlines
from patron.staff.models import User

from .models import Complaint, Task


def _next_number() -> str:
    year = timezone.localdate().year
    last = (
        Complaint.objects.filter(number__startswith=f"C{year}-")
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
    )
    n = int(last.split("-")[1]) + 1 if last else 1
    return f"C{year}-{n:05d}"


@transaction.atomic
def complaint_open(*, actor: Any, account: Account, data: Mapping[str, Any]) -> Complaint:
    from patron.accounts.services import activity_add

    require(actor, Action.EDIT_ACCOUNT, account)
    errors = FieldErrors()
    subject = str(data.get("subject") or "").strip()
    if not subject:
        errors.add("subject", _("This field is required."))
    category = data.get("category")
    if category not in dict(Complaint.CATEGORIES):
        errors.add("category", _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(Complaint.CATEGORIES))})
    severity = data.get("severity") or "normal"
    if severity not in SEVERITIES:
        errors.add("severity", _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(SEVERITIES)})
    channel = data.get("channel") or "phone"
    if channel not in dict(Complaint.CHANNELS):
        errors.add("channel", _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(Complaint.CHANNELS))})
    owner = data.get("owner") or account.owner or actor
    if not isinstance(owner, User):
        owner = User.objects.filter(username=str(owner), is_active=True).first()
    if owner is None or not can(owner, Action.EDIT_ACCOUNT, account):
        errors.add("owner", _("Choose someone who may work on this account."))
    contact = None
    if data.get("contact"):
        contact = (
            Contact.objects.filter(pk=str(data["contact"]), account=account).first()
            if str(data["contact"]).isdigit()
            else None
        )
        if contact is None:
            errors.add("contact", _("Choose one of the account's contacts."))
    errors.raise_if_any()
    assert owner is not None
    category = str(category)
    now = timezone.now()
    due = complaint_deadlines(now, severity)
    for attempt in range(5):
        try:
            with transaction.atomic():
                complaint = Complaint.objects.create(
                    number=_next_number(),
                    account=account,
                    contact=contact,
                    channel=channel,
                    category=category,
                    severity=severity,
                    subject=subject[:200],
                    description=str(data.get("description") or ""),
                    owner=owner,
                    opened_at=now,
                    respond_by=due.respond_by,
                    resolve_by=due.resolve_by,
                    created_by=actor,
                )
            break
        except IntegrityError:
            if attempt == 4:
                raise
    activity_add(
        account=account,
        kind="note",
        event="complaint_opened",
        params={"number": complaint.number, "subject": complaint.subject},
        actor=actor,
        occurred_at=now,
        ref=complaint,
    )
    audit_record(
        actor=actor,
        action="COMPLAINT_OPENED",
        instance=complaint,
        account_id=account.pk,
        changes={"subject": [None, complaint.subject], "severity": [None, severity], "owner": [None, owner.pk]},
    )
    return complaint


def _locked(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update(of=("self",)).select_related("account").get(pk=complaint.pk)


def _require_worker(actor: Any, complaint: Complaint) -> None:
    if getattr(actor, "pk", None) != complaint.owner_id:
        require(actor, Action.EDIT_ACCOUNT, complaint.account)


@transaction.atomic
def complaint_respond(*, actor: Any, complaint: Complaint, note: str = "") -> Complaint:
    """The first answer to the customer (the response deadline is met); later ones change nothing."""
    complaint = _locked(complaint)
    _require_worker(actor, complaint)
    if complaint.responded_at is None:
        complaint.responded_at = timezone.now()
        complaint.save(update_fields=["responded_at"])
        audit_record(
            actor=actor,
            action="COMPLAINT_RESPONDED",
            instance=complaint,
            account_id=complaint.account_id,
            changes={"note": [None, note[:500]]},
        )
    return complaint


@transaction.atomic
def complaint_resolve(*, actor: Any, complaint: Complaint, resolution: str) -> Complaint:
    from patron.accounts.services import activity_add

    complaint = _locked(complaint)
    _require_worker(actor, complaint)
    if complaint.status != Complaint.OPEN:
        raise Conflict(_("Only an open complaint is resolved."), "status")
    if not resolution.strip():
        raise ValidationError({"resolution": [_("Say how it was resolved.")]})
    now = timezone.now()
    complaint.status, complaint.resolved_at, complaint.resolution = Complaint.RESOLVED, now, resolution.strip()[:5000]
    complaint.responded_at = complaint.responded_at or now
    complaint.save(update_fields=["status", "resolved_at", "resolution", "responded_at"])
    activity_add(
        account=complaint.account,
        kind="note",
        event="complaint_resolved",
        params={"number": complaint.number, "subject": complaint.subject},
        actor=actor,
        body=complaint.resolution,
        occurred_at=now,
        ref=complaint,
    )
    audit_record(
        actor=actor,
        action="COMPLAINT_RESOLVED",
        instance=complaint,
        account_id=complaint.account_id,
        changes={"status": [Complaint.OPEN, Complaint.RESOLVED]},
    )
    return complaint


@transaction.atomic
def complaint_confirm(*, actor: Any, complaint: Complaint) -> Complaint:
    """The customer confirmed the resolution: the case closes."""
    complaint = _locked(complaint)
    _require_worker(actor, complaint)
    if complaint.status == Complaint.CLOSED:
        return complaint
    if complaint.status != Complaint.RESOLVED:
        raise Conflict(_("Only a resolved complaint is confirmed."), "status")
    complaint.status, complaint.confirmed_at = Complaint.CLOSED, timezone.now()
    complaint.save(update_fields=["status", "confirmed_at"])
    audit_record(
        actor=actor,
        action="COMPLAINT_CONFIRMED",
        instance=complaint,
        account_id=complaint.account_id,
        changes={"status": [Complaint.RESOLVED, Complaint.CLOSED]},
    )
    return complaint


@transaction.atomic
def complaint_reopen(*, actor: Any, complaint: Complaint, reason: str) -> Complaint:
    """The customer is not satisfied: open again with fresh deadlines from now."""
    complaint = _locked(complaint)
    _require_worker(actor, complaint)
    if complaint.status == Complaint.OPEN:
        raise Conflict(_("This complaint is open already."), "status")
    if not reason.strip():
        raise ValidationError({"reason": [_("Say why it is reopened.")]})
    now = timezone.now()
    due = complaint_deadlines(now, complaint.severity)
    before = complaint.status
    complaint.status, complaint.reopened = Complaint.OPEN, complaint.reopened + 1
    complaint.resolved_at = complaint.confirmed_at = complaint.responded_at = None
    complaint.escalated_response_at = complaint.escalated_resolution_at = None
    complaint.respond_by, complaint.resolve_by = due.respond_by, due.resolve_by
    complaint.description = (complaint.description + "\n\n" + _("Reopened: %(reason)s") % {"reason": reason.strip()})[
        :10000
    ]
    complaint.save()
    audit_record(
        actor=actor,
        action="COMPLAINT_REOPENED",
        instance=complaint,
        account_id=complaint.account_id,
        changes={"status": [before, Complaint.OPEN]},
    )
    return complaint


def manager_of(user: User) -> User | None:
    team = getattr(user, "team", None)
    manager = team.manager if team is not None else None
    if manager is not None and manager.is_active and manager.pk != user.pk:
        return manager
    return User.objects.filter(role="admin", is_active=True).order_by("id").first()


def complaints_escalate(now: dt.datetime | None = None) -> int:
    """Each open complaint past a deadline with nothing done goes to the owner's manager: a task due at once and
    an email, once per deadline (the complaint's row records it in the same transaction)."""
    now = now or timezone.now()
    made = 0
    late = Complaint.objects.filter(status=Complaint.OPEN).filter(
        Q(escalated_response_at__isnull=True, responded_at__isnull=True, respond_by__lte=now)
        | Q(escalated_resolution_at__isnull=True, resolve_by__lte=now)
    )
    for pk in late.values_list("pk", flat=True):
        with transaction.atomic():
            complaint = (
                Complaint.objects.select_for_update(of=("self",)).select_related("account", "owner__team").get(pk=pk)
            )
            missed = breaches(
                Deadlines(complaint.respond_by, complaint.resolve_by),  # as set when opened, or reopened
                now,
                responded=complaint.responded_at,
                resolved=complaint.resolved_at,
            )
            todo = [
                kind
                for kind in missed
                if (kind == RESPONSE and complaint.escalated_response_at is None)
                or (kind == RESOLUTION and complaint.escalated_resolution_at is None)
            ]
            if complaint.status != Complaint.OPEN or not todo:
                continue
            manager = manager_of(complaint.owner)
            for kind in todo:
                setattr(complaint, f"escalated_{kind}_at", now)
            complaint.escalated_to = manager
            complaint.save(update_fields=["escalated_response_at", "escalated_resolution_at", "escalated_to"])
            if manager is None:
                continue
            with translation.override(manager.language):
                what = _("no first response") if todo == [RESPONSE] else _("not resolved in time")
                subject = _("Complaint %(number)s escalated: %(what)s") % {"number": complaint.number, "what": what}
                Task.objects.create(
                    account=complaint.account,
                    owner=manager,
                    kind=Task.CALL,
                    subject=subject[:200],
                    due_at=now,
                    source=Task.COMPLAINT,
                    notes=f"{complaint.subject}\n{complaint.description}"[:5000],
                )
                body = _("%(subject)s. Owner: %(owner)s. Account: %(account)s. See %(url)s") % {
                    "subject": complaint.subject,
                    "owner": complaint.owner.display_name(),
                    "account": complaint.account.name,
                    "url": settings.PATRON_BASE_URL.rstrip("/") + f"/service/complaints/{complaint.pk}/",
                }
            if manager.email:
                send_mail(str(subject), str(body), settings.DEFAULT_FROM_EMAIL, [manager.email])
            audit_record(
                actor=None,
                action="COMPLAINT_ESCALATED",
                instance=complaint,
                account_id=complaint.account_id,
                changes={"missed": [None, todo], "to": [None, manager.pk]},
            )
            made += 1
    return made


def complaint_stats(complaints: Any) -> dict[str, Any]:
    """Counts by category and owner, open and overdue, and the mean hours to resolve."""
    now = timezone.now()
    resolved = complaints.filter(resolved_at__isnull=False).annotate(took=F("resolved_at") - F("opened_at"))
    mean = resolved.aggregate(t=Avg("took"))["t"]
    by = {}
    for field in ("category", "owner__username"):
        by[field] = list(
            complaints.values(field)
            .annotate(
                n=Count("id"),
                open=Count("id", filter=Q(status=Complaint.OPEN)),
                late=Count("id", filter=Q(status=Complaint.OPEN, resolve_by__lt=now)),
            )
            .order_by(field)
        )
    return {
        "total": complaints.count(),
        "open": complaints.filter(status=Complaint.OPEN).count(),
        "overdue": complaints.filter(status=Complaint.OPEN, resolve_by__lt=now).count(),
        "mean_hours": round(mean.total_seconds() / 3600, 1) if mean else None,
        "by_category": by["category"],
        "by_owner": _named(by["owner__username"]),
    }


def _named(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each owner's row with the name people know them by (not the sign-in name)."""
    from patron.staff.models import User

    people = {
        u.username: u.display_name() for u in User.objects.filter(username__in=[r["owner__username"] for r in rows])
    }
    return [{**row, "owner": people.get(row["owner__username"], row["owner__username"])} for row in rows]
