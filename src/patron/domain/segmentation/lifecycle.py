"""Lifecycle stage: prospect, new, loyal, at risk, churned, judged against each account's own rhythm.

Reads ``purchase_count``, ``recency_days``, ``first_order_days``,
``interpurchase_days`` and, when the definition sets p_alive thresholds and the frame
has the column, ``p_alive``. Parameters (``LifecycleDefinition``, defaults in
brackets): ``new_days`` N [90], ``loyal_factor`` k1 [1.5], ``churn_factor`` k2 [3],
``churn_max_days`` [365, or null for none], ``one_time_churn_days`` [180],
``min_rhythm_days`` [14], ``p_alive_at_risk`` and ``p_alive_churned`` [null: unused].

The first rule that applies decides:

1. **prospect**: no orders (``purchase_count`` null or below 1, or no recency).
2. **new**: the first order was at most N days ago.
3. **churned**: the last order was more than ``churn_max_days`` ago.
4. A *repeat buyer* (2 orders or more, with a rhythm): ``rhythm`` = the mean days
   between its orders, at least ``min_rhythm_days`` (two orders on one day are no
   rhythm of 0 days). Days since the last order beyond k2 x rhythm: **churned**;
   beyond k1 x rhythm: **at risk**; otherwise **loyal**.
5. A *one-time buyer* past the new window (BG/NBD rates them all alive, so a fixed
   rule decides): more than ``one_time_churn_days`` since its only order: **churned**,
   otherwise **at risk**.
6. Probability alive, for repeat buyers with a ``p_alive`` value only: below
   ``p_alive_churned`` makes a loyal or at-risk account **churned**; below
   ``p_alive_at_risk`` makes a loyal account **at risk**. It never improves a stage.

"Beyond" is strictly greater: at exactly k1 x rhythm an account is still loyal.

Reason codes, one per rule: ``NO_ORDERS``, ``FIRST_ORDER_RECENT``, ``BEYOND_MAXIMUM``,
``ON_RHYTHM``, ``LATE_FOR_RHYTHM``, ``FAR_BEYOND_RHYTHM`` (params: recency, rhythm and
the day limits it gives), ``ONE_TIME_BUYER``, ``ONE_TIME_BUYER_LAPSED``, and
``P_ALIVE_LOW`` added when probability alive worsened the stage.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import polars as pl

from patron.domain.explain import Reason
from patron.domain.segmentation.definitions import LifecycleDefinition
from patron.domain.segmentation.indicators import Kind, display_number, to_number

PROSPECT, NEW, LOYAL, AT_RISK, CHURNED = range(5)
COLUMNS = ("purchase_count", "recency_days", "first_order_days", "interpurchase_days")


def uses_p_alive(definition: LifecycleDefinition) -> bool:
    return definition.p_alive_at_risk is not None or definition.p_alive_churned is not None


def stage_expr(definition: LifecycleDefinition, has_p_alive: bool) -> pl.Expr:
    """The stage index (Int32) of every account, never null."""
    d = definition
    count = pl.col("purchase_count").fill_null(0)
    recency = pl.col("recency_days")
    first = pl.col("first_order_days")
    rhythm = pl.max_horizontal(pl.col("interpurchase_days"), pl.lit(float(d.min_rhythm_days)))
    repeat = (count >= 2) & pl.col("interpurchase_days").is_not_null()
    beyond_max = (recency > float(d.churn_max_days)) if d.churn_max_days is not None else pl.lit(False)

    base = (
        pl.when((count < 1) | recency.is_null())
        .then(PROSPECT)
        .when((first <= float(d.new_days)).fill_null(False))
        .then(NEW)
        .when(beyond_max)
        .then(CHURNED)
        .when(repeat & (recency > pl.lit(float(d.churn_factor)) * rhythm))
        .then(CHURNED)
        .when(repeat & (recency > pl.lit(float(d.loyal_factor)) * rhythm))
        .then(AT_RISK)
        .when(repeat)
        .then(LOYAL)
        .when(recency > float(d.one_time_churn_days))
        .then(CHURNED)
        .otherwise(AT_RISK)
        .cast(pl.Int32)
    )
    if not (has_p_alive and uses_p_alive(d)):
        return base
    p = pl.col("p_alive")
    adjustable = repeat & ((base == LOYAL) | (base == AT_RISK)) & p.is_not_null()
    staged = base
    if d.p_alive_at_risk is not None:
        staged = pl.when(adjustable & (base == LOYAL) & (p < float(d.p_alive_at_risk))).then(AT_RISK).otherwise(staged)
    if d.p_alive_churned is not None:
        staged = pl.when(adjustable & (p < float(d.p_alive_churned))).then(CHURNED).otherwise(staged)
    return staged.cast(pl.Int32)


def stage_of(
    definition: LifecycleDefinition, values: Mapping[str, Any], has_p_alive: bool
) -> tuple[int, tuple[Reason, ...]]:
    """The per-account twin of ``stage_expr``, with the reasons for the stage."""
    d = definition
    count = to_number(values.get("purchase_count")) or 0.0
    recency = to_number(values.get("recency_days"))
    first = to_number(values.get("first_order_days"))
    gap = to_number(values.get("interpurchase_days"))

    def days(value: float | Decimal | None) -> Any:
        return display_number(Kind.DAYS, value, "CNY")

    if count < 1 or recency is None:
        return PROSPECT, (Reason("NO_ORDERS", {"purchase_count": int(count)}),)
    if first is not None and first <= float(d.new_days):
        return NEW, (Reason("FIRST_ORDER_RECENT", {"first_order_days": days(first), "new_days": days(d.new_days)}),)
    if d.churn_max_days is not None and recency > float(d.churn_max_days):
        params = {"recency_days": days(recency), "churn_max_days": days(d.churn_max_days)}
        return CHURNED, (Reason("BEYOND_MAXIMUM", params),)
    if count >= 2 and gap is not None:
        rhythm = max(gap, float(d.min_rhythm_days))
        late = float(d.loyal_factor) * rhythm
        far = float(d.churn_factor) * rhythm
        params = {
            "recency_days": days(recency),
            "interpurchase_days": days(gap),
            "rhythm_days": days(rhythm),
            "loyal_factor": str(d.loyal_factor),
            "churn_factor": str(d.churn_factor),
            "at_risk_after_days": days(late),
            "churned_after_days": days(far),
        }
        if recency > far:
            stage, reasons = CHURNED, [Reason("FAR_BEYOND_RHYTHM", params)]
        elif recency > late:
            stage, reasons = AT_RISK, [Reason("LATE_FOR_RHYTHM", params)]
        else:
            stage, reasons = LOYAL, [Reason("ON_RHYTHM", params)]
        p = to_number(values.get("p_alive")) if has_p_alive and uses_p_alive(d) else None
        if p is not None:
            shown = display_number(Kind.RATIO, p, "CNY")
            if d.p_alive_churned is not None and stage != CHURNED and p < float(d.p_alive_churned):
                stage = CHURNED
                reasons.append(Reason("P_ALIVE_LOW", {"p_alive": shown, "below": str(d.p_alive_churned)}))
            elif d.p_alive_at_risk is not None and stage == LOYAL and p < float(d.p_alive_at_risk):
                stage = AT_RISK
                reasons.append(Reason("P_ALIVE_LOW", {"p_alive": shown, "below": str(d.p_alive_at_risk)}))
        return stage, tuple(reasons)
    params = {"recency_days": days(recency), "one_time_churn_days": days(d.one_time_churn_days)}
    if recency > float(d.one_time_churn_days):
        return CHURNED, (Reason("ONE_TIME_BUYER_LAPSED", params),)
    return AT_RISK, (Reason("ONE_TIME_BUYER", params),)
