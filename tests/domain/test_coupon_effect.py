"""A campaign's uplift against its hold-out, worked out by hand."""

from __future__ import annotations

import math
from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.coupons.effect import Group, roi, uplift


def test_purchase_rate_and_spend_differences_with_their_intervals():
    treated = Group.of([D(100)] * 40 + [D(0)] * 60)  # 40% bought, 40 per account
    held = Group.of([D(100)] * 25 + [D(0)] * 75)  # 25% bought, 25 per account
    made = uplift(treated, held)
    assert made.purchase_rate.value == pytest.approx(15.0)
    se = math.sqrt(0.4 * 0.6 / 100 + 0.25 * 0.75 / 100) * 100
    assert made.purchase_rate.low == pytest.approx(15.0 - 1.959964 * se, abs=1e-4)
    assert made.spend_per_account.value == pytest.approx(15.0)
    treated_var = (40 * 60**2 + 60 * 40**2) / 99  # 2,424.24
    held_var = (25 * 75**2 + 75 * 25**2) / 99  # 1,893.94
    spend_se = math.sqrt(treated_var / 100 + held_var / 100)  # 6.57
    assert made.spend_per_account.high == pytest.approx(15.0 + 1.959964 * spend_se, abs=1e-3)
    assert made.spend_per_account.clear  # 15 ± 12.9 leaves zero out
    assert [r.code for r in made.reasons] == ["UPLIFT_CLEAR"]
    assert made.money(made.spend_per_account.value) == D("15.00")


def test_no_hold_out_or_small_groups_are_said():
    assert [r.code for r in uplift(Group.of([D(1)] * 50), Group.of([])).reasons] == ["NO_HOLD_OUT"]
    small = uplift(Group.of([D(10), D(0)] * 10), Group.of([D(0)] * 5))
    assert small.reasons[0].code == "SMALL_GROUPS"


def test_roi_is_margin_beyond_the_discount_per_unit_of_discount():
    assert roi(D("300"), D("100")) == D("2.00")
    assert roi(D("50"), D("100")) == D("-0.50")
    assert roi(D("50"), D("0")) is None


spends = st.lists(st.decimals(min_value=0, max_value=10000, places=2), min_size=2, max_size=60)


@given(spends, spends)
def test_the_estimate_sits_inside_its_interval_and_swapping_groups_flips_it(a, b):
    one, two = uplift(Group.of(a), Group.of(b)), uplift(Group.of(b), Group.of(a))
    assert one.spend_per_account.low <= one.spend_per_account.value <= one.spend_per_account.high
    assert one.spend_per_account.value == pytest.approx(-two.spend_per_account.value)
    assert one.purchase_rate.value == pytest.approx(-two.purchase_rate.value)
