"""Cadences and the scheduler in headless Chromium: a manager writes a cadence (a bad one first, each error on
its field), the hourly job plans its tasks onto the owners' "My day"; an admin reads each scheduled job's
last and next run, a missed or failing job stands out there and in the banner on every page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from patron.accounts.services import activity_add
from patron.service.cadences import cadences_run
from patron.service.jobs import jobs_watch
from patron.service.models import Cadence, JobRun, Task
from patron.staff.models import User
from tests.factories import make_account
from tests.functional.conftest import field_error

pytestmark = pytest.mark.browser


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def test_a_manager_writes_a_cadence_and_its_tasks_reach_the_owners_day(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.update(language="en")
    make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House", preferred_channel="wechat")
    called = make_account(staff.sales, code="GZ-TEA", name="Guangzhou Tea")
    activity_add(account=called, kind="call", subject="Talked about prices", actor=staff.sales)  # in touch
    make_account(staff.sales3, code="BJ-TEA", name="Beijing Tea")
    make_account(None, code="NOBODY", name="Nobody's Tea")  # no owner: nobody to give a task to

    sign_in("manager")
    page.locator(".mainnav a", has_text="My day").click()
    page.get_by_test_id("cadences-link").click()
    expect(page).to_have_url(f"{live_server.url}/service/cadences/")
    expect(page.get_by_test_id("cadences")).to_contain_text("No cadences yet.")
    page.get_by_test_id("new-cadence").click()
    expect(page.locator("h1")).to_have_text("New cadence")

    # Words where days go, and a segment rule with no segment: each error on its field.
    page.fill("#id_name", "Regular check-in")
    page.select_option("#id_rule", label="Within N days of entering a segment")
    page.fill("#id_days", "two weeks")
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_contain_text("Please correct the errors below.")
    expect(field_error(page, "days")).to_have_text("Whole days from 1 to 3650, separated by commas.")
    expect(field_error(page, "classes")).to_have_text("Choose the segments whose entering asks for a contact.")
    expect(field_error(page, "name")).to_have_count(0)
    expect(page.locator("#id_name")).to_have_value("Regular check-in")

    # Two numbers for a rule that takes one.
    page.select_option("#id_rule", label="Every N days since the last contact")
    page.fill("#id_days", "14, 28")
    page.get_by_test_id("save").click()
    expect(field_error(page, "days")).to_have_text("One number of days for this rule.")
    expect(field_error(page, "classes")).to_have_count(0)

    # No name at all.
    page.fill("#id_name", "")
    page.fill("#id_days", "14")
    page.get_by_test_id("save").click()
    expect(field_error(page, "name")).to_have_text("This field is required.")
    assert not Cadence.objects.exists()

    page.fill("#id_name", "Regular check-in")
    page.fill("#id_subject", "Check in with the customer")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(f"{live_server.url}/service/cadences/")
    expect(page.locator(".messages")).to_contain_text("Saved.")
    row = page.get_by_test_id("cadence-row")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(
        ["Regular check-in", "every 14 days since the last contact; for every customer", "yes", "–", "0"]
    )
    cadence = Cadence.objects.get()
    assert (cadence.rule, cadence.days, cadence.target, cadence.active) == ("every", [14], {}, True)

    # The hourly job runs: a task for each owned account nobody has been in touch with for 14 days.
    assert cadences_run() == {cadence.pk: 2}
    assert cadences_run() == {cadence.pk: 0}  # never a second open one
    page.reload()
    cadence.refresh_from_db()
    expect(row.locator("td").nth(3)).to_have_text(_local(cadence.last_run_at))
    expect(row.locator("td").nth(4)).to_have_text("0")  # the last run made none
    made = Task.objects.filter(source=Task.CADENCE).order_by("account__code")
    assert [(t.account.code, t.owner.username, t.kind) for t in made] == [
        ("BJ-TEA", "sales3", "call"),
        ("SZ-TEA", "sales", "wechat"),  # on the account's preferred channel
    ]

    # The manager turns the cadence off from its page.
    row.get_by_role("link", name="Regular check-in").click()
    expect(page.locator("#id_days")).to_have_value("14")
    expect(page.locator("#id_subject")).to_have_value("Check in with the customer")
    page.uncheck("#id_active")
    page.get_by_test_id("save").click()
    expect(row.locator("td").nth(2)).to_have_text("no")
    assert cadences_run() == {}

    # The owner finds the task on "My day", for today, marked as made by the cadence.
    page.context.clear_cookies()
    sign_in("sales")
    page.locator(".mainnav a", has_text="My day").click()
    expect(page.get_by_test_id("today-count")).to_have_text("1")
    task_row = page.get_by_test_id("today").get_by_test_id("task-row")
    expect(task_row).to_contain_text("Shenzhen Tea House")
    expect(task_row).to_contain_text("Check in with the customer")
    expect(task_row).to_contain_text("WeChat")
    expect(task_row.locator(".badge")).to_have_text("Cadence")
    expect(page.get_by_test_id("today")).not_to_contain_text("Beijing Tea")
    expect(page.get_by_test_id("suggested")).to_contain_text("Guangzhou Tea")  # in touch, nothing planned

    # A salesperson does not write cadences.
    response = page.goto(f"{live_server.url}/service/cadences/new/")
    assert response is not None
    assert response.status == 403
    assert server_errors == []


def test_the_admin_reads_the_scheduler_and_a_missed_or_failing_job_stands_out(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.update(language="en")
    User.objects.filter(pk=staff.admin.pk).update(email="admin@example.com")
    now = timezone.now()
    reminders = now - dt.timedelta(hours=2)  # every 15 minutes: missed
    JobRun.objects.create(name="reminders", started_at=reminders, finished_at=reminders, ok=True)
    cadences = now - dt.timedelta(minutes=20)  # every hour: on time
    JobRun.objects.create(name="cadences", started_at=cadences - dt.timedelta(hours=1), ok=False, error="old")
    JobRun.objects.create(name="cadences", started_at=cadences, finished_at=cadences, ok=True)
    failed = now - dt.timedelta(minutes=4)  # every 10 minutes, on time, but its last run failed
    JobRun.objects.create(
        name="complaints_escalate", started_at=failed, finished_at=failed, ok=False, error="OperationalError: locked"
    )

    # A salesperson sees no warning and no scheduler.
    sign_in("sales")
    expect(page.get_by_test_id("jobs-trouble")).to_have_count(0)
    response = page.goto(f"{live_server.url}/service/jobs/")
    assert response is not None
    assert response.status == 403

    page.context.clear_cookies()
    sign_in("admin")
    banner = page.get_by_test_id("jobs-trouble")
    expect(banner).to_have_text(
        "Scheduled jobs need attention: Complaints past their deadlines escalated, Follow-up reminders. "
        "See the scheduler"
    )
    banner.get_by_role("link", name="See the scheduler").click()
    expect(page).to_have_url(f"{live_server.url}/service/jobs/")
    expect(page.locator("h1")).to_have_text("Scheduled jobs")

    rows = page.get_by_test_id("job-row")
    expect(rows.filter(has_text="Nightly segment recompute")).to_have_count(1)  # every app's jobs are listed

    def cells(label: str) -> Any:
        return rows.filter(has=page.locator("td:first-child", has_text=label)).locator("td")

    # Job, state, last run, last success, next expected, failures in 24 hours, last error.
    hour = dt.timedelta(hours=1)
    expect(cells("Cadences plan follow-ups")).to_have_text(
        ["Cadences plan follow-ups", "on time", _local(cadences), _local(cadences), _local(cadences + hour), "1", ""]
    )
    expect(cells("Complaints past their deadlines escalated")).to_have_text(
        [
            "Complaints past their deadlines escalated",
            "failing",
            _local(failed),
            "–",
            _local(failed + dt.timedelta(minutes=10)),
            "1",
            "OperationalError: locked",
        ]
    )
    expect(cells("Follow-up reminders")).to_have_text(
        [
            "Follow-up reminders",
            "missed its time",
            _local(reminders),
            _local(reminders),
            _local(reminders + dt.timedelta(minutes=15)),
            "0",
            "",
        ]
    )
    expect(cells("Watch over the scheduled jobs")).to_have_text(
        ["Watch over the scheduled jobs", "not run yet", "–", "–", "–", "0", ""]
    )
    expect(page.locator('[data-testid="job-row"][data-state="missed"]')).to_have_count(1)
    expect(page.locator('[data-testid="job-row"][data-state="failing"]')).to_have_count(1)
    expect(page.locator('[data-state="missed"] strong.warn')).to_be_visible()
    expect(page.locator('[data-state="failing"] strong.warn')).to_be_visible()

    # The watch emails the admin once per incident.
    assert jobs_watch() == 2
    assert jobs_watch() == 0
    assert sorted(m.subject for m in mail.outbox) == [
        "Patron: the job “Complaints past their deadlines escalated” is failing",
        "Patron: the job “Follow-up reminders” missed its time",
    ]

    # The reminders run again and succeed: the banner names only the failing job.
    JobRun.objects.create(name="reminders", started_at=timezone.now(), finished_at=timezone.now(), ok=True)
    page.reload()
    expect(page.get_by_test_id("job-row").filter(has_text="Follow-up reminders")).to_have_attribute("data-state", "ok")
    expect(banner).to_contain_text("Complaints past their deadlines escalated")
    expect(banner).not_to_contain_text("Follow-up reminders")

    # Another admin page in Chinese: the banner is there too.
    User.objects.filter(pk=staff.admin.pk).update(language="zh-hans")
    page.goto(f"{live_server.url}/service/")
    expect(banner).to_contain_text("以下定时任务需要处理：")
    expect(banner).to_contain_text("升级超期投诉")
    page.goto(f"{live_server.url}/service/jobs/")
    expect(page.locator("h1")).to_have_text("定时任务")
    expect(page.locator('[data-state="failing"] td').nth(0)).to_have_text("升级超期投诉")
    expect(page.locator('[data-state="failing"] td').nth(1)).to_have_text("失败")
    expect(rows.filter(has_text="跟进提醒")).to_have_attribute("data-state", "ok")
    assert server_errors == []
