"""Churn and customer lifetime value: the BG/NBD and Gamma-Gamma models, fitted by maximum likelihood.

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive, a customer
  buys at rate lambda ~ Gamma(r, alpha); after each *repeat* purchase they drop out with probability
  p ~ Beta(a, b). From a customer's (x, t_x, T) it gives the probability they are still alive and the
  purchases to expect in the next t periods.
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves"; Fader & Hardie's note
  "The Gamma-Gamma model of monetary value"): a customer's transaction amounts are Gamma(p, nu) with
  nu ~ Gamma(q, gamma); from a repeat buyer's x and average spend it gives the spend to expect per purchase.
* **Lifetime value** over a horizon: expected purchases x expected spend, optionally discounted per step.
* **One-time buyers**: BG/NBD lets customers drop out only after a repeat purchase, so it rates every
  one-time buyer as alive however long ago they bought. ``OneTimeBuyerRule`` is the business rule beside it.

Inputs come from ``clv_summary.summarise``. Times are in the summary's time unit (weeks by default).

Numbers are ``float`` (numpy ``float64``) throughout: the models are statistical estimates, and the
special functions they need (log-gamma, digamma, the hypergeometric 2F1) exist only for floats. Values
that become money (expected spend, lifetime value) are converted at the edge with ``to_decimal``, which
rounds half-up to a given number of places and refuses NaN and infinity.

Fits never return silent garbage: ``FitResult.converged`` is False with a ``Reason`` when the data cannot
identify the model (no customers, no repeat buyers), the optimizer stops short of a maximum (the
gradient is checked, not the optimizer's message), the log-likelihood is not finite, a parameter runs
to the edge of its range (the maximum is at infinity or zero), or the likelihood is too flat around the
optimum to pin a parameter down (its standard error, from the observed information, is too large);
``FitResult.require()`` returns the parameters or raises ``FitError``. Converged fits carry their
standard errors.

Fitting a million customers takes a few seconds: identical (x, t_x, T) rows are counted once with a
weight, special functions are evaluated once per distinct x, and the gradient is analytic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
from scipy import integrate, optimize, special

from patron.domain.explain import Reason
from patron.domain.segmentation.clv_summary import (
    DateLike,
    Summary,
    Transactions,
    TransactionsError,
    summarise,
)

__all__ = [
    "BGNBDParams",
    "DateLike",
    "FitError",
    "FitResult",
    "GammaGammaParams",
    "OneTimeBuyerRule",
    "Summary",
    "Transactions",
    "TransactionsError",
    "bgnbd_log_likelihood",
    "expected_average_spend",
    "expected_purchases",
    "expected_purchases_population",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_log_likelihood",
    "judge_one_time_buyer",
    "lifetime_value",
    "probability_alive",
    "probability_alive_with_rule",
    "summarise",
    "to_decimal",
    "typical_purchase_interval",
]

# Reason codes of a fit that failed.
NO_CUSTOMERS = "NO_CUSTOMERS"
NO_REPEAT_BUYERS = "NO_REPEAT_BUYERS"
NOT_CONVERGED = "NOT_CONVERGED"
NOT_IDENTIFIED = "NOT_IDENTIFIED"
NON_FINITE_LIKELIHOOD = "NON_FINITE_LIKELIHOOD"
PARAMETER_AT_BOUND = "PARAMETER_AT_BOUND"
MEAN_SPEND_INFINITE = "MEAN_SPEND_INFINITE"
# Reason codes of the one-time buyer rule.
REPEAT_BUYER = "REPEAT_BUYER"
ONE_TIME_BUYER_ACTIVE = "ONE_TIME_BUYER_ACTIVE"
ONE_TIME_BUYER_LAPSED = "ONE_TIME_BUYER_LAPSED"

# The optimizer works on log-parameters, after rescaling the data so the largest time (or the median
# spend) is of order 1-10, within +-LOG_BOUND. A parameter that ends beyond 1e-5..1e5 (+-LOG_EDGE) has run
# towards zero or infinity: the likelihood has no interior maximum (no heterogeneity in rates, no
# dropout, identical spends, too few repeat buyers), and the fit is reported as not converged.
LOG_BOUND = math.log(1e6)
LOG_EDGE = math.log(1e5)
# A fit has converged when no log-parameter moves the mean log-likelihood per customer by more than this.
GRADIENT_TOLERANCE = 1e-6
# ... and is identified when every log-parameter's standard error is at most this: beyond, one standard
# error spans a factor of e^3 = 20 either way, and the data cannot tell the parameter's size.
MAX_LOG_STANDARD_ERROR = 3.0

Array = npt.NDArray[np.float64]
ArrayLike = npt.ArrayLike


class FitError(ValueError):
    """A model was asked for parameters that its fit could not give; ``reason`` says why."""

    def __init__(self, message: str, reason: Reason) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BGNBDParams:
    """Purchase rate lambda ~ Gamma(shape r, rate alpha); dropout probability p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True, slots=True)
