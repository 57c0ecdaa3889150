"""Follow-up pages through the test client: planning from the account page, my day, marking done, the team."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from patron.service.models import Task
from tests.api_client import as_user
from tests.factories import make_account


def test_a_salesperson_plans_a_follow_up_sees_it_in_my_day_and_marks_it_done(staff):
    shop = make_account(staff.sales, code="SHOP", name="Tea House", preferred_channel="wechat")
    client = as_user(staff.sales)
    page = client.get(reverse("accounts:detail", args=["SHOP"])).content.decode()
    assert 'data-testid="plan-task"' in page
    form = client.get(reverse("service:task_new"), {"account": "SHOP"}).content.decode()
    assert 'value="wechat" selected' in form  # the customer's preferred channel first
    today = timezone.localdate().isoformat()
    bad = client.post(
        reverse("service:task_new"),
        {"account": "SHOP", "subject": "", "kind": "call", "due_at": "", "owner": "sales", "repeat_unit": "weeks"},
    )
    assert bad.status_code == 400
    made = client.post(
        reverse("service:task_new"),
        {
            "account": "SHOP",
            "subject": "Ask about the spring order",
            "kind": "wechat",
            "due_at": f"{today}T15:00",
            "owner": "sales",
            "repeat_every": "2",
            "repeat_unit": "weeks",
        },
    )
    assert made.status_code == 302
    task = Task.objects.get()
    assert (task.kind, task.repeat_every, task.repeat_unit) == ("wechat", 2, "weeks")
    day = client.get(reverse("service:my_day")).content.decode()
    assert 'data-testid="today-count">1<' in day
    assert "Ask about the spring order" in day
    done = client.post(reverse("service:task_done", args=[task.pk]), {"outcome": "quote"}, follow=True)
    assert "Marked done." in done.content.decode()
    assert Task.objects.get(pk=task.pk).status == Task.DONE
    following = Task.objects.get(previous=task)
    assert timezone.localtime(following.due_at).date() == timezone.localdate() + dt.timedelta(days=14)
    timeline = client.get(reverse("accounts:detail", args=["SHOP"])).content.decode()
    assert "Follow-up done: Ask about the spring order" in timeline
    assert shop.pk
    chinese = as_user(staff.sales, "zh-hans").get(reverse("service:my_day")).content.decode()
    assert "我的一天" in chinese


def test_a_task_page_changes_and_cancels_and_others_cannot(staff):
    shop = make_account(staff.sales, code="SHOP")
    task = Task.objects.create(
        account=shop, owner=staff.sales, subject="Visit", due_at=timezone.now(), created_by=staff.sales
    )
    client = as_user(staff.sales)
    url = reverse("service:task_detail", args=[task.pk])
    bad = client.post(url, {"action": "done", "outcome": ""})
    assert bad.status_code == 400
    changed = client.post(
        url,
        {
            "action": "change",
            "subject": "Visit with samples",
            "kind": "visit",
            "due_at": "2027-01-05T10:00",
            "owner": "sales",
        },
    )
    assert changed.status_code == 302
    assert Task.objects.get(pk=task.pk).subject == "Visit with samples"
    assert as_user(staff.sales3).get(url).status_code == 404
    cancelled = client.post(url, {"action": "cancel", "reason": "Moved away"})
    assert cancelled.status_code == 302
    assert Task.objects.get(pk=task.pk).status == Task.CANCELLED
    assert as_user(staff.manager).get(reverse("service:team")).status_code == 200
    assert as_user(staff.sales).get(reverse("service:team")).status_code == 403
    assert as_user(staff.marketing).get(reverse("service:my_day")).status_code == 403


def test_a_manager_writes_a_cadence_in_the_form_and_sees_it_in_words(staff):
    client = as_user(staff.manager)
    bad = client.post(reverse("service:cadence_new"), {"name": "At risk", "rule": "on_entering", "days": "x"})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Whole days from 1 to 3650" in page
    assert "Choose the segments whose entering asks for a contact." in page
    made = client.post(
        reverse("service:cadence_new"),
        {
            "name": "New accounts",
            "rule": "after_first_order",
            "days": "3, 30",
            "subject": "Welcome call",
            "active": "on",
        },
    )
    assert made.status_code == 302
    listing = client.get(reverse("service:cadence_list")).content.decode()
    assert "3, 30 days after the first order; for every customer" in listing
    assert as_user(staff.sales).get(reverse("service:cadence_list")).status_code == 403
    chinese = as_user(staff.manager, "zh-hans").get(reverse("service:cadence_list")).content.decode()
    assert "回访节奏" in chinese


def test_the_scheduler_page_shows_each_job_and_admins_see_a_warning_when_one_is_late(staff):
    from patron.service.models import JobRun

    JobRun.objects.create(name="reminders", started_at=timezone.now() - dt.timedelta(hours=2), ok=True)
    page = as_user(staff.admin).get(reverse("service:jobs")).content.decode()
    assert 'data-state="missed"' in page
    assert "Follow-up reminders" in page
    home = as_user(staff.admin).get(reverse("service:my_day")).content.decode()
    assert 'data-testid="jobs-trouble"' in home
    assert 'data-testid="jobs-trouble"' not in as_user(staff.sales).get(reverse("service:my_day")).content.decode()
    assert as_user(staff.sales).get(reverse("service:jobs")).status_code == 403


def test_marketing_writes_a_survey_sends_it_and_reads_its_nps(staff):
    from patron.service.models import Survey, SurveyRecipient

    make_account(staff.sales, code="SHOP", email="shop@example.com")
    client = as_user(staff.marketing)
    bad = client.post(
        reverse("service:survey_new"), {"name": "NPS", "q1_text": "Pick", "q1_kind": "choice", "q1_choices": "One"}
    )
    assert bad.status_code == 400
    assert "Give at least two answers to choose from." in bad.content.decode()
    made = client.post(
        reverse("service:survey_new"),
        {"name": "NPS", "q1_text": "Delivery on time?", "q1_kind": "rating"},
    )
    assert made.status_code == 302
    survey = Survey.objects.get()
    assert survey.questions == [{"kind": "rating", "text": "Delivery on time?", "choices": []}]
    sent = client.post(reverse("service:survey_detail", args=[survey.pk]), {"holdout_percent": "0"}, follow=True)
    assert "Sent to 1 address." in sent.content.decode()
    row = SurveyRecipient.objects.get()
    client.post(reverse("survey_answer", args=[row.token]), {"nps": "9", "q1": "4"})
    detail = client.get(reverse("service:survey_detail", args=[survey.pk])).content.decode()
    assert 'data-testid="nps-score">100.0<' in detail
    assert as_user(staff.sales).get(reverse("service:survey_list")).status_code == 403


def test_a_complaint_is_recorded_from_the_account_resolved_and_confirmed_in_the_pages(staff):
    from patron.service.models import Complaint

    make_account(staff.sales, code="SHOP", name="Tea House")
    client = as_user(staff.sales)
    assert 'data-testid="open-complaint"' in client.get(reverse("accounts:detail", args=["SHOP"])).content.decode()
    bad = client.post(reverse("service:complaint_new"), {"account": "SHOP", "subject": "", "category": "delivery"})
    assert bad.status_code == 400
    made = client.post(
        reverse("service:complaint_new"),
        {
            "account": "SHOP",
            "subject": "Boxes broken",
            "category": "delivery",
            "severity": "high",
            "channel": "phone",
            "owner": "sales",
        },
    )
    assert made.status_code == 302
    case = Complaint.objects.get()
    url = reverse("service:complaint_detail", args=[case.pk])
    client.post(url, {"action": "respond", "note": "Called"})
    empty = client.post(url, {"action": "resolve", "resolution": ""}, follow=True)
    assert "Say how it was resolved." in empty.content.decode()
    client.post(url, {"action": "resolve", "resolution": "Replaced"})
    client.post(url, {"action": "confirm"})
    assert Complaint.objects.get().status == Complaint.CLOSED
    listing = client.get(reverse("service:complaint_list"), {"status": "closed"}).content.decode()
    assert "Boxes broken" in listing
    assert as_user(staff.sales3).get(url).status_code == 404
    chinese = as_user(staff.sales, "zh-hans").get(url).content.decode()
    assert "投诉" in chinese


def test_a_complaint_is_recorded_from_the_complaints_page_by_finding_the_account_first(staff):
    make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")
    make_account(staff.sales3, code="BJ-TEA", name="Beijing Tea House")
    client = as_user(staff.sales)
    listing = client.get(reverse("service:complaint_list")).content.decode()
    assert 'data-testid="new-complaint"' in listing
    pick = client.get(reverse("service:complaint_new"))
    assert pick.status_code == 200
    found = client.get(reverse("service:complaint_new"), {"q": "tea house"}).content.decode()
    assert "?account=SZ-TEA" in found
    assert "BJ-TEA" not in found  # another team's account is not offered
    form = client.get(reverse("service:complaint_new"), {"account": "SZ-TEA"})
    assert form.status_code == 200
    assert client.get(reverse("service:complaint_new"), {"account": "BJ-TEA"}).status_code == 404


def test_a_day_given_twice_in_a_cadence_counts_once(staff):
    from patron.service.cadences import cadence_save

    cadence = cadence_save(
        actor=staff.manager,
        cadence=None,
        data={"name": "New customers", "subject": "Call", "rule": "after_first_order", "days": "30, 3, 3"},
    )
    assert cadence.days == [3, 30]
