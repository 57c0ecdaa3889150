"""The rebate pages through Django's test client: programs, accruals, settlement review and approval,
and the customer's statement in the customer's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from patron.rebates import services
from patron.rebates.models import RebateProgram, RebateSettlement
from tests.api_client import as_user
from tests.factories import make_account, make_order, make_product

TERMS = {"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]}


@pytest.fixture
def world(staff: Any) -> Any:
    made = services.program_create(
        actor=staff.manager,
        data={"name": "Quarterly volume", "effective_from": "2026-01-01", "terms": TERMS},
    )
    program = services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    shop = make_account(staff.sales, code="SHOP-9", name="Harbour Tea", language="zh-hans")
    agreement = services.agreement_create(actor=staff.manager, program=program, account=shop, signed_on="2026-01-01")
    make_order(staff.sales, shop, [(make_product(sku="OOLONG", price="1000.00"), "12")], order_date=dt.date(2026, 2, 1))

    class World:
        pass

    w = World()
    w.program, w.shop, w.agreement = program, shop, agreement  # type: ignore[attr-defined]
    return w


def test_the_program_pages_show_terms_and_what_each_account_accrued(staff, world):
    listed = as_user(staff.sales).get(reverse("rebates:program_list"))
    assert listed.status_code == 200
    assert "Quarterly volume" in listed.content.decode()
    page = as_user(staff.manager).get(reverse("rebates:program_detail", args=[world.program.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Retroactive" in text
    assert "SHOP-9" in text
    assert (
        as_user(staff.sales3)
        .get(reverse("rebates:program_detail", args=[world.program.pk]))
        .content.decode()
        .count("SHOP-9")
        == 0
    )  # another salesperson's account is not shown
    assert as_user(staff.marketing).get(reverse("rebates:program_list")).status_code == 403


def test_the_statement_is_in_the_customers_language_and_adds_up(staff, world):
    url = reverse("rebates:statement", args=[world.agreement.pk, "2026-01-01"])
    chinese = as_user(staff.sales).get(url).content.decode()
    assert "返利对账单" in chinese
    assert "OOLONG" in chinese
    english = as_user(staff.sales).get(url + "?lang=en").content.decode()
    assert "Rebate statement" in english
    assert "CNY 12,000.00" in english  # the volume
    assert "CNY 240.00" in english  # 2% of it
    assert "CNY 8,000.00 more reaches tier 2." in english
    assert as_user(staff.sales3).get(url).status_code == 404
    assert as_user(staff.sales).get(reverse("rebates:statement", args=[world.agreement.pk, "Q1"])).status_code == 404
    beyond = reverse("rebates:statement", args=[world.agreement.pk, "9999-12-31"])  # its quarter ends past year 9999
    assert as_user(staff.sales).get(beyond).status_code == 404
    # An English-speaking salesperson prints the Chinese customer's statement: its notes are Chinese too.
    assert "CNY 8,000.00 即可达到第 2 档" in as_user(staff.sales, "en").get(url).content.decode()


def test_finance_settles_overrides_with_a_reason_and_someone_else_approves(staff, world):
    finance = as_user(staff.finance)
    run = finance.post(
        reverse("rebates:settlement_run", args=[world.program.pk]), {"day": "2026-01-15", "kind": "final"}
    )
    settlement = RebateSettlement.objects.get()
    assert run.status_code == 302
    assert run["Location"] == reverse("rebates:settlement_detail", args=[settlement.pk])
    page = finance.get(run["Location"]).content.decode()
    assert "CNY 240.00" in page
    assert 'data-testid="approve"' not in page  # who ran it cannot approve it
    line = settlement.lines.get()
    refused = finance.post(
        reverse("rebates:line_override", args=[line.pk]), {"amount": "250", "comment": ""}, follow=True
    )
    assert "Say why the amount is changed." in refused.content.decode()
    finance.post(reverse("rebates:line_override", args=[line.pk]), {"amount": "250", "comment": "Rounding agreed"})
    admin = as_user(staff.admin)
    assert 'data-testid="approve"' in admin.get(run["Location"]).content.decode()
    admin.post(reverse("rebates:settlement_approve", args=[settlement.pk]))
    admin.post(reverse("rebates:settlement_approve", args=[settlement.pk]))
    settlement.refresh_from_db()
    assert settlement.status == RebateSettlement.APPROVED
    assert settlement.lines.get().payout.amount == 250
    assert as_user(staff.sales).get(run["Location"]).status_code == 403
    bad = finance.post(reverse("rebates:settlement_run", args=[world.program.pk]), {"day": "someday"}, follow=True)
    assert "Give a date as YYYY-MM-DD." in bad.content.decode()


def test_the_statement_downloads_as_a_workbook_with_the_same_figures(staff, world):
    import io

    from openpyxl import load_workbook

    url = reverse("rebates:statement", args=[world.agreement.pk, "2026-01-01"]) + "?format=xlsx&lang=en"
    response = as_user(staff.sales).get(url)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[1][1].startswith("SO")  # the order's line
    assert rows[1][2] == "OOLONG"
    summary = {r[0]: r[6] for r in rows if r and r[0] in ("Volume", "Rebate", "Balance")}
    assert summary == {"Volume": 12000, "Rebate": 240, "Balance": 240}


def test_the_customer_confirms_receipt_once_from_the_link_without_signing_in(staff, world):
    from patron.rebates.settlement import settlement_approve, settlement_start

    settlement = settlement_start(actor=staff.finance, program=world.program, day=dt.date(2026, 1, 15))
    settlement_approve(actor=staff.admin, settlement=settlement)
    payout = settlement.lines.get().payout
    url = reverse("rebates:receipt", args=[payout.token])
    anonymous = Client()
    page = anonymous.get(url)
    assert page.status_code == 200
    assert "CNY 240.00" in page.content.decode()
    anonymous.post(url)
    payout.refresh_from_db()
    first = payout.confirmed_at
    assert first is not None
    anonymous.post(url)
    payout.refresh_from_db()
    assert payout.confirmed_at == first
    assert anonymous.get(reverse("rebates:receipt", args=["guessed-token"])).status_code == 404
    review = as_user(staff.finance).get(reverse("rebates:settlement_detail", args=[settlement.pk])).content.decode()
    assert "receipt confirmed" in review


def test_a_program_foresees_each_accounts_rebate_at_the_periods_end_from_its_run_rate(staff, world):
    import re
    from decimal import ROUND_HALF_UP, Decimal

    from django.utils import timezone

    from patron.domain.periods import PeriodKind, period_containing

    today = timezone.localdate()
    make_order(staff.sales, world.shop, [(make_product(price="1000.00"), "12")], order_date=today)
    quarter = period_containing(today, PeriodKind.QUARTER)
    foreseen = (Decimal(12000) * quarter.days / ((today - quarter.start).days + 1)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    rate = Decimal("0.03") if foreseen >= 20000 else Decimal("0.02")
    expected = (foreseen * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    page = as_user(staff.manager).get(reverse("rebates:program_detail", args=[world.program.pk])).content.decode()
    cell = re.search(r'data-testid="forecast">([^<]*)<', page)
    assert cell is not None
    assert cell.group(1).startswith(f"CNY {expected:,}")


def test_finance_marks_a_cash_payout_paid_from_the_review_page(staff, world):
    from patron.rebates.models import RebatePayout
    from patron.rebates.settlement import settlement_approve, settlement_start

    cash = services.program_create(
        actor=staff.manager,
        data={"name": "Cash back", "effective_from": "2026-01-01", "terms": TERMS, "payout_form": "cash"},
    )
    cash = services.program_set_status(actor=staff.manager, program=cash, status=RebateProgram.ACTIVE)
    services.agreement_create(actor=staff.manager, program=cash, account=world.shop, signed_on="2026-01-01")
    make_order(staff.sales, world.shop, [(make_product(price="1000.00"), "12")], order_date=dt.date(2026, 3, 1))
    settlement = settlement_start(actor=staff.finance, program=cash, day=dt.date(2026, 1, 15))
    settlement_approve(actor=staff.admin, settlement=settlement)
    payout = RebatePayout.objects.get(line__settlement=settlement)
    finance = as_user(staff.finance)
    page = finance.get(reverse("rebates:settlement_detail", args=[settlement.pk])).content.decode()
    assert 'data-testid="paid"' in page
    refused = finance.post(reverse("rebates:payout_paid", args=[payout.pk]), {"reference": ""}, follow=True)
    assert "Give the bank transfer" in refused.content.decode()
    finance.post(reverse("rebates:payout_paid", args=[payout.pk]), {"reference": "BOC-1"})
    payout.refresh_from_db()
    assert (payout.status, payout.reference) == (RebatePayout.DONE, "BOC-1")


def test_a_manager_writes_a_program_in_the_form_activates_it_and_signs_an_account(staff):
    manager = as_user(staff.manager)
    assert as_user(staff.sales).get(reverse("rebates:program_new")).status_code == 403
    form = {
        "name": "Spring volume",
        "period_kind": "quarter",
        "effective_from": "2026-01-01",
        "currency": "CNY",
        "basis": "amount",
        "mode": "incremental",
        "tier_kind": "percent",
        "threshold": "5000",
        "payout_form": "points",
        "settlement_lag_days": "30",
        "tier_from_0": "0",
        "tier_value_0": "1",
        "tier_from_2": "100",  # a gap in the rows, then a tier below the one before it
        "tier_value_2": "2",
        "tier_from_3": "50",
        "tier_value_3": "3",
    }
    refused = manager.post(reverse("rebates:program_new"), form)
    assert refused.status_code == 200
    text = refused.content.decode()
    assert "Must be above the previous tier" in text
    assert not RebateProgram.objects.exists()
    form.update(tier_from_3="20000")
    made = manager.post(reverse("rebates:program_new"), form)
    program = RebateProgram.objects.get()
    assert made["Location"] == reverse("rebates:program_detail", args=[program.pk])
    assert program.terms["tiers"] == [
        {"from": "0", "percent": "1"},
        {"from": "100", "percent": "2"},
        {"from": "20000", "percent": "3"},
    ]
    assert program.terms["mode"] == "incremental"
    manager.post(reverse("rebates:program_status", args=[program.pk]), {"status": "active"})
    program.refresh_from_db()
    assert program.status == RebateProgram.ACTIVE
    make_account(staff.sales, code="SPRING-1")
    signed = manager.post(
        reverse("rebates:agreement_add", args=[program.pk]),
        {"account": "SPRING-1", "signed_on": "2026-01-02"},
        follow=True,
    )
    assert "Agreement signed." in signed.content.decode()
    assert program.agreements.get().account.code == "SPRING-1"
    unknown = manager.post(
        reverse("rebates:agreement_add", args=[program.pk]), {"account": "NOPE", "signed_on": "2026-01-02"}, follow=True
    )
    assert "No account you can see has this code." in unknown.content.decode()
    edit = manager.get(reverse("rebates:program_edit", args=[program.pk])).content.decode()
    assert 'value="Spring volume"' in edit
    renamed = manager.post(reverse("rebates:program_edit", args=[program.pk]), {**form, "name": "Spring volume 2026"})
    assert renamed.status_code == 302
    program.refresh_from_db()
    assert (program.name, program.terms["mode"]) == ("Spring volume 2026", "incremental")


def _testid_texts(html: str, testid: str) -> list[str]:
    import re

    found = re.findall(rf'data-testid="{testid}"[^>]*>(.*?)</', html, flags=re.S)
    return [re.sub(r"<[^>]+>", "", f).strip() for f in found]


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_statement_pdf_opens_and_shows_the_pages_figures(staff, world, language):
    """Paid before and a balance too: a partial settlement was approved, then the account bought more."""
    import io

    from pypdf import PdfReader

    from patron.rebates.settlement import settlement_approve, settlement_start

    partial = settlement_start(
        actor=staff.finance, program=world.program, day=dt.date(2026, 2, 15), kind=RebateSettlement.PARTIAL
    )
    settlement_approve(actor=staff.admin, settlement=partial)
    make_order(
        staff.sales, world.shop, [(make_product(sku="PUERH", price="2500.00"), "4")], order_date=dt.date(2026, 3, 2)
    )
    url = reverse("rebates:statement", args=[world.agreement.pk, "2026-01-01"])
    client = as_user(staff.sales)
    page = client.get(f"{url}?lang={language}").content.decode()
    response = client.get(f"{url}?format=pdf&lang={language}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    reader = PdfReader(io.BytesIO(response.content))
    text = "\n".join(p.extract_text() for p in reader.pages)
    figures = {k: _testid_texts(page, k)[0] for k in ("volume", "tier", "rebate", "paid", "balance", "lines-total")}
    assert figures["volume"] == "CNY 22,000.00"
    assert figures["rebate"] == "CNY 660.00"  # tier 2: 3% of all of it
    assert figures["paid"] == "CNY 240.00"  # the partial settlement's 2% of 12,000
    assert figures["balance"] == "CNY 420.00"
    for figure in figures.values():
        assert figure in text
    assert "SHOP-9" in text
    assert "OOLONG" in text
    assert "PUERH" in text
    assert ("Rebate statement" if language == "en" else "返利对账单") in text
    assert ("Balance" if language == "en" else "余额") in text


def test_an_agreement_gets_its_own_tiers_from_its_page_and_the_accrual_follows(staff, world):
    from patron.rebates.models import RebateAccrual

    url = reverse("rebates:agreement_detail", args=[world.agreement.pk])
    page = as_user(staff.sales).get(url)
    assert page.status_code == 200
    assert 'data-testid="agreement-edit"' not in page.content.decode()  # salespeople read
    own = {
        "own_terms": "on",
        "mode": "retroactive",
        "tier_kind": "percent",
        "threshold": "0",
        "tier_from_0": "0",
        "tier_value_0": "5",
    }
    manager = as_user(staff.manager)
    saved = manager.post(url, own)
    assert saved.status_code == 302
    world.agreement.refresh_from_db()
    assert world.agreement.terms == {"mode": "retroactive", "threshold": "0", "tiers": [{"from": "0", "percent": "5"}]}
    assert "the account's own" in manager.get(url).content.decode()
    bad = manager.post(url, {**own, "tier_value_0": "lots", "valid_to": "2025-01-01"})
    assert bad.status_code == 400
    assert 'data-testid="tier-error"' in bad.content.decode()
    assert (
        manager.post(url, {"mode": "retroactive", "tier_kind": "percent"}).status_code == 302
    )  # back to the program's
    world.agreement.refresh_from_db()
    assert world.agreement.terms is None
    assert as_user(staff.sales).post(url, own).status_code == 403
    assert as_user(staff.sales3).get(url).status_code == 404
    assert RebateAccrual.objects.filter(agreement=world.agreement).exists()


def test_a_program_names_its_products_and_who_may_sign_from_the_form(staff):
    from patron.accounts.models import Region

    north = Region.objects.create(code="N", name_zh="北方", name_en="North")
    make_product(sku="OOLONG-9", price="10.00")
    make_account(staff.sales, code="VIP-1", name="VIP")
    data = {
        "name": "Oolong only",
        "period_kind": "quarter",
        "effective_from": "2026-01-01",
        "currency": "CNY",
        "basis": "amount",
        "mode": "retroactive",
        "tier_kind": "percent",
        "threshold": "0",
        "tier_from_0": "0",
        "tier_value_0": "2",
        "payout_form": "credit_note",
        "settlement_lag_days": "30",
        "products": "OOLONG-9",
        "regions": [str(north.pk)],
        "accounts": "VIP-1",
    }
    manager = as_user(staff.manager)
    assert manager.post(reverse("rebates:program_new"), data).status_code == 302
    program = RebateProgram.objects.get(name="Oolong only")
    assert program.terms["what"]["products"] == [program.terms["what"]["products"][0]]
    assert program.eligibility["regions"] == [north.pk]
    edit = manager.get(reverse("rebates:program_edit", args=[program.pk])).content.decode()
    assert "OOLONG-9" in edit
    unknown = manager.post(reverse("rebates:program_new"), {**data, "name": "Bad", "products": "NOPE-1"})
    assert "No product has the SKU NOPE-1." in unknown.content.decode()


def test_an_active_programs_fixed_terms_are_refused_in_the_form_not_silently_dropped(staff, world):
    form = as_user(staff.manager).get(reverse("rebates:program_edit", args=[world.program.pk]))
    text = form.content.decode()
    assert 'value="2026-01-01"' in text  # dates as the browser's date box reads them, in any language
    data = {
        "name": "Quarterly volume, renamed",
        "period_kind": "quarter",
        "effective_from": "2026-01-01",
        "currency": "CNY",
        "basis": "amount",
        "mode": "retroactive",
        "tier_kind": "percent",
        "threshold": "10000",
        "tier_from_0": "0",
        "tier_value_0": "2",
        "tier_from_1": "20000",
        "tier_value_1": "3",
        "payout_form": "credit_note",
        "settlement_lag_days": "30",
    }
    manager = as_user(staff.manager, "zh-hans")
    assert manager.post(reverse("rebates:program_edit", args=[world.program.pk]), data).status_code == 302
    world.program.refresh_from_db()
    assert world.program.name == "Quarterly volume, renamed"
    changed = manager.post(reverse("rebates:program_edit", args=[world.program.pk]), {**data, "tier_value_1": "4"})
    assert changed.status_code == 200
    assert (
        "close it and start a new one"
        in as_user(staff.manager)
        .post(reverse("rebates:program_edit", args=[world.program.pk]), {**data, "tier_value_1": "4"})
        .content.decode()
    )
    world.program.refresh_from_db()
    assert world.program.terms["tiers"][1]["percent"] == "3"