class GammaGammaParams:
    """Spend per transaction ~ Gamma(shape p, rate nu); nu ~ Gamma(shape q, rate gamma)."""

    p: float
    q: float
    gamma: float

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def mean_spend(self) -> float:
        """The population's mean spend per transaction, p * gamma / (q - 1); infinite when q <= 1."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf


P = TypeVar("P", BGNBDParams, GammaGammaParams)


@dataclass(frozen=True)
class FitResult(Generic[P]):
    """A maximum-likelihood fit: the parameters, the log-likelihood at them, and whether to trust them.

    ``converged`` is True only when the optimizer converged to an interior maximum with a finite
    log-likelihood and usable parameters; otherwise ``reason`` says why (``NO_CUSTOMERS``,
    ``NO_REPEAT_BUYERS``, ``NOT_CONVERGED``, ``NON_FINITE_LIKELIHOOD``, ``PARAMETER_AT_BOUND``,
    ``NOT_IDENTIFIED``, ``MEAN_SPEND_INFINITE``) and ``params`` are where the search stopped (NaN when it
    never started). ``customers`` counts the customers the fit read; ``excluded`` those it had to leave
    out. ``standard_errors`` (asymptotic, from the observed information) is filled for converged fits.
    """

    params: P
    log_likelihood: float
    converged: bool
    iterations: int
    message: str
    customers: int
    excluded: int = 0
    reason: Reason | None = field(default=None)
    standard_errors: dict[str, float] = field(default_factory=dict)

    def require(self) -> P:
        """The parameters, or ``FitError`` if the fit did not converge."""
        if not self.converged:
            assert self.reason is not None
            raise FitError(f"the model fit failed ({self.reason.code}): {self.message}", self.reason)
        return self.params


# --- helpers -------------------------------------------------------------------------------------------


def _floats(value: ArrayLike, name: str) -> Array:
    array = np.asarray(value, dtype=np.float64)
    if array.size and not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array.ravel()))[0])
        raise ValueError(f"{name} is not finite at index {bad}")
    return array


def _check_rft(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[Array, Array, Array]:
    x = _floats(frequency, "frequency")
    t_x = _floats(recency, "recency")
    age = _floats(T, "T")
    x, t_x, age = np.broadcast_arrays(x, t_x, age)
    checks = (
        (x < 0, "frequency is negative"),
        (x != np.round(x), "frequency is not a whole number"),
        (t_x < 0, "recency is negative"),
        (t_x > age * (1 + 1e-12), "recency is after T"),
        ((x == 0) & (t_x != 0), "recency is not 0 for a customer with no repeat purchase"),
    )
    for bad, message in checks:
        if np.any(bad):
            raise ValueError(f"{message} at index {int(np.flatnonzero(np.ravel(bad))[0])}")
    return x, t_x, age


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of products without BLAS: OpenBLAS threads spin on a busy machine (40x slower measured here)."""
    return float(np.einsum("i,i->", a, b))


def _compress(*columns: Array) -> tuple[tuple[Array, ...], Array]:
    """Distinct rows of the columns and how many times each occurs (the likelihood is a weighted sum)."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    uniques: list[Array] = []
    size = 1
    for column in columns:
        values, codes = np.unique(column, return_inverse=True)
        uniques.append(values)
        key = key * len(values) + codes.reshape(-1)
        size *= max(len(values), 1)
    if size <= 4 * len(key) + 1024:
        counts = np.bincount(key, minlength=size)
        distinct = np.flatnonzero(counts)
        weights = counts[distinct]
    else:
        distinct, weights = np.unique(key, return_counts=True)
    rows: list[Array] = []
    for values in reversed(uniques):
        rows.append(values[distinct % len(values)])
        distinct = distinct // len(values)
    return tuple(reversed(rows)), weights.astype(np.float64)


def _minimise(
    objective: Callable[[Array], tuple[float, Array]],
    start: Array,
    names: tuple[str, ...],
    max_iterations: int,
    customers: float,
) -> tuple[Array, optimize.OptimizeResult, Reason | None, Array]:
    """Minimise minus the mean log-likelihood over log-parameters; judge the result.

    Returns the log-parameters, the optimizer's result, the reason the fit failed (None if it did
    not), and the standard errors of the log-parameters (NaN unless the fit converged).
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(start)
    with np.errstate(all="ignore"):
        result = optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
        )
        theta = np.asarray(result.x, dtype=np.float64)
        value, gradient = objective(theta)
    steepest = float(np.max(np.abs(gradient))) if math.isfinite(value) else math.inf
    log_se = np.full(len(start), np.nan)
    if not math.isfinite(value):
        return theta, result, Reason(NON_FINITE_LIKELIHOOD, {}), log_se
    if (edge := np.flatnonzero(np.abs(theta) >= LOG_EDGE)).size:
        return theta, result, Reason(PARAMETER_AT_BOUND, {"parameter": names[int(edge[0])]}), log_se
    if steepest > GRADIENT_TOLERANCE:
        # The optimizer's own verdict is not trusted either way: a line search that gives up at the
        # maximum ("ABNORMAL") has converged; a stop on a flat stretch far from it has not.
        return theta, result, Reason(NOT_CONVERGED, {"message": str(result.message), "gradient": steepest}), log_se
    # A maximum the data pins down has a clearly curved likelihood in every direction; on the way to a
    # boundary (a parameter running to zero or infinity) it flattens out in that parameter's direction.
    hessian = _hessian(objective, theta) * customers
    values, vectors = np.linalg.eigh(hessian)
    if not np.all(np.isfinite(values)) or values[0] <= 0:
        flat = int(np.argmax(np.abs(vectors[:, 0]))) if np.all(np.isfinite(vectors)) else 0
        return theta, result, Reason(NOT_IDENTIFIED, {"parameter": names[flat], "standard_error": math.inf}), log_se
    log_se = np.sqrt(np.diag(vectors @ np.diag(1 / values) @ vectors.T))
    if (loose := np.flatnonzero(log_se > MAX_LOG_STANDARD_ERROR)).size:
        worst = int(loose[np.argmax(log_se[loose])])
        reason = Reason(NOT_IDENTIFIED, {"parameter": names[worst], "standard_error": float(log_se[worst])})
        return theta, result, reason, np.full(len(start), np.nan)
    return theta, result, None, log_se


