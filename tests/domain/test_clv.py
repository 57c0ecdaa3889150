"""Churn and lifetime value: the summary of a transaction log, BG/NBD, Gamma-Gamma, lifetime value,
and the one-time buyer rule. Anchored on the published CDNOW results."""

from __future__ import annotations

import csv
import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from patron.domain.explain import Reason
from patron.domain.segmentation.clv import (
    BGNBDParams,
    FitError,
    GammaGammaParams,
    OneTimeBuyerRule,
    Transactions,
    TransactionsError,
    bgnbd_log_likelihood,
    expected_average_spend,
    expected_purchases,
    expected_purchases_population,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_log_likelihood,
    judge_one_time_buyer,
    lifetime_value,
    probability_alive,
    probability_alive_with_rule,
    summarise,
    to_decimal,
    typical_purchase_interval,
)

CDNOW = Path(__file__).resolve().parent.parent / "data" / "cdnow" / "transactions.csv"
CALIBRATION_END = dt.date(1997, 9, 30)
# Fader, Hardie & Lee (2005), "Counting your customers the easy way", on the CDNOW sample.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4
# Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013), on the CDNOW repeat buyers.
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# lifetimes 0.11.3 (BetaGeoFitter, GammaGammaFitter) on the same summary, recorded so the comparison
# runs without it; test_we_agree_with_lifetimes_when_it_is_installed checks them live.
LIFETIMES_BGNBD = {"r": 0.2425945434210672, "alpha": 4.413602716077373, "a": 0.7929218333478439, "b": 2.425905728721631}
LIFETIMES_GG = {"p": 6.249572277633439, "q": 3.744224674758667, "gamma": 15.443521018370385}
# customer id: (x, t_x, T, probability alive, expected purchases in 39 weeks) by lifetimes 0.11.3.
LIFETIMES_CUSTOMERS = {
    1: (2, 30.428571428571427, 38.857142857142854, 0.7266203, 1.2259944296717151),
    2: (1, 1.7142857142857142, 38.857142857142854, 0.21239102, 0.2034188276052977),
    18: (1, 4.857142857142857, 38.857142857142854, 0.31085574, 0.29772401888892136),
    1516: (26, 30.857142857142858, 31.0, 0.96885445, 20.748903903930266),
    2357: (0, 0.0, 27.0, 1.0, 0.25897898860915286),
}


def _read_cdnow() -> tuple[list[int], list[str], list[float]]:
    ids, dates, amounts = [], [], []
    with CDNOW.open(newline="") as handle:
        for row in csv.DictReader(handle):
            ids.append(int(row["customer_id"]))
            dates.append(row["date"])
            amounts.append(float(row["amount"]))
    return ids, dates, amounts


@pytest.fixture(scope="module")
def cdnow():
    return summarise(_read_cdnow(), calibration_end=CALIBRATION_END)


@pytest.fixture(scope="module")
def cdnow_bgnbd(cdnow):
    return fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T)


@pytest.fixture(scope="module")
def cdnow_gg(cdnow):
    return fit_gamma_gamma(cdnow.frequency, cdnow.average_spend)


# --- the correctness anchor ----------------------------------------------------------------------------


def test_the_cdnow_summary_matches_the_published_one(cdnow):
    assert cdnow.customers == 2357
    assert cdnow.repeat_buyers == 946
    assert cdnow.repeat_transactions == 2457
    assert cdnow.later_customers == 0
    assert cdnow.holdout_end == dt.date(1998, 6, 30)
    assert cdnow.holdout_length == 39.0
    assert int(cdnow.holdout_frequency.sum()) == 1882


def test_the_cdnow_bgnbd_fit_reproduces_fader_hardie_and_lee(cdnow_bgnbd):
    fit = cdnow_bgnbd
    assert fit.converged, fit.message
    assert fit.reason is None
    assert {k: round(v, 3) for k, v in fit.params.as_dict().items()} == PUBLISHED_BGNBD
    assert round(fit.log_likelihood, 1) == PUBLISHED_LL
    assert fit.customers == 2357


def test_standard_errors_come_from_the_observed_information_as_in_lifetimes(cdnow_bgnbd, cdnow_gg):
    # lifetimes 0.11.3, BetaGeoFitter.summary on CDNOW: se(coef) 0.012557, 0.378224, 0.185734, 0.705414.
    assert cdnow_bgnbd.standard_errors == pytest.approx(
        {"r": 0.012557, "alpha": 0.378224, "a": 0.185734, "b": 0.705414}, rel=1e-3
    )
    # GammaGammaFitter.summary: 1.190055, 0.290133, 4.159423.
    assert cdnow_gg.standard_errors == pytest.approx({"p": 1.190055, "q": 0.290133, "gamma": 4.159423}, rel=1e-3)


def test_the_published_conditional_expectation_for_a_cdnow_customer(cdnow_bgnbd):
    # FHL 2005: a customer with x = 2, t_x = 30.43, T = 38.86 is expected to buy 1.226 times in 39 weeks.
    assert round(float(expected_purchases(cdnow_bgnbd.params, 39, 2, 30.43, 38.86)), 3) == 1.226


