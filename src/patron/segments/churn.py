"""Probability alive and lifetime value of every account, from its order history (BG/NBD and Gamma-Gamma).

A full run fits both models on every account's purchase days up to the run's day (orders
on one day count as one purchase, in the company currency) and stores the fit; incremental
runs score changed accounts with the last fit instead of fitting again. One-time buyers,
whom BG/NBD rates alive however long ago they bought, are judged by the business rule beside
it (``OneTimeBuyerRule``: lapsed after three typical purchase intervals). A fit that does not
converge leaves ``p_alive`` and ``clv`` empty and says why; nothing made up takes their place.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from django.conf import settings

from patron.domain.explain import Reason
from patron.domain.segmentation.clv import (
    BGNBDParams,
    GammaGammaParams,
    OneTimeBuyerRule,
    expected_average_spend,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    lifetime_value,
    probability_alive,
    probability_alive_with_rule,
    typical_purchase_interval,
)
from patron.domain.segmentation.clv_summary import Transactions, summarise

from .indicators import converted, ids_clause, query_frame

WEEK = 7.0
HORIZON_WEEKS = 52.0  # lifetime value over the next year
ONE_TIME_MULTIPLE = 3.0


@dataclass
class ChurnFit:
    """What a full run learned; stored with its snapshot so incremental runs reuse it."""

    bgnbd: dict[str, float] | None
    gamma_gamma: dict[str, float] | None
    interval_weeks: float | None
    reasons: list[Reason]
    bgnbd_log_likelihood: float | None = None
    gamma_gamma_log_likelihood: float | None = None
    customers: int = 0
    repeat_transactions: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: a parameter that ran to infinity (a failed fit says which) is stored as null."""
        return _json_safe(
            {
                "bgnbd": self.bgnbd,
                "gamma_gamma": self.gamma_gamma,
                "interval_weeks": self.interval_weeks,
                "bgnbd_log_likelihood": self.bgnbd_log_likelihood,
                "gamma_gamma_log_likelihood": self.gamma_gamma_log_likelihood,
                "customers": self.customers,
                "repeat_transactions": self.repeat_transactions,
                "reasons": [{"code": r.code, "params": r.params} for r in self.reasons],
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChurnFit:
        return cls(
            bgnbd=data.get("bgnbd"),
            gamma_gamma=data.get("gamma_gamma"),
            interval_weeks=data.get("interval_weeks"),
            reasons=[Reason(r["code"], dict(r["params"])) for r in data.get("reasons", [])],
            bgnbd_log_likelihood=data.get("bgnbd_log_likelihood"),
            gamma_gamma_log_likelihood=data.get("gamma_gamma_log_likelihood"),
            customers=data.get("customers", 0),
            repeat_transactions=data.get("repeat_transactions", 0),
        )


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _purchase_days(as_of: dt.date, account_ids: Sequence[int] | None) -> pl.DataFrame:
    """One row per account and day with confirmed orders, their total in cents of the company currency."""
    net = converted("o.net_total", "o.currency", "o.order_date")
    sql = (
        f"SELECT o.account_id, o.order_date, CAST(ROUND(SUM({net}) * 100) AS BIGINT) "  # noqa: S608  (constants and integer ids only)
        "FROM sales_order o WHERE o.status = 'confirmed' AND o.order_date <= %(as_of)s"
        + ids_clause(account_ids, "o.account_id")
        + " GROUP BY o.account_id, o.order_date"
    )
    params = {"as_of": as_of, "company": settings.PATRON_COMPANY_CURRENCY}
    frame = query_frame(sql, params, {"account_id": pl.Int64, "day": pl.Date, "cents": pl.Int64})
    return frame.drop_nulls()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def account_churn(
    as_of: dt.date, *, account_ids: Sequence[int] | None = None, fit: ChurnFit | None = None
) -> tuple[pl.DataFrame, ChurnFit]:
    """``account_id, p_alive, expected_purchases, clv`` per account that ever bought, and the fit used.

    Without ``fit`` both models are fitted on the accounts read; with it they are only applied.
    """
    days = _purchase_days(as_of, account_ids)
    empty = pl.DataFrame(
        schema={"account_id": pl.Int64, "p_alive": pl.Float64, "expected_purchases": pl.Float64, "clv": pl.Float64}
    )
    if days.height == 0:
        return empty, fit or ChurnFit(None, None, None, [Reason("NO_CUSTOMERS", {})])
    summary = summarise(
        Transactions.from_columns(
            days["account_id"].to_numpy(), days["day"].to_numpy(), days["cents"].to_numpy() / 100.0
        ),
        calibration_end=as_of,
        time_unit_days=WEEK,
    )
    x, t_x, age, spend = summary.frequency, summary.recency, summary.T, summary.average_spend
    if fit is None:
        fit = _fit(x, t_x, age, spend, summary.repeat_transactions)
    columns: dict[str, Any] = {"account_id": summary.customer_ids.astype(np.int64)}
    if fit.bgnbd is None:
        return empty, fit
    bgnbd = BGNBDParams(**fit.bgnbd)
    p_alive = probability_alive(bgnbd, x, t_x, age)
    if fit.interval_weeks:
        p_alive = probability_alive_with_rule(p_alive, x, age, OneTimeBuyerRule(fit.interval_weeks, ONE_TIME_MULTIPLE))
    columns["p_alive"] = p_alive
    columns["expected_purchases"] = expected_purchases(bgnbd, HORIZON_WEEKS, x, t_x, age)
    if fit.gamma_gamma is not None:
        value = lifetime_value(bgnbd, GammaGammaParams(**fit.gamma_gamma), x, t_x, age, spend, horizon=HORIZON_WEEKS)
        # The model's value of a lapsed one-time buyer follows the rule too.
        columns["clv"] = np.where(p_alive == 0, 0.0, np.round(value, 2))
    else:
        columns["clv"] = np.full(len(x), np.nan)
    frame = pl.DataFrame(columns).with_columns(pl.col("clv").fill_nan(None))
    return frame, fit


def _fit(x: Any, t_x: Any, age: Any, spend: Any, repeat_transactions: int) -> ChurnFit:
    reasons: list[Reason] = []
    bg = fit_bgnbd(x, t_x, age)
    fit = ChurnFit(None, None, None, reasons, customers=len(x), repeat_transactions=repeat_transactions)
    fit.bgnbd_log_likelihood = _finite(bg.log_likelihood)
    if not bg.converged:
        reasons.append(bg.reason or Reason("NOT_CONVERGED", {}))
        return fit
    fit.bgnbd = bg.params.as_dict()
    reasons.append(Reason("BGNBD_FITTED", {**fit.bgnbd, "log_likelihood": round(bg.log_likelihood, 1)}))
    interval = typical_purchase_interval(x, t_x)
    fit.interval_weeks = interval if math.isfinite(interval) and interval > 0 else None
    repeat = (np.asarray(x) > 0) & (np.asarray(spend) > 0)
    gg = fit_gamma_gamma(np.asarray(x)[repeat], np.asarray(spend)[repeat])
    fit.gamma_gamma_log_likelihood = _finite(gg.log_likelihood)
    if gg.converged:
        fit.gamma_gamma = gg.params.as_dict()
        reasons.append(Reason("GAMMA_GAMMA_FITTED", {**fit.gamma_gamma, "log_likelihood": round(gg.log_likelihood, 1)}))
    else:
        reasons.append(gg.reason or Reason("NOT_CONVERGED", {}))
    return fit


def uses_churn(columns: Sequence[str]) -> bool:
    return "p_alive" in columns or "clv" in columns


def expected_spend(
    as_of: dt.date, account_ids: Sequence[int], *, days: float, fit: ChurnFit | None = None
) -> dict[int, float]:
    """What each account is expected to spend in the ``days`` after ``as_of``, in the company currency:
    BG/NBD's expected purchases times Gamma-Gamma's expected spend per purchase, with the models of the
    last full segment run (none fitted: an empty answer, and callers fall back to their run rate).
    Accounts that never bought are not in the answer; a lapsed one-time buyer expects nothing."""
    if fit is None:
        from .services import last_churn_fit

        fit = last_churn_fit()
    if fit is None or fit.bgnbd is None or fit.gamma_gamma is None or not account_ids:
        return {}
    bought = _purchase_days(as_of, account_ids)
    if bought.height == 0:
        return {}
    summary = summarise(
        Transactions.from_columns(
            bought["account_id"].to_numpy(), bought["day"].to_numpy(), bought["cents"].to_numpy() / 100.0
        ),
        calibration_end=as_of,
        time_unit_days=WEEK,
    )
    x, t_x, age, spend = summary.frequency, summary.recency, summary.T, summary.average_spend
    bgnbd = BGNBDParams(**fit.bgnbd)
    purchases = expected_purchases(bgnbd, days / WEEK, x, t_x, age)
    if fit.interval_weeks:
        alive = probability_alive_with_rule(
            probability_alive(bgnbd, x, t_x, age), x, age, OneTimeBuyerRule(fit.interval_weeks, ONE_TIME_MULTIPLE)
        )
        purchases = np.where(alive == 0, 0.0, purchases)
    per_purchase = expected_average_spend(GammaGammaParams(**fit.gamma_gamma), x, spend)
    values = purchases * per_purchase
    return {
        int(account): float(value)
        for account, value in zip(summary.customer_ids, values, strict=True)
        if math.isfinite(float(value))
    }
