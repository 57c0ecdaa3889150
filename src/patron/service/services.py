"""Writing follow-up tasks: plan one, change it, mark it done (opening the next of a recurring one), cancel it.

Whoever may edit an account may plan its follow-ups; the owner must be a colleague who may edit
it too (a task given to someone who cannot open the account would never be done). Marking a task
done puts it on the account's timeline; doing it twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can, require
from patron.accounts.models import Account, Contact
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.domain.access import Action
from patron.domain.followups import MAX_EVERY, Repeat, next_due
from patron.staff.models import User

from .models import Task

TIMELINE_KIND = {"call": "call", "email": "email", "visit": "meeting", "meeting": "meeting"}


def _moment(value: Any, field: str, errors: FieldErrors) -> dt.datetime | None:
    if value in (None, ""):
        errors.add(field, _("This field is required."))
        return None
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(9))
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            errors.add(field, _("Give a date and time as YYYY-MM-DDTHH:MM."))
            return None
    if not errors.check_date(field, moment):
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def _values(actor: Any, account: Account, data: Mapping[str, Any], errors: FieldErrors) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "subject" in data:
        subject = str(data.get("subject") or "").strip()
        if not subject:
            errors.add("subject", _("This field is required."))
        elif len(subject) > 200:
            errors.add("subject", _("At most %(n)s characters.") % {"n": 200})
        out["subject"] = subject
    if "kind" in data:
        kind = data.get("kind") or Task.CALL
        if kind not in dict(Task.KINDS):
            errors.add("kind", _("Choose one of: %(allowed)s.") % {"allowed": ", ".join(dict(Task.KINDS))})
        out["kind"] = kind
    if "due_at" in data:
        out["due_at"] = _moment(data.get("due_at"), "due_at", errors)
    if "owner" in data:
        owner = data.get("owner")
        if not isinstance(owner, User):
            owner = User.objects.filter(username=str(owner or "")).first() if owner else actor
        if owner is None or not owner.is_active:
            errors.add("owner", _("No active user has this name."))
        elif not can(owner, Action.EDIT_ACCOUNT, account):
            errors.add("owner", _("%(name)s may not work on this account.") % {"name": owner.display_name()})
        out["owner"] = owner
    if "contact" in data:
        contact = data.get("contact")
        if contact in (None, ""):
            out["contact"] = None
        else:
            contact_id = str(contact.pk if isinstance(contact, Contact) else contact)
            found = (
                Contact.objects.filter(pk=int(contact_id), account=account).first() if contact_id.isdigit() else None
            )
            if found is None:
                errors.add("contact", _("Choose one of the account's contacts."))
            out["contact"] = found
    if "notes" in data:
        out["notes"] = str(data.get("notes") or "")[:5000]
    if "repeat_every" in data or "repeat_unit" in data:
        every, unit = data.get("repeat_every"), data.get("repeat_unit") or ""
        if every in (None, "", 0, "0"):
            out["repeat_every"], out["repeat_unit"] = None, ""
        else:
            try:
                repeat = Repeat(int(str(every)), str(unit))
            except (TypeError, ValueError):
                errors.add(
                    "repeat_every",
                    _("Repeat every 1 to %(max)s days, weeks or months.") % {"max": MAX_EVERY},
                )
            else:
                out["repeat_every"], out["repeat_unit"] = repeat.every, repeat.unit
    return out


@transaction.atomic
def task_create(
    *, actor: Any, account: Account, data: Mapping[str, Any], source: str = Task.MANUAL, source_key: str = ""
) -> Task:
    require(actor, Action.EDIT_ACCOUNT, account)
    errors = FieldErrors()
    values = _values(actor, account, {"owner": actor, "kind": Task.CALL, **data}, errors)
    if "subject" not in values:
        errors.add("subject", _("This field is required."))
    if "due_at" not in values:
        errors.add("due_at", _("This field is required."))
    errors.raise_if_any()
    task = Task(account=account, created_by=actor, source=source, source_key=source_key, **values)
    task.save()
    audit_record(
        actor=actor,
        action="TASK_CREATED",
        instance=task,
        account_id=account.pk,
        changes={"subject": [None, task.subject], "due_at": [None, str(task.due_at)], "owner": [None, task.owner_id]},
    )
    return task


def _locked(task: Task) -> Task:
    return Task.objects.select_for_update().select_related("account").get(pk=task.pk)


def _require_worker(actor: Any, task: Task) -> None:
    if not (getattr(actor, "pk", None) == task.owner_id or can(actor, Action.EDIT_ACCOUNT, task.account)):
        raise PermissionDenied(Action.EDIT_ACCOUNT.value)


@transaction.atomic
def task_update(*, actor: Any, task: Task, data: Mapping[str, Any]) -> Task:
    """Reschedule, reassign or reword an open task."""
    task = _locked(task)
    _require_worker(actor, task)
    if task.status != Task.OPEN:
        raise Conflict(_("Only an open task changes."), "status")
    errors = FieldErrors()
    values = _values(actor, task.account, data, errors)
    errors.raise_if_any()
    changes = {k: [str(getattr(task, k)), str(v)] for k, v in values.items() if getattr(task, k) != v}
    for key, value in values.items():
        setattr(task, key, value)
    task.save(update_fields=list(values) or None)
    if changes:
        audit_record(actor=actor, action="TASK_CHANGED", instance=task, account_id=task.account_id, changes=changes)
    return task


@transaction.atomic
def task_complete(*, actor: Any, task: Task, outcome: str, notes: str = "") -> Task:
    """Done, with what came of it; a recurring task opens its next time. Done already: nothing changes."""
    from patron.accounts.services import activity_add

    task = _locked(task)
    _require_worker(actor, task)
    if task.status == Task.DONE:
        return task
    if task.status != Task.OPEN:
        raise Conflict(_("A cancelled task is not done."), "status")
    if outcome not in dict(Task.OUTCOMES):
        raise_field("outcome", _("Choose what came of it."))
    now = timezone.now()
    task.status, task.outcome, task.done_at = Task.DONE, outcome, now
    if notes.strip():
        task.notes = (task.notes + "\n\n" if task.notes else "") + notes.strip()[:5000]
    task.save(update_fields=["status", "outcome", "done_at", "notes"])
    activity_add(
        account=task.account,
        kind=TIMELINE_KIND.get(task.kind, "note"),
        event="task_done",
        params={"subject": task.subject, "outcome": task.outcome},
        actor=actor,
        body=notes.strip(),
        occurred_at=now,
        ref=task,
    )
    audit_record(
        actor=actor,
        action="TASK_DONE",
        instance=task,
        account_id=task.account_id,
        changes={"status": [Task.OPEN, Task.DONE], "outcome": [None, outcome]},
    )
    if task.recurring:
        assert task.repeat_every is not None
        following = next_due(task.due_at, Repeat(task.repeat_every, task.repeat_unit), after=now)
        try:
            with transaction.atomic():
                Task.objects.create(
                    account=task.account,
                    contact=task.contact,
                    kind=task.kind,
                    subject=task.subject,
                    due_at=following,
                    owner=task.owner,
                    repeat_every=task.repeat_every,
                    repeat_unit=task.repeat_unit,
                    source=task.source,
                    source_key=task.source_key,
                    previous=task,
                    created_by=actor,
                )
        except IntegrityError:
            pass  # its next time is open already
    return task


@transaction.atomic
def task_cancel(*, actor: Any, task: Task, reason: str = "") -> Task:
    task = _locked(task)
    _require_worker(actor, task)
    if task.status == Task.CANCELLED:
        return task
    if task.status != Task.OPEN:
        raise Conflict(_("A done task stays done."), "status")
    task.status = Task.CANCELLED
    if reason.strip():
        task.notes = (task.notes + "\n\n" if task.notes else "") + reason.strip()[:2000]
    task.save(update_fields=["status", "notes"])
    audit_record(
        actor=actor,
        action="TASK_CANCELLED",
        instance=task,
        account_id=task.account_id,
        changes={"status": [Task.OPEN, Task.CANCELLED]},
    )
    return task


def raise_field(field: str, message: str) -> None:
    errors = FieldErrors()
    errors.add(field, message)
    errors.raise_if_any()