def test_the_cdnow_gamma_gamma_fit_reproduces_the_published_values(cdnow_gg):
    fit = cdnow_gg
    assert fit.converged, fit.message
    assert fit.customers == 946
    assert fit.excluded == 0
    assert {k: round(v, 2) for k, v in fit.params.as_dict().items()} == PUBLISHED_GG


def test_we_agree_with_lifetimes_on_cdnow(cdnow, cdnow_bgnbd, cdnow_gg):
    for name, value in LIFETIMES_BGNBD.items():
        assert getattr(cdnow_bgnbd.params, name) == pytest.approx(value, rel=1e-5)
    for name, value in LIFETIMES_GG.items():
        assert getattr(cdnow_gg.params, name) == pytest.approx(value, rel=1e-5)
    for customer, (x, t_x, age, alive, future) in LIFETIMES_CUSTOMERS.items():
        i = customer - 1
        assert (cdnow.frequency[i], cdnow.recency[i], cdnow.T[i]) == pytest.approx((x, t_x, age))
        assert float(probability_alive(cdnow_bgnbd.params, x, t_x, age)) == pytest.approx(alive, rel=1e-4)
        assert float(expected_purchases(cdnow_bgnbd.params, 39, x, t_x, age)) == pytest.approx(future, rel=1e-4)


def test_we_agree_with_lifetimes_when_it_is_installed(cdnow, cdnow_bgnbd, cdnow_gg):
    lifetimes = pytest.importorskip("lifetimes")
    pd = pytest.importorskip("pandas")
    x, t_x, age = cdnow.frequency, cdnow.recency, cdnow.T
    theirs = lifetimes.BetaGeoFitter().fit(x, t_x, age)
    for name, value in theirs.params_.items():
        assert getattr(cdnow_bgnbd.params, name) == pytest.approx(value, rel=1e-5)
    np.testing.assert_allclose(
        probability_alive(cdnow_bgnbd.params, x, t_x, age), theirs.conditional_probability_alive(x, t_x, age), rtol=1e-5
    )
    np.testing.assert_allclose(
        expected_purchases(cdnow_bgnbd.params, 39, x, t_x, age),
        theirs.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, age),
        rtol=1e-5,
    )
    repeat = x > 0
    gg = lifetimes.GammaGammaFitter().fit(x[repeat], cdnow.average_spend[repeat])
    assert cdnow_gg.params.as_dict() == pytest.approx(
        {"p": gg.params_["p"], "q": gg.params_["q"], "gamma": gg.params_["v"]}, rel=1e-5
    )
    np.testing.assert_allclose(
        expected_average_spend(cdnow_gg.params, x, cdnow.average_spend),
        gg.conditional_expected_average_profit(pd.Series(x), pd.Series(cdnow.average_spend)),
        rtol=1e-5,
    )


def test_the_cdnow_holdout_forecast_is_close_to_what_happened(cdnow, cdnow_bgnbd):
    predicted = expected_purchases(cdnow_bgnbd.params, cdnow.holdout_length, cdnow.frequency, cdnow.recency, cdnow.T)
    # 1,653 expected against 1,882 actual: the known under-forecast of the holdout (FHL 2005, fig. 4).
    assert predicted.sum() == pytest.approx(1653.4, abs=0.1)


# --- the summary ---------------------------------------------------------------------------------------


def test_same_day_purchases_are_one_transaction_with_their_amounts_added():
    summary = summarise(
        Transactions.from_rows(
            [
                ("a", "2024-01-01", 10.0),
                ("a", "2024-01-01", 5.0),
                ("a", "2024-01-08", 20.0),
                ("a", "2024-01-08", 4.0),
                ("a", "2024-01-22", 30.0),
            ]
        ),
        calibration_end="2024-01-29",
    )
    assert summary.frequency.tolist() == [2]
    assert summary.recency.tolist() == [3.0]
    assert summary.T.tolist() == [4.0]
    assert summary.average_spend.tolist() == [27.0]  # (24 + 30) / 2: the first purchase is not counted


def test_the_summary_splits_calibration_and_holdout_and_leaves_out_later_customers():
    rows = [
        (7, dt.date(2024, 1, 1), 10.0),
        (7, dt.date(2024, 1, 15), 12.0),  # calibration end, inclusive
        (7, dt.date(2024, 1, 16), 14.0),  # holdout
        (7, dt.date(2024, 2, 1), 16.0),  # holdout, the last day of the log
        (3, dt.date(2024, 1, 10), 8.0),
        (9, dt.date(2024, 1, 20), 99.0),  # first bought after calibration: not in the cohort
    ]
    summary = summarise(Transactions.from_rows(rows), calibration_end=dt.date(2024, 1, 15), time_unit_days=1)
    assert summary.customer_ids.tolist() == [3, 7]
    assert summary.frequency.tolist() == [0, 1]
    assert summary.recency.tolist() == [0.0, 14.0]
    assert summary.T.tolist() == [5.0, 14.0]
    assert summary.average_spend.tolist() == [0.0, 12.0]
    assert summary.holdout_frequency.tolist() == [0, 2]
    assert summary.holdout_spend.tolist() == [0.0, 30.0]
    assert summary.first_purchase.tolist() == [dt.date(2024, 1, 10), dt.date(2024, 1, 1)]
    assert summary.later_customers == 1
    assert summary.holdout_end == dt.date(2024, 2, 1)
    assert summary.holdout_length == 17.0