def _hessian(objective: Callable[[Array], tuple[float, Array]], theta: Array, step: float = 1e-4) -> Array:
    """Central differences of the analytic gradient, symmetrised."""
    size = len(theta)
    hessian = np.zeros((size, size))
    with np.errstate(all="ignore"):
        for i in range(size):
            shift = np.zeros(size)
            shift[i] = step
            hessian[:, i] = (objective(theta + shift)[1] - objective(theta - shift)[1]) / (2 * step)
    return np.asarray((hessian + hessian.T) / 2, dtype=np.float64)


def _settle(
    reason: Reason | None, result: optimize.OptimizeResult, params: BGNBDParams | GammaGammaParams, ll: float
) -> tuple[Reason | None, str]:
    """The final reason (with the parameter's value in the caller's units) and a message for people."""
    if reason is None and not math.isfinite(ll):
        reason = Reason(NON_FINITE_LIKELIHOOD)
    if reason is None:
        return None, "converged" if result.success else f"converged (the optimizer stopped with: {result.message})"
    if reason.code == PARAMETER_AT_BOUND:
        name = reason.params["parameter"]
        value = float(getattr(params, name))
        message = (
            f"parameter {name} ran to {value:.3g}: the likelihood has no interior maximum on this data "
            "(too few repeat buyers, or data the model does not describe)"
        )
        return Reason(PARAMETER_AT_BOUND, {"parameter": name, "value": value}), message
    if reason.code == NON_FINITE_LIKELIHOOD:
        return reason, "the log-likelihood is not finite at the parameters reached"
    if reason.code == NOT_IDENTIFIED:
        return reason, (
            f"the data cannot pin down parameter {reason.params['parameter']}: its standard error on the log "
            f"scale is {reason.params['standard_error']:.3g} (at most {MAX_LOG_STANDARD_ERROR:g} is usable); "
            "too few repeat buyers, or data the model does not describe"
        )
    return reason, f"the optimizer did not converge: {result.message} (gradient {reason.params['gradient']:.2g})"


# --- BG/NBD --------------------------------------------------------------------------------------------


def _bgnbd_terms(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: Array,
    t_x: Array,
    T: Array,
) -> tuple[Array, Array, Array, Array]:
    """The pieces of each customer's log-likelihood: A1 + A2 + logaddexp(A3, A4)."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return a1, a2, a3, a4


def bgnbd_log_likelihood(
    params: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Array:
    """Each customer's BG/NBD log-likelihood (FHL 2005, eq. 6), computed in logs (``logaddexp``)."""
    x, t_x, age = _check_rft(frequency, recency, T)
    a1, a2, a3, a4 = _bgnbd_terms(params.r, params.alpha, params.a, params.b, x, t_x, age)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def _codes(values: Array) -> tuple[Array, npt.NDArray[np.intp]]:
    uniques, inverse = np.unique(values, return_inverse=True)
    return uniques, inverse.reshape(-1)


