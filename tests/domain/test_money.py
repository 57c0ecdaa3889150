from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.money import CurrencyMismatch, Money, MoneyError, allocate, convert, line_amount, quantize


def test_cart_discount_spread_over_lines_gives_rounding_cent_to_largest_line():
    # EXAMPLES.md: 10, 10, 10, 70 with 7.77 off -> 0.78, 0.78, 0.78, 5.43
    parts = allocate(Money(Decimal("7.77"), "CNY"), [Decimal(10), Decimal(10), Decimal(10), Decimal(70)])
    assert [p.amount for p in parts] == [Decimal("0.78"), Decimal("0.78"), Decimal("0.78"), Decimal("5.43")]
    assert sum(p.amount for p in parts) == Decimal("7.77")


def test_first_largest_part_takes_the_difference_on_ties():
    parts = allocate(Money(Decimal("0.01"), "CNY"), [Decimal(1), Decimal(1), Decimal(1)])
    assert [p.amount for p in parts] == [Decimal("0.01"), Decimal("0.00"), Decimal("0.00")]


@given(
    total=st.decimals(min_value=0, max_value=10**9, places=2),
    weights=st.lists(st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=30),
)
def test_allocation_always_adds_up_to_the_whole(total, weights):
    parts = allocate(Money(total, "CNY"), weights)
    assert sum(p.amount for p in parts) == total
    assert len(parts) == len(weights)
    assert all(p.amount.as_tuple().exponent >= -2 for p in parts)


def test_line_amount_rounds_half_up_once():
    assert line_amount(Decimal("3"), Money(Decimal("0.3350"), "CNY")).amount == Decimal("1.01")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")


def test_mixing_currencies_raises():
    with pytest.raises(CurrencyMismatch):
        Money(Decimal(1), "CNY") + Money(Decimal(1), "USD")


def test_floats_are_refused():
    with pytest.raises(MoneyError):
        Money.parse(0.1, "CNY")


def test_parse_refuses_more_decimals_than_the_currency_has():
    with pytest.raises(MoneyError) as err:
        Money.parse("10.001", "CNY")
    assert err.value.code == "too_many_places"
    assert Money.parse("1,234.50", "CNY").amount == Decimal("1234.50")
    with pytest.raises(MoneyError):
        Money.parse("100.5", "JPY")


def test_unknown_currency_is_an_error():
    with pytest.raises(MoneyError):
        Money(Decimal(1), "XXX")


def test_conversion_rounds_to_the_target_currency():
    assert convert(Money(Decimal("10.00"), "USD"), Decimal("7.12345"), "CNY").amount == Decimal("71.23")


def test_stored_amounts_stay_within_fifteen_significant_digits():
    assert Money.parse("9999999999999.99", "CNY").amount == Decimal("9999999999999.99")
    with pytest.raises(MoneyError) as err:
        Money.parse("99999999999999.99", "CNY")
    assert err.value.code == "too_large"
