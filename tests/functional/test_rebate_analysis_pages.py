"""The rebate analysis pages through the test client: cost against margin, and replaying changed terms."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from patron.domain.periods import PeriodKind, period_containing, previous_period
from patron.rebates import services
from patron.rebates.models import RebateProgram, RebateReplay
from tests.api_client import as_user
from tests.factories import make_account, make_order, make_product

TERMS = {"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]}
RICHER = {
    "basis": "amount",
    "mode": "retroactive",
    "tier_kind": "percent",
    "threshold": "5000",
    "cap": "",
    "tier_from_0": "0",
    "tier_value_0": "2",
    "tier_from_1": "20000",
    "tier_value_1": "4",
}


@pytest.fixture
def program(staff: Any) -> RebateProgram:
    last_quarter = previous_period(period_containing(timezone.localdate(), PeriodKind.QUARTER))
    made = services.program_create(
        actor=staff.manager,
        data={"name": "Quarterly volume", "effective_from": "2024-01-01", "terms": TERMS},
    )
    program = services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    shop = make_account(staff.sales, code="SHOP-7", name="Harbour Tea")
    services.agreement_create(actor=staff.manager, program=program, account=shop, signed_on="2024-01-01")
    tea = make_product(sku="OOLONG", price="1000.00", cost="800.00")
    make_order(staff.sales, shop, [(tea, "25")], order_date=last_quarter.start)
    return program


def test_managers_and_finance_read_cost_against_margin_and_salespeople_do_not(staff, program):
    overview = as_user(staff.finance).get(reverse("rebates:analysis"))
    assert overview.status_code == 200
    assert "Quarterly volume" in overview.content.decode()
    assert "CNY 750.00" in overview.content.decode()  # 3% of 25,000
    page = as_user(staff.manager).get(reverse("rebates:program_analysis", args=[program.pk]))
    text = page.content.decode()
    assert 'data-testid="period-row"' in text
    assert "15.0%" in text  # 750 of a 5,000 margin
    assert 'data-testid="period-chart"' in text
    assert 'data-testid="replay-form"' in text
    finance_page = as_user(staff.finance).get(reverse("rebates:program_analysis", args=[program.pk])).content
    assert b'data-testid="replay-form"' not in finance_page  # finance reads, managers replay
    assert as_user(staff.sales).get(reverse("rebates:analysis")).status_code == 403
    assert as_user(staff.sales).get(reverse("rebates:program_analysis", args=[program.pk])).status_code == 403


def test_a_manager_replays_richer_tiers_and_reads_the_answer(staff, program):
    client = as_user(staff.manager)
    posted = client.post(reverse("rebates:program_analysis", args=[program.pk]), RICHER)
    made = RebateReplay.objects.get()
    assert posted.status_code == 302
    assert posted["Location"] == reverse("rebates:replay_detail", args=[made.pk])
    text = client.get(posted["Location"]).content.decode()
    assert "they would have cost CNY 1,000.00; accounts paid: 1." in text  # 4% of 25,000
    assert "The program as it stands cost CNY 750.00" in text
    assert "CNY 250.00 more" in text
    assert "SHOP-7" in text
    assert 'data-testid="replay-chart"' in text
    chinese = as_user(staff.manager, "zh-hans").get(posted["Location"]).content.decode()
    assert "照此条款回测" in chinese


def test_bad_terms_stay_on_the_form_with_the_error_beside_the_tier(staff, program):
    bad = {**RICHER, "tier_from_1": "lots"}
    response = as_user(staff.manager).post(reverse("rebates:program_analysis", args=[program.pk]), bad)
    assert response.status_code == 400
    assert 'data-testid="tier-error"' in response.content.decode()
    assert not RebateReplay.objects.exists()
    refused = as_user(staff.finance).post(reverse("rebates:program_analysis", args=[program.pk]), RICHER)
    assert refused.status_code == 403


def test_amounts_typed_with_thousands_separators_are_read_and_letters_refused_in_the_readers_words(staff, program):
    typed = {**RICHER, "threshold": "5,000", "tier_from_1": "20，000"}
    posted = as_user(staff.manager).post(reverse("rebates:program_analysis", args=[program.pk]), typed)
    assert posted.status_code == 302
    assert RebateReplay.objects.get().terms["tiers"][1]["from"] == "20000"
    bad = {**RICHER, "tier_from_1": "lots"}
    chinese = as_user(staff.manager, "zh-hans").post(reverse("rebates:program_analysis", args=[program.pk]), bad)
    assert "应为数字" in chinese.content.decode()
    empty = {**RICHER, "tier_from_0": "", "tier_value_0": "", "tier_from_1": "", "tier_value_1": ""}
    refused = as_user(staff.manager).post(reverse("rebates:program_analysis", args=[program.pk]), empty)
    text = refused.content.decode()
    assert "terms.tiers" not in text  # the error sits beside the first tier, not as a field path
    assert 'data-testid="tier-error"' in text