def _bgnbd_objective(x: Array, t_x: Array, T: Array, w: Array) -> Callable[[Array], tuple[float, Array]]:
    """Minus the mean log-likelihood and its gradient with respect to the log-parameters.

    Special functions are evaluated once per distinct x (and logs once per distinct T and t_x); the
    terms that depend on x alone are summed through the weight of each x. Only the last term
    (``logaddexp``) is per row.
    """
    total = float(w.sum())
    ux, ix = _codes(x)
    uT, iT = _codes(T)
    ut, it = _codes(t_x)
    wx = np.bincount(ix, weights=w, minlength=len(ux))
    repeat = x > 0
    ux_minus_1 = np.where(ux > 0, ux - 1, 0.0)

    def objective(theta: Array) -> tuple[float, Array]:
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        # Terms in x only, summed over the weight of each distinct x.
        a1 = special.gammaln(r + ux) - special.gammaln(r) + r * math.log(alpha)
        a2 = special.betaln(a, b + ux) - special.betaln(a, b)
        log_dead = math.log(a) - np.log(np.where(ux > 0, b + ux_minus_1, 1.0))
        log_at, log_atx = np.log(alpha + uT), np.log(alpha + ut)
        rx = r + x
        a3 = -rx * log_at[iT]
        a4 = np.where(repeat, log_dead[ix] - rx * log_atx[it], -np.inf)
        tail = np.logaddexp(a3, a4)
        ll = _dot(wx, a1 + a2) + _dot(w, tail)
        p3 = np.exp(a3 - tail) * w
        p4 = np.exp(a4 - tail) * w
        psi_abx = special.digamma(a + b + ux)
        psi_ab = special.digamma(a + b)
        d_r = (
            _dot(wx, special.digamma(r + ux) - special.digamma(r) + math.log(alpha))
            - _dot(p3, log_at[iT])
            - _dot(p4, log_atx[it])
        )
        d_alpha = r / alpha * total - _dot(p3 * rx, 1.0 / (alpha + uT)[iT]) - _dot(p4 * rx, 1.0 / (alpha + ut)[it])
        p4x = np.bincount(ix, weights=p4, minlength=len(ux))
        d_a = _dot(wx, psi_ab - psi_abx) + float(p4x.sum()) / a
        d_b = _dot(wx, special.digamma(b + ux) - psi_abx - special.digamma(b) + psi_ab) - float(
            _dot(p4x, 1.0 / (b + ux_minus_1))
        )
        value = -ll / total
        grad = -np.array([d_r, d_alpha, d_a, d_b]) * np.exp(theta) / total
        if not math.isfinite(value) or not np.all(np.isfinite(grad)):
            return math.inf, np.zeros(4)
        return value, grad

    return objective


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    start: BGNBDParams | None = None,
    max_iterations: int = 2000,
) -> FitResult[BGNBDParams]:
    """Maximum-likelihood BG/NBD parameters for customers' (x, t_x, T).

    Identical (x, t_x, T) rows are counted once with a weight, and times are rescaled so the oldest
    customer's T is 10 while searching (alpha is a time scale, so it is scaled back; the log-likelihood is
    reported in the caller's units). The search is L-BFGS-B on log-parameters with the analytic gradient.
    """
    x, t_x, age = _check_rft(frequency, recency, T)
    n = int(x.size)
    nan = BGNBDParams(math.nan, math.nan, math.nan, math.nan)
    if n == 0:
        return FitResult(nan, math.nan, False, 0, "there are no customers", 0, reason=Reason(NO_CUSTOMERS))
    repeat_buyers = int(np.count_nonzero(x))
    if repeat_buyers == 0:
        message = "no customer bought again: the model cannot tell purchase rates from dropout"
        return FitResult(nan, math.nan, False, 0, message, n, reason=Reason(NO_REPEAT_BUYERS))
    longest = float(age.max())
    scale = 10.0 / longest if longest > 0 else 1.0
    (cx, ct_x, cT), w = _compress(x, t_x * scale, age * scale)
    begin = np.zeros(4)
    if start is not None:
        begin = np.log([start.r, start.alpha * scale, start.a, start.b])
    theta, result, reason, log_se = _minimise(
        _bgnbd_objective(cx, ct_x, cT, w), begin, ("r", "alpha", "a", "b"), max_iterations, float(w.sum())
    )
    r, alpha, a, b = (float(v) for v in np.exp(theta))
    params = BGNBDParams(r=r, alpha=alpha / scale, a=a, b=b)
    ll = _dot(w, bgnbd_log_likelihood(params, cx, ct_x / scale, cT / scale))
    reason, message = _settle(reason, result, params, ll)
    return FitResult(
        params=params,
        log_likelihood=ll,
        converged=reason is None,
        iterations=int(result.nit),
        message=message,
        customers=n,
        reason=reason,
        standard_errors=_standard_errors(params, log_se) if reason is None else {},
    )


def _standard_errors(params: BGNBDParams | GammaGammaParams, log_se: Array) -> dict[str, float]:
    """Standard errors in the parameters' own units, from those of their logs (delta method)."""
    return {name: value * float(se) for (name, value), se in zip(params.as_dict().items(), log_se, strict=True)}


