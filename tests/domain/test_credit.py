"""The credit check on a new order: the limit, the warning band, overdue amounts, uncounted currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.credit import (
    NEAR_LIMIT,
    NO_LIMIT,
    OVER_LIMIT,
    OVERDUE,
    RATE_MISSING,
    WITHIN_LIMIT,
    CreditPosition,
    Outcome,
    check_order,
)

D = Decimal


def position(limit: str, invoices: str = "0", orders: str = "0", **extra: object) -> CreditPosition:
    return CreditPosition(limit=D(limit), open_invoices=D(invoices), uninvoiced_orders=D(orders), **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("limit", "invoices", "orders", "amount", "outcome", "code"),
    [
        ("0", "50000", "0", "100000", Outcome.OK, NO_LIMIT),  # no limit: nothing to check
        ("10000", "3000", "2000", "3000", Outcome.OK, WITHIN_LIMIT),  # 8,000 of 10,000: 80%
        ("10000", "3000", "2000", "4000", Outcome.WARN, NEAR_LIMIT),  # 9,000: 90% warns
        ("10000", "3000", "2000", "5000", Outcome.WARN, NEAR_LIMIT),  # exactly the limit is still within it
        ("10000", "3000", "2000", "5000.01", Outcome.BLOCK, OVER_LIMIT),  # a cent over blocks
        ("10000", "12000", "0", "0", Outcome.BLOCK, OVER_LIMIT),  # already over: even an empty order
    ],
)
def test_the_limit_decides(limit, invoices, orders, amount, outcome, code):
    verdict = check_order(position(limit, invoices, orders), D(amount))
    assert verdict.outcome is outcome
    assert verdict.reasons[0].code == code


def test_over_the_limit_says_by_how_much_and_of_what():
    verdict = check_order(position("10000", "6000", "1500"), D("4000"))
    assert verdict.blocked
    assert verdict.exposure_after == D("11500")
    assert verdict.over_by == D("1500")
    assert verdict.reasons[0].params == {"limit": D("10000"), "exposure": D("11500"), "over_by": D("1500")}


def test_a_company_that_only_warns_lets_an_order_over_the_limit_through_with_a_warning():
    verdict = check_order(position("10000", "9000"), D("2000"), block=False)
    assert verdict.outcome is Outcome.WARN
    assert verdict.over_by == D("1000")


def test_near_the_limit_says_what_is_left():
    verdict = check_order(position("10000", "5000"), D("4500"))
    assert verdict.reasons[0].params["available"] == D("500")
    assert verdict.reasons[0].params["percent"] == 95


def test_overdue_money_warns_even_without_a_limit():
    verdict = check_order(position("0", "800", overdue=D("800"), oldest_overdue_days=45), D("100"))
    assert verdict.outcome is Outcome.WARN
    assert [r.code for r in verdict.reasons] == [NO_LIMIT, OVERDUE]
    assert verdict.reasons[1].params == {"amount": D("800"), "days": 45}


def test_overdue_does_not_soften_a_block():
    verdict = check_order(position("1000", "900", overdue=D("900"), oldest_overdue_days=10), D("200"))
    assert verdict.outcome is Outcome.BLOCK
    assert [r.code for r in verdict.reasons] == [OVER_LIMIT, OVERDUE]


def test_amounts_without_an_exchange_rate_are_named():
    verdict = check_order(position("10000", "100", uncounted_currencies=("USD",)), D("100"))
    assert verdict.outcome is Outcome.WARN
    assert verdict.reasons[-1].code == RATE_MISSING
    assert verdict.reasons[-1].params == {"currencies": "USD"}


def test_without_a_limit_amounts_without_a_rate_change_nothing():
    verdict = check_order(position("0", "100", uncounted_currencies=("USD",)), D("100"))
    assert verdict.outcome is Outcome.OK
    assert [r.code for r in verdict.reasons] == [NO_LIMIT]


def test_nonsense_is_refused():
    with pytest.raises(ValueError, match="order_amount"):
        check_order(position("100"), D("-1"))
    with pytest.raises(ValueError, match="warn_at"):
        check_order(position("100"), D("1"), warn_at=D("0"))


def test_available_is_none_without_a_limit():
    assert position("0", "10").available is None
    assert position("100", "30", "20").available == D("50")
    assert position("100", "90", "40").over_limit == D("30")
    assert position("0", "90", "40").over_limit == D("0")


amounts = st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False)


@given(limit=amounts, invoices=amounts, orders=amounts, order=amounts)
def test_blocked_exactly_when_a_limit_is_set_and_the_order_goes_over_it(limit, invoices, orders, order):
    verdict = check_order(CreditPosition(limit, invoices, orders), order)
    over = limit > 0 and invoices + orders + order > limit
    assert verdict.blocked is over
    assert verdict.over_by == (invoices + orders + order - limit if over else 0)
    assert verdict.exposure_after == invoices + orders + order


@given(limit=amounts, invoices=amounts, small=amounts, big=amounts)
def test_a_bigger_order_is_never_judged_more_leniently(limit, invoices, small, big):
    rank = {Outcome.OK: 0, Outcome.WARN: 1, Outcome.BLOCK: 2}
    low, high = sorted((small, big))
    first = check_order(CreditPosition(limit, invoices, D(0)), low)
    second = check_order(CreditPosition(limit, invoices, D(0)), high)
    assert rank[first.outcome] <= rank[second.outcome]