def test_a_holdout_end_before_the_last_date_cuts_the_holdout():
    rows = [(1, "2024-01-01", 1.0), (1, "2024-01-10", 1.0), (1, "2024-01-20", 1.0)]
    summary = summarise(rows_to_columns(rows), calibration_end="2024-01-05", holdout_end="2024-01-15")
    assert summary.holdout_frequency.tolist() == [1]
    with pytest.raises(TransactionsError, match="holdout_end is before calibration_end"):
        summarise(rows_to_columns(rows), calibration_end="2024-01-05", holdout_end="2024-01-01")


def rows_to_columns(rows):
    return tuple(list(column) for column in zip(*rows, strict=True))


def test_the_summary_arrays_are_read_only(cdnow):
    with pytest.raises(ValueError, match="read-only"):
        cdnow.frequency[0] = 5


def test_string_and_integer_customer_ids_give_the_same_summary():
    ids, dates, amounts = _read_cdnow()
    by_text = summarise(([f"C{i:05}" for i in ids], dates, amounts), calibration_end=CALIBRATION_END)
    by_number = summarise((ids, dates, amounts), calibration_end=CALIBRATION_END)
    assert by_text.customer_ids[0] == "C00001"
    np.testing.assert_array_equal(by_text.frequency, by_number.frequency)
    np.testing.assert_array_equal(by_text.T, by_number.T)


@pytest.mark.parametrize(
    ("columns", "message", "column", "row"),
    [
        (([1, 2], ["2024-01-01"], [1.0, 2.0]), "columns differ in length", None, None),
        (([1, 2], ["2024-01-01", "NaT"], [1.0, 2.0]), "date is missing at row 1", "date", 1),
        (([1, 2], ["2024-01-01", "2024-13-01"], [1.0, 2.0]), "date", "date", None),
        (([1, 2], ["2024-01-01", "2024-01-02"], [1.0, float("nan")]), "amount is not a number at row 1", "amount", 1),
        (([1, 2], ["2024-01-01", "2024-01-02"], [1.0, "ten"]), "amount", "amount", None),
        ((["a", None], ["2024-01-01", "2024-01-02"], [1.0, 2.0]), "customer_id is missing at row 1", "customer_id", 1),
        (([], [], []), "there are no transactions", None, None),
    ],
)
def test_a_log_the_summary_cannot_read_says_where(columns, message, column, row):
    with pytest.raises(TransactionsError, match=message) as caught:
        summarise(columns, calibration_end="2024-01-31")
    assert caught.value.column == column
    assert caught.value.row == row


def test_a_calibration_end_that_is_not_a_date_is_refused():
    with pytest.raises(TransactionsError, match="calibration_end is not a date"):
        summarise(([1], ["2024-01-01"], [1.0]), calibration_end="soon")


transaction_logs = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 3, 31)),
        st.floats(0.01, 1000, allow_nan=False),
    ),
    min_size=1,
    max_size=60,
)


@given(log=transaction_logs, cut=st.dates(min_value=dt.date(2024, 1, 1), max_value=dt.date(2024, 3, 31)))
def test_the_summary_counts_each_customer_day_once_and_in_order(log, cut):
    summary = summarise(Transactions.from_rows(log), calibration_end=cut)
    days = {(c, d) for c, d, _a in log}
    first = {c: min(d for cc, d in days if cc == c) for c, _d in days}
    cohort = {c for c, d in first.items() if d <= cut}
    assert summary.customer_ids.tolist() == sorted(cohort)
    assert summary.later_customers == len(first) - len(cohort)
    calibration_days = sum(1 for c, d in days if c in cohort and d <= cut)
    assert summary.repeat_transactions + summary.customers == calibration_days
    assert int(summary.holdout_frequency.sum()) == sum(1 for c, d in days if c in cohort and d > cut)
    assert np.all(summary.recency <= summary.T)
    assert np.all(summary.recency[summary.frequency == 0] == 0)
    assert np.all(summary.average_spend[summary.frequency == 0] == 0)


@given(log=transaction_logs, seed=st.integers(0, 2**32 - 1))
def test_the_order_of_the_rows_does_not_matter(log, seed):
    shuffled = [log[i] for i in np.random.default_rng(seed).permutation(len(log))]
    a = summarise(Transactions.from_rows(log), calibration_end="2024-02-15")
    b = summarise(Transactions.from_rows(shuffled), calibration_end="2024-02-15")
    np.testing.assert_array_equal(a.customer_ids, b.customer_ids)
    np.testing.assert_array_equal(a.frequency, b.frequency)
    np.testing.assert_array_equal(a.recency, b.recency)
    np.testing.assert_allclose(a.average_spend, b.average_spend)


