"""RFM: recency, frequency and monetary scores 1 to ``bins`` (5), and named segments on a grid.

* Scores are quantile bands (``bands.fit_quantiles``, fractions ``i / bins``) over the
  accounts that have orders: ``purchase_count`` at least 1 and a value for each of
  ``recency_days``, ``purchase_count`` and ``sales``. Ties are handled as the
  definition's ``ties`` says (``group``: equal values share a score; ``rank``: split by
  account id). Half of a typical base bought once, so with ``group`` F = 1 holds them
  all and F 2..5 share the rest; the population reasons say so.
* R comes from ``recency_days`` where lower is better: the most recent fifth scores 5.
  F comes from ``purchase_count``, M from ``sales``; higher scores higher.
* ``FM = ceil((F + M) / 2)`` (the two measures of how much an account buys, averaged and
  rounded up), also 1 to ``bins``.
* The segment is looked up on the R x FM grid: each segment lists its cells
  (``{"r": [low, high], "fm": [low, high]}``); every cell belongs to exactly one
  segment (the definition is refused otherwise). The default grid, in ``builtin``::

      R \\ FM    1            2            3            4            5
      5         new          potential    potential    champions    champions
      4         new          potential    potential    loyal        loyal
      3         hibernating  hibernating  potential    loyal        loyal
      2         hibernating  hibernating  at_risk      at_risk      cannot_lose
      1         lost         lost         at_risk      at_risk      cannot_lose

  (``potential`` is the potential loyalist.) It follows the usual R x F segment map,
  folding its "promising" into new, "needs attention" into potential loyalist and
  "about to sleep" into hibernating.
* Accounts without orders go to the definition's ``missing`` class (default
  ``no_orders``), with no scores.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import polars as pl

from patron.domain.explain import Reason
from patron.domain.segmentation.bands import Cuts, QuantileFit, band_expr, band_of, fit_quantiles, sorted_population
from patron.domain.segmentation.definitions import RfmDefinition
from patron.domain.segmentation.indicators import ACCOUNT_ID, display_value, to_number

AXES: tuple[tuple[str, str], ...] = (("r", "recency_days"), ("f", "purchase_count"), ("m", "sales"))
COLUMNS = tuple(column for _, column in AXES)


def fractions(bins: int) -> tuple[Decimal, ...]:
    return tuple(Decimal(i) / Decimal(bins) for i in range(1, bins))


def eligible_expr() -> pl.Expr:
    present = pl.all_horizontal([pl.col(c).is_not_null() for c in COLUMNS])
    return (present & (pl.col("purchase_count") >= 1)).fill_null(False)


def is_eligible(values: Mapping[str, Any]) -> bool:
    numbers = [to_number(values.get(c)) for c in COLUMNS]
    count = numbers[1]
    return all(n is not None for n in numbers) and count is not None and count >= 1


def fit_rfm(definition: RfmDefinition, frame: pl.DataFrame) -> dict[str, QuantileFit]:
    population = frame.filter(eligible_expr())
    rank = definition.ties == "rank"
    fits: dict[str, QuantileFit] = {}
    for axis, column in AXES:
        values, ids = sorted_population(population, column, ACCOUNT_ID, rank)
        fits[axis] = fit_quantiles(values, fractions(definition.bins), definition.ties, ids)
    return fits


def fm(f: int, m: int) -> int:
    return (f + m + 1) // 2


CODE_BINS = 9  # R, F and M as one digit each: the RFM code "545"


def code_expr(r: pl.Expr, f: pl.Expr, m: pl.Expr) -> pl.Expr:
    """The RFM code a membership keeps as its score (545), for bins up to ``CODE_BINS``."""
    return (r * 100 + f * 10 + m).cast(pl.Float64)


def cell_of_code(code: int) -> tuple[int, int]:
    """The (R, FM) cell of the grid an RFM code falls in."""
    return code // 100, fm(code // 10 % 10, code % 10)


@functools.lru_cache(maxsize=64)
def grid(definition: RfmDefinition) -> dict[tuple[int, int], int]:
    """(R, FM) -> index of the segment that holds the cell."""
    out: dict[tuple[int, int], int] = {}
    for index, segment in enumerate(definition.segments):
        for r_low, r_high, fm_low, fm_high in segment.cells:
            for r in range(r_low, r_high + 1):
                for f in range(fm_low, fm_high + 1):
                    out.setdefault((r, f), index)
    return out


def score_exprs(definition: RfmDefinition, cuts: Mapping[str, Cuts]) -> dict[str, pl.Expr]:
    """R, F and M (Int32, null for accounts not scored)."""
    account = pl.col(ACCOUNT_ID)
    eligible = eligible_expr()
    out: dict[str, pl.Expr] = {}
    for axis, column in AXES:
        band = band_expr(pl.col(column), cuts[axis], account)
        score = (pl.lit(definition.bins, pl.Int32) - band) if axis == "r" else band + 1
        out[axis] = pl.when(eligible).then(score).otherwise(pl.lit(None, pl.Int32)).cast(pl.Int32)
    return out


def segment_expr(definition: RfmDefinition, scores: Mapping[str, pl.Expr]) -> pl.Expr:
    """Index of the segment (Int32); ``len(segments)`` is the missing class."""
    bins = definition.bins
    combined = (scores["f"] + scores["m"] + 1) // 2
    code = (scores["r"] - 1) * bins + (combined - 1)
    mapping = {(r - 1) * bins + (f - 1): index for (r, f), index in grid(definition).items()}
    segment = code.replace_strict(mapping, return_dtype=pl.Int32)
    return segment.fill_null(len(definition.segments)).cast(pl.Int32)


def rfm_of(
    definition: RfmDefinition, cuts: Mapping[str, Cuts], values: Mapping[str, Any], currency: str
) -> tuple[int, dict[str, int] | None, tuple[Reason, ...]]:
    """The per-account twin: segment index, scores and the reasons."""
    missing = len(definition.segments)
    if not is_eligible(values):
        shown = {c: display_value(c, to_number(values.get(c)), currency) for c in COLUMNS}
        return missing, None, (Reason("NO_ORDERS", {"class": definition.missing.key, **shown}),)
    account = values.get(ACCOUNT_ID)
    scores: dict[str, int] = {}
    reasons: list[Reason] = []
    for axis, column in AXES:
        value = to_number(values.get(column))
        band = band_of(value, cuts[axis], account)
        assert band is not None
        scores[axis] = definition.bins - band if axis == "r" else band + 1
        axis_cuts = cuts[axis]
        if axis_cuts.tie_ids is not None and value in axis_cuts.values:
            i = axis_cuts.values.index(value)
            reasons.append(
                Reason(
                    "TIE_BROKEN_BY_ACCOUNT_ID",
                    {
                        "score": axis,
                        "indicator": column,
                        "value": display_value(column, value, currency),
                        "account_id": account,
                        "cut_account_id": axis_cuts.tie_ids[i],
                    },
                )
            )
    scores["fm"] = fm(scores["f"], scores["m"])
    segment = grid(definition)[(scores["r"], scores["fm"])]
    shown = {c: display_value(c, to_number(values.get(c)), currency) for c in COLUMNS}
    reasons.insert(0, Reason("RFM_SCORES", {**scores, **shown}))
    reasons.append(
        Reason("RFM_CELL", {"r": scores["r"], "fm": scores["fm"], "class": definition.segments[segment].key})
    )
    return segment, scores, tuple(reasons)
