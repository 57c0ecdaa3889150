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
from patron.service.models import Cadence, Task
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


@pytest.mark.parametrize(
    "day",
    [
        dt.date(2026, 12, 7),
        dt.date(2026, 12, 28),  # birthdays early next year are within the week ahead
        dt.date(2027, 2, 21),  # 29 February falls on the 28th in 2027, the last day of the week ahead
        dt.date(2028, 2, 24),  # and on the 29th in 2028
    ],
)
def test_the_run_in_the_database_makes_what_the_pure_rules_say_account_by_account(staff, day):
    """The two interpreters of the rules agree: ``cadence_run`` writes, with INSERT ... SELECT, exactly the tasks
    ``cadence_due`` gives for each targeted account's facts, at the edges of every rule's days."""
    from patron.accounts.models import Activity
    from patron.coupons.delivery import targeted
    from patron.domain.followups import Cadence as Rule
    from patron.domain.followups import cadence_due

    inactive = make_account(staff.sales3, code="GONE-OWNER")
    staff.sales3.is_active = False
    staff.sales3.save(update_fields=["is_active"])
    make_account(None, code="NO-OWNER")
    merged_into = make_account(staff.sales, code="KEPT")
    make_account(staff.sales, code="MERGED", merged_into=merged_into)

    def at(days_ago: int, hour: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(day - dt.timedelta(days=days_ago), dt.time(hour, 30)))

    contacts = [None, (0, 9), (1, 0), (12, 23), (13, 0), (13, 23), (14, 0), (40, 12), (-2, 12)]  # -2: planned ahead
    for n, contact in enumerate(contacts):
        account = make_account(staff.sales, code=f"C{n}", preferred_channel=["phone", "email", "visit", "sms"][n % 4])
        Activity.objects.create(account=account, kind="order", subject="Ordered", occurred_at=at(1, 12))  # no contact
        if contact is not None:
            Activity.objects.create(
                account=account, kind=["call", "note"][n % 2], subject="Hi", occurred_at=at(*contact)
            )
    for n, ago in enumerate([2, 3, 4, 9, 10, 29, 30, 33, 36, 37, 40]):
        account = make_account(staff.sales2, code=f"F{n}")
        account.first_order_date = day - dt.timedelta(days=ago)
        account.save(update_fields=["first_order_date"])
    entered = [("at_risk", 0, None), ("at_risk", 1, None), ("at_risk", 6, None), ("at_risk", 7, None)]
    entered += [("at_risk", 3, 1), ("at_risk", 2, -3), ("churned", 1, None)]
    for n, (cls, ago, left) in enumerate(entered):
        account = make_account(staff.sales, code=f"S{n}")
        place(account, "lifecycle", cls, day - dt.timedelta(days=ago))
        if left is not None:  # left the segment (1 day ago), or will (in 3 days)
            account.memberships.update(valid_to=day - dt.timedelta(days=left))
    births = [day + dt.timedelta(days=n) for n in (-1, 0, 1, 6, 7, 8, 30)] + [dt.date(1992, 2, 29), dt.date(1990, 1, 2)]
    for n, born in enumerate(births):
        make_account(staff.sales2, code=f"B{n}", kind="person", birthday=born.replace(year=1992))

    rules = [
        {"name": "Every", "rule": "every", "days": "14"},
        {"name": "First", "rule": "after_first_order", "days": "3, 30, 36"},
        {"name": "Risk", "rule": "on_entering", "days": "2", "classes": ["lifecycle:at_risk"]},
        {"name": "Birthday", "rule": "before_birthday", "days": "7"},
        {"name": "Far", "rule": "before_birthday", "days": "400"},
    ]
    for data in rules:
        cadence = cadences.cadence_save(actor=staff.manager, data=data)
        rule = Rule(cadence.pk, cadence.rule, tuple(cadence.days), frozenset(cadence.classes))
        eligible = list(
            targeted(cadence.target, day)
            .filter(owner__isnull=False, owner__is_active=True)
            .values_list("pk", flat=True)
        )
        facts = cadences.account_facts(eligible, set(cadence.classes), day)
        expected = {(pk, due.key, due.due) for pk in eligible for due in cadence_due(rule, facts[pk], day)}
        made = cadences.cadence_run(cadence, day)
        written = {
            (t.account_id, t.source_key, timezone.localtime(t.due_at).date())
            for t in Task.objects.filter(source=Task.CADENCE)
        }
        assert written == expected, data["name"]
        assert made == len(expected), data["name"]
        assert expected, f"{data['name']}: the case makes no task at all"
        assert inactive.pk not in {pk for pk, _key, _due in written}
        assert cadences.cadence_run(cadence, day) == 0
        Task.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_a_run_over_many_chunks_of_accounts_writes_each_task_once(staff, monkeypatch):
    """Chunks of account ids, each its own statement (on PostgreSQL, outside a transaction, several connections
    write chunks at once): every account gets its task, once."""
    monkeypatch.setattr(cadences, "CHUNK", 3)
    accounts = [make_account(staff.sales if n % 2 else staff.sales2, code=f"M{n}") for n in range(11)]
    make_account(None, code="NOBODY")
    every = cadences.cadence_save(actor=staff.manager, data={"name": "All", "rule": "every", "days": "14"})
    assert cadences.cadences_run(TODAY) == {every.pk: 11}
    assert sorted(Task.objects.values_list("account_id", "owner_id")) == [(a.pk, a.owner_id) for a in accounts]
    assert cadences.cadences_run(TODAY) == {every.pk: 0}
    assert Cadence.objects.get().last_run_tasks == 0