# --- BG/NBD --------------------------------------------------------------------------------------------


def _posterior_expectation(params: BGNBDParams, t: float, x: int, t_x: float, age: float) -> float:
    """E[Y(t) | x, t_x, T] by integrating over the dropout probability instead of FHL's closed form.

    Given alive, lambda | data ~ Gamma(r + x, alpha + T) and p | data ~ Beta(a, b + x); an alive customer
    with (lambda, p) buys (1 - exp(-lambda p t)) / p times in expectation; the mean over lambda is closed.
    For a < 1 the Beta density is infinite at 0: integrate over u = p^a instead, where it is bounded.
    """
    r, alpha, a, b = params.r, params.alpha, params.a, params.b + x
    scale = (r + x) * t / (alpha + age)

    def spend(p: float) -> float:
        return -math.expm1(-(r + x) * math.log1p(p * t / (alpha + age))) / p if p > 0 else scale

    if a < 1:
        log_norm = -float(special.betaln(a, b)) - math.log(a)

        def integrand(u: float) -> float:
            p = u ** (1 / a)
            return spend(p) * math.exp((b - 1) * math.log1p(-p) + log_norm) if p < 1 else 0.0

        points = sorted({min(v**a, 0.99) for v in (1e-6, 1e-4, 1e-3, 1 / b, 5 / b, 20 / b, 1 / (scale + 1))})
        value, _error = integrate.quad(integrand, 0, 1, points=points, limit=1000, epsabs=0, epsrel=1e-11)
    else:
        dist = stats.beta(a, b)
        low, high = dist.ppf([1e-13, 1 - 1e-13])
        points = list(dist.ppf([0.01, 0.1, 0.5, 0.9, 0.99]))
        value, _error = integrate.quad(
            lambda p: spend(p) * dist.pdf(p), low, high, points=points, limit=500, epsabs=0, epsrel=1e-11
        )
    return float(probability_alive(params, x, t_x, age)) * value


@pytest.mark.parametrize(
    ("params", "t", "x", "t_x", "age"),
    [
        (BGNBDParams(0.243, 4.414, 0.793, 2.426), 39, 2, 30.43, 38.86),
        (BGNBDParams(0.243, 4.414, 0.793, 2.426), 52, 0, 0, 20),
        (BGNBDParams(2.0, 3.0, 1.5, 4.0), 10, 5, 8, 9),
        # Frequent buyers far ahead: the plain 2F1 overflows here; the Euler-transformed one does not.
        (BGNBDParams(0.627, 9.358, 0.797, 0.692), 886.45, 237, 21.75, 24.99),
        (BGNBDParams(14.92, 20.95, 0.0522, 0.0651), 880.99, 275, 1.04, 1.90),
        (BGNBDParams(0.465, 49.73, 19.91, 0.725), 471.51, 227, 27.93, 29.61),
        (BGNBDParams(17.92, 1.551, 0.0619, 33.79), 578.82, 259, 10.40, 11.01),
        # a = 1 exactly: FHL's (a + b + x - 1) / (a - 1) is 0/0; nudging a off 1 was 0.7% wrong here.
        (BGNBDParams(0.0924, 8.341, 1.0, 17.42), 0.1148, 0, 0, 63.35),
        (BGNBDParams(0.387, 1.2995, 1.0, 19.63), 0.1803, 17, 42.32, 60.64),
        # r - a + 1 an integer: the logarithmic case of scipy's 2F1.
        (BGNBDParams(0.5, 3.0, 1.5, 2.0), 39, 3, 20, 30),
        (BGNBDParams(1.0, 2.0, 2.0, 3.0), 100, 1, 5, 10),
    ],
)
def test_expected_purchases_agree_with_integrating_over_the_posterior(params, t, x, t_x, age):
    expected = _posterior_expectation(params, t, x, t_x, age)
    assert float(expected_purchases(params, t, x, t_x, age)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # the reference's, not ours
def test_expected_purchases_stay_finite_when_c_of_the_2f1_is_negative():
    # a + b - 1 < 0: 2F1 itself is negative; the expectation is still a positive number.
    params = BGNBDParams(1.3387, 0.9014, 0.0941, 0.0511)
    value = float(expected_purchases(params, 465.59, 0, 0, 272.05))
    assert value == pytest.approx(_posterior_expectation(params, 465.59, 0, 0, 272.05), rel=1e-6)


@pytest.mark.parametrize(
    ("params", "t"),
    [(BGNBDParams(0.05, 0.1, 0.05, 1.0), 1000.0), (BGNBDParams(1.0, 0.1, 20.0, 50.0), 1.0)],
)
def test_hundreds_of_purchases_in_a_moment_still_give_a_number(params, t):
    # scipy's 2F1 gives NaN or infinity in both forms here; Gauss's series is summed instead.
    value = float(expected_purchases(params, t, 300, 0.0, 0.0))
    assert value == pytest.approx(_posterior_expectation(params, t, 300, 0.0, 0.0), rel=1e-8)


def test_a_whole_population_at_awkward_parameters_matches_the_posterior_one_by_one():
    """Where the closed form is not trusted, Gauss-Jacobi quadrature does every row at once; each row
    agrees with integrating that customer's posterior on its own."""
    params = BGNBDParams(0.5, 2.0, 1.5, 2.5)  # r - a + 1 = 0
    rng = np.random.default_rng(3)
    x = rng.integers(0, 8, 40)
    age = rng.uniform(1, 60, 40)
    t_x = np.where(x > 0, age * rng.uniform(0, 1, 40), 0.0)
    values = expected_purchases(params, 39.0, x, t_x, age)
    rows = zip(x, t_x, age, strict=True)
    expected = [_posterior_expectation(params, 39.0, int(n), float(r), float(T)) for n, r, T in rows]
    np.testing.assert_allclose(values, expected, rtol=1e-7)


def test_a_dropout_shape_near_zero_still_gives_a_bounded_number():
    # a = 0.0032: the Beta density is nearly all at p = 0; both scipy's 2F1 and adaptive quadrature give up.
    params = BGNBDParams(3.0032, 0.1484, 0.003211868624287379, 0.3177)
    x, t, age = 19, 183.19, 17.14
    value = float(expected_purchases(params, t, x, 9.50, age))
    alive = float(probability_alive(params, x, 9.50, age))
    w = t / (params.alpha + age)
    assert math.isfinite(value)
    assert -math.expm1(-(params.r + x) * math.log1p(w)) <= value / alive <= (params.r + x) * w


def test_the_population_expectation_is_the_conditional_one_of_a_customer_just_arrived():
    params = BGNBDParams(0.243, 4.414, 0.793, 2.426)
    horizons = np.array([0.0, 1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        expected_purchases_population(params, horizons), expected_purchases(params, horizons, 0, 0, 0), rtol=1e-12
    )
    # lifetimes 0.11.3 on the CDNOW parameters: 0.0531843, 1.195010, 1.857958 at 1, 39 and 78 weeks.
    np.testing.assert_allclose(
        expected_purchases_population(params, horizons)[1:], [0.05318, 1.1950, 1.8580], rtol=2e-3
    )


def test_a_fit_with_no_repeat_buyer_says_so():
    fit = fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 6, 7])
    assert not fit.converged
    assert fit.reason == Reason("NO_REPEAT_BUYERS")
    assert math.isnan(fit.params.r)
    with pytest.raises(FitError, match="NO_REPEAT_BUYERS") as caught:
        fit.require()
    assert caught.value.reason.code == "NO_REPEAT_BUYERS"


