"""Satisfaction surveys on their pages, in headless Chromium: marketing defines a survey (NPS, a choice and a
text question; a bad form first), sends it by email to a lifecycle segment through a real SMTP server,
customers answer through the link of the email they received, a detractor's answer opens a call-back on the
owner's My day, and the survey's page tells the NPS, the answers, NPS over time and by lifecycle stage, in
English and in Chinese. A salesperson has no survey pages."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.segments.models import Classification, Membership, SegmentRun, Snapshot
from patron.segments.services import install_builtins
from patron.service import surveys
from patron.service.models import Survey, SurveyRecipient, Task
from patron.staff.models import User
from tests.factories import make_account
from tests.smtp import Received, SmtpServer, serving_smtp

pytestmark = pytest.mark.browser

LINK = re.compile(r"(http://[^\s<>\"]+/s/[A-Za-z0-9_-]+/)")


@pytest.fixture
def smtp(settings: Any, live_server: Any) -> Iterator[SmtpServer]:
    """A real SMTP server; the emailed links lead to the live server; no pacing between messages."""
    settings.PATRON_PUBLISH_PER_SECOND = 0
    settings.PATRON_BASE_URL = live_server.url
    with serving_smtp(settings) as server:
        yield server


def _place(account: Any, stage: str) -> None:
    """``account`` in lifecycle stage ``stage`` since a week ago, as a segment run would have put it."""
    install_builtins()
    lifecycle = Classification.objects.get(key="lifecycle")
    since = timezone.localdate() - dt.timedelta(days=7)
    run = SegmentRun.objects.create(as_of=since, status=SegmentRun.DONE)
    snapshot = Snapshot.objects.create(
        run=run, classification=lifecycle, as_of=since, period_start=since, period_end=since
    )
    Membership.objects.create(
        classification=lifecycle, account=account, class_key=stage, snapshot=snapshot, valid_from=since
    )


def _mail_to(smtp: SmtpServer, address: str) -> Received:
    (found,) = [m for m in smtp.messages if m.rcpt_tos == [address]]
    return found


def _link(message: Received) -> str:
    match = LINK.search(message.body)
    assert match is not None, message.body
    return match.group(1)


def _answer(browser: Any, errors: list[str], link: str, nps: int, choice: str = "", words: str = "") -> Any:
    """A customer, signed in nowhere, answers through ``link`` in a browser of their own."""
    context = browser.new_context()
    customer = context.new_page()
    customer.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    customer.goto(link)
    customer.get_by_test_id(f"nps-{nps}").check()
    if choice:
        customer.get_by_label(choice, exact=True).check()
    if words:
        customer.locator("textarea").fill(words)
    customer.get_by_test_id("send").click()
    expect(customer.get_by_test_id("thanks")).to_be_visible()
    context.close()


def _define(page: Any, name: str) -> None:
    """Fill the new-survey form: a choice and a text question after the NPS one."""
    page.fill("#id_name", name)
    page.fill("#id_intro", "Tell us how we did.")
    page.fill("#id_q1_text", "How do you order?")
    page.select_option("#id_q1_kind", "choice")
    page.fill("#id_q1_choices", "Phone, WeChat")
    page.fill("#id_q2_text", "Anything else?")
    page.select_option("#id_q2_kind", "text")


def test_marketing_defines_and_emails_a_survey_customers_answer_and_the_page_tells_the_nps(
    live_server, sign_in, page, browser, staff, smtp, server_errors
):
    User.objects.exclude(pk=staff.sales2.pk).update(language="en")  # sales2 stays Chinese
    happy = make_account(staff.sales, code="HAPPY", name="Happy Tea", email="happy@shop.example", language="en")
    unhappy = make_account(staff.sales, code="SAD", name="Sad Tea", email="sad@shop.example", language="zh-hans")
    calm = make_account(staff.sales2, code="CALM", name="Calm Tea", email="calm@shop.example", language="en")
    fresh = make_account(staff.sales, code="FRESH", name="Fresh Tea", email="fresh@shop.example", language="en")
    quiet = make_account(staff.sales, code="QUIET", name="Quiet Tea")  # loyal, but no address
    for account, stage in ((happy, "loyal"), (unhappy, "at_risk"), (calm, "loyal"), (fresh, "new"), (quiet, "loyal")):
        _place(account, stage)

    sign_in("marketing")
    page.locator(".mainnav a", has_text="Surveys").click()
    expect(page).to_have_url(f"{live_server.url}/service/surveys/")
    expect(page.get_by_test_id("surveys")).to_contain_text("No surveys yet.")
    page.get_by_test_id("new-survey").click()

    # Nothing filled in: the name says it is required, nothing is saved.
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_contain_text("Please correct the errors below.")
    expect(page.locator('[data-field="name"] .error')).to_have_text("This field is required.")
    # A choice question with a single answer to choose from: refused, the error says what is wrong.
    _define(page, "How are we doing?")
    page.fill("#id_q1_choices", "Phone")
    page.get_by_test_id("save").click()
    expect(page.locator('[data-field="q1_choices"] .error')).to_have_text("Give at least two answers to choose from.")
    expect(page.locator('[data-field="name"] .error')).to_have_count(0)
    expect(page.locator("#id_name")).to_have_value("How are we doing?")
    assert not Survey.objects.exists()

    page.fill("#id_q1_choices", "Phone, WeChat")
    page.get_by_test_id("save").click()
    expect(page.locator(".messages")).to_contain_text("Saved.")
    survey = Survey.objects.get()
    expect(page).to_have_url(f"{live_server.url}/service/surveys/{survey.pk}/")
    expect(page.locator("h1")).to_have_text("How are we doing?")
    expect(page.get_by_test_id("nps-score")).to_have_text("–")
    assert [q["kind"] for q in survey.questions] == ["choice", "text"]

    # Sent by email to the loyal and the at-risk customers: the new one is not asked, the one without address
    # cannot be.
    send = page.get_by_test_id("survey-send")
    send.locator("#id_stages").select_option(["loyal", "at_risk"])
    send.get_by_test_id("send").click()
    expect(page.locator(".messages")).to_contain_text("Sent to 3 addresses.")
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
        "calm@shop.example",
        "happy@shop.example",
        "sad@shop.example",
    ]
    english = _mail_to(smtp, "happy@shop.example")
    assert english.subject == "How are we doing?"
    assert english.body.startswith("Dear Happy Tea,")
    assert "Tell us how we did." in english.body
    chinese = _mail_to(smtp, "sad@shop.example")
    assert "尊敬的 Sad Tea：" in chinese.body  # in the customer's language
    assert "占用您两分钟" in chinese.body
    links = {a: _link(_mail_to(smtp, a)) for a in ("happy@shop.example", "sad@shop.example", "calm@shop.example")}
    assert all(link.startswith(f"{live_server.url}/s/") for link in links.values())
    assert len(set(links.values())) == 3  # a link of one's own

    # The happy customer forgets the score first: told so, nothing recorded; then answers.
    context = browser.new_context()
    customer = context.new_page()
    customer.on("response", lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    customer.goto(links["happy@shop.example"])
    expect(customer.get_by_role("heading", name="How are we doing?")).to_be_visible()
    expect(customer.get_by_text("Tell us how we did.")).to_be_visible()
    customer.get_by_label("WeChat", exact=True).check()
    customer.get_by_test_id("send").click()
    expect(customer.get_by_test_id("error")).to_have_text("Please correct the errors below.")
    expect(customer.locator("fieldset").first).to_contain_text("This field is required.")
    assert SurveyRecipient.objects.get(account=happy).answered_at is None
    customer.get_by_test_id("nps-10").check()
    customer.get_by_label("WeChat", exact=True).check()
    customer.locator("textarea").fill("Great tea, fast delivery.")
    customer.get_by_test_id("send").click()
    expect(customer.get_by_test_id("thanks")).to_have_text("Thank you: your answer is recorded.")
    customer.goto(links["happy@shop.example"])  # once: the link only thanks now
    expect(customer.get_by_test_id("thanks")).to_be_visible()
    expect(customer.locator("form")).to_have_count(0)
    context.close()

    # The unhappy customer reads it in Chinese and gives 3; the calm one gives 8.
    context = browser.new_context()
    customer = context.new_page()
    customer.on("response", lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    customer.goto(links["sad@shop.example"])
    expect(customer.locator("legend").first).to_contain_text("您向朋友或同事推荐我们的可能性有多大")
    expect(customer.locator("body")).not_to_contain_text("Great tea")  # nothing of anyone else's
    customer.get_by_test_id("nps-3").check()
    customer.get_by_label("Phone", exact=True).check()
    customer.locator("textarea").fill("送货太慢")
    customer.get_by_test_id("send").click()
    expect(customer.get_by_test_id("thanks")).to_have_text("谢谢，您的回答已记录。")
    context.close()
    _answer(browser, server_errors, links["calm@shop.example"], 8, choice="WeChat")
    rows = {r.account.code: (r.nps, r.answers) for r in SurveyRecipient.objects.select_related("account")}
    assert rows["HAPPY"] == (10, {"q1": "WeChat", "q2": "Great tea, fast delivery."})
    assert rows["SAD"] == (3, {"q1": "Phone", "q2": "送货太慢"})
    assert rows["CALM"] == (8, {"q1": "WeChat"})

    # The detractor's answer: a call-back for the account's owner, on their My day; nothing for the others.
    task = Task.objects.get(source=Task.SURVEY)
    assert (task.owner, task.account, task.status) == (staff.sales, unhappy, Task.OPEN)
    assert not Task.objects.filter(account__in=[happy, calm]).exists()

    # The survey's page: NPS (1 promoter, 1 passive, 1 detractor of 3: 0), by stage, over time, the answers.
    page.reload()
    expect(page.get_by_test_id("nps-score")).to_have_text("0.0")
    expect(page.get_by_test_id("answered")).to_have_text("3")
    nps = page.get_by_test_id("nps")
    expect(nps).to_contain_text("Promoters (9-10)")
    expect(nps.locator("div", has_text="Asked").locator("dd")).to_have_text("3")
    expect(nps.locator("div", has_text="Detractors (0-6)").locator("dd")).to_have_text("1")
    by_stage = page.get_by_test_id("nps-by-class").locator("tbody tr")
    expect(by_stage).to_have_count(2)
    expect(by_stage.filter(has_text="Loyal").locator("td")).to_have_text(["Loyal", "2", "50.0"])
    expect(by_stage.filter(has_text="At risk").locator("td")).to_have_text(["At risk", "1", "-100.0"])
    month = timezone.localdate().strftime("%Y-%m")
    expect(page.locator("h3", has_text="Over time")).to_be_visible()
    expect(page.get_by_test_id("nps-by-month").locator("tbody tr").locator("td")).to_have_text([month, "3", "0.0"])
    counts = page.locator("h3", has_text="Answers").locator("xpath=following-sibling::ul[1]")
    expect(counts).to_contain_text("How do you order?: Phone × 1, WeChat × 2")
    latest = page.get_by_test_id("survey-answers").locator("li")
    expect(latest).to_have_count(3)
    expect(page.get_by_test_id("survey-answers")).to_contain_text("Sad Tea · 3/10 · Phone · 送货太慢")
    expect(page.get_by_test_id("survey-answers")).to_contain_text(
        "Happy Tea · 10/10 · WeChat · Great tea, fast delivery."
    )
    page.locator(".mainnav a", has_text="Surveys").click()
    expect(page.get_by_test_id("surveys").locator("tbody tr").locator("td").nth(1)).to_have_text("3")
    expect(page.get_by_test_id("surveys").locator("tbody tr").locator("td").nth(2)).to_have_text("3")

    # The same page in Chinese.
    User.objects.filter(pk=staff.marketing.pk).update(language="zh-hans")
    page.goto(f"{live_server.url}/service/surveys/{survey.pk}/")
    expect(page.locator("#nps-title")).to_have_text("净推荐值")
    expect(nps).to_contain_text("推荐者（9-10）")
    expect(nps).to_contain_text("贬损者（0-6）")
    expect(nps.locator("div", has_text="已回答").locator("dd")).to_have_text("3")
    expect(page.locator("h3", has_text="按生命周期阶段")).to_be_visible()
    expect(by_stage.filter(has_text="忠诚客户").locator("td")).to_have_text(["忠诚客户", "2", "50.0"])
    expect(by_stage.filter(has_text="有流失风险").locator("td")).to_have_text(["有流失风险", "1", "-100.0"])
    expect(page.locator("h3", has_text="随时间变化")).to_be_visible()
    expect(page.locator("h3", has_text="回答")).to_be_visible()
    expect(page.locator("#answers-title")).to_have_text("最新回答")
    expect(page.locator("#send-title")).to_have_text("发送调查")
    expect(page.get_by_test_id("survey-send").get_by_test_id("send")).to_have_text("通过邮件发送")

    # The owner finds the call-back on My day, worded for them.
    page.context.clear_cookies()
    sign_in("sales")
    page.locator(".mainnav a", has_text="My day").click()
    row = page.get_by_test_id("upcoming").get_by_test_id("task-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sad Tea")
    expect(row).to_contain_text("Unhappy customer (3/10): call back")
    expect(row).to_contain_text("Survey")
    row.get_by_role("link", name="Unhappy customer (3/10): call back").click()
    expect(page.locator("p.prewrap")).to_contain_text("送货太慢")

    # A salesperson has no survey pages.
    expect(page.locator(".mainnav a", has_text="Surveys")).to_have_count(0)
    for path in ("/service/surveys/", "/service/surveys/new/", f"/service/surveys/{survey.pk}/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None
        assert response.status == 403
    assert server_errors == []


def test_a_detractor_of_six_opens_a_call_back_on_the_chinese_owners_my_day_and_a_seven_does_not(
    live_server, sign_in, page, browser, staff, smtp, server_errors
):
    assert staff.sales.language == "zh-hans"  # the staff's language unless they choose another
    make_account(staff.sales, code="SZ-TEA", name="深圳茶馆", email="sz@shop.example", language="zh-hans")
    make_account(staff.sales, code="GZ-TEA", name="广州茶行", email="gz@shop.example", language="zh-hans")
    make_account(staff.sales, code="XM-TEA", name="厦门茶庄")  # no address
    install_builtins()  # the lifecycle classification, with nobody placed in it yet
    surveys.survey_create(
        actor=staff.marketing,
        data={
            "name": "服务满意度",
            "questions": [
                {"kind": "choice", "text": "您通常如何下单？", "choices": ["电话", "微信"]},
                {"kind": "text", "text": "还有什么建议？"},
            ],
        },
    )

    # Marketing sends it, in Chinese, to every account with an address: no segment chosen.
    sign_in("marketing")
    page.locator(".mainnav a", has_text="满意度调查").click()
    expect(page.locator("h1")).to_have_text("满意度调查")
    page.get_by_role("link", name="服务满意度").click()
    expect(page.get_by_test_id("nps-score")).to_have_text("–")
    page.get_by_test_id("survey-send").get_by_test_id("send").click()
    expect(page.locator(".messages")).to_contain_text("已发送到 2 个地址。")
    assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["gz@shop.example", "sz@shop.example"]
    sz = _mail_to(smtp, "sz@shop.example")
    assert sz.subject == "服务满意度"
    assert sz.body.startswith("尊敬的 深圳茶馆：")

    _answer(browser, server_errors, _link(sz), 6, choice="电话", words="包装破损")
    _answer(browser, server_errors, _link(_mail_to(smtp, "gz@shop.example")), 7, choice="微信")
    task = Task.objects.get(source=Task.SURVEY)  # the 6 only: a 7 is passive
    assert task.account.code == "SZ-TEA"
    assert task.subject == "客户不满意（6/10）：请回访"  # worded for the owner, in their language

    page.reload()
    expect(page.get_by_test_id("nps-score")).to_have_text("-50.0")  # one detractor, one passive
    expect(page.get_by_test_id("survey-answers")).to_contain_text("深圳茶馆 · 6/10 · 电话 · 包装破损")
    expect(page.get_by_test_id("nps-by-class")).to_contain_text("未分类")  # no lifecycle stage known

    page.context.clear_cookies()
    sign_in("sales")
    expect(page.get_by_test_id("tasks-due")).to_have_count(0)  # due in two days, not today
    page.locator(".mainnav a", has_text="我的一天").click()
    expect(page.locator("#upcoming-title")).to_contain_text("未来 7 天")
    row = page.get_by_test_id("upcoming").get_by_test_id("task-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("深圳茶馆")
    expect(row).to_contain_text("客户不满意（6/10）：请回访")
    expect(row).to_contain_text("满意度调查")  # made by the survey
    expect(page.get_by_test_id("upcoming")).not_to_contain_text("广州茶行")
    assert server_errors == []


def test_a_questions_error_sits_on_that_questions_field(live_server, sign_in, page, staff, server_errors):
    User.objects.update(language="en")
    sign_in("marketing")
    page.goto(f"{live_server.url}/service/surveys/new/")
    page.fill("#id_name", "How are we doing?")
    page.fill("#id_q2_text", "How do you order?")
    page.select_option("#id_q2_kind", "choice")
    page.fill("#id_q2_choices", "Phone")
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_be_visible()
    expect(page.locator('[data-field="q2_choices"] .error')).to_have_text("Give at least two answers to choose from.")
    expect(page.locator(".errorbox")).not_to_contain_text("questions[")
    assert server_errors == []


def test_a_refused_answer_keeps_what_the_customer_gave(live_server, page, staff, server_errors):
    make_account(staff.sales, code="SHOP", email="shop@example.com", language="en")
    survey = surveys.survey_create(
        actor=staff.marketing,
        data={
            "name": "How are we doing?",
            "questions": [
                {"kind": "choice", "text": "How do you order?", "choices": ["Phone", "WeChat"]},
                {"kind": "text", "text": "Anything else?"},
            ],
        },
    )
    surveys.survey_send(actor=staff.marketing, survey=survey, target={})
    row = SurveyRecipient.objects.get()
    page.goto(f"{live_server.url}/s/{row.token}/")
    page.get_by_label("WeChat", exact=True).check()
    page.locator("textarea").fill("The spring tea was excellent.")
    page.get_by_test_id("send").click()  # no score
    expect(page.get_by_test_id("error")).to_be_visible()
    expect(page.get_by_label("WeChat", exact=True)).to_be_checked()
    expect(page.locator("textarea")).to_have_value("The spring tea was excellent.")
    assert server_errors == []


def test_the_number_asked_is_not_called_a_time_in_chinese(live_server, sign_in, page, staff):
    survey = surveys.survey_create(actor=staff.marketing, data={"name": "服务满意度", "questions": []})
    sign_in("marketing")
    page.goto(f"{live_server.url}/service/surveys/{survey.pk}/")
    label = page.get_by_test_id("nps").locator("dt").nth(1)
    expect(label).not_to_contain_text("时间")


def test_sending_to_a_segment_gone_meanwhile_says_why_nothing_was_sent(live_server, sign_in, page, staff, smtp):
    User.objects.update(language="en")
    shop = make_account(staff.sales, code="SHOP", email="shop@example.com", language="en")
    _place(shop, "loyal")
    survey = surveys.survey_create(actor=staff.marketing, data={"name": "How are we doing?", "questions": []})
    sign_in("marketing")
    page.goto(f"{live_server.url}/service/surveys/{survey.pk}/")
    page.get_by_test_id("survey-send").locator("#id_classes").select_option("lifecycle:loyal")
    Classification.objects.filter(key="lifecycle").delete()  # someone else removes it meanwhile
    page.get_by_test_id("survey-send").get_by_test_id("send").click()
    expect(page).to_have_url(f"{live_server.url}/service/surveys/{survey.pk}/")
    assert not SurveyRecipient.objects.exists()
    assert smtp.messages == []
    expect(page.locator(".messages .msg-error")).to_be_visible()