def _log_odds_dead(params: BGNBDParams, x: Array, t_x: Array, T: Array) -> Array:
    """log[a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x)] for x > 0, -inf for x = 0."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        value = (
            math.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(repeat, value, -np.inf)


def probability_alive(
    params: BGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Array:
    """P(alive at T | x, t_x, T) under BG/NBD (FHL 2005, eq. 13); 1 for every customer with x = 0."""
    x, t_x, age = _check_rft(frequency, recency, T)
    return np.asarray(special.expit(-_log_odds_dead(params, x, t_x, age)), dtype=np.float64)


def expected_purchases(
    params: BGNBDParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Array:
    """Expected purchases in (T, T + t] of a customer with (x, t_x, T) (FHL 2005, eq. 10).

    Alive at T, the customer's purchase rate is Gamma(r + x, alpha + T) and dropout probability
    Beta(a, b + x): the expectation is ``_alive_purchases`` with those parameters (one call per
    frequency), times the probability of being alive. That avoids FHL's 0/0 at a = 1 and scipy's
    2F1 where it is wrong, as for the population.
    """
    x, t_x, age = _check_rft(frequency, recency, T)
    horizon = _floats(t, "t")
    if np.any(horizon < 0):
        raise ValueError("t is negative")
    x, t_x, age, horizon = np.broadcast_arrays(x, t_x, age, horizon)
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    alive = np.zeros(x.shape)
    with np.errstate(all="ignore"):
        w = horizon / (alpha + age)
    for value in np.unique(x):
        rows = x == value
        # Ages are mostly whole days: each distinct horizon is worked out once.
        distinct, back = np.unique(w[rows], return_inverse=True)
        alive[rows] = _alive_purchases(r + value, a, b + value, distinct)[back]
    alive = np.where(horizon == 0, 0.0, alive)
    value = alive * special.expit(-_log_odds_dead(params, x, t_x, age))
    return np.asarray(value, dtype=np.float64)


def _survival_term(r: float, a: float, b: float, x: Array, z: Array) -> Array:
    """(1 - z)^(r + x) 2F1(r + x, b + x; a + b + x - 1; z), the hypergeometric part of FHL's eq. 10.

    Computed by Euler's transformation as (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z),
    whose parameters do not grow with x: the plain form overflows for frequent buyers (x in the
    hundreds) far into the future. Where scipy's 2F1 gives no finite value for either form (extreme
    histories: hundreds of purchases in a moment), Gauss's series is summed directly.
    """
    x, z = np.broadcast_arrays(x, z)
    c = a + b + x - 1
    euler = np.exp((a - 1) * np.log1p(-z)) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    bad = ~np.isfinite(euler)
    if not np.any(bad):
        return np.asarray(euler, dtype=np.float64)
    plain = np.exp((r + x[bad]) * np.log1p(-z[bad])) * special.hyp2f1(r + x[bad], b + x[bad], c[bad], z[bad])
    euler = np.array(euler, dtype=np.float64)
    euler[bad] = plain
    bad = ~np.isfinite(euler)
    if np.any(bad):
        series = _gauss_series(a + b - 1 - r, a - 1, c[bad], z[bad])
        euler[bad] = np.exp((a - 1) * np.log1p(-z[bad])) * series
    return euler


def _gauss_series(first: float, second: float, c: Array, z: Array, *, terms: int = 100_000) -> Array:
    """2F1(first, second; c; z) = sum_k (first)_k (second)_k / (c)_k z^k / k!, summed until the terms
    no longer count (NaN where that takes more than ``terms`` terms). Only for the rare elements where
    scipy's 2F1 fails, so the loop over k runs on a handful of values."""
    term = np.ones_like(z)
    total = np.ones_like(z)
    for k in range(terms):
        term = term * ((first + k) * (second + k) / ((c + k) * (k + 1))) * z
        total = total + term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            return total
    return np.where(np.abs(term) <= 1e-12 * np.abs(total), total, np.nan)


def expected_purchases_population(params: BGNBDParams, t: ArrayLike) -> Array:
    """Expected purchases of a new customer in (0, t] after the first (FHL 2005, eq. 9).

    FHL's (a + b - 1) / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b; a + b - 1; t / (alpha + t))] is
    E[(1 - (1 + p t / alpha)^-r) / p] over the dropout probability p ~ Beta(a, b); ``_alive_purchases``
    evaluates that expectation without the formula's 0/0 at a = 1 or a + b = 1, and without trusting
    scipy's 2F1 where it is wrong (see there).
    """
    horizon = _floats(t, "t")
    if np.any(horizon < 0):
        raise ValueError("t is negative")
    value = _alive_purchases(params.r, params.a, params.b, horizon / params.alpha)
    return np.asarray(np.where(horizon == 0, 0.0, value), dtype=np.float64)


# Near these, FHL's closed form loses its digits and is not used: |a - 1| (the 0/0 of (a + b - 1) / (a - 1)
# times 1 - 2F1), |a + b - 1| (2F1 with c = a + b - 1 near its pole at 0), and the distance of r - a + 1,
# the c - A - B of the Euler-transformed 2F1, to an integer (the logarithmic case of the z -> 1 - z
# transformation, where scipy's 2F1 returns garbage of either sign for z near 1).
_CLOSED_FORM_MARGIN = 0.01
# w (r + 1) up to this: the power series in w converges at least as fast as 2^-k.
_SERIES_REACH = 0.5


def _alive_purchases(r: float, a: float, b: float, w: Array) -> Array:
    """E[(1 - (1 + p w)^-r) / p] for p ~ Beta(a, b): the repeat purchases to expect in a horizon of w
    (time in units of alpha) of a customer alive at its start, BG/NBD with lambda ~ Gamma(r, 1).

    Equal to (a + b - 1) / (a - 1) [1 - (1 - z)^r 2F1(r, b; a + b - 1; z)] with z = w / (1 + w) (FHL 2005,
    eq. 9), and to the power series r w sum_k (r + 1)_k (a)_k / ((a + b)_k (k + 1)!) (-w)^k, whose
    (a - 1) and (a + b - 1) have cancelled. The series is summed for small w; the closed form is used
    where it is reliable and lies within the bounds the expectation must (1 - (1 + w)^-r <= value <= r w,
    the integrand falling from r w at p = 0 to its value at p = 1); elsewhere the integral over p is
    computed by adaptive quadrature. Never clipped: NaN where nothing gives a trustworthy number.
    """
    w = np.asarray(w, dtype=np.float64)
    value = np.full(w.shape, np.nan)
    small = w * (r + 1) <= _SERIES_REACH
    if np.any(small):
        value[small] = r * w[small] * _purchases_series(r, a, b, w[small])
    rest = ~small & np.isfinite(w)
    near_integer = abs(r - a + 1 - round(r - a + 1))
    if np.any(rest) and min(abs(a - 1), abs(a + b - 1), near_integer) >= _CLOSED_FORM_MARGIN:
        with np.errstate(all="ignore"):
            z = w[rest] / (1 + w[rest])
            stay = _survival_term(r, a, b, np.zeros_like(z), z)
            closed = (a + b - 1) / (a - 1) * (1 - stay)
            low = -np.expm1(-r * np.log1p(w[rest]))
            high = r * w[rest]
        sound = np.isfinite(closed) & (closed >= low * (1 - 1e-9)) & (closed <= high * (1 + 1e-9))
        done = np.flatnonzero(rest)[sound]
        value.flat[done] = closed[sound]
        rest.flat[done] = False
    if np.any(rest):
        value.flat[np.flatnonzero(rest)] = _purchases_by_gauss_jacobi(r, a, b, w[rest])
        rest &= np.isnan(value)
    for i in np.flatnonzero(rest):
        value.flat[i] = _purchases_by_quadrature(r, a, b, float(w.flat[i]))
    return value