def test_a_fit_with_no_customer_says_so():
    fit = fit_bgnbd([], [], [])
    assert (fit.converged, fit.reason, fit.customers) == (False, Reason("NO_CUSTOMERS"), 0)


def test_identical_customers_have_no_interior_maximum_and_the_fit_says_so():
    # Everyone bought every week and is still buying: no spread in rates, no dropout to see.
    fit = fit_bgnbd(np.full(200, 30), np.full(200, 30.0), np.full(200, 30.0))
    assert not fit.converged
    assert fit.reason is not None
    assert fit.reason.code == "PARAMETER_AT_BOUND"
    assert fit.reason.params["parameter"] in {"r", "alpha", "a", "b"}
    assert "no interior maximum" in fit.message


def test_a_fit_stopped_before_the_maximum_says_so(cdnow):
    fit = fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow.T, max_iterations=2)
    assert not fit.converged
    assert fit.reason is not None
    assert fit.reason.code == "NOT_CONVERGED"
    assert fit.reason.params["gradient"] > 1e-6
    assert "did not converge" in fit.message
    gg = fit_gamma_gamma(cdnow.frequency, cdnow.average_spend, max_iterations=1)
    assert (gg.converged, gg.reason.code if gg.reason else None) == (False, "NOT_CONVERGED")


def test_two_customers_cannot_pin_down_the_parameters_and_the_fit_says_so():
    # The search stops short of the boundary it heads for (a to infinity, b to zero): flat, not a maximum.
    fit = fit_bgnbd([1, 0], [1.0, 0.0], [30 / 7, 30 / 7])
    assert not fit.converged
    assert fit.reason is not None
    assert fit.reason.code in {"NOT_IDENTIFIED", "PARAMETER_AT_BOUND"}
    assert fit.standard_errors == {}
    with pytest.raises(FitError):
        fit.require()


def test_a_single_repeat_buyer_is_too_little_to_fit():
    x = np.zeros(100)
    x[0] = 1
    t_x = np.where(x > 0, 3.0, 0.0)
    fit = fit_bgnbd(x, t_x, np.full(100, 20.0))
    assert not fit.converged
    assert fit.reason is not None
    assert fit.reason.code == "PARAMETER_AT_BOUND"


