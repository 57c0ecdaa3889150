"""Follow-ups in headless Chromium: a salesperson plans a recurring follow-up from an account page, works
through "My day" (overdue, due today, suggested next contacts) and marks tasks done with what came of them;
a salesperson reads My day in Chinese; a manager reads the team's workload and overdue work."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.service import services
from patron.service.models import Task
from patron.staff.models import User
from tests.factories import make_account
from tests.functional.conftest import field_error

pytestmark = pytest.mark.browser


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _plan(owner: User, account: Any, subject: str, due: dt.datetime, **extra: Any) -> Task:
    return services.task_create(actor=owner, account=account, data={"subject": subject, "due_at": due, **extra})


def test_a_salesperson_plans_a_recurring_follow_up_works_my_day_and_the_next_one_comes(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.filter(pk=staff.sales.pk).update(language="en")
    today = timezone.localdate()
    make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House", preferred_channel="wechat")
    late_shop = make_account(staff.sales, code="GZ-TEA", name="Guangzhou Tea")
    make_account(staff.sales, code="HZ-TEA", name="Hangzhou Tea Garden", is_key_account=True)
    make_account(staff.sales3, code="BJ-TEA", name="Beijing Tea")  # someone else's: never on sales's day
    late = _plan(staff.sales, late_shop, "Chase the samples", _at(today - dt.timedelta(days=2), 11))

    sign_in("sales")
    page.goto(f"{live_server.url}/accounts/SZ-TEA/")
    expect(page.get_by_test_id("account-tasks")).to_contain_text("No follow-up planned.")
    page.get_by_test_id("plan-task").click()
    expect(page).to_have_url(re.compile(r"/service/tasks/new/\?account=SZ-TEA$"))
    expect(page.locator("#id_kind")).to_have_value("wechat")  # the customer's preferred channel
    expect(page.locator("#id_owner")).to_have_value("sales")

    # Nothing filled in: each missing field says so, nothing is saved.
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_contain_text("Please correct the errors below.")
    expect(field_error(page, "subject")).to_have_text("This field is required.")
    expect(field_error(page, "due_at")).to_have_text("This field is required.")
    assert Task.objects.count() == 1

    # Repeating every 0 weeks is no repeat: refused on its own field.
    page.fill("#id_subject", "Ask about the spring order")
    page.fill("#id_due_at", f"{today.isoformat()}T15:00")
    page.fill("#id_repeat_every", "0")
    page.get_by_test_id("save").click()
    expect(field_error(page, "repeat_every")).to_contain_text("greater than or equal to 1")
    expect(field_error(page, "subject")).to_have_count(0)
    expect(page.locator("#id_subject")).to_have_value("Ask about the spring order")
    assert Task.objects.count() == 1

    page.fill("#id_repeat_every", "1")
    page.select_option("#id_repeat_unit", "weeks")
    page.fill("#id_notes", "They liked the oolong.")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/SZ-TEA/")
    expect(page.locator(".messages")).to_contain_text("Follow-up planned.")
    planned = page.get_by_test_id("account-task")
    expect(planned).to_have_count(1)
    expect(planned).to_contain_text("Ask about the spring order")
    expect(planned).to_contain_text(f"{today:%Y-%m-%d} 15:00")
    expect(planned).to_contain_text("repeats")
    task = Task.objects.get(subject="Ask about the spring order")
    assert (task.kind, task.owner, task.repeat_every, task.repeat_unit) == ("wechat", staff.sales, 1, "weeks")

    # My day, from the navigation: one overdue, one due today (the count in the navigation says two).
    expect(page.get_by_test_id("tasks-due")).to_have_text("2")
    page.locator(".mainnav a", has_text="My day").click()
    expect(page).to_have_url(f"{live_server.url}/service/")
    expect(page.get_by_test_id("overdue-count")).to_have_text("1")
    expect(page.get_by_test_id("today-count")).to_have_text("1")
    expect(page.get_by_test_id("overdue").get_by_test_id("task-row")).to_contain_text("Chase the samples")
    today_row = page.get_by_test_id("today").get_by_test_id("task-row")
    expect(today_row).to_have_count(1)
    expect(today_row).to_contain_text("Shenzhen Tea House")
    expect(today_row).to_contain_text("Ask about the spring order")
    expect(today_row).to_contain_text("repeats")
    expect(today_row).to_contain_text("WeChat")
    suggested = page.get_by_test_id("suggested").locator("li")
    expect(suggested).to_have_count(1)  # the only account of theirs with nothing planned
    expect(suggested.first).to_contain_text("Hangzhou Tea Garden")
    expect(suggested.first).to_contain_text("key account")
    expect(suggested.first).to_contain_text("no contact logged")
    expect(page.get_by_test_id("suggested")).not_to_contain_text("Beijing Tea")

    # The overdue one is done straight from the list, with what came of it.
    overdue_row = page.get_by_test_id("overdue").get_by_test_id("task-row")
    overdue_row.locator("select[name=outcome]").select_option("no_answer")
    overdue_row.get_by_test_id("done").click()
    expect(page.locator(".messages")).to_contain_text("Marked done.")
    expect(page.get_by_test_id("overdue-count")).to_have_text("0")
    expect(page.get_by_test_id("overdue")).to_have_count(0)
    expect(page.get_by_text("Nothing overdue.")).to_be_visible()
    late.refresh_from_db()
    assert (late.status, late.outcome) == (Task.DONE, "no_answer")
    # Its account has nothing planned now and was called today: a suggestion again, after the key account.
    expect(suggested).to_have_count(2)
    expect(suggested.nth(0)).to_contain_text("Hangzhou Tea Garden")
    expect(suggested.nth(1)).to_contain_text("Guangzhou Tea")
    expect(suggested.nth(1)).to_contain_text(f"last contact {today:%Y-%m-%d}")

    # The task of today is opened and marked done with what came of it.
    today_row.get_by_role("link", name="Ask about the spring order").click()
    expect(page).to_have_url(f"{live_server.url}/service/tasks/{task.pk}/")
    expect(page.get_by_test_id("status")).to_have_text("Open")
    expect(page.locator("dl.facts")).to_contain_text("every week")
    page.get_by_test_id("done-form").locator("#id_outcome").select_option(label="Asked for a quote")
    page.get_by_test_id("done-form").locator("#id_notes").fill("Wants 20 boxes before May.")
    page.get_by_test_id("mark-done").click()

    expect(page).to_have_url(f"{live_server.url}/service/")
    expect(page.locator(".messages")).to_contain_text("Marked done.")
    expect(page.get_by_test_id("today-count")).to_have_text("0")
    expect(page.get_by_test_id("tasks-due")).to_have_count(0)  # nothing due today or overdue any more
    next_week = today + dt.timedelta(days=7)
    upcoming = page.get_by_test_id("upcoming").get_by_test_id("task-row")
    expect(upcoming).to_have_count(1)
    expect(upcoming).to_contain_text("Ask about the spring order")
    expect(upcoming).to_contain_text(f"{next_week:%Y-%m-%d} 15:00")
    task.refresh_from_db()
    assert (task.status, task.outcome) == (Task.DONE, "quote")
    following = Task.objects.get(previous=task)
    assert following.status == Task.OPEN
    assert timezone.localtime(following.due_at) == _at(next_week, 15)

    # The done task stays done: its page has no forms any more, and says what came of it.
    page.goto(f"{live_server.url}/service/tasks/{task.pk}/")
    expect(page.get_by_test_id("status")).to_have_text("Done")
    expect(page.get_by_test_id("outcome")).to_have_text("Asked for a quote")
    expect(page.get_by_test_id("done-form")).to_have_count(0)
    expect(page.locator("p.prewrap")).to_contain_text("Wants 20 boxes before May.")

    # The account's timeline tells what was done.
    page.goto(f"{live_server.url}/accounts/SZ-TEA/")
    expect(page.get_by_test_id("timeline")).to_contain_text("Follow-up done: Ask about the spring order")
    expect(page.get_by_test_id("account-task")).to_contain_text(f"{next_week:%Y-%m-%d} 15:00")
    assert server_errors == []


def test_marking_a_task_done_on_its_page_without_choosing_an_outcome_asks_for_one(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.filter(pk=staff.sales.pk).update(language="en")
    shop = make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")
    task = _plan(staff.sales, shop, "Ask about the spring order", _at(timezone.localdate(), 15))
    sign_in("sales")
    page.goto(f"{live_server.url}/service/tasks/{task.pk}/")
    form = page.get_by_test_id("done-form")
    form.get_by_test_id("mark-done").click()  # nothing chosen
    expect(page).to_have_url(f"{live_server.url}/service/tasks/{task.pk}/")
    expect(page.get_by_test_id("done-form").locator('[data-field="outcome"] .error')).to_have_text(
        "Choose what came of it."
    )
    task.refresh_from_db()
    assert (task.status, task.outcome) == (Task.OPEN, "")
    assert server_errors == []


def test_a_weekly_task_reads_every_week(live_server, sign_in, page, staff, server_errors):
    User.objects.filter(pk=staff.sales.pk).update(language="en")
    shop = make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")
    task = _plan(staff.sales, shop, "Weekly call", _at(timezone.localdate(), 15), repeat_every=1, repeat_unit="weeks")
    sign_in("sales")
    page.goto(f"{live_server.url}/service/tasks/{task.pk}/")
    repeats = page.locator("dl.facts > div", has=page.locator("dt", has_text="Repeats")).locator("dd")
    expect(repeats).to_have_text(re.compile(r"^every (1 )?week$"))
    assert server_errors == []


def test_a_salesperson_works_my_day_in_chinese(live_server, sign_in, page, staff, server_errors):
    assert staff.sales.language == "zh-hans"  # the staff's language unless they choose another
    today = timezone.localdate()
    shop = make_account(staff.sales, code="SZ-TEA", name="深圳茶馆")
    garden = make_account(staff.sales, code="HZ-TEA", name="杭州茶园")
    make_account(staff.sales, code="XM-TEA", name="厦门茶行")
    _plan(staff.sales, shop, "询问春季订单", _at(today, 16))
    _plan(staff.sales, garden, "催样品", _at(today - dt.timedelta(days=1), 10))

    sign_in("sales")
    page.locator(".mainnav a", has_text="我的一天").click()
    expect(page).to_have_url(f"{live_server.url}/service/")
    expect(page.locator("h1")).to_contain_text("我的一天")
    expect(page.locator("#overdue-title")).to_contain_text("逾期")
    expect(page.locator("#today-title")).to_contain_text("今日到期")
    expect(page.locator("#upcoming-title")).to_contain_text("未来 7 天")
    expect(page.locator("#suggested-title")).to_have_text("建议联系的客户")
    expect(page.get_by_test_id("overdue-count")).to_have_text("1")
    today_row = page.get_by_test_id("today").get_by_test_id("task-row")
    expect(today_row).to_contain_text("询问春季订单")
    expect(today_row).to_contain_text("电话")  # a call
    expect(today_row.get_by_test_id("done")).to_have_text("已完成")
    expect(page.get_by_test_id("suggested")).to_contain_text("厦门茶行")
    expect(page.get_by_test_id("suggested")).to_contain_text("无联系记录")
    expect(page.get_by_text("今天没有到期任务。")).to_have_count(0)

    today_row.locator("select[name=outcome]").select_option(label="要求报价")
    today_row.get_by_test_id("done").click()
    expect(page.locator(".messages")).to_contain_text("已标记完成。")
    expect(page.get_by_test_id("today-count")).to_have_text("0")
    expect(page.get_by_text("今天没有到期任务。")).to_be_visible()
    assert Task.objects.get(subject="询问春季订单").outcome == "quote"

    # Planning another from the suggestion: a bad form answers in Chinese, on the field.
    page.get_by_test_id("suggested").locator("li", has_text="厦门茶行").get_by_role("link", name="安排跟进").click()
    expect(page.locator("h1")).to_contain_text("安排跟进")
    expect(page.locator("h1")).to_contain_text("厦门茶行")
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_contain_text("请修正以下错误。")
    expect(field_error(page, "subject")).to_have_text("此项为必填项。")
    page.fill("#id_subject", "介绍新茶")
    page.fill("#id_due_at", f"{(today + dt.timedelta(days=2)).isoformat()}T09:30")
    page.get_by_test_id("save").click()
    expect(page).to_have_url(f"{live_server.url}/accounts/XM-TEA/")
    expect(page.locator(".messages")).to_contain_text("已安排跟进。")
    expect(page.get_by_test_id("account-task")).to_contain_text("介绍新茶")
    assert server_errors == []


def test_a_manager_sees_the_workload_and_overdue_work_of_each_person_on_the_team(
    live_server, sign_in, page, staff, server_errors
):
    User.objects.update(language="en")
    today = timezone.localdate()
    south = make_account(staff.sales, code="SZ-TEA", name="Shenzhen Tea House")
    south2 = make_account(staff.sales2, code="DG-TEA", name="Dongguan Tea")
    north = make_account(staff.sales3, code="BJ-TEA", name="Beijing Tea")
    _plan(staff.sales, south, "Send the price list", _at(today - dt.timedelta(days=3), 9))
    _plan(staff.sales, south, "Call about the invoice", _at(today - dt.timedelta(days=1), 14))
    _plan(staff.sales, south, "Visit the shop", _at(today, 15))
    _plan(staff.sales, south, "Quarterly review", _at(today + dt.timedelta(days=30), 10))  # open, not this week
    _plan(staff.sales2, south2, "Deliver samples", _at(today - dt.timedelta(days=2), 10))
    done = _plan(staff.sales2, south2, "Thank for the order", _at(today, 9))
    services.task_complete(actor=staff.sales2, task=done, outcome="reached")
    _plan(staff.sales3, north, "Northern visit", _at(today - dt.timedelta(days=5), 10))  # another team's

    sign_in("manager")
    page.locator(".mainnav a", has_text="My day").click()
    page.get_by_test_id("team-link").click()
    expect(page).to_have_url(f"{live_server.url}/service/team/")
    expect(page.locator("h1")).to_have_text("The team's work")
    rows = page.get_by_test_id("workload-row")
    expect(rows).to_have_count(3)  # the manager and the two salespeople of South, not North
    # Person, open, overdue, due in the next 7 days, done in the last 7 days.
    expect(rows.nth(0).locator("td")).to_have_text(["manager", "0", "0", "0", "0"])
    expect(rows.nth(1).locator("td")).to_have_text(["sales", "4", "2", "1", "0"])
    expect(rows.nth(2).locator("td")).to_have_text(["sales2", "1", "1", "0", "1"])
    expect(rows.nth(1).locator("td").nth(2)).to_have_class(re.compile(r"\bwarn\b"))
    expect(rows.nth(0).locator("td").nth(2)).not_to_have_class(re.compile(r"\bwarn\b"))
    expect(page.get_by_test_id("workload")).not_to_contain_text("sales3")

    overdue = page.get_by_test_id("team-overdue").locator("li")
    expect(overdue).to_have_count(3)  # oldest first
    expect(overdue.nth(0)).to_contain_text(f"{today - dt.timedelta(days=3):%Y-%m-%d} · sales · Shenzhen Tea House")
    expect(overdue.nth(0)).to_contain_text("Send the price list")
    expect(overdue.nth(1)).to_contain_text("sales2")
    expect(overdue.nth(1)).to_contain_text("Deliver samples")
    expect(overdue.nth(2)).to_contain_text("Call about the invoice")
    expect(page.get_by_test_id("team-overdue")).not_to_contain_text("Northern visit")

    # The manager opens one and may act on it.
    overdue.nth(1).get_by_role("link", name="Deliver samples").click()
    expect(page.get_by_test_id("status")).to_have_text("Open")
    expect(page.get_by_test_id("done-form")).to_be_visible()

    # A salesperson has no team page.
    page.context.clear_cookies()
    sign_in("sales")
    page.goto(f"{live_server.url}/service/")
    expect(page.get_by_test_id("overdue-count")).to_have_text("2")
    expect(page.get_by_test_id("team-link")).to_have_count(0)
    response = page.goto(f"{live_server.url}/service/team/")
    assert response is not None
    assert response.status == 403
    assert server_errors == []