def _purchases_by_gauss_jacobi(r: float, a: float, b: float, w: Array, *, nodes: int = 48) -> Array:
    """E[(1 - (1 + p w)^-r) / p] for p ~ Beta(a, b) by Gauss-Jacobi quadrature, whose weight is the Beta
    density itself (so its infinities at 0 and 1 cost nothing); NaN where ``nodes`` and twice as many
    disagree beyond 1e-8 (a horizon so long that the integrand bends too sharply near p = 0).

    Vectorised over w: the fast path where the closed form is not trusted, for a whole population.
    """
    rules = []
    for n in (nodes, 2 * nodes):
        roots, weights = special.roots_jacobi(n, b - 1, a - 1)  # weight (1 - y)^(b-1) (1 + y)^(a-1) on [-1, 1]
        rules.append(((roots + 1) / 2, weights / weights.sum()))
    coarse, fine = np.empty(w.shape), np.empty(w.shape)
    step = 20_000  # rows at a time: a row holds a value per node
    for start in range(0, w.size, step):
        part = w.flat[start : start + step]
        for out, (p, weights) in ((coarse, rules[0]), (fine, rules[1])):
            with np.errstate(all="ignore"):
                spend = -np.expm1(-r * np.log1p(np.outer(part, p))) / p
            out.flat[start : start + step] = spend @ weights
    agree = np.isfinite(fine) & (np.abs(fine - coarse) <= 1e-8 * np.abs(fine))
    return np.where(agree, fine, np.nan)


def _purchases_series(r: float, a: float, b: float, w: Array) -> Array:
    """sum_k (r + 1)_k (a)_k / ((a + b)_k (k + 1)!) (-w)^k for w (r + 1) <= 1/2: alternating, its terms
    shrink at least twofold each step, so it is summed to full precision in at most 60 terms."""
    term = np.ones_like(w)
    total = np.ones_like(w)
    for k in range(60):
        term = term * ((r + 1 + k) * (a + k) / ((a + b + k) * (k + 2))) * -w
        total = total + term
        if np.all(np.abs(term) <= 1e-17 * np.abs(total)):
            break
    return total


def _purchases_by_quadrature(r: float, a: float, b: float, w: float) -> float:
    """E[(1 - (1 + p w)^-r) / p] for p ~ Beta(a, b), integrated numerically; NaN if not to 1e-9.

    The Beta density is infinite at p = 0 for a < 1 and at p = 1 for b < 1: the integral is split at
    p = 1/2 and taken over u = p^a below and v = (1 - p)^b above, where the integrand is bounded. Break
    points go where the integrand bends (p of order 1 / w) and where the Beta mass lies (its quantiles).
    """
    log_norm = -float(special.betaln(a, b))

    def spend(p: float) -> float:
        return -math.expm1(-r * math.log1p(p * w)) / p if p > 0 else r * w

    def lower(u: float) -> float:  # p = u^(1/a) in [0, 1/2]; p^(a-1) dp = du / a
        p = u ** (1 / a)
        return spend(p) * math.exp((b - 1) * math.log1p(-p) + log_norm) / a

    def upper(v: float) -> float:  # 1 - p = v^(1/b) in [0, 1/2]; (1-p)^(b-1) dp = -dv / b
        p = 1 - v ** (1 / b)
        return spend(p) * math.exp((a - 1) * math.log(p) + log_norm) / b

    bends = [k / w for k in (0.1, 1.0, 10.0)] + [float(q) for q in special.betaincinv(a, b, [1e-6, 0.01, 0.5, 0.99])]
    below = sorted({p**a for p in bends if 0 < p < 0.5})
    above = sorted({(1 - p) ** b for p in bends if 0.5 < p < 1})
    total = 0.0
    error = 0.0
    for integrand, end, points in ((lower, 0.5**a, below), (upper, 0.5**b, above)):
        part, part_error, *_ = integrate.quad(
            integrand, 0, end, points=points or None, limit=500, epsabs=0, epsrel=1e-12, full_output=1
        )
        total += part
        error += part_error
    return total if math.isfinite(total) and error <= 1e-9 * abs(total) else math.nan


# --- Gamma-Gamma ---------------------------------------------------------------------------------------


