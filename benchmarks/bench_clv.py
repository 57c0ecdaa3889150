"""BG/NBD plus Gamma-Gamma on a million customers: Patron's pure core against the ``lifetimes`` package.

The transactions are drawn from the BG/NBD and Gamma-Gamma processes themselves (numpy, seeded), so the
fitted parameters can be checked against the true ones:

* each customer's first purchase falls in the first 12 weeks; calibration is 52 weeks from the start,
  the holdout the 26 weeks after it;
* purchase rate lambda ~ Gamma(r, alpha) per week; after each repeat purchase the customer drops out
  with probability p ~ Beta(a, b); repeat purchases are the first min(M, N) points of a Poisson process
  (M events in the window, dropout after the N-th), drawn through exponential spacings without a loop;
* every transaction's amount is Gamma(p, nu), nu ~ Gamma(q, gamma), rounded to cents.

Figures, each measured in this one run:

* Patron: ``summarise`` of the raw log (same-day merge, calibration and holdout), ``fit_bgnbd`` and
  ``fit_gamma_gamma``; bar (issue 4): the three within 30 s together. Then probability alive, expected
  purchases over the holdout and expected spend for every customer.
* the floor: polars computing the same per-customer aggregation (group by customer and day, then by
  customer) with no modelling; and ``summarise`` on 10,000,000 rows (the scale data's order lines);
* ``lifetimes`` (0.11.3, benchmark-only) fitting ``BetaGeoFitter`` and ``GammaGammaFitter`` on the same
  summary, and the ratio. ``--lifetimes-customers N`` fits lifetimes on the first N customers only.

    python benchmarks/bench_clv.py [--customers 1000000] [--seed 7] [--lifetimes-customers N] [--no-lifetimes]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Any

import numpy as np

from patron.domain.segmentation.clv import (
    expected_average_spend,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
    summarise,
)

TRUE_BGNBD = {"r": 0.75, "alpha": 6.0, "a": 0.8, "b": 2.5}
TRUE_GG = {"p": 6.0, "q": 4.0, "gamma": 15.0}
START = np.datetime64("2024-01-01")
COHORT_DAYS = 84
CALIBRATION_DAYS = 364
HOLDOUT_DAYS = 182
BAR_SECONDS = 30.0


def simulate(customers: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns (customer_id, date, amount) of the transactions of ``customers`` customers."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = (TRUE_BGNBD[k] for k in ("r", "alpha", "a", "b"))
    birth = rng.integers(0, COHORT_DAYS, size=customers)
    window = (CALIBRATION_DAYS + HOLDOUT_DAYS - 1 - birth) / 7.0  # weeks from first purchase to the last day
    rate = rng.gamma(r, 1.0 / alpha, size=customers)
    dropout = rng.beta(a, b, size=customers)
    lives = rng.geometric(dropout)  # the customer drops out after their lives-th repeat purchase
    events = rng.poisson(rate * window)  # repeat purchases in the window if they never dropped out
    repeats = np.minimum(events, lives)
    # The first k of M uniform order statistics on [0, W]: S_j / S_{M+1} * W, with S the partial sums
    # of M + 1 unit exponentials; S_{M+1} = S_k + Gamma(M + 1 - k).
    owner = np.repeat(np.arange(customers), repeats)
    sums = np.cumsum(rng.standard_exponential(owner.size))
    starts = np.cumsum(repeats) - repeats
    before = np.where(starts > 0, sums[np.maximum(starts - 1, 0)], 0.0)
    partial = sums - before[owner]
    last = np.where(repeats > 0, sums[np.maximum(starts + repeats - 1, 0)] - before, 0.0)
    total = last + rng.gamma(np.maximum(events + 1 - repeats, 1e-300), size=customers)
    offsets = np.floor(partial / total[owner] * window[owner] * 7.0).astype(np.int64)
    ids = np.concatenate([np.arange(customers), owner]) + 1
    days = np.concatenate([birth, birth[owner] + offsets])
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["gamma"], size=customers)
    amounts = np.round(rng.gamma(TRUE_GG["p"], 1.0 / nu[ids - 1]), 2)
    return ids, START + days.astype("timedelta64[D]"), amounts


def _timed(label: str, fn: Any) -> tuple[Any, float]:
    wall = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - wall
    print(f"  {label:<52} {seconds:8.2f} s", flush=True)
    return value, seconds


def _polars_floor(ids: np.ndarray, dates: np.ndarray, amounts: np.ndarray, calibration_end: np.datetime64) -> float:
    import polars as pl

    frame = pl.DataFrame({"customer_id": ids, "date": dates, "amount": amounts})
    wall = time.perf_counter()
    end = calibration_end.astype(dt.date)
    per_customer = (
        frame.lazy()
        .group_by("customer_id", "date")
        .agg(pl.col("amount").sum())
        .with_columns(calibration=pl.col("date") <= end)
        .group_by("customer_id")
        .agg(
            first=pl.col("date").min(),
            last=pl.col("date").filter("calibration").max(),
            transactions=pl.col("calibration").sum(),
            spend=pl.col("amount").filter("calibration").sum(),
            holdout=(~pl.col("calibration")).sum(),
        )
        .filter(pl.col("first") <= end)
        .collect()
    )
    seconds = time.perf_counter() - wall
    print(f"  {'polars: the same per-customer aggregation (floor)':<52} {seconds:8.2f} s  ({per_customer.height:,})")
    return seconds


def _summarise_10m(
    ids: np.ndarray, dates: np.ndarray, amounts: np.ndarray, customers: int, calibration_end: np.datetime64
) -> float:
    """The scale data's size, 10,000,000 order lines: the same log repeated with new ids, to 10M rows."""
    rows = 10_000_000
    copies = -(-rows // len(ids))
    big = (
        np.concatenate([ids + k * customers for k in range(copies)])[:rows],
        np.tile(dates, copies)[:rows],
        np.tile(amounts, copies)[:rows],
    )
    summary, seconds = _timed(
        f"summarise {rows:,} rows (the log repeated, new ids)",
        lambda: summarise(big, calibration_end=calibration_end),
    )
    print(f"  ({summary.customers:,} customers)")
    return seconds


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lifetimes-customers", type=int, default=0, help="Fit lifetimes on this many (0: all).")
    parser.add_argument("--no-lifetimes", action="store_true")
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])

    (ids, dates, amounts), _seconds = _timed("simulate the transactions", lambda: simulate(args.customers, args.seed))
    calibration_end = START + np.timedelta64(CALIBRATION_DAYS - 1, "D")
    print(f"{len(ids):,} transactions of {args.customers:,} customers; calibration to {calibration_end}")
    print(f"load average before the timings: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")

    print("Patron (numpy + scipy):")
    summary, t_summary = _timed(
        "summarise (merge days, calibration, holdout)",
        lambda: summarise((ids, dates, amounts), calibration_end=calibration_end),
    )
    bg, t_bg = _timed("fit BG/NBD", lambda: fit_bgnbd(summary.frequency, summary.recency, summary.T))
    gg, t_gg = _timed("fit Gamma-Gamma", lambda: fit_gamma_gamma(summary.frequency, summary.average_spend))
    patron = t_summary + t_bg + t_gg
    print(
        f"  {'summary + both fits':<52} {patron:8.2f} s  (bar {BAR_SECONDS:.0f} s: "
        f"{'met' if patron <= BAR_SECONDS else 'MISSED'})"
    )
    print(
        f"  customers {summary.customers:,}, repeat buyers {summary.repeat_buyers:,}, "
        f"repeat transactions {summary.repeat_transactions:,}"
    )
    print(
        f"  BG/NBD {bg.converged=} {bg.iterations} iterations: "
        + ", ".join(f"{k} {v:.4f} (true {TRUE_BGNBD[k]})" for k, v in bg.params.as_dict().items())
    )
    print(
        f"  Gamma-Gamma {gg.converged=} {gg.iterations} iterations: "
        + ", ".join(f"{k} {v:.4f} (true {TRUE_GG[k]})" for k, v in gg.params.as_dict().items())
    )

    def predict() -> float:
        x, t_x, T = summary.frequency, summary.recency, summary.T
        alive = probability_alive(bg.params, x, t_x, T)
        future = expected_purchases(bg.params, summary.holdout_length, x, t_x, T)
        expected_average_spend(gg.params, x, summary.average_spend)
        assert np.all((alive >= 0) & (alive <= 1))
        assert np.all(np.isfinite(future))
        return float(future.sum())

    predicted, t_predict = _timed("probability alive, expected purchases and spend", predict)
    print(f"  holdout purchases: predicted {predicted:,.0f}, actual {int(summary.holdout_frequency.sum()):,}")
    floor = _polars_floor(ids, dates, amounts, calibration_end)
    t_big = _summarise_10m(ids, dates, amounts, args.customers, calibration_end)
    figures: dict[str, Any] = {
        "transactions": len(ids),
        "customers": summary.customers,
        "summarise_s": t_summary,
        "fit_bgnbd_s": t_bg,
        "fit_gamma_gamma_s": t_gg,
        "patron_total_s": patron,
        "predict_s": t_predict,
        "polars_floor_s": floor,
        "summarise_10m_rows_s": t_big,
        "bgnbd_iterations": bg.iterations,
    }
    if args.no_lifetimes:
        return figures

    try:
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError:
        print("lifetimes is not installed (it is in the bench dependency group: uv sync --group bench)")
        return figures

    n = args.lifetimes_customers or summary.customers
    frame = pd.DataFrame(
        {
            "frequency": summary.frequency[:n],
            "recency": summary.recency[:n],
            "T": summary.T[:n],
            "monetary_value": summary.average_spend[:n],
        }
    )
    repeat = frame[frame["frequency"] > 0]
    print(f"lifetimes 0.11.3 on {n:,} customers ({len(repeat):,} repeat buyers):")
    bgf, t_lbg = _timed(
        "BetaGeoFitter.fit", lambda: BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
    )
    ggf, t_lgg = _timed(
        "GammaGammaFitter.fit", lambda: GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    )
    print("  BG/NBD " + ", ".join(f"{k} {v:.4f}" for k, v in bgf.params_.items()))
    print("  Gamma-Gamma " + ", ".join(f"{k} {v:.4f}" for k, v in ggf.params_.items()))
    ours = t_bg + t_gg
    if n != summary.customers:
        _sub_bg, t_sbg = _timed(
            f"Patron fit BG/NBD on the same {n:,}",
            lambda: fit_bgnbd(summary.frequency[:n], summary.recency[:n], summary.T[:n]),
        )
        _sub_gg, t_sgg = _timed(
            f"Patron fit Gamma-Gamma on the same {n:,}",
            lambda: fit_gamma_gamma(summary.frequency[:n], summary.average_spend[:n]),
        )
        ours = t_sbg + t_sgg
    theirs = t_lbg + t_lgg
    print(f"  both fits: lifetimes {theirs:.2f} s, Patron {ours:.2f} s: lifetimes takes {theirs / ours:.0f}x as long")
    figures.update(
        {
            "lifetimes_customers": n,
            "lifetimes_bgnbd_s": t_lbg,
            "lifetimes_gamma_gamma_s": t_lgg,
            "lifetimes_over_patron_fits": theirs / ours,
        }
    )
    return figures


if __name__ == "__main__":
    main()