@pytest.mark.parametrize(
    ("x", "t_x", "age", "message"),
    [
        ([1], [5.0], [4.0], "recency is after T at index 0"),
        ([0, -1], [0, 0], [3, 3], "frequency is negative at index 1"),
        ([1.5], [1.0], [3.0], "frequency is not a whole number"),
        ([0], [2.0], [3.0], "recency is not 0 for a customer with no repeat purchase"),
        ([1], [float("nan")], [3.0], "recency is not finite at index 0"),
    ],
)
def test_impossible_customer_histories_are_refused(x, t_x, age, message):
    with pytest.raises(ValueError, match=message):
        fit_bgnbd(x, t_x, age)


def _simulated_summary(params: BGNBDParams, customers: int, age: float, seed: int):
    """(x, t_x, T) of customers observed for ``age`` time units under BG/NBD itself."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(params.r, 1 / params.alpha, customers)
    dropout = rng.beta(params.a, params.b, customers)
    events = rng.poisson(rate * age)
    x = np.minimum(events, rng.geometric(dropout))
    # the x-th of `events` uniform order statistics on (0, age)
    t_x = np.where(x > 0, rng.beta(np.maximum(x, 1), events - x + 1) * age, 0.0)
    return x, t_x, np.full(customers, age)


def test_the_fit_recovers_the_parameters_of_simulated_customers():
    truth = BGNBDParams(r=0.8, alpha=5.0, a=0.7, b=2.5)
    x, t_x, age = _simulated_summary(truth, 30_000, 52.0, seed=3)
    fit = fit_bgnbd(x, t_x, age)
    assert fit.converged, fit.message
    for name, value in truth.as_dict().items():
        assert getattr(fit.params, name) == pytest.approx(value, rel=0.15), name


def test_identical_customers_count_once_with_their_weight():
    truth = BGNBDParams(r=0.8, alpha=5.0, a=0.7, b=2.5)
    x, t_x, age = _simulated_summary(truth, 3_000, 52.0, seed=4)
    once = fit_bgnbd(x, t_x, age)
    twice = fit_bgnbd(np.tile(x, 2), np.tile(t_x, 2), np.tile(age, 2))
    assert twice.log_likelihood == pytest.approx(2 * once.log_likelihood, rel=1e-9)
    assert twice.params.as_dict() == pytest.approx(once.params.as_dict(), rel=1e-4)


def test_the_log_likelihood_is_largest_at_the_fitted_parameters(cdnow, cdnow_bgnbd):
    best = cdnow_bgnbd.params
    total = bgnbd_log_likelihood(best, cdnow.frequency, cdnow.recency, cdnow.T).sum()
    assert total == pytest.approx(cdnow_bgnbd.log_likelihood)
    for name in ("r", "alpha", "a", "b"):
        for factor in (0.95, 1.05):
            moved = BGNBDParams(**{**best.as_dict(), name: getattr(best, name) * factor})
            assert bgnbd_log_likelihood(moved, cdnow.frequency, cdnow.recency, cdnow.T).sum() < total


bgnbd_params = st.builds(
    BGNBDParams,
    r=st.floats(0.05, 20),
    alpha=st.floats(0.1, 200),
    a=st.floats(0.05, 20),
    b=st.floats(0.05, 50),
)


@st.composite
def histories(draw):
    age = draw(st.floats(0, 300))
    x = draw(st.integers(0, 300))
    t_x = draw(st.floats(0, age)) if x > 0 else 0.0
    return x, t_x, age


@given(params=bgnbd_params, history=histories())
def test_probability_alive_is_a_probability_and_one_without_repeat_purchases(params, history):
    x, t_x, age = history
    alive = float(probability_alive(params, x, t_x, age))
    assert 0.0 <= alive <= 1.0
    if x == 0:
        assert alive == 1.0


@given(params=bgnbd_params, history=histories(), later=st.floats(0.01, 100))
def test_a_customer_silent_for_longer_is_less_likely_alive(params, history, later):
    x, t_x, age = history
    assume(x > 0)
    assert float(probability_alive(params, x, t_x, age + later)) <= float(probability_alive(params, x, t_x, age))


@settings(max_examples=200)
@given(params=bgnbd_params, history=histories(), t1=st.floats(0, 1000), t2=st.floats(0, 1000))
def test_expected_purchases_are_finite_non_negative_and_grow_with_the_horizon(params, history, t1, t2):
    x, t_x, age = history
    short, long = sorted((t1, t2))
    e_short, e_long = (float(v) for v in expected_purchases(params, np.array([short, long]), x, t_x, age))
    assert math.isfinite(e_short)
    assert math.isfinite(e_long)
    assert e_short >= 0.0
    assert e_long >= e_short * (1 - 1e-9) - 1e-12
    assert float(expected_purchases(params, 0.0, x, t_x, age)) == 0.0


@given(params=bgnbd_params, t1=st.floats(0, 1000), t2=st.floats(0, 1000))
def test_the_population_expectation_grows_with_the_horizon(params, t1, t2):
    short, long = sorted((t1, t2))
    e_short, e_long = expected_purchases_population(params, np.array([short, long]))
    assert 0.0 <= e_short <= e_long * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize(
    ("params", "horizons", "expected"),
    [
        # Found by the property test above: a = r + 1 up to rounding, so c - A - B = r - a + 1 of the
        # Euler-transformed 2F1 is 1e-16, not 0, and scipy's 2F1 gave 1271.65 at 400 and, clipped, 0 at 600.
        (
            BGNBDParams(0.8184078516034466, 1.0, 1.8184078516034465, 50.0),
            [400.0, 600.0],
            [40.9216886991047, 44.52684507887452],
        ),
        # r - a + 1 = 1: scipy's 2F1 is 0.6% off.
        (BGNBDParams(0.05, 0.3892099696, 0.05, 3.98915643), [500.0], [51.555016655087044]),
        # a = 1: the closed form's 0/0, once nudged to a = 1 + 1e-9, lost its digits (1.3% off).
        (
            BGNBDParams(0.406010062, 20.0, 1.0, 33.74455472),
            [0.0133018, 1.0],
            [0.0002700295983746235, 0.020280011477697712],
        ),
        # A moment ahead: r t / alpha, not 1 - 2F1 cancelling to noise (it gave 1.1e-7 at 1e-300, 0 at 1e-12).
        (BGNBDParams(5.0, 2.0, 1.0, 0.5), [1e-300, 1e-12], [2.5e-300, 2.5e-12]),
    ],
)
def test_the_population_expectation_where_scipys_2f1_is_wrong(params, horizons, expected):
    # Expected values: FHL's eq. 9 in mpmath at 50 digits.
    np.testing.assert_allclose(expected_purchases_population(params, np.array(horizons)), expected, rtol=1e-10)
    horizon = horizons[-1]
    assert float(expected_purchases_population(params, horizon)) == pytest.approx(
        _posterior_expectation(params, horizon, 0, 0.0, 0.0), rel=1e-8
    )


# --- Gamma-Gamma ---------------------------------------------------------------------------------------


def test_the_expected_spend_of_a_customer_without_repeat_purchases_is_the_population_mean(cdnow_gg):
    params = cdnow_gg.params
    assert float(expected_average_spend(params, 0, 0.0)) == pytest.approx(params.mean_spend)
    # lifetimes 0.11.3 on the CDNOW fit: 24.62885 for x = 1, m = 20; 35.44066 for x = 2, m = 35.5.
    np.testing.assert_allclose(expected_average_spend(params, [1, 2], [20.0, 35.5]), [24.62885, 35.44066], rtol=1e-6)


@given(
    p=st.floats(0.5, 20),
    q=st.floats(1.1, 20),
    gamma=st.floats(0.5, 100),
    x=st.integers(1, 200),
    spend=st.floats(0.01, 10_000),
)
def test_the_expected_spend_lies_between_the_own_average_and_the_population_mean(p, q, gamma, x, spend):
    params = GammaGammaParams(p, q, gamma)
    value = float(expected_average_spend(params, x, spend))
    low, high = sorted((spend, params.mean_spend))
    assert low * (1 - 1e-9) <= value <= high * (1 + 1e-9)


def test_repeat_buyers_without_a_positive_spend_are_left_out_and_counted(cdnow):
    spend = np.array(cdnow.average_spend)
    buyers = np.flatnonzero(cdnow.frequency > 0)
    spend[buyers[:3]] = [0.0, -4.0, 0.0]  # returns netted against purchases
    fit = fit_gamma_gamma(cdnow.frequency, spend)
    assert fit.converged
    assert (fit.customers, fit.excluded) == (943, 3)


def test_a_gamma_gamma_fit_on_identical_spends_says_so():
    fit = fit_gamma_gamma(np.full(100, 3), np.full(100, 20.0))
    assert not fit.converged
    assert fit.reason is not None
    assert fit.reason.code == "PARAMETER_AT_BOUND"


def test_a_gamma_gamma_fit_with_no_repeat_buyers_says_so():
    fit = fit_gamma_gamma([0, 0], [0.0, 0.0])
    assert (fit.converged, fit.reason, fit.customers) == (False, Reason("NO_REPEAT_BUYERS"), 0)


def test_an_infinite_mean_spend_is_refused():
    with pytest.raises(FitError, match="infinite") as caught:
        expected_average_spend(GammaGammaParams(p=2.0, q=0.9, gamma=10.0), [1], [5.0])
    assert caught.value.reason.code == "MEAN_SPEND_INFINITE"


def test_the_gamma_gamma_likelihood_needs_repeat_buyers_with_a_positive_spend(cdnow_gg):
    with pytest.raises(ValueError, match="x > 0 and a positive average spend"):
        gamma_gamma_log_likelihood(cdnow_gg.params, [0, 1], [0.0, 10.0])
    total = gamma_gamma_log_likelihood(cdnow_gg.params, [1, 2], [10.0, 20.0]).sum()
    assert math.isfinite(total)


# --- lifetime value ------------------------------------------------------------------------------------


def test_lifetime_value_is_expected_purchases_times_expected_spend(cdnow, cdnow_bgnbd, cdnow_gg):
    x, t_x, age, spend = cdnow.frequency, cdnow.recency, cdnow.T, cdnow.average_spend
    value = lifetime_value(cdnow_bgnbd.params, cdnow_gg.params, x, t_x, age, spend, horizon=52)
    np.testing.assert_allclose(
        value,
        expected_purchases(cdnow_bgnbd.params, 52, x, t_x, age) * expected_average_spend(cdnow_gg.params, x, spend),
    )
    with_margin = lifetime_value(cdnow_bgnbd.params, cdnow_gg.params, x, t_x, age, spend, horizon=52, margin=0.3)
    np.testing.assert_allclose(with_margin, value * 0.3)


def test_discounting_lowers_lifetime_value_and_a_zero_rate_changes_nothing(cdnow, cdnow_bgnbd, cdnow_gg):
    args = (cdnow_bgnbd.params, cdnow_gg.params, cdnow.frequency, cdnow.recency, cdnow.T, cdnow.average_spend)
    plain = lifetime_value(*args, horizon=52)
    monthly = lifetime_value(*args, horizon=52, discount_rate=0.01, step=52 / 12)
    tiny = lifetime_value(*args, horizon=52, discount_rate=1e-12, step=52 / 12)
    assert np.all(monthly < plain)
    assert np.all(monthly > plain / 1.01**12 * (1 - 1e-9))
    np.testing.assert_allclose(tiny, plain, rtol=1e-9)


def test_lifetime_value_over_no_time_is_zero(cdnow_bgnbd, cdnow_gg):
    assert lifetime_value(cdnow_bgnbd.params, cdnow_gg.params, 3, 10.0, 20.0, 25.0, horizon=0).tolist() == 0.0


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [(12.345, 2, Decimal("12.35")), (0.1 + 0.2, 2, Decimal("0.30")), (2.5, 0, Decimal("3")), (-1.005, 2, "-1.01")],
)
def test_model_floats_become_decimals_rounded_half_up(value, places, expected):
    assert to_decimal(value, places) == Decimal(expected)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_float_that_is_not_a_number_does_not_become_money(value):
    with pytest.raises(ValueError, match="not a finite number"):
        to_decimal(value)


# --- one-time buyers -----------------------------------------------------------------------------------


def test_the_typical_purchase_interval_is_the_median_of_repeat_buyers_mean_gaps():
    assert typical_purchase_interval([0, 1, 2, 4], [0.0, 3.0, 10.0, 8.0]) == 3.0  # gaps 3, 5, 2
    assert math.isnan(typical_purchase_interval([0, 0], [0.0, 0.0]))


def test_a_one_time_buyer_beyond_the_rule_is_churned_and_the_reason_says_why():
    rule = OneTimeBuyerRule(interval=4.0, multiple=3.0)
    assert judge_one_time_buyer(0, 13.0, rule) == Reason(
        "ONE_TIME_BUYER_LAPSED", {"age": 13.0, "limit": 12.0, "interval": 4.0, "multiple": 3.0}
    )
    assert judge_one_time_buyer(0, 12.0, rule).code == "ONE_TIME_BUYER_ACTIVE"
    assert judge_one_time_buyer(2, 50.0, rule) == Reason("REPEAT_BUYER", {"frequency": 2})


def test_the_rule_sets_lapsed_one_time_buyers_to_zero_and_leaves_the_model_otherwise(cdnow, cdnow_bgnbd):
    x, t_x, age = cdnow.frequency, cdnow.recency, cdnow.T
    alive = probability_alive(cdnow_bgnbd.params, x, t_x, age)
    rule = OneTimeBuyerRule(interval=typical_purchase_interval(x, t_x), multiple=3.0)
    ruled = probability_alive_with_rule(alive, x, age, rule)
    lapsed = (x == 0) & (age > rule.limit)
    assert lapsed.any()
    assert np.all(ruled[lapsed] == 0.0)
    np.testing.assert_array_equal(ruled[~lapsed], alive[~lapsed])


@pytest.mark.parametrize(("interval", "multiple"), [(0.0, 3.0), (float("nan"), 3.0), (4.0, -1.0)])
def test_a_rule_needs_a_positive_interval_and_multiple(interval, multiple):
    with pytest.raises(ValueError, match="must be a positive number"):
        OneTimeBuyerRule(interval=interval, multiple=multiple)


def test_a_plus_b_of_one_gives_the_limit_not_nan():
    """2F1's c = a + b - 1 is 0 there (hypothesis found a = b = 0.5); both sides of it agree."""
    at = BGNBDParams(r=1.0, alpha=1.0, a=0.5, b=0.5)
    near = BGNBDParams(r=1.0, alpha=1.0, a=0.5, b=0.5 + 1e-5)
    assert expected_purchases_population(at, 1.0) == pytest.approx(expected_purchases_population(near, 1.0), rel=1e-4)
    assert expected_purchases(at, 1.0, 0, 0, 5.0) == pytest.approx(expected_purchases(near, 1.0, 0, 0, 5.0), rel=1e-4)
