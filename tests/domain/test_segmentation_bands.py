"""Cutting a number into classes: thresholds, quantiles, and what ties do to quantiles."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.domain.segmentation.bands import Cuts, band_expr, band_of, fit_quantiles

THIRDS = [Decimal(1) / 3, Decimal(2) / 3]
FIFTHS = [Decimal("0.2"), Decimal("0.4"), Decimal("0.6"), Decimal("0.8")]


def fit(values, fractions, ties="group"):
    arr = np.sort(np.asarray(values, dtype=np.float64))
    ids = np.arange(len(arr)) if ties == "rank" else None
    return fit_quantiles(arr, fractions, ties, ids)


@pytest.mark.parametrize(
    ("value", "band"),
    [(-5.0, 0), (9999.99, 0), (10000.0, 1), (49999.99, 1), (50000.0, 2), (1e12, 2), (None, None)],
)
def test_a_value_equal_to_a_threshold_goes_up(value, band):
    cuts = Cuts((10000.0, 50000.0))
    assert band_of(value, cuts) == band
    frame = pl.DataFrame({"x": [value], "account_id": [1]}, schema={"x": pl.Float64, "account_id": pl.Int64})
    assert frame.select(band_expr(pl.col("x"), cuts, pl.col("account_id"))).item() == band


def test_distinct_values_are_cut_at_their_plain_quantiles():
    result = fit(range(1, 10), THIRDS)  # 1..9
    assert result.cuts.values == (4.0, 7.0)
    assert result.sizes == (3, 3, 3)
    assert not result.tied


def test_half_the_base_buying_once_collapses_the_plain_cuts_and_ties_move_them():
    counts = [1] * 50 + [2] * 20 + [3] * 15 + [5] * 10 + [9] * 5
    result = fit(counts, THIRDS)
    assert result.plain == (1.0, 2.0)  # the plain 1/3 cut is 1: everybody is at least 1, the low class is empty
    assert result.tied
    assert result.cuts.values == (2.0, 3.0)  # once-buyers low (50), twice mid (20), 3+ high (30)
    assert result.sizes == (50, 20, 30)
    assert result.empty == ()


def test_frequency_fifths_with_ties_keep_equal_counts_together_and_say_which_cuts_were_used():
    counts = [1] * 50 + [2] * 20 + [3] * 15 + [5] * 10 + [9] * 5
    result = fit(counts, FIFTHS)
    assert result.plain == (1.0, 1.0, 2.0, 3.0)
    assert result.cuts.values == (2.0, 3.0, 5.0, 9.0)
    assert result.sizes == (50, 20, 15, 10, 5)
    assert result.tied


def test_fewer_distinct_values_than_classes_leaves_classes_empty_and_reports_them():
    result = fit([1] * 60 + [2] * 40, FIFTHS)
    # The 2s hold ranks 0.6 to 1.0: nearest to the fourth fifth; the other fifths stay empty.
    assert result.cuts.values == (2.0, 2.0, 2.0, None)
    assert result.sizes == (60, 0, 0, 40, 0)
    assert result.empty == (1, 2, 4)


def test_a_constant_column_puts_everybody_in_the_lowest_class():
    result = fit([7] * 10, THIRDS)
    assert result.cuts.values == (None, None)
    assert result.sizes == (10, 0, 0)
    assert result.empty == (1, 2)
    assert band_of(7.0, result.cuts) == 0


def test_no_population_fits_no_cut_points():
    result = fit([], THIRDS)
    assert result.cuts.values == (None, None)
    assert result.population == 0
    assert band_of(3.0, result.cuts) == 0


def test_rank_mode_splits_equal_values_by_account_id_into_exact_sizes():
    values = np.array([1.0] * 6 + [2.0] * 3)
    ids = np.arange(100, 109)
    result = fit_quantiles(values, THIRDS, "rank", ids)
    assert result.sizes == (3, 3, 3)
    assert result.cuts.values == (1.0, 2.0)
    assert result.cuts.tie_ids == (103, 106)
    assert result.tied
    assert band_of(1.0, result.cuts, 102) == 0
    assert band_of(1.0, result.cuts, 103) == 1  # same value, higher id: next class
    assert band_of(2.0, result.cuts, 106) == 2


def test_rank_mode_cuts_agree_between_the_interpreters():
    cuts = Cuts((1.0, 2.0), (103, 106))
    frame = pl.DataFrame({"x": [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, None], "account_id": [100, 103, 200, 105, 106, 1, 7]})
    vectorised = frame.select(band_expr(pl.col("x"), cuts, pl.col("account_id"))).to_series().to_list()
    per_account = [band_of(x, cuts, i) for x, i in frame.iter_rows()]
    assert vectorised == per_account == [0, 1, 1, 1, 2, 2, None]


def test_cut_points_survive_a_json_round_trip():
    cuts = Cuts((1.5, None), (4, None))
    assert Cuts.from_dict(cuts.to_dict()) == cuts


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=60),
    st.lists(st.integers(min_value=1, max_value=99), min_size=1, max_size=5, unique=True),
)
def test_group_mode_never_splits_equal_values_and_cuts_increase(values, percents):
    fractions = [Decimal(p) / 100 for p in sorted(percents)]
    result = fit(values, fractions)
    arr = np.sort(np.asarray(values, dtype=np.float64))
    bands = [band_of(float(v), result.cuts) for v in arr]
    assert bands == sorted(bands)  # monotone in the value
    for v in set(values):
        assert len({band_of(float(v), result.cuts)}) == 1
    present = [c for c in result.cuts.values if c is not None]
    assert len(set(present)) == len(present) or len(set(values)) <= len(fractions)
    assert sum(result.sizes) == len(values)
    assert [bands.count(k) for k in range(len(fractions) + 1)] == list(result.sizes)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=10, max_size=80, unique=True))
def test_without_ties_group_mode_is_the_plain_quantile(values):
    result = fit(values, FIFTHS)
    assert result.cuts.values == result.plain
    assert not result.tied


def test_a_value_tied_with_a_rank_cut_needs_the_account_id():
    cuts = Cuts((1.0,), (5,))
    assert band_of(2.0, cuts) == 1  # not tied: the id does not matter
    with pytest.raises(ValueError, match="account_id"):
        band_of(1.0, cuts)
