"""The pipeline in Chinese, in headless Chromium: a salesperson opens an opportunity from the account page,
names the decision maker, attaches a quote (a refused kind of file first), moves it across the board to won,
sees a lost move without a reason refused on the reason field, and reads the stage history and the forecast;
the manager sees the team's opportunities on the board, another team's salesperson finds no page.

Every word checked is the Chinese of src/patron/locale/zh_Hans/LC_MESSAGES/django.po.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patron.accounts.models import Contact
from patron.pipeline import services
from patron.pipeline.models import Opportunity
from patron.staff.models import User
from tests.factories import make_account
from tests.functional.conftest import field_error

pytestmark = pytest.mark.browser

# A small but well-formed PDF: one empty page.
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def _open(owner: User, account: Any, name: str, amount: str = "50000.00", **extra: Any) -> Opportunity:
    close = timezone.localdate() + dt.timedelta(days=30)
    return services.opportunity_create(
        actor=owner,
        account=account,
        data={"name": name, "amount": amount, "expected_close": close, "owner": owner.username, **extra},
    )


def _card(page: Any, name: str) -> Any:
    return page.locator(f'[data-testid="card"][data-name="{name}"]')


def test_a_salesperson_works_an_opportunity_in_chinese_from_the_account_to_won_and_the_forecast(
    live_server, sign_in, page, staff, server_errors, tmp_path
):
    assert staff.sales.language == "zh-hans"  # the staff's language unless they choose another
    account = make_account(staff.sales, code="HZ-TEA", name="杭州茶厂", is_key_account=True)
    wang = Contact.objects.create(account=account, name="王总", role="decider")

    sign_in("sales")
    page.goto(f"{live_server.url}/accounts/HZ-TEA/")
    panel = page.get_by_test_id("account-opportunities")
    expect(panel.locator("h2")).to_contain_text("进行中的商机")
    expect(panel).to_contain_text("没有进行中的商机。")
    expect(page.get_by_test_id("new-opportunity")).to_contain_text("新建商机")
    page.get_by_test_id("new-opportunity").click()
    expect(page.locator("h1")).to_contain_text("新建商机")
    expect(page.locator("h1")).to_contain_text("杭州茶厂")

    # Nothing named and a bad amount: each field says what is wrong, in Chinese; nothing is saved.
    page.get_by_label("金额").fill("12,3.4.5")
    page.get_by_test_id("save").click()
    expect(page.locator(".errorbox")).to_contain_text("请修正以下错误。")
    expect(field_error(page, "name")).to_have_text("此项为必填项。")
    expect(field_error(page, "amount")).to_have_text("请输入金额，如 120000.00，小数位不超过该币种的位数。")
    assert Opportunity.objects.count() == 0

    page.get_by_label("名称").fill("食堂供应 2027")
    page.get_by_label("金额").fill("120000.00")
    close = timezone.localdate() + dt.timedelta(days=20)
    page.get_by_label("预计成交").fill(close.isoformat())
    page.get_by_test_id("save").click()
    expect(page.locator(".messages")).to_contain_text("商机已创建。")
    expect(page.get_by_test_id("stage")).to_have_text("资格确认")
    opportunity = Opportunity.objects.get()
    assert (opportunity.owner, opportunity.stage, opportunity.account) == (staff.sales, "qualification", account)
    expect(page).to_have_url(f"{live_server.url}/pipeline/{opportunity.pk}/")

    # The decision maker: no contact chosen first, then Mr Wang as the decision maker who supports us.
    form = page.get_by_test_id("person-form")
    expect(page.locator("#people-title")).to_contain_text("决策人")
    form.get_by_label("决策角色").select_option("decision_maker")
    page.get_by_test_id("add-person").click()
    expect(field_error(page.get_by_test_id("person-form"), "contact")).to_be_visible()
    assert not opportunity.decision_makers.exists()
    form = page.get_by_test_id("person-form")
    form.get_by_label("联系人").select_option(str(wang.pk))
    form.get_by_label("决策角色").select_option("decision_maker")
    form.get_by_label("态度").select_option("supporter")
    page.get_by_test_id("add-person").click()
    expect(page.locator(".messages")).to_contain_text("决策人已保存。")
    person = page.get_by_test_id("decision-maker")
    expect(person).to_have_count(1)
    expect(person).to_contain_text("王总")
    expect(person).to_contain_text("决策人")
    expect(person).to_contain_text("支持我们")
    assert opportunity.decision_makers.get().role == "decision_maker"

    # A document: a program is refused on the file field, the quote as a PDF is kept.
    program = tmp_path / "quote.exe"
    program.write_bytes(b"MZ not a document")
    documents = page.get_by_test_id("document-form")
    documents.get_by_label("文件").set_input_files(str(program))
    page.get_by_test_id("attach").click()
    file_error = field_error(page.get_by_test_id("document-form"), "file")
    expect(file_error).to_contain_text("请附加以下类型之一的文档")
    expect(file_error).to_contain_text(".pdf")
    assert not opportunity.documents.exists()
    quote = tmp_path / "报价单.pdf"
    quote.write_bytes(PDF)
    documents = page.get_by_test_id("document-form")
    documents.get_by_label("类型").select_option("quote")
    documents.get_by_label("文件").set_input_files(str(quote))
    page.get_by_test_id("attach").click()
    expect(page.locator(".messages")).to_contain_text("文档已附加。")
    document = page.get_by_test_id("document")
    expect(document).to_have_count(1)
    expect(document).to_contain_text("报价单")
    expect(document).to_contain_text("报价")
    stored = opportunity.documents.get()
    assert (stored.file_name, stored.file_size) == ("报价单.pdf", len(PDF))
    assert services.document_path(stored).read_bytes() == PDF

    # Across the board, in Chinese, card by card.
    page.locator(".mainnav a", has_text="销售管道").click()
    expect(page.locator("h1")).to_contain_text("销售管道")
    expect(page.get_by_test_id("column-qualification").locator("h2")).to_contain_text("资格确认")
    expect(page.get_by_test_id("column-qualification").get_by_test_id("card")).to_contain_text("食堂供应 2027")
    for stage, column, label in (
        ("proposal", "column-proposal", "方案/报价"),
        ("negotiation", "column-negotiation", "谈判"),
        ("won", "column-won", "赢单"),
    ):
        card = _card(page, "食堂供应 2027")
        card.locator("select[name=stage]").select_option(stage)
        expect(card.get_by_test_id("move")).to_have_text("转移")
        card.get_by_test_id("move").click()
        expect(page.get_by_test_id(column).locator("h2")).to_contain_text(label)
        expect(page.get_by_test_id(column).get_by_test_id("card")).to_contain_text("食堂供应 2027")
    expect(page.get_by_test_id("move-error")).to_have_count(0)
    opportunity.refresh_from_db()
    assert (opportunity.stage, opportunity.probability) == ("won", 100)
    assert list(opportunity.stage_changes.values_list("to_stage", flat=True)) == [
        "qualification",
        "proposal",
        "negotiation",
        "won",
    ]

    # The stage history, on the opportunity's page.
    _card(page, "食堂供应 2027").get_by_role("link", name="食堂供应 2027").click()
    expect(page.get_by_test_id("stage")).to_have_text("赢单")
    expect(page.get_by_test_id("probability")).to_have_text("100%")
    expect(page.locator("#history-title")).to_have_text("阶段历史")
    history = page.get_by_test_id("stage-change")
    expect(history).to_have_count(4)
    moves = (("–", "资格确认"), ("资格确认", "方案/报价"), ("方案/报价", "谈判"), ("谈判", "赢单"))
    for row, (before, after) in enumerate(moves):
        expect(history.nth(row).locator("td").nth(1)).to_have_text(before)
        expect(history.nth(row).locator("td").nth(2)).to_have_text(after)
    expect(page.get_by_test_id("time-in-stages")).to_contain_text("资格确认")
    expect(page.locator("h3", has_text="各阶段停留时间")).to_be_visible()

    # The forecast: the won deal in full.
    page.locator(".mainnav a", has_text="销售管道").click()
    page.get_by_test_id("to-forecast").click()
    expect(page.locator("h1")).to_contain_text("预测")
    expect(page.get_by_test_id("forecast-total")).to_contain_text("加权预测")
    expect(page.get_by_test_id("forecast-total")).to_contain_text("赢单")
    expect(page.get_by_test_id("forecast-chart")).to_be_visible()
    # Django's Chinese number format groups no thousands (the English page reads 120,000.00).
    expect(page.get_by_test_id("total-won")).to_have_text("120000.00")
    expect(page.get_by_test_id("total-weighted")).to_have_text("120000.00")
    expect(page.locator("#stage-title")).to_have_text("按阶段")
    expect(page.get_by_test_id("forecast-stages")).to_contain_text("赢单")
    expect(page.get_by_test_id("forecast-owners")).to_contain_text(staff.sales.display_name())
    assert server_errors == []


def test_a_lost_move_without_a_reason_is_refused_on_the_reason_field_in_chinese(
    live_server, sign_in, page, staff, server_errors
):
    account = make_account(staff.sales, code="SZ-TEA", name="深圳茶馆")
    lost = _open(staff.sales, account, "春季茶会")

    sign_in("sales")
    page.locator(".mainnav a", has_text="销售管道").click()
    card = _card(page, "春季茶会")
    expect(card.locator("input[name=lost_reason]")).to_have_attribute("placeholder", "输单原因？")
    card.locator("select[name=stage]").select_option("lost")
    card.get_by_test_id("move").click()
    error = page.get_by_test_id("move-error")
    expect(error).to_contain_text("春季茶会")
    expect(error).to_contain_text("输单原因")  # the field it is about
    expect(error).to_contain_text("请说明输单原因。")
    expect(page.get_by_test_id("column-qualification").get_by_test_id("card")).to_contain_text("春季茶会")
    lost.refresh_from_db()
    assert lost.stage == "qualification"

    # The same on the opportunity's page: the error is on the reason field.
    page.goto(f"{live_server.url}/pipeline/{lost.pk}/")
    move = page.get_by_test_id("move-form")
    expect(move.locator("h2")).to_have_text("转到其他阶段")
    move.get_by_label("转到").select_option("lost")
    move.get_by_test_id("move").click()
    move = page.get_by_test_id("move-form")
    expect(move.locator(".errorbox")).to_contain_text("请修正以下错误。")
    expect(field_error(move, "lost_reason")).to_have_text("请说明输单原因。")
    expect(move.locator('[data-field="lost_reason"] label')).to_contain_text("输单原因")
    expect(page.get_by_test_id("stage")).to_have_text("资格确认")

    move.get_by_label("转到").select_option("lost")
    move.get_by_label("输单原因").fill("价格高于竞争对手")
    move.get_by_test_id("move").click()
    expect(page.get_by_test_id("stage")).to_have_text("输单")
    expect(page.get_by_test_id("lost-reason")).to_have_text("价格高于竞争对手")
    expect(page.get_by_test_id("stage-change").last).to_contain_text("价格高于竞争对手")
    lost.refresh_from_db()
    assert (lost.stage, lost.lost_reason, lost.probability) == ("lost", "价格高于竞争对手", 0)
    page.locator(".mainnav a", has_text="销售管道").click()
    expect(page.get_by_test_id("column-lost").locator("h2")).to_contain_text("输单")
    expect(page.get_by_test_id("column-lost").get_by_test_id("card")).to_contain_text("春季茶会")
    assert server_errors == []


def test_the_manager_sees_the_teams_opportunities_and_another_team_finds_no_page(
    live_server, sign_in, page, staff, server_errors
):
    south = make_account(staff.sales, code="SZ-TEA", name="深圳茶馆")
    south2 = make_account(staff.sales2, code="DG-TEA", name="东莞茶行")
    north = make_account(staff.sales3, code="BJ-TEA", name="北京茶庄")
    mine = _open(staff.sales, south, "深圳年度合同", amount="80000.00")
    _open(staff.sales2, south2, "东莞门店升级", amount="30000.00", stage="proposal")
    _open(staff.sales3, north, "北京新店", amount="60000.00")

    sign_in("manager")
    page.locator(".mainnav a", has_text="销售管道").click()
    board = page.get_by_test_id("board")
    expect(board.get_by_test_id("card")).to_have_count(2)  # South's two, not North's
    expect(page.get_by_test_id("column-qualification").get_by_test_id("card")).to_contain_text("深圳年度合同")
    expect(page.get_by_test_id("column-proposal").get_by_test_id("card")).to_contain_text("东莞门店升级")
    expect(board).not_to_contain_text("北京新店")
    # The owner filter narrows it to one of the team.
    page.get_by_test_id("board-filter").locator("select[name=owner]").select_option("sales2")
    page.get_by_test_id("board-filter").locator("button").click()
    expect(board.get_by_test_id("card")).to_have_count(1)
    expect(board.get_by_test_id("card")).to_contain_text("东莞门店升级")
    # The manager may open a team member's opportunity.
    page.goto(f"{live_server.url}/pipeline/{mine.pk}/")
    expect(page.get_by_test_id("stage")).to_have_text("资格确认")

    # North's salesperson: not on their board, and no page at all.
    page.context.clear_cookies()
    sign_in("sales3")
    page.locator(".mainnav a", has_text="销售管道").click()
    expect(page.get_by_test_id("board").get_by_test_id("card")).to_have_count(1)
    expect(page.get_by_test_id("board")).to_contain_text("北京新店")
    response = page.goto(f"{live_server.url}/pipeline/{mine.pk}/")
    assert response is not None
    assert response.status == 404
    response = page.goto(f"{live_server.url}/pipeline/new/?account=SZ-TEA")
    assert response is not None
    assert response.status == 404
    assert server_errors == []


def test_the_stage_history_headers_name_stages_not_dates_in_chinese(live_server, sign_in, page, staff):
    account = make_account(staff.sales, code="SZ-TEA", name="深圳茶馆")
    deal = _open(staff.sales, account, "春季茶会")
    services.opportunity_move(actor=staff.sales, opportunity=deal, stage="proposal")

    sign_in("sales")
    page.goto(f"{live_server.url}/pipeline/{deal.pk}/")
    headers = page.get_by_test_id("stage-history").locator("thead th")
    expect(headers.nth(1)).not_to_contain_text("日期")
    expect(headers.nth(2)).not_to_contain_text("日期")
