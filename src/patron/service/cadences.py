"""Cadences: managers' rules that plan follow-ups by themselves.

``cadence_save`` checks a cadence field by field. ``cadences_run`` (the background job, hourly) reads,
a chunk of accounts at a time, what the rules need of each targeted account (the last contact on its
timeline, its first order, the segments it entered and when, its birthday), asks the pure rules which
tasks are due, and writes those not there yet: one *open* task per cadence and account for "every N
days", one task *ever* for an event (a first order, entering a segment, a birthday). The table's
constraint and the keys make a second run, or two at once, write nothing twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import can
from patron.accounts.models import Account, Activity
from patron.audit.services import audit_record
from patron.domain.access import Action
from patron.domain.followups import RULES, Facts, cadence_due
from patron.domain.followups import Cadence as Rule

from .models import Cadence, Task

logger = logging.getLogger("patron.service.cadences")
CHUNK = 5000
CONTACT_KINDS = ("call", "email", "meeting", "note")
CHANNEL_TASK = {"phone": Task.CALL, "email": Task.EMAIL, "sms": Task.SMS, "wechat": Task.WECHAT, "visit": Task.VISIT}


def require_writer(actor: Any) -> None:
    if not can(actor, Action.EDIT_SEGMENTS):  # managers and admins write the rules that plan others' work
        raise PermissionDenied(Action.EDIT_SEGMENTS.value)


@transaction.atomic
def cadence_save(*, actor: Any, data: Mapping[str, Any], cadence: Cadence | None = None) -> Cadence:
    from patron.coupons.services import target_problems

    require_writer(actor)
    errors: dict[str, list[str]] = {}
    name = str(data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    subject = str(data.get("subject") or "").strip() or name
    rule = data.get("rule")
    if rule not in RULES:
        errors["rule"] = [_("Choose one of: %(allowed)s.") % {"allowed": ", ".join(RULES)}]
    days: list[int] = []
    for text in str(data.get("days") or "").replace("，", ",").split(","):
        if text.strip():
            try:
                value = int(text)
            except ValueError:
                value = 0
            if not 1 <= value <= 3650:
                errors["days"] = [_("Whole days from 1 to 3650, separated by commas.")]
                break
            days.append(value)
    if not days and "days" not in errors:
        errors["days"] = [_("This field is required.")]
    if rule in ("every", "on_entering", "before_birthday") and len(days) > 1:
        errors["days"] = [_("One number of days for this rule.")]
    classes = [str(c) for c in data.get("classes") or []]
    if rule == "on_entering" and not classes:
        errors["classes"] = [_("Choose the segments whose entering asks for a contact.")]
    target = dict(data.get("target") or {})
    target_problems(target, errors)
    if errors:
        raise ValidationError(errors)
    values = {"name": name[:200], "subject": subject[:200], "rule": rule, "days": days, "classes": classes}
    values.update(target=target, active=bool(data.get("active", True)))
    if cadence is None:
        cadence = Cadence.objects.create(created_by=actor, **values)
        audit_record(actor=actor, action="CADENCE_CREATED", instance=cadence, changes={"rule": [None, values]})
    else:
        before = {k: getattr(cadence, k) for k in values}
        for key, new in values.items():
            setattr(cadence, key, new)
        cadence.save()
        audit_record(actor=actor, action="CADENCE_CHANGED", instance=cadence, changes={"rule": [before, values]})
    return cadence


def _facts(ids: list[int], classes: set[str], day: dt.date) -> dict[int, Facts]:
    from patron.segments.models import Classification, Membership

    last = dict(
        Activity.objects.filter(account_id__in=ids, kind__in=CONTACT_KINDS)
        .values_list("account_id")
        .annotate(t=Max("occurred_at"))
        .order_by()
    )
    entered: dict[int, list[tuple[str, dt.date]]] = {}
    if classes:
        keys = {c.split(":", 1)[0] for c in classes}
        names = dict(Classification.objects.filter(key__in=keys).values_list("pk", "key"))
        current = Membership.objects.filter(
            account_id__in=ids, classification_id__in=list(names), valid_from__lte=day
        ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
        for account_id, classification_id, cls, since in current.values_list(
            "account_id", "classification_id", "class_key", "valid_from"
        ):
            entered.setdefault(account_id, []).append((f"{names[classification_id]}:{cls}", since))
    out = {}
    for pk, first, birthday in Account.objects.filter(pk__in=ids).values_list("pk", "first_order_date", "birthday"):
        contact = last.get(pk)
        out[pk] = Facts(
            last_contact=timezone.localtime(contact).date() if contact else None,
            first_order=first,
            entered=tuple(entered.get(pk, ())),
            birthday=birthday,
        )
    return out


def cadence_run(cadence: Cadence, day: dt.date) -> int:
    """Write the tasks the cadence wants on ``day``; how many it wrote."""
    from patron.coupons.delivery import targeted

    rule = Rule(cadence.pk, cadence.rule, tuple(cadence.days), frozenset(cadence.classes))
    accounts = targeted(cadence.target, day).filter(owner__isnull=False, owner__is_active=True)
    made = 0
    last_pk = 0
    while True:
        rows = list(
            accounts.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "owner_id", "preferred_channel")[:CHUNK]
        )
        if not rows:
            break
        last_pk = rows[-1][0]
        ids = [pk for pk, _owner, _channel in rows]
        facts = _facts(ids, set(cadence.classes), day)
        wanted = []
        for pk, owner, channel in rows:
            for due in cadence_due(rule, facts[pk], day):
                wanted.append((pk, owner, channel, due))
        if not wanted:
            continue
        once = {due.key for *_rest, due in wanted if due.once}
        while_open = {due.key for *_rest, due in wanted if not due.once}
        taken = set(
            Task.objects.filter(account_id__in=ids)
            .filter(Q(source_key__in=once) | Q(source_key__in=while_open, status=Task.OPEN))
            .values_list("account_id", "source_key")
        )
        tasks = [
            Task(
                account_id=pk,
                owner_id=owner,
                kind=CHANNEL_TASK.get(channel, Task.CALL),
                subject=cadence.subject,
                due_at=timezone.make_aware(dt.datetime.combine(due.due, dt.time(10))),
                source=Task.CADENCE,
                source_key=due.key,
            )
            for pk, owner, channel, due in wanted
            if (pk, due.key) not in taken
        ]
        Task.objects.bulk_create(tasks, batch_size=2000, ignore_conflicts=True)
        made += len(tasks)
    Cadence.objects.filter(pk=cadence.pk).update(last_run_at=timezone.now(), last_run_tasks=made)
    return made


def cadences_run(day: dt.date | None = None) -> dict[int, int]:
    """Every active cadence, once: what the job runs each hour."""
    day = day or timezone.localdate()
    out = {}
    for cadence in Cadence.objects.filter(active=True):
        out[cadence.pk] = cadence_run(cadence, day)
        logger.info("cadence %s: %s tasks on %s", cadence.pk, out[cadence.pk], day)
    return out
