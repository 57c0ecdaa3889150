"""Complaints in headless Chromium: a salesperson records a case from the account page, with deadlines set by
its severity; answers, resolves, records the customer's confirmation and reopens it; a case past its
deadline is late on the list and, once escalated, is the manager's task (the manager reads it in Chinese)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from patron.service.complaints import complaint_open, complaints_escalate
from patron.service.models import Complaint, Task
from patron.staff.models import User
from tests.factories import make_account
from tests.functional.conftest import field_error

pytestmark = pytest.mark.browser


def _local(moment: dt.datetime) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _messages(page: Any) -> Any:
    return page.locator(".messages")


def test_a_complaint_is_recorded_answered_resolved_confirmed_and_reopened(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.filter(pk=staff.sales.pk).update(language="en")
    make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")

    sign_in("sales")
    page.locator(".mainnav a", has_text="Complaints").click()
    expect(page).to_have_url(f"{live_server.url}/service/complaints/")
    expect(page.get_by_test_id("complaints")).to_contain_text("No complaints here.")

    page.goto(f"{live_server.url}/accounts/SZ-TEA/")
    page.get_by_test_id("open-complaint").click()
    expect(page.locator("h1")).to_contain_text("Record a complaint · Shenzhen Tea House")
    expect(page.locator("#id_owner")).to_have_value("sales")  # the account's owner

    # No subject: refused on the field, nothing saved.
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_contain_text("Please correct the errors below.")
    expect(field_error(page, "subject")).to_have_text("This field is required.")
    assert not Complaint.objects.exists()

    page.fill("#id_subject", "Boxes arrived broken")
    page.select_option("#id_category", label="Delivery")
    page.select_option("#id_severity", label="High")
    page.select_option("#id_channel", label="WeChat")
    page.fill("#id_description", "Three of ten boxes were crushed.")
    page.get_by_test_id("save").click()

    case = Complaint.objects.get()
    expect(page).to_have_url(f"{live_server.url}/service/complaints/{case.pk}/")
    expect(_messages(page)).to_contain_text(f"Complaint {case.number} opened.")
    expect(page.locator("h1")).to_contain_text(f"{case.number} · Boxes arrived broken")
    expect(page.get_by_test_id("status")).to_have_text("Open")
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("Delivery")
    expect(facts).to_contain_text("High")
    expect(facts).to_contain_text("WeChat")
    # High: a first response within 4 hours, a resolution within 3 days.
    assert case.respond_by - case.opened_at == dt.timedelta(hours=4)
    assert case.resolve_by - case.opened_at == dt.timedelta(days=3)
    expect(page.get_by_test_id("respond-by")).to_have_text(_local(case.respond_by))
    expect(page.get_by_test_id("resolve-by")).to_have_text(_local(case.resolve_by))
    expect(page.get_by_test_id("resolve-by")).not_to_have_class(re.compile(r"\bwarn\b"))

    # The first response.
    page.fill("input[name=note]", "Called and apologised.")
    page.get_by_test_id("respond").click()
    expect(_messages(page)).to_contain_text("First response recorded.")
    case.refresh_from_db()
    assert case.responded_at is not None
    expect(page.get_by_test_id("respond-by")).to_contain_text(f"answered {_local(case.responded_at)}")
    expect(page.get_by_test_id("respond")).to_have_count(0)

    # Resolved with no words (only spaces): refused, still open.
    page.fill("textarea[name=resolution]", "   ")
    page.get_by_test_id("resolve").click()
    expect(_messages(page)).to_contain_text("Say how it was resolved.")
    expect(page.get_by_test_id("status")).to_have_text("Open")
    page.fill("textarea[name=resolution]", "Replaced the three boxes free of charge.")
    page.get_by_test_id("resolve").click()
    expect(_messages(page)).to_contain_text("Resolved.")
    expect(page.get_by_test_id("status")).to_have_text("Resolved")
    expect(page.get_by_test_id("resolution")).to_have_text("Replaced the three boxes free of charge.")
    expect(page.get_by_test_id("resolve")).to_have_count(0)

    # The customer confirmed.
    page.get_by_test_id("confirm").click()
    expect(_messages(page)).to_contain_text("Closed: the customer confirmed.")
    expect(page.get_by_test_id("status")).to_have_text("Closed: confirmed by the customer")
    expect(page.get_by_test_id("confirm")).to_have_count(0)
    case.refresh_from_db()
    assert (case.status, case.confirmed_at is not None) == (Complaint.CLOSED, True)

    # Reopened without a reason: refused; with one: open again, with fresh deadlines.
    page.get_by_test_id("reopen").click()
    expect(_messages(page)).to_contain_text("Say why it is reopened.")
    expect(page.get_by_test_id("status")).to_have_text("Closed: confirmed by the customer")
    first_deadline = case.resolve_by
    page.fill("input[name=reason]", "Two more boxes turned up crushed.")
    page.get_by_test_id("reopen").click()
    expect(_messages(page)).to_contain_text("Reopened, with fresh deadlines.")
    expect(page.get_by_test_id("status")).to_have_text("Open")
    expect(facts).to_contain_text("Times reopened")
    expect(page.locator("p.prewrap").first).to_contain_text("Reopened: Two more boxes turned up crushed.")
    expect(page.get_by_test_id("respond")).to_be_visible()
    case.refresh_from_db()
    assert (case.status, case.reopened, case.confirmed_at, case.responded_at) == (Complaint.OPEN, 1, None, None)
    assert case.resolve_by > first_deadline
    expect(page.get_by_test_id("resolve-by")).to_have_text(_local(case.resolve_by))

    # On the list, and on the account's timeline.
    page.locator(".mainnav a", has_text="Complaints").click()
    row = page.get_by_test_id("complaint-row")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(
        [
            case.number,
            "Shenzhen Tea House",
            "Boxes arrived broken",
            "Delivery",
            "High",
            "sales",
            _local(case.resolve_by),
            "Open",
        ]
    )
    expect(page.get_by_test_id("overdue")).to_have_text("0")
    page.get_by_role("link", name="Shenzhen Tea House").click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text(f"Complaint {case.number} opened: Boxes arrived broken")
    expect(timeline).to_contain_text(f"Complaint {case.number} resolved: Boxes arrived broken")
    assert server_errors == []


def test_a_complaint_past_its_deadline_is_late_on_the_list_and_escalated_to_the_manager_in_chinese(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.filter(pk=staff.manager.pk).update(email="manager@example.com")  # reads Chinese
    User.objects.filter(pk=staff.sales.pk).update(language="en")
    shop = make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")
    other = make_account(staff.sales, code="GZ-TEA", name="Guangzhou Tea")
    late = complaint_open(
        actor=staff.sales,
        account=shop,
        data={"subject": "Wrong tea delivered", "category": "delivery", "severity": "critical"},
    )
    fine = complaint_open(actor=staff.sales, account=other, data={"subject": "Invoice address", "category": "billing"})
    # The critical one was opened 30 hours ago: nobody answered in 2 hours nor resolved it in 24.
    opened = timezone.now() - dt.timedelta(hours=30)
    Complaint.objects.filter(pk=late.pk).update(
        opened_at=opened, respond_by=opened + dt.timedelta(hours=2), resolve_by=opened + dt.timedelta(hours=24)
    )
    late.refresh_from_db()

    # The salesperson's list shows it late before anyone escalates it.
    sign_in("sales")
    page.goto(f"{live_server.url}/service/complaints/")
    expect(page.get_by_test_id("overdue")).to_have_text("1")
    rows = page.get_by_test_id("complaint-row")
    expect(rows).to_have_count(2)
    late_row = rows.filter(has_text=late.number)
    expect(late_row.locator("td").nth(6)).to_have_class(re.compile(r"\bwarn\b"))
    expect(rows.filter(has_text=fine.number).locator("td").nth(6)).not_to_have_class(re.compile(r"\bwarn\b"))
    page.get_by_role("link", name="Past the resolution deadline").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Wrong tea delivered")
    expect(page.get_by_test_id("by-owner").locator("tbody tr")).to_contain_text(["sales"])
    late_row.get_by_role("link", name=late.number).click()
    expect(page.get_by_test_id("respond-by")).to_have_class(re.compile(r"\bwarn\b"))
    expect(page.get_by_test_id("resolve-by")).to_have_class(re.compile(r"\bwarn\b"))
    expect(page.get_by_test_id("escalated")).to_have_count(0)

    # The scheduled escalation: the owner's manager gets a task due now and an email, once.
    assert complaints_escalate() == 1
    assert complaints_escalate() == 0
    subject = f"投诉 {late.number} 已升级：未按时解决"
    assert [(m.to, m.subject) for m in mail.outbox] == [(["manager@example.com"], subject)]
    page.reload()
    expect(page.get_by_test_id("escalated")).to_have_text("manager")

    page.context.clear_cookies()
    sign_in("manager")
    page.locator(".mainnav a", has_text="我的一天").click()
    expect(page.get_by_test_id("today-count")).to_have_text("1")
    task_row = page.get_by_test_id("today").get_by_test_id("task-row")
    expect(task_row).to_contain_text(subject)
    expect(task_row).to_contain_text("Shenzhen Tea House")
    expect(task_row.locator(".badge")).to_have_text("投诉")  # made by a complaint
    task = Task.objects.get(owner=staff.manager)
    assert (task.source, task.account) == (Task.COMPLAINT, shop)

    page.locator(".mainnav a", has_text="投诉").click()
    expect(page.locator("h1")).to_have_text("投诉")
    expect(page.get_by_test_id("complaint-stats")).to_contain_text("超过解决期限")
    expect(page.get_by_test_id("overdue")).to_have_text("1")
    row = page.get_by_test_id("complaint-row").filter(has_text=late.number)
    expect(row).to_contain_text("紧急")
    expect(row).to_contain_text("配送")
    row.get_by_role("link", name=late.number).click()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("升级给")
    expect(page.get_by_test_id("escalated")).to_have_text("manager")
    expect(facts).to_contain_text("响应期限")
    expect(page.get_by_test_id("resolve-by")).to_have_class(re.compile(r"\bwarn\b"))

    # The manager resolves it with empty words first: the refusal is in Chinese.
    page.fill("textarea[name=resolution]", "  ")
    page.get_by_test_id("resolve").click()
    expect(_messages(page)).to_contain_text("请说明解决方式。")
    page.fill("textarea[name=resolution]", "已补发正确的茶叶。")
    page.get_by_test_id("resolve").click()
    expect(_messages(page)).to_contain_text("已解决。")
    expect(page.get_by_test_id("status")).to_have_text("已解决")
    expect(page.get_by_test_id("resolve-by")).not_to_have_class(re.compile(r"\bwarn\b"))
    page.goto(f"{live_server.url}/service/complaints/")
    expect(page.get_by_test_id("overdue")).to_have_text("0")
    assert server_errors == []


def test_an_open_complaint_does_not_read_unpaid_in_chinese(live_server, sign_in, page, staff, server_errors):
    shop = make_account(staff.sales, code="SZ-TEA", name="深圳茶馆")
    case = complaint_open(actor=staff.sales, account=shop, data={"subject": "茶叶受潮", "category": "quality"})
    sign_in("sales")
    page.goto(f"{live_server.url}/service/complaints/")
    row = page.get_by_test_id("complaint-row")
    expect(row).to_contain_text("产品质量")
    status = row.locator("td").nth(7)
    expect(status).not_to_have_text("")
    expect(status).not_to_have_text("未结清")
    page.goto(f"{live_server.url}/service/complaints/{case.pk}/")
    expect(page.get_by_test_id("status")).not_to_have_text("未结清")
    assert server_errors == []
