"""Cadences plan follow-ups by themselves: on each account's preferred channel, for its owner, when the
rule says, never a second open task for the same rule, and an event's task once ever; a run twice the
same day writes nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from patron.accounts.services import activity_add
from patron.segments.models import Classification, Membership, SegmentRun, Snapshot
from patron.segments.services import install_builtins
from patron.service import cadences, services
from patron.service.models import Task
from tests.factories import make_account

TODAY = dt.date(2026, 12, 7)


def place(account, key: str, cls: str, since: dt.date) -> None:
    install_builtins()
    classification = Classification.objects.get(key=key)
    run = SegmentRun.objects.create(as_of=since, status=SegmentRun.DONE)
    snapshot = Snapshot.objects.create(
        run=run, classification=classification, as_of=since, period_start=since, period_end=since
    )
    Membership.objects.create(
        classification=classification, account=account, class_key=cls, snapshot=snapshot, valid_from=since
    )


def test_every_14_days_since_the_last_contact_on_the_preferred_channel_never_twice_while_open(staff):
    seen = make_account(staff.sales, code="SEEN", preferred_channel="wechat")
    quiet = make_account(staff.sales, code="QUIET", preferred_channel="visit")
    make_account(None, code="NOBODY")  # no owner: nobody to give the task to
    activity_add(
        account=seen, kind="call", subject="Called", occurred_at=timezone.make_aware(dt.datetime(2026, 11, 30))
    )
    every = cadences.cadence_save(
        actor=staff.manager, data={"name": "Key revisit", "rule": "every", "days": "14", "subject": "Revisit"}
    )
    assert cadences.cadence_run(every, TODAY) == 1  # SEEN was called 7 days ago: not yet
    task = Task.objects.get()
    assert (task.account, task.owner, task.kind, task.subject) == (quiet, staff.sales, "visit", "Revisit")
    assert timezone.localtime(task.due_at).date() == TODAY
    assert cadences.cadence_run(every, TODAY) == 0  # open already
    assert cadences.cadence_run(every, TODAY + dt.timedelta(days=7)) == 1  # now SEEN's turn, on WeChat
    assert Task.objects.get(account=seen).kind == "wechat"
    services.task_complete(actor=staff.sales, task=task, outcome="reached")
    # Done today: the timeline has a contact, so the next comes 14 days later, not at once.
    assert cadences.cadence_run(every, timezone.localdate()) == 0


def test_first_order_entering_at_risk_and_birthdays_make_one_task_each_ever(staff):
    fresh = make_account(staff.sales, code="FRESH")
    fresh.first_order_date = TODAY - dt.timedelta(days=3)
    fresh.save(update_fields=["first_order_date"])
    risky = make_account(staff.sales, code="RISKY")
    place(risky, "lifecycle", "at_risk", TODAY - dt.timedelta(days=1))
    person = make_account(staff.sales, code="BORN", kind="person", birthday=dt.date(1990, 12, 10))
    new = cadences.cadence_save(actor=staff.manager, data={"name": "New", "rule": "after_first_order", "days": "3, 30"})
    risk = cadences.cadence_save(
        actor=staff.manager,
        data={"name": "At risk", "rule": "on_entering", "days": "2", "classes": ["lifecycle:at_risk"]},
    )
    bday = cadences.cadence_save(actor=staff.manager, data={"name": "Birthday", "rule": "before_birthday", "days": "7"})
    assert cadences.cadences_run(TODAY) == {new.pk: 1, risk.pk: 1, bday.pk: 1}
    assert Task.objects.get(account=fresh).source_key == f"cadence:{new.pk}:first:3"
    risk_task = Task.objects.get(account=risky)
    assert timezone.localtime(risk_task.due_at).date() == TODAY + dt.timedelta(days=1)  # within 2 days of entering
    assert Task.objects.get(account=person).source_key == f"cadence:{bday.pk}:birthday:2026"
    for task in Task.objects.all():
        services.task_complete(actor=staff.sales, task=task, outcome="reached")
    assert cadences.cadences_run(TODAY + dt.timedelta(days=1)) == {new.pk: 0, risk.pk: 0, bday.pk: 0}  # once ever


def test_a_cadence_is_written_by_managers_with_each_bad_field_named(staff):
    with pytest.raises(PermissionDenied):
        cadences.cadence_save(actor=staff.sales, data={"name": "x", "rule": "every", "days": "7"})
    with pytest.raises(ValidationError) as bad:
        cadences.cadence_save(
            actor=staff.manager,
            data={"name": "", "rule": "on_entering", "days": "2, x", "target": {"regions": ["north"]}},
        )
    assert set(bad.value.message_dict) >= {"name", "days", "classes"}
    assert any(k.startswith("target") for k in bad.value.message_dict)