def _check_spend(frequency: ArrayLike, average_spend: ArrayLike) -> tuple[Array, Array]:
    x = _floats(frequency, "frequency")
    m = _floats(average_spend, "average_spend")
    x, m = np.broadcast_arrays(x, m)
    if np.any(x < 0):
        raise ValueError(f"frequency is negative at index {int(np.flatnonzero(np.ravel(x < 0))[0])}")
    return x, m


def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency: ArrayLike, average_spend: ArrayLike) -> Array:
    """Each repeat buyer's Gamma-Gamma log-likelihood of their average spend given x (x > 0, spend > 0)."""
    x, m = _check_spend(frequency, average_spend)
    if np.any((x <= 0) | (m <= 0)):
        raise ValueError("the Gamma-Gamma likelihood needs x > 0 and a positive average spend")
    return _gg_ll(params.p, params.q, params.gamma, x, m)


def _gg_ll(p: float, q: float, gamma: float, x: Array, m: Array) -> Array:
    px = p * x
    return np.asarray(
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(gamma + m * x),
        dtype=np.float64,
    )


def _gg_objective(x: Array, m: Array, w: Array) -> Callable[[Array], tuple[float, Array]]:
    """Minus the mean Gamma-Gamma log-likelihood and its gradient with respect to the log-parameters.

    Special functions are evaluated once per distinct x; per row there is one log and one division.
    """
    total = float(w.sum())
    ux, ix = _codes(x)
    wx = np.bincount(ix, weights=w, minlength=len(ux))
    log_m = np.log(m)
    sum_wx_log_x = _dot(wx * ux, np.log(ux))
    sum_w_log_m = _dot(w, log_m)
    sum_wx_log_m = _dot(w * x, log_m)
    wx_rows = w * x
    mx = m * x

    def objective(theta: Array) -> tuple[float, Array]:
        p, q, gamma = (float(v) for v in np.exp(theta))
        pux = p * ux
        log_gmx = np.log(gamma + mx)
        inv_gmx = 1.0 / (gamma + mx)
        sum_wx_lg = _dot(wx_rows, log_gmx)
        sum_w_lg = _dot(w, log_gmx)
        ll = (
            _dot(wx, special.gammaln(pux + q) - special.gammaln(pux))
            + total * (q * math.log(gamma) - float(special.gammaln(q)))
            + p * sum_wx_log_m
            - sum_w_log_m
            + p * sum_wx_log_x
            - p * sum_wx_lg
            - q * sum_w_lg
        )
        psi = special.digamma(pux + q)
        d_p = _dot(wx * ux, psi - special.digamma(pux)) + sum_wx_log_m + sum_wx_log_x - sum_wx_lg
        d_q = _dot(wx, psi) + total * (math.log(gamma) - float(special.digamma(q))) - sum_w_lg
        d_gamma = total * q / gamma - p * _dot(wx_rows, inv_gmx) - q * _dot(w, inv_gmx)
        value = -ll / total
        grad = -np.array([d_p, d_q, d_gamma]) * np.exp(theta) / total
        if not math.isfinite(value) or not np.all(np.isfinite(grad)):
            return math.inf, np.zeros(3)
        return value, grad

    return objective


