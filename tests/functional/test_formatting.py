from decimal import Decimal

import pytest

from patron.web.templatetags.patron_web import amount, money, price, qty


@pytest.mark.parametrize(
    ("value", "currency", "shown"),
    [
        (Decimal("1234.5"), "CNY", "CNY 1,234.50"),
        (Decimal("0.125"), "CNY", "CNY 0.13"),  # half-up, as domain.money rounds
        (Decimal("1500"), "JPY", "JPY 1,500"),
        (Decimal("240"), "", "240.00"),
        (None, "CNY", ""),
    ],
)
def test_money_shows_the_currencys_minor_units_rounded_half_up(value, currency, shown):
    assert money(value, currency) == shown


def test_amount_price_and_quantity():
    assert amount(Decimal("2.5"), "CNY") == "2.50"
    assert price(Decimal("12.3400"), "CNY") == "12.34"
    assert price(Decimal("0.1234"), "CNY") == "0.1234"
    assert qty(Decimal("3.000")) == "3"
    assert qty(Decimal("2.500")) == "2.5"
