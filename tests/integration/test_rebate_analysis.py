"""What a rebate program cost against its margin, and replays of changed terms over last year's orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from patron.domain.periods import Period, PeriodKind
from patron.domain.rebates import parse_terms
from patron.rebates import analysis, services
from patron.rebates.accrual import period_volumes
from patron.rebates.models import RebateProgram, RebateReplay
from patron.sales import services as sales
from patron.sales.models import ExchangeRate
from tests.factories import make_account, make_order, make_product

TERMS = {"threshold": "10000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}]}
RICHER = {"threshold": "5000", "tiers": [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "4"}]}
TODAY = dt.date(2026, 12, 6)  # last year's whole quarters: 2025-Q4 to 2026-Q3


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture
def world(staff: Any) -> Any:
    made = services.program_create(
        actor=staff.manager,
        data={"name": "Quarterly volume", "period_kind": "quarter", "effective_from": "2025-01-01", "terms": TERMS},
    )
    program = services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    tea = make_product(sku="OOLONG", price="1000.00", cost="800.00")  # a 20% margin
    a, b = make_account(staff.sales, code="SHOP-A"), make_account(staff.sales, code="SHOP-B")
    for shop in (a, b):
        services.agreement_create(actor=staff.manager, program=program, account=shop, signed_on="2025-01-01")
    big = make_order(staff.sales, a, [(tea, "27")], order_date=day("2025-11-10"))
    sales.return_create(
        actor=staff.sales, order=big, lines=[sales.ReturnLineInput(big.lines.get(), "2")], return_date=day("2026-01-05")
    )  # 25,000 left in 2025-Q4: 750 now, 1,000 richer
    make_order(staff.sales, a, [(tea, "12")], order_date=day("2026-02-01"))  # 240 either way
    make_order(staff.sales, b, [(tea, "8")], order_date=day("2026-05-05"))  # 0 now (below 10,000), 160 richer
    make_order(staff.sales, b, [(tea, "30")], order_date=day("2026-10-20"))  # this quarter: not replayed

    class World:
        pass

    w = World()
    w.program, w.a, w.b, w.tea = program, a, b, tea  # type: ignore[attr-defined]
    return w


def test_replay_periods_are_last_years_whole_periods():
    program = RebateProgram(period_kind="quarter", effective_from=day("2025-01-01"))
    assert [p.label() for p in analysis.replay_periods(program, TODAY)] == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    program.period_kind = "month"
    assert len(analysis.replay_periods(program, TODAY)) == 12
    program.period_kind = "year"
    assert [p.label() for p in analysis.replay_periods(program, TODAY)] == ["2025"]
    custom = RebateProgram(period_kind="custom", effective_from=day("2026-03-01"), effective_to=day("2027-03-01"))
    (span,) = analysis.replay_periods(custom, TODAY)
    assert (span.start, span.end) == (day("2025-03-01"), day("2026-03-01"))  # the same dates, a year earlier


def test_richer_tiers_replayed_over_last_year_cost_what_a_hand_computation_says(staff, world):
    made = analysis.replay_start(actor=staff.manager, program=world.program, terms=RICHER, today=TODAY)
    assert made.status == RebateReplay.DONE
    assert (made.source, made.accounts) == (RebateReplay.AGREEMENTS, 2)
    assert (made.first_day, made.last_day) == (day("2025-10-01"), day("2026-09-30"))
    result = made.result
    assert D(result["now"]["total"]["cost"]) == D("990.00")  # 750 + 240 + 0
    assert D(result["then"]["total"]["cost"]) == D("1400.00")  # 1,000 + 240 + 160
    assert D(result["now"]["total"]["margin"]) == D("9000.00")  # 20% of 25,000 + 12,000 + 8,000
    assert (result["now"]["accounts_paid"], result["then"]["accounts_paid"]) == (1, 2)
    assert result["then"]["tiers"]["2"]["cost"] == "1000.00"
    assert [c["code"] for c in result["changes"]] == ["SHOP-A", "SHOP-B"]  # +250, then +160
    texts = analysis.replay_reasons(result)
    assert [r.code for r in texts] == ["REPLAY_PROPOSED", "REPLAY_CURRENT", "REPLAY_COSTS_MORE"]
    assert texts[2].params["amount"].amount == D("410.00")


def test_the_replays_volumes_agree_with_what_settlement_sums(staff, world):
    ExchangeRate.objects.create(currency="USD", valid_from=day("2025-01-01"), rate=D("7.10"))
    usd = make_product(price="100.00", cost="55.55", currency="USD")
    sales.order_create(
        actor=staff.sales,
        account=world.a,
        lines=[sales.LineInput(product=usd, quantity="3")],
        order_date=day("2026-02-03"),
        currency="USD",
        confirm=True,
    )
    q1 = Period(day("2026-01-01"), day("2026-04-01"), PeriodKind.QUARTER)
    agreements = list(world.program.agreements.select_related("program"))
    settled = period_volumes(world.program, q1, agreements)
    _source, accounts = analysis.population(world.program, TODAY)
    replayed = analysis.account_volumes(parse_terms(TERMS), q1, accounts, "CNY")
    by_account = {a.account_id: settled[a.pk] for a in agreements if settled[a.pk].amount}
    assert replayed == by_account
    assert replayed[world.a.pk].amount == D("14130.00")  # 12,000 + 300 USD at 7.10


def test_products_left_out_by_the_proposed_terms_are_not_counted(staff, world):
    other = {**RICHER, "what": {"exclude_products": [world.tea.pk]}}
    made = analysis.replay_start(actor=staff.manager, program=world.program, terms=other, today=TODAY)
    assert made.result["then"]["total"]["cost"] == "0"
    assert made.result["now"]["total"]["cost"] == "990.00"


def test_a_program_without_agreements_is_replayed_over_the_accounts_it_is_open_to(staff, world):
    draft = services.program_create(
        actor=staff.manager,
        data={
            "name": "Only A",
            "period_kind": "quarter",
            "effective_from": "2027-01-01",
            "terms": TERMS,
            "eligibility": {"accounts": [world.a.pk]},
        },
    )
    made = analysis.replay_start(actor=staff.manager, program=draft, terms=RICHER, today=TODAY)
    assert (made.source, made.accounts) == (RebateReplay.ELIGIBLE, 1)
    assert made.result["then"]["total"]["cost"] == "1240.00"  # A's 1,000 + 240; B is not eligible


def test_bad_terms_are_refused_field_by_field_and_only_editors_replay(staff, world):
    with pytest.raises(ValidationError) as refused:
        analysis.replay_start(
            actor=staff.manager, program=world.program, terms={"tiers": [{"from": "x", "percent": "2"}]}, today=TODAY
        )
    assert "terms.tiers[0].from" in refused.value.message_dict
    assert not RebateReplay.objects.exists()
    with pytest.raises(PermissionDenied):
        analysis.replay_start(actor=staff.sales, program=world.program, terms=RICHER, today=TODAY)


def test_a_large_replay_goes_to_the_worker_and_a_failure_is_recorded(
    staff, world, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(analysis, "INLINE_ACCOUNTS", 1)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        made = analysis.replay_start(actor=staff.manager, program=world.program, terms=RICHER, today=TODAY)
    assert made.status == RebateReplay.QUEUED
    assert len(queued) == 1
    done = analysis.replay_perform(made.pk, today=TODAY)
    assert done.status == RebateReplay.DONE
    assert analysis.replay_perform(made.pk).status == RebateReplay.DONE  # claimed once only
    broken = RebateReplay.objects.create(
        program=world.program, terms={"tiers": "nonsense"}, first_day=TODAY, last_day=TODAY
    )
    failed = analysis.replay_perform(broken.pk, today=TODAY)
    assert failed.status == RebateReplay.FAILED
    assert failed.error


def test_cost_against_margin_per_period_and_tier_from_the_accruals(staff, world):
    costs = analysis.program_costs(world.program)
    by_period = {row["period"].label(): row["totals"] for row in costs["periods"]}
    assert by_period["2025-Q4"].cost == D("750.00")
    assert by_period["2025-Q4"].margin == D("5000.00")
    assert by_period["2025-Q4"].of_margin == D("15.0")
    assert by_period["2026-Q4"].cost == D("900.00")  # B's 30,000 this quarter at 3%, so far
    tiers = {row["tier"]: row["totals"] for row in costs["tiers"]}
    assert tiers[2].cost == D("1650.00")  # 750 + 900
    assert tiers[1].cost == D("240.00")
    assert tiers[0].cost == 0
    assert costs["total"].cost == D("1890.00")
    overview = analysis.programs_overview(day("2025-12-01"))
    assert overview[0]["program"] == world.program
    assert overview[0]["totals"].cost == D("1140.00")  # periods from 2026-Q1: 240 + 0 + 900


FIT = {  # the CDNOW estimates of Fader, Hardie and Lee, close to what a full segment run fits
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
    "interval_weeks": None,
}


def test_the_purchase_model_expects_spend_from_a_buyers_rhythm(staff):
    from patron.segments.churn import ChurnFit, expected_spend

    regular, once = make_account(staff.sales, code="REG"), make_account(staff.sales, code="ONCE")
    tea = make_product(price="100.00")
    for week in range(0, 40, 4):  # every four weeks
        make_order(staff.sales, regular, [(tea, "10")], order_date=day("2026-01-05") + dt.timedelta(weeks=week))
    make_order(staff.sales, once, [(tea, "10")], order_date=day("2025-02-01"))
    fit = ChurnFit.from_dict(FIT)
    found = expected_spend(day("2026-10-20"), [regular.pk, once.pk, 999_999], days=70, fit=fit)
    assert set(found) == {regular.pk, once.pk}  # the account that never bought is not guessed at
    assert found[regular.pk] > found[once.pk] > 0
    assert expected_spend(day("2026-10-20"), [regular.pk], days=70, fit=ChurnFit.from_dict({})) == {}


def test_the_program_page_shows_the_purchase_models_forecast_beside_the_run_rate(staff, world):
    from django.utils import timezone

    from patron.segments.models import SegmentRun
    from tests.api_client import as_user

    today = timezone.localdate()
    for back in (100, 70, 40, 10):
        make_order(staff.sales, world.a, [(world.tea, "5")], order_date=today - dt.timedelta(days=back))
    SegmentRun.objects.create(as_of=today, scope=SegmentRun.FULL, status=SegmentRun.DONE, churn_fit=FIT)
    page = as_user(staff.manager).get(f"/rebates/programs/{world.program.pk}/").content.decode()
    assert 'data-testid="forecast-model"' in page
    assert "purchase model: CNY" in page
