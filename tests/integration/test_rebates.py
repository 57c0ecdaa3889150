"""Rebate programs and agreements on the database: accruals kept current as orders, cancellations
and returns are recorded, and equal to what the documents add up to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from patron.audit.models import AuditEvent
from patron.core.errors import Conflict
from patron.rebates import services
from patron.rebates.accrual import accrual_result, accruals_rebuild
from patron.rebates.models import RebateAccrual, RebateAgreement, RebateProgram
from patron.sales import services as sales
from patron.sales.models import Category, ExchangeRate
from tests.factories import make_account, make_order, make_product, make_region_tree

BANDS = [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}, {"from": "50000", "percent": "4"}]
TERMS = {"basis": "amount", "mode": "retroactive", "threshold": "10000", "tiers": BANDS}
Q1 = dt.date(2026, 1, 1)


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


@pytest.fixture
def program(staff: Any) -> RebateProgram:
    made = services.program_create(
        actor=staff.manager,
        data={"name": "Quarterly volume", "period_kind": "quarter", "effective_from": "2026-01-01", "terms": TERMS},
    )
    return services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)


@pytest.fixture
def shop(staff: Any, program: RebateProgram) -> Any:
    account = make_account(staff.sales)
    services.agreement_create(actor=staff.manager, program=program, account=account, signed_on="2025-12-20")

    class Shop:
        pass

    s = Shop()
    s.account = account
    s.unit = make_product(price="1000.00", cost="600.00")  # type: ignore[attr-defined]
    return s


def accrual(shop: Any, start: dt.date = Q1) -> RebateAccrual:
    return RebateAccrual.objects.get(agreement__account=shop.account, period_start=start)


def buy(staff: Any, shop: Any, units: str, when: str, **kw: Any) -> Any:
    return make_order(staff.sales, shop.account, [(kw.pop("product", shop.unit), units)], order_date=day(when), **kw)


def test_confirmed_orders_accrue_as_they_are_recorded_and_cross_tiers(staff, shop):
    buy(staff, shop, "12", "2026-01-10")
    row = accrual(shop)
    assert (row.amount, row.earned, row.tier) == (D("12000"), D("240.00"), 1)  # 2% of 12,000
    assert row.profit == D("4800")  # 12 x (1,000 - 600)
    buy(staff, shop, "9", "2026-03-20")
    row = accrual(shop)
    assert (row.amount, row.earned, row.tier) == (D("21000"), D("630.00"), 2)  # 3% of 21,000
    result = accrual_result(row)
    assert result.next_tier is not None
    assert result.next_tier.params["missing"].amount == D("29000")  # to 50,000 for 4%
    buy(staff, shop, "5", "2026-04-02")  # the next quarter
    assert accrual(shop, day("2026-04-01")).amount == D("5000")
    assert accrual(shop).amount == D("21000")


def test_a_draft_order_accrues_nothing_until_confirmed_and_a_cancellation_takes_it_back(staff, shop):
    order = buy(staff, shop, "12", "2026-01-10", confirm=False)
    assert not RebateAccrual.objects.filter(period_start=Q1).exists()
    sales.order_confirm(actor=staff.sales, order=order)
    sales.order_confirm(actor=staff.sales, order=order)  # twice is once
    assert accrual(shop).amount == D("12000")
    sales.order_cancel(actor=staff.sales, order=order, reason="customer changed mind")
    row = accrual(shop)
    assert (row.amount, row.earned, row.tier) == (D("0"), D("0.00"), 0)


def test_a_return_after_the_period_reduces_the_period_of_its_order(staff, shop):
    order = buy(staff, shop, "21", "2026-03-20")
    assert accrual(shop).earned == D("630.00")
    line = order.lines.get()
    sales.return_create(
        actor=staff.sales, order=order, lines=[sales.ReturnLineInput(line, "2")], return_date=day("2026-04-05")
    )
    row = accrual(shop)
    assert (row.amount, row.earned, row.tier) == (D("19000"), D("380.00"), 1)  # below 20,000: back to 2%
    assert not RebateAccrual.objects.filter(period_start=day("2026-04-01")).exists()


def test_the_incremental_accrual_equals_the_documents_summed_afresh(staff, shop, program):
    first = buy(staff, shop, "12", "2026-01-10")
    buy(staff, shop, "30", "2026-02-11")
    cancelled = buy(staff, shop, "7", "2026-02-12")
    sales.order_cancel(actor=staff.sales, order=cancelled)
    sales.return_create(actor=staff.sales, order=first, lines=[sales.ReturnLineInput(first.lines.get(), "3")])
    kept = {f: getattr(accrual(shop), f) for f in ("amount", "quantity", "profit", "earned", "tier")}
    RebateAccrual.objects.all().delete()
    assert accruals_rebuild(program, day("2026-02-01")) == 1
    assert {f: getattr(accrual(shop), f) for f in kept} == kept
    assert kept["amount"] == D("39000")
    assert kept["earned"] == D("1170.00")


def test_only_the_programs_products_count(staff, program):
    tea = Category.objects.create(code="TEA", name_zh="茶", name_en="Tea")
    green = Category.objects.create(code="GREEN", name_zh="绿茶", name_en="Green", parent=tea)
    scoped = services.program_create(
        actor=staff.manager,
        data={
            "name": "Tea",
            "effective_from": "2026-01-01",
            "terms": {**TERMS, "threshold": "0", "what": {"categories": [tea.pk]}},
        },
    )
    services.program_set_status(actor=staff.manager, program=scoped, status="active")
    account = make_account(staff.sales)
    services.agreement_create(actor=staff.manager, program=scoped, account=account, signed_on="2026-01-01")
    leaf = make_product(price="100.00", category=green)
    cups = Category.objects.create(code="CUPS", name_zh="杯", name_en="Cups")
    other = make_product(price="100.00", category=cups)
    make_order(staff.sales, account, [(leaf, "3"), (other, "5")], order_date=day("2026-01-10"))
    row = RebateAccrual.objects.get(agreement__program=scoped, period_start=Q1)
    assert (row.amount, row.quantity, row.earned) == (D("300"), D("3"), D("6.00"))


def test_orders_in_another_currency_accrue_at_the_rate_of_their_date(staff, shop):
    ExchangeRate.objects.create(currency="USD", valid_from=day("2026-01-01"), rate=D("7.10"))
    ExchangeRate.objects.create(currency="USD", valid_from=day("2026-02-01"), rate=D("7.20"))
    usd = make_product(price="100.00", cost="50.00", currency="USD")
    sales.order_create(
        actor=staff.sales,
        account=shop.account,
        lines=[sales.LineInput(product=usd, quantity="10")],
        order_date=day("2026-02-03"),
        currency="USD",
        confirm=True,
    )
    row = accrual(shop)
    assert row.amount == D("7200")  # 1,000 USD at 7.20, the rate dated on or before the order
    assert row.profit == D("3600")


def test_accounts_without_an_agreement_or_outside_its_dates_earn_nothing(staff, program):
    stranger = make_account(staff.sales)
    make_order(staff.sales, stranger, [(make_product(price="1000.00"), "20")], order_date=day("2026-01-10"))
    late = make_account(staff.sales)
    services.agreement_create(
        actor=staff.manager, program=program, account=late, signed_on="2026-02-01", valid_from="2026-02-01"
    )
    make_order(staff.sales, late, [(make_product(price="1000.00"), "20")], order_date=day("2026-01-31"))
    assert not RebateAccrual.objects.filter(period_start=Q1).exists()


def test_signing_an_agreement_counts_what_the_account_bought_since_it_is_valid(staff, program):
    account = make_account(staff.sales)
    product = make_product(price="1000.00", cost="0")
    today = timezone.localdate()
    make_order(staff.sales, account, [(product, "15")], order_date=today)
    services.agreement_create(actor=staff.manager, program=program, account=account, signed_on=today)
    row = RebateAccrual.objects.get(agreement__account=account)  # this period's, the one there is
    assert (row.amount, row.earned) == (D("15000"), D("300.00"))


def test_bad_programs_are_refused_field_by_field(staff):
    with pytest.raises(ValidationError) as caught:
        services.program_create(
            actor=staff.manager,
            data={
                "name": "",
                "period_kind": "fortnight",
                "effective_from": "2026-02-01",
                "effective_to": "2026-01-01",
                "terms": {"tiers": [{"from": "100", "percent": "2"}, {"from": "50", "percent": "3"}]},
                "eligibility": {"regions": [999999]},
                "settlement_lag_days": -1,
                "colour": "red",
            },
        )
    fields = set(caught.value.message_dict)
    assert fields >= {
        "name",
        "period_kind",
        "effective_to",
        "terms.tiers[1].from",
        "eligibility.regions[0]",
        "settlement_lag_days",
        "colour",
    }
    assert not RebateProgram.objects.exists()
    with pytest.raises(ValidationError) as caught:
        services.program_create(
            actor=staff.manager,
            data={"name": "X", "effective_from": "2026-01-01", "terms": {**TERMS, "what": {"products": [424242]}}},
        )
    assert "terms.what.products[0]" in caught.value.message_dict


def test_an_active_programs_terms_are_fixed_and_only_editors_write(staff, program):
    with pytest.raises(Conflict):
        services.program_update(actor=staff.manager, program=program, data={"terms": {**TERMS, "threshold": "0"}})
    renamed = services.program_update(actor=staff.manager, program=program, data={"name": "Q volume"})
    assert renamed.version == 2
    with pytest.raises(PermissionDenied):
        services.program_create(
            actor=staff.sales, data={"name": "Mine", "effective_from": "2026-01-01", "terms": TERMS}
        )
    with pytest.raises(PermissionDenied):
        services.program_set_status(actor=staff.finance, program=program, status="closed")
    assert AuditEvent.objects.filter(action="REBATE_PROGRAM_UPDATED", entity_id=str(program.pk)).exists()


def test_an_agreement_with_its_own_tiers(staff, program):
    account = make_account(staff.sales)
    own = {"tiers": [{"from": "0", "percent": "5"}], "threshold": "0"}
    services.agreement_create(actor=staff.manager, program=program, account=account, signed_on="2026-01-01", terms=own)
    make_order(staff.sales, account, [(make_product(price="100.00"), "10")], order_date=day("2026-01-10"))
    assert RebateAccrual.objects.get(agreement__account=account, period_start=Q1).earned == D("50.00")
    with pytest.raises(ValidationError) as caught:
        services.agreement_create(
            actor=staff.manager,
            program=program,
            account=account,
            signed_on="2026-01-01",
            terms={"tiers": [{"from": "0", "percent": "200"}], "what": {}},
        )
    assert {"terms.tiers[0].percent", "terms.what", "account"} <= set(caught.value.message_dict)
    assert RebateAgreement.objects.filter(account=account).count() == 1


def test_eligibility_names_regions_that_exist(staff):
    regions = make_region_tree()
    made = services.program_create(
        actor=staff.manager,
        data={
            "name": "South",
            "effective_from": "2026-01-01",
            "terms": TERMS,
            "eligibility": {"regions": [regions["GD"].pk]},
        },
    )
    assert made.eligibility == {"regions": [regions["GD"].pk]}


@pytest.mark.parametrize("documents", ["invoiced", "paid"])
def test_a_program_counting_only_invoiced_or_paid_orders_accrues_when_the_invoice_says_so(staff, documents):
    from patron.domain.periods import Period, PeriodKind
    from patron.domain.rebates import parse_terms
    from patron.rebates.accrual import period_volumes
    from patron.rebates.analysis import account_volumes

    terms = {**TERMS, "documents": documents}
    made = services.program_create(
        actor=staff.manager,
        data={"name": "Paid volume", "period_kind": "quarter", "effective_from": "2026-01-01", "terms": terms},
    )
    program = services.program_set_status(actor=staff.manager, program=made, status=RebateProgram.ACTIVE)
    account = make_account(staff.sales)
    services.agreement_create(actor=staff.manager, program=program, account=account, signed_on="2026-01-01")
    order = make_order(staff.sales, account, [(make_product(price="1000.00"), "25")], order_date=day("2026-02-01"))

    def earned() -> tuple[D, D]:
        row = RebateAccrual.objects.filter(agreement__account=account, period_start=Q1).first()
        return (row.amount, row.earned) if row else (D(0), D(0))

    assert earned() == (D(0), D(0))  # confirmed, not yet invoiced
    invoice = sales.invoice_create(
        actor=staff.finance, account=account, order=order, issue_date=day("2026-02-02"), due_date=day("2026-03-02")
    )
    if documents == "invoiced":
        assert earned() == (D("25000"), D("750.00"))
        sales.invoice_void(actor=staff.finance, invoice=invoice)
        assert earned() == (D(0), D(0))  # the invoice was issued in error: the order no longer counts
        sales.invoice_create(
            actor=staff.finance, account=account, order=order, issue_date=day("2026-02-03"), due_date=day("2026-03-03")
        )
        assert earned() == (D("25000"), D("750.00"))
    else:
        assert earned() == (D(0), D(0))  # invoiced, not paid
        sales.payment_record(actor=staff.finance, account=account, amount="25000.00", received_on=day("2026-02-20"))
        assert earned() == (D("25000"), D("750.00"))
    # What settlement, the statement and a replay sum agree with the accrual.
    q1 = Period(Q1, day("2026-04-01"), PeriodKind.QUARTER)
    agreement = program.agreements.select_related("program").get()
    assert period_volumes(program, q1, [agreement])[agreement.pk].amount == D("25000")
    accounts = RebateAgreement.objects.filter(program=program).values("account_id")
    assert account_volumes(parse_terms(terms), q1, accounts, "CNY")[account.pk].amount == D("25000")
    make_order(staff.sales, account, [(make_product(price="1000.00"), "5")], order_date=day("2026-02-10"))
    assert earned()[0] == D("25000")  # the new order is not invoiced yet
