"""Complaints: deadlines by severity, answered, resolved, confirmed or reopened; a missed deadline escalates to
the owner's manager (a task and an email) once per deadline, on the timeline and in the statistics."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from patron.accounts.models import Activity
from patron.core.errors import Conflict
from patron.service import complaints
from patron.service.models import Complaint, Task
from patron.staff.models import User
from tests.factories import make_account


@pytest.fixture
def shop(staff):
    return make_account(staff.sales, code="SHOP", name="Tea House")


def test_a_complaint_gets_deadlines_by_severity_and_every_bad_field_is_named(staff, shop):
    made = complaints.complaint_open(
        actor=staff.sales,
        account=shop,
        data={"subject": "Broken boxes", "category": "delivery", "severity": "critical", "channel": "wechat"},
    )
    assert made.number.startswith(f"C{timezone.localdate().year}-")
    assert made.respond_by - made.opened_at == dt.timedelta(hours=2)
    assert made.resolve_by - made.opened_at == dt.timedelta(hours=24)
    assert made.owner == staff.sales  # the account's owner
    assert Activity.objects.get(account=shop, event="complaint_opened").subject.startswith("Complaint C")
    with pytest.raises(ValidationError) as bad:
        complaints.complaint_open(
            actor=staff.sales,
            account=shop,
            data={"subject": "", "category": "x", "severity": "urgent", "owner": "sales3"},
        )
    assert set(bad.value.message_dict) == {"subject", "category", "severity", "owner"}
    with pytest.raises(PermissionDenied):
        complaints.complaint_open(actor=staff.sales3, account=shop, data={"subject": "x", "category": "other"})


def test_a_missed_deadline_escalates_to_the_manager_once_each(staff, shop):
    User.objects.filter(pk=staff.manager.pk).update(email="manager@patron.example", language="en")
    case = complaints.complaint_open(
        actor=staff.sales, account=shop, data={"subject": "Wrong invoice", "category": "billing", "severity": "high"}
    )
    opened = case.opened_at
    assert complaints.complaints_escalate(opened + dt.timedelta(hours=3)) == 0  # within 4 hours
    mail.outbox.clear()
    assert complaints.complaints_escalate(opened + dt.timedelta(hours=5)) == 1  # no first response in 4 hours
    case.refresh_from_db()
    assert (case.escalated_to, case.escalated_resolution_at) == (staff.manager, None)
    assert case.escalated_response_at is not None
    task = Task.objects.get(source=Task.COMPLAINT)
    assert (task.owner, task.subject) == (staff.manager, f"Complaint {case.number} escalated: no first response")
    assert [m.to for m in mail.outbox] == [["manager@patron.example"]]
    assert complaints.complaints_escalate(opened + dt.timedelta(hours=6)) == 0  # once
    complaints.complaint_respond(actor=staff.sales, complaint=case, note="Called back")
    assert complaints.complaints_escalate(opened + dt.timedelta(hours=73)) == 1  # 3 days and still not resolved
    assert Task.objects.filter(source=Task.COMPLAINT).count() == 2
    assert complaints.complaints_escalate(opened + dt.timedelta(hours=80)) == 0


def test_resolved_confirmed_or_reopened_with_fresh_deadlines_and_counted(staff, shop):
    case = complaints.complaint_open(
        actor=staff.sales, account=shop, data={"subject": "Late", "category": "delivery", "severity": "normal"}
    )
    with pytest.raises(Conflict):
        complaints.complaint_confirm(actor=staff.sales, complaint=case)
    with pytest.raises(ValidationError):
        complaints.complaint_resolve(actor=staff.sales, complaint=case, resolution=" ")
    resolved = complaints.complaint_resolve(actor=staff.sales, complaint=case, resolution="Sent again by express")
    assert (resolved.status, resolved.responded_at is not None) == (Complaint.RESOLVED, True)
    assert Activity.objects.filter(account=shop, event="complaint_resolved").exists()
    reopened = complaints.complaint_reopen(actor=staff.sales, complaint=resolved, reason="Still missing one box")
    assert (reopened.status, reopened.reopened, reopened.resolved_at) == (Complaint.OPEN, 1, None)
    assert reopened.resolve_by > resolved.resolve_by
    complaints.complaint_resolve(actor=staff.sales, complaint=reopened, resolution="The box arrived")
    closed = complaints.complaint_confirm(actor=staff.sales, complaint=reopened)
    assert closed.status == Complaint.CLOSED
    complaints.complaint_open(actor=staff.sales, account=shop, data={"subject": "Rude", "category": "service"})
    stats = complaints.complaint_stats(Complaint.objects.all())
    assert (stats["total"], stats["open"], stats["overdue"]) == (2, 1, 0)
    assert {r["category"]: r["n"] for r in stats["by_category"]} == {"delivery": 1, "service": 1}
    assert stats["mean_hours"] is not None
