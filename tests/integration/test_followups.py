"""Follow-up tasks: planned on an account by those who may work on it, done once with an outcome (a recurring
one opens its next time, once), cancelled; a salesperson's day and a manager's view of the team."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from patron.accounts.models import Activity, Contact
from patron.core.errors import Conflict
from patron.service import selectors, services
from patron.service.models import Task
from tests.factories import make_account


def local(days: int, hour: int = 10) -> dt.datetime:
    day = timezone.localdate() + dt.timedelta(days=days)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def shop(staff):
    return make_account(staff.sales, code="SHOP", name="Tea House")


def test_a_task_is_planned_with_every_bad_field_named(staff, shop):
    buyer = Contact.objects.create(account=shop, name="Ms Li", role="buyer")
    other = Contact.objects.create(account=make_account(staff.sales3), name="Elsewhere")
    task = services.task_create(
        actor=staff.sales,
        account=shop,
        data={"subject": "Quarterly visit", "kind": "visit", "due_at": local(3), "contact": buyer.pk},
    )
    assert (task.owner, task.status, task.contact, task.kind) == (staff.sales, Task.OPEN, buyer, "visit")
    with pytest.raises(ValidationError) as bad:
        services.task_create(
            actor=staff.sales,
            account=shop,
            data={
                "subject": "",
                "kind": "pigeon",
                "due_at": "tomorrow",
                "contact": other.pk,
                "owner": "sales3",  # another team's salesperson
                "repeat_every": "0.5",
                "repeat_unit": "years",
            },
        )
    assert set(bad.value.message_dict) == {"subject", "kind", "due_at", "contact", "owner", "repeat_every"}
    assert Task.objects.count() == 1
    with pytest.raises(PermissionDenied):
        services.task_create(actor=staff.sales3, account=shop, data={"subject": "x", "due_at": local(1)})


def test_done_once_on_the_timeline_and_a_recurring_task_opens_its_next_time_once(staff, shop):
    task = services.task_create(
        actor=staff.sales,
        account=shop,
        data={"subject": "Check stock", "due_at": local(-3), "repeat_every": 14, "repeat_unit": "days"},
    )
    done = services.task_complete(actor=staff.sales, task=task, outcome="order", notes="Ordered 20 boxes.")
    assert (done.status, done.outcome) == (Task.DONE, "order")
    following = Task.objects.get(previous=task)
    assert following.due_at == local(11)  # 14 days from when it was due, not from when it was done
    assert (following.status, following.repeat_every, following.owner) == (Task.OPEN, 14, staff.sales)
    again = services.task_complete(actor=staff.sales, task=task, outcome="no_answer")
    assert again.outcome == "order"  # done already: nothing changes
    assert Task.objects.filter(previous=task).count() == 1
    entry = Activity.objects.get(account=shop, event="task_done")
    assert (entry.subject, entry.body, entry.kind) == ("Follow-up done: Check stock", "Ordered 20 boxes.", "call")
    with pytest.raises(ValidationError) as no_outcome:
        services.task_complete(actor=staff.sales, task=following, outcome="")
    assert "outcome" in no_outcome.value.message_dict
    services.task_cancel(actor=staff.sales, task=following, reason="Shop closed for the winter")
    with pytest.raises(Conflict):
        services.task_complete(actor=staff.sales, task=following, outcome="reached")
    assert not Task.objects.filter(previous=following).exists()


def test_only_an_open_task_changes_and_only_for_those_who_may(staff, shop):
    task = services.task_create(actor=staff.sales, account=shop, data={"subject": "Call", "due_at": local(1)})
    moved = services.task_update(actor=staff.manager, task=task, data={"due_at": local(2), "owner": "manager"})
    assert (moved.due_at, moved.owner) == (local(2), staff.manager)
    with pytest.raises(PermissionDenied):
        services.task_update(actor=staff.sales3, task=task, data={"subject": "Mine now"})
    with pytest.raises(ValidationError) as not_theirs:  # sales2 may not open an account sales owns
        services.task_update(actor=staff.manager, task=task, data={"owner": "sales2"})
    assert not_theirs.value.message_dict["owner"] == ["sales2 may not work on this account."]
    services.task_complete(actor=staff.manager, task=task, outcome="reached")
    with pytest.raises(Conflict):
        services.task_update(actor=staff.manager, task=task, data={"subject": "Later"})


def test_my_day_sorts_overdue_today_and_the_week_and_suggests_who_to_contact(staff, shop):
    make_account(staff.sales, code="QUIET", name="Quiet Shop")
    make_account(staff.sales, code="KEY", name="Key Distributor", is_key_account=True)
    for days, subject in ((-2, "Late"), (0, "Today"), (3, "Soon"), (30, "Far")):
        services.task_create(actor=staff.sales, account=shop, data={"subject": subject, "due_at": local(days)})
    services.task_create(actor=staff.manager, account=shop, data={"subject": "Not mine", "due_at": local(0)})
    day = selectors.my_day(staff.sales)
    assert [t.subject for t in day.overdue] == ["Late"]
    assert [t.subject for t in day.today] == ["Today"]
    assert [t.subject for t in day.upcoming] == ["Soon"]
    assert [a.code for a in day.suggested] == ["KEY", "QUIET"]  # SHOP has work planned; key accounts first


def test_a_manager_sees_the_teams_workload_and_overdue_work(staff, shop):
    services.task_create(actor=staff.sales, account=shop, data={"subject": "Late", "due_at": local(-1)})
    services.task_create(actor=staff.sales, account=shop, data={"subject": "Soon", "due_at": local(2)})
    done = services.task_create(actor=staff.manager, account=shop, data={"subject": "Done", "due_at": local(0)})
    services.task_complete(actor=staff.manager, task=done, outcome="reached")
    rows = {w.user.username: w for w in selectors.team_workload(staff.manager)}
    assert set(rows) == {"manager", "sales", "sales2"}  # the South team, not North's
    assert (rows["sales"].open, rows["sales"].overdue, rows["sales"].due_this_week) == (2, 1, 1)
    assert (rows["manager"].done_last_7_days, rows["sales2"].open) == (1, 0)
    assert [t.subject for t in selectors.team_overdue(staff.manager)] == ["Late"]
    assert selectors.team_overdue(staff.manager2) == []
