"""Rebates on small numbers, worked out by hand (``shared/EXAMPLES.md`` and DESIGN.md's 940)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from patron.domain.money import Money
from patron.domain.problems import DefinitionError
from patron.domain.rebates import (
    DocumentLine,
    Payout,
    Volume,
    forecast_rebate,
    parse_terms,
    rebate_for,
    settle_account,
    statement_for,
    terms_to_dict,
)

BANDS = [{"from": "0", "percent": "2"}, {"from": "20000", "percent": "3"}, {"from": "50000", "percent": "4"}]


def terms(**over):
    data = {"basis": "amount", "mode": "retroactive", "threshold": "10000", "tiers": BANDS}
    data.update(over)
    return parse_terms(data)


def cny(amount: str) -> Money:
    return Money(D(amount), "CNY")


def sales(amount: str, quantity: str = "1", profit: str | None = None) -> Volume:
    return Volume(D(amount), D(quantity), D(profit if profit is not None else amount))


def codes(result) -> list[str]:
    return [r.code for r in result.reasons]


def test_retroactive_tiers_pay_the_rate_reached_on_all_volume():
    result = rebate_for(terms(), sales("35000"), "CNY")
    assert result.amount == cny("1050.00")
    assert result.tier == 2
    assert result.percent == D("3")
    assert [(b.index, b.base, b.amount) for b in result.bands] == [(2, D("35000"), D("1050.00"))]


def test_incremental_tiers_pay_each_band_at_its_rate():
    result = rebate_for(terms(mode="incremental"), sales("35000"), "CNY")
    assert result.amount == cny("850.00")
    assert [(b.index, b.volume, b.amount) for b in result.bands] == [
        (1, D("20000"), D("400.00")),
        (2, D("15000"), D("450.00")),
    ]


def test_a_cent_below_the_threshold_earns_nothing_and_says_what_is_missing():
    for mode in ("retroactive", "incremental"):
        result = rebate_for(terms(mode=mode), sales("9999.99"), "CNY")
        assert result.amount == cny("0")
        assert result.reasons[0].code == "BELOW_THRESHOLD"
        assert result.reasons[0].params["missing"] == cny("0.01")
        assert result.next_tier is not None
        assert result.next_tier.params["missing"] == cny("0.01")


def test_the_threshold_exactly_met_earns_the_first_rate():
    assert rebate_for(terms(), sales("10000"), "CNY").amount == cny("200.00")
    assert rebate_for(terms(mode="incremental"), sales("10000"), "CNY").amount == cny("200.00")


def test_the_next_tier_says_how_much_more_and_for_which_rate():
    step = rebate_for(terms(), sales("35000"), "CNY").next_tier
    assert step is not None
    assert step.code == "NEXT_TIER"
    assert step.params["missing"] == cny("15000")
    assert step.params["percent"] == D("4")
    assert rebate_for(terms(), sales("60000"), "CNY").next_tier is None


def test_partial_then_final_settlement_nets_what_was_paid():
    # EXAMPLES.md: 400 paid at mid-quarter; the final retroactive settlement pays 1,050 - 400.
    line = settle_account(terms(), 7, sales("35000"), D("400"), "CNY")
    assert (line.earned, line.paid, line.due) == (cny("1050.00"), cny("400"), cny("650.00"))
    # DESIGN.md, after SAP: 2% on 7,000 paid during the year; the year reaches 4% of 27,000 = 1,080; pays 940.
    year = terms(threshold="0", tiers=[{"from": "0", "percent": "2"}, {"from": "25000", "percent": "4"}])
    partial = settle_account(year, 7, sales("7000"), D("0"), "CNY")
    assert partial.due == cny("140.00")
    final = settle_account(year, 7, sales("27000"), partial.due.amount, "CNY")
    assert (final.earned, final.due) == (cny("1080.00"), cny("940.00"))


def test_fixed_amount_tiers():
    fixed = [{"from": "10000", "amount": "300"}, {"from": "30000", "amount": "1000"}]
    assert rebate_for(terms(tiers=fixed), sales("35000"), "CNY").amount == cny("1000.00")
    incremental = rebate_for(terms(tiers=fixed, mode="incremental"), sales("35000"), "CNY")
    assert incremental.amount == cny("1300.00")
    assert [b.amount for b in incremental.bands] == [D("300.00"), D("1000.00")]
    assert rebate_for(terms(tiers=fixed), sales("29999.99"), "CNY").amount == cny("300.00")


def test_a_cap_limits_what_one_account_earns_in_a_period():
    result = rebate_for(terms(cap="1000"), sales("60000"), "CNY")
    assert result.uncapped == cny("2400.00")
    assert result.amount == cny("1000.00")
    assert "CAPPED" in codes(result)
    assert rebate_for(terms(cap="1000"), sales("35000"), "CNY").amount == cny("1000.00")
    assert rebate_for(terms(cap="1000"), sales("30000"), "CNY").amount == cny("900.00")


def test_a_quantity_basis_measures_tiers_in_units_and_pays_on_sales():
    units = terms(
        basis="quantity", threshold="100", tiers=[{"from": "0", "percent": "1"}, {"from": "500", "percent": "2"}]
    )
    assert rebate_for(units, sales("60000", "600"), "CNY").amount == cny("1200.00")
    # incremental: 500 units at the period's average price (100) at 1%, 100 units at 2%
    assert rebate_for(
        parse_terms({**terms_to_dict(units), "mode": "incremental"}), sales("60000", "600"), "CNY"
    ).amount == cny("700.00")
    below = rebate_for(units, sales("9000", "99.5"), "CNY")
    assert below.reasons[0].params["missing"] == D("0.5")


def test_a_profit_basis_pays_a_percent_of_gross_profit():
    margin = terms(basis="profit", threshold="1000", tiers=[{"from": "0", "percent": "10"}])
    assert rebate_for(margin, sales("35000", "1", "4000"), "CNY").amount == cny("400.00")


def test_rounding_is_half_up_once_and_bands_add_up_to_it():
    odd = terms(
        threshold="0", mode="incremental", tiers=[{"from": "0", "percent": "1.5"}, {"from": "0.03", "percent": "2.5"}]
    )
    result = rebate_for(odd, sales("100.05"), "CNY")
    # exactly 0.03 x 1.5% + 100.02 x 2.5% = 0.00045 + 2.5005 = 2.50095 -> 2.50
    assert result.amount == cny("2.50")
    assert sum(b.amount for b in result.bands) == D("2.50")


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def order(
    number: str,
    when: str,
    amount: str,
    *,
    quantity: str = "1",
    cost: str = "0",
    product: int = 1,
    currency: str = "CNY",
    rate: str = "1",
    kind: str = "order",
) -> DocumentLine:
    return DocumentLine(
        kind=kind,
        number=number,
        day=day(when),
        product=product,
        sku=f"SKU{product}",
        category_path=(10 + product,),
        quantity=D(quantity),
        amount=Money(D(amount), currency),
        cost=Money(D(cost), currency),
        rate=D(rate),
    )


def test_a_return_after_the_period_that_crosses_a_tier_downward_claws_back_the_difference():
    q1 = [order("SO-1", "2026-01-10", "12000"), order("SO-2", "2026-03-20", "9000")]
    settled = statement_for(terms(), q1, [], "CNY")
    assert settled.volume.amount == D("21000")
    assert settled.balance == cny("630.00")  # 3% of 21,000
    # In April the customer returns 2,000 of a March order: Q1's volume falls to 19,000, below 20,000.
    later = [*q1, order("RT-1", "2026-04-05", "-2000", quantity="-1", kind="return")]
    corrected = statement_for(terms(), later, [Payout("RS-1", day("2026-04-30"), cny("630.00"))], "CNY")
    assert corrected.result.amount == cny("380.00")  # 2% of 19,000
    assert corrected.balance == cny("-250.00")
    assert [r.code for r in corrected.reasons] == ["NETTED", "CLAWBACK"]


def test_orders_in_another_currency_count_at_their_documented_rate():
    lines = [
        order("SO-1", "2026-01-10", "10000"),
        order("SO-2", "2026-01-11", "1000.00", currency="USD", rate="7.1234"),
    ]
    statement = statement_for(terms(), lines, [], "CNY")
    assert [ln.amount for ln in statement.lines] == [D("10000"), D("7123.40")]
    assert statement.volume.amount == D("17123.40")
    assert statement.result.amount == cny("342.47")  # 2% of 17,123.40 = 342.468


def test_a_statement_lists_only_the_programs_products_and_counts_the_rest():
    only = terms(what={"products": [1]})
    lines = [order("SO-1", "2026-01-10", "15000", product=1), order("SO-2", "2026-01-11", "9000", product=2)]
    statement = statement_for(only, lines, [], "CNY")
    assert [ln.line.number for ln in statement.lines] == ["SO-1"]
    assert statement.excluded == 1
    assert statement.result.amount == cny("300.00")


def test_a_forecast_runs_the_rate_to_the_period_end():
    result = forecast_rebate(terms(), sales("9000"), "CNY", elapsed_days=30, period_days=90)
    assert result.volume.amount == D("27000.00")
    assert result.result.amount == cny("810.00")


@pytest.mark.parametrize(
    ("data", "path", "code"),
    [
        ({"tiers": []}, "tiers", "required"),
        ({"tiers": [{"from": "0", "percent": "120"}]}, "tiers[0].percent", "out_of_range"),
        (
            {"tiers": [{"from": "100", "percent": "2"}, {"from": "50", "percent": "3"}]},
            "tiers[1].from",
            "not_increasing",
        ),
        ({"tiers": [{"from": "0", "percent": "3"}, {"from": "50", "percent": "2"}]}, "tiers[1].percent", "not_better"),
        ({"tiers": [{"from": "0", "percent": "3"}, {"from": "50", "amount": "200"}]}, "tiers", "mixed_tiers"),
        ({"tiers": [{"from": "0"}]}, "tiers[0].percent", "required"),
        ({"tiers": BANDS, "mode": "sideways"}, "mode", "invalid_choice"),
        ({"tiers": BANDS, "threshold": 0.5}, "threshold", "wrong_type"),
        ({"tiers": BANDS, "cap": "0"}, "cap", "not_positive"),
        (
            {"tiers": BANDS, "what": {"products": [1], "exclude_products": [1]}},
            "what.exclude_products",
            "excluded_included",
        ),
        ({"tiers": BANDS, "rate": "3"}, "rate", "unknown_field"),
    ],
)
def test_bad_terms_name_their_field(data, path, code):
    with pytest.raises(DefinitionError) as caught:
        parse_terms(data)
    assert (path, code) in [(p.path, p.code) for p in caught.value.problems]


def test_terms_round_trip():
    written = terms(cap="5000", mode="incremental", what={"categories": [4], "exclude_products": [9]})
    assert parse_terms(terms_to_dict(written)) == written


def test_the_purchase_models_forecast_adds_what_it_expects_to_what_was_bought():
    from patron.domain.rebates import forecast_expected

    bought = Volume(D("12000"), D("12"), D("3000"))
    seen = forecast_expected(terms(), bought, "CNY", expected_amount=D("9000"), elapsed_days=45, period_days=90)
    assert seen.method == "expected_purchases"
    assert seen.volume == Volume(D("21000.00"), D("21.000"), D("5250.00"))  # units and profit in proportion
    assert seen.result.tier == 2
    assert seen.result.amount.amount == D("630.00")  # 3% of 21,000
    nothing_yet = forecast_expected(
        terms(), Volume(), "CNY", expected_amount=D("25000"), elapsed_days=1, period_days=90
    )
    assert nothing_yet.volume.amount == D("25000.00")
    assert nothing_yet.result.amount.amount == D("750.00")
    assert (
        forecast_expected(terms(), bought, "CNY", expected_amount=D("-5"), elapsed_days=1, period_days=90).volume
        == bought
    )