def fit_gamma_gamma(
    frequency: ArrayLike, average_spend: ArrayLike, *, max_iterations: int = 2000
) -> FitResult[GammaGammaParams]:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers' (x, average repeat spend).

    Customers with x = 0 carry no information and are skipped (not counted in ``excluded``); repeat
    buyers whose average spend is not positive (returns netted against purchases) cannot be Gamma
    distributed and are left out, counted in ``excluded``. A fit with q <= 1 (infinite mean spend) is
    reported as not converged (``MEAN_SPEND_INFINITE``).
    """
    x, m = _check_spend(frequency, average_spend)
    buyers = x > 0
    usable = buyers & (m > 0)
    excluded = int(np.count_nonzero(buyers & ~usable))
    x, m = x[usable], m[usable]
    n = int(x.size)
    nan = GammaGammaParams(math.nan, math.nan, math.nan)
    if n == 0:
        message = "no repeat buyer with a positive average spend"
        return FitResult(nan, math.nan, False, 0, message, 0, excluded, Reason(NO_REPEAT_BUYERS))
    scale = 1.0 / float(np.median(m))
    (cx, cm), w = _compress(x, m * scale)
    theta, result, reason, log_se = _minimise(
        _gg_objective(cx, cm, w), np.zeros(3), ("p", "q", "gamma"), max_iterations, float(w.sum())
    )
    p, q, gamma = (float(v) for v in np.exp(theta))
    params = GammaGammaParams(p=p, q=q, gamma=gamma / scale)
    ll = _dot(w, _gg_ll(params.p, params.q, params.gamma, cx, cm / scale))
    reason, message = _settle(reason, result, params, ll)
    if reason is None and params.q <= 1:
        reason = Reason(MEAN_SPEND_INFINITE, {"q": params.q})
        message = f"q = {params.q:.3g} <= 1: the expected spend per transaction is infinite"
    errors = _standard_errors(params, log_se) if reason is None else {}
    return FitResult(params, ll, reason is None, int(result.nit), message, n, excluded, reason, errors)


def expected_average_spend(params: GammaGammaParams, frequency: ArrayLike, average_spend: ArrayLike) -> Array:
    """E[spend per transaction | x, average spend] (Fader & Hardie's note, eq. 5).

    A weighted mean of the population mean p * gamma / (q - 1) and the customer's own average; the
    population mean for customers with x = 0. Needs q > 1.
    """
    if not params.q > 1:
        raise FitError(
            f"q = {params.q:.3g} <= 1: the expected spend is infinite", Reason(MEAN_SPEND_INFINITE, {"q": params.q})
        )
    x, m = _check_spend(frequency, average_spend)
    p, q, gamma = params.p, params.q, params.gamma
    spend = np.where(x > 0, m, 0.0)
    return np.asarray(p * (gamma + x * spend) / (p * x + q - 1), dtype=np.float64)


# --- lifetime value ------------------------------------------------------------------------------------


def lifetime_value(
    bgnbd: BGNBDParams,
    gamma_gamma: GammaGammaParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    average_spend: ArrayLike,
    *,
    horizon: float,
    discount_rate: float = 0.0,
    step: float = 1.0,
    margin: float = 1.0,
) -> Array:
    """Expected value of each customer's purchases over the next ``horizon`` time units.

    Without discounting: E[purchases in (T, T + horizon]] x E[spend per purchase] x ``margin``.
    With ``discount_rate`` d per ``step`` time units (e.g. weeks as the unit, ``step=52/12`` and a
    monthly rate), the horizon is cut into steps; the purchases expected in step k (k = 1, 2, ...; the
    last may be shorter) are discounted by (1 + d)^k, as at the end of the step. Floats: convert money
    with ``to_decimal`` at the edge.
    """
    if horizon < 0 or not math.isfinite(horizon):
        raise ValueError("horizon must be a non-negative number")
    if discount_rate < 0 or step <= 0:
        raise ValueError("discount_rate must be >= 0 and step > 0")
    spend = expected_average_spend(gamma_gamma, frequency, average_spend) * margin
    if discount_rate == 0:
        return np.asarray(expected_purchases(bgnbd, horizon, frequency, recency, T) * spend, dtype=np.float64)
    steps = math.ceil(horizon / step - 1e-12)
    total = np.zeros(np.broadcast(np.asarray(frequency), np.asarray(T)).shape)
    before = np.zeros_like(total)
    for k in range(1, steps + 1):
        now = expected_purchases(bgnbd, min(k * step, horizon), frequency, recency, T)
        total += (now - before) / (1 + discount_rate) ** k
        before = now
    return np.asarray(total * spend, dtype=np.float64)


def to_decimal(value: float, places: int = 2) -> Decimal:
    """A model float as a ``Decimal`` rounded half-up to ``places`` decimals; NaN and infinity refused."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} is not a finite number")
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


# --- one-time buyers -----------------------------------------------------------------------------------


def typical_purchase_interval(frequency: ArrayLike, recency: ArrayLike) -> float:
    """The median, over repeat buyers, of their mean time between purchases (t_x / x); NaN if none."""
    x = _floats(frequency, "frequency")
    t_x = _floats(recency, "recency")
    repeat = x > 0
    if not np.any(repeat):
        return math.nan
    return float(np.median(t_x[repeat] / x[repeat]))


@dataclass(frozen=True, slots=True)
class OneTimeBuyerRule:
    """A one-time buyer is lapsed once their age T exceeds ``multiple`` typical purchase intervals.

    BG/NBD cannot judge one-time buyers (it has them alive with probability 1); this rule treats a
    one-time buyer as churned (probability alive 0) when no repeat purchase came in ``multiple`` times
    the time repeat buyers typically take between purchases, and leaves the model's answer otherwise.
    ``interval`` is in the model's time unit; ``typical_purchase_interval`` gives the population's.
    """

    interval: float
    multiple: float = 3.0

    def __post_init__(self) -> None:
        if not (self.interval > 0 and math.isfinite(self.interval)):
            raise ValueError("interval must be a positive number")
        if not (self.multiple > 0 and math.isfinite(self.multiple)):
            raise ValueError("multiple must be a positive number")

    @property
    def limit(self) -> float:
        return self.interval * self.multiple

    def params(self, age: float) -> dict[str, Any]:
        return {"age": age, "limit": self.limit, "interval": self.interval, "multiple": self.multiple}


def judge_one_time_buyer(frequency: int, T: float, rule: OneTimeBuyerRule) -> Reason:
    """Why a customer's probability alive is what it is: ``REPEAT_BUYER`` (BG/NBD judges them),
    ``ONE_TIME_BUYER_LAPSED`` (age beyond the rule's limit: churned) or ``ONE_TIME_BUYER_ACTIVE``.
    """
    if frequency > 0:
        return Reason(REPEAT_BUYER, {"frequency": frequency})
    code = ONE_TIME_BUYER_LAPSED if rule.limit < T else ONE_TIME_BUYER_ACTIVE
    return Reason(code, rule.params(T))


def probability_alive_with_rule(
    p_alive: ArrayLike,
    frequency: ArrayLike,
    T: ArrayLike,
    rule: OneTimeBuyerRule,
) -> Array:
    """BG/NBD's probability alive with the one-time buyer rule applied: 0 for lapsed one-time buyers."""
    p = _floats(p_alive, "p_alive")
    x = _floats(frequency, "frequency")
    age = _floats(T, "T")
    return np.asarray(np.where((x == 0) & (age > rule.limit), 0.0, p), dtype=np.float64)
