"""Classify a population of accounts, and explain one account, from the same definition.

Two interpreters that agree (a property test proves it):

* ``classify_accounts(definition, frame, *, context, fitted=None) -> Classification``:
  vectorised in polars (and numpy for scores) over the whole frame, no Python loop
  over rows. It first
  *fits* what depends on the population (quantile cut points, the normalisation of
  score indicators, the values of quantile leaves in rules) into a ``Fitted``, then
  assigns every account exactly one class. Pass ``fitted`` (from an earlier run, e.g.
  the nightly one) to classify a few changed accounts against the same cut points.
* ``explain_account(definition, fitted, values) -> Membership``: one account, from a
  mapping of its indicator values (a row of the frame, with ``account_id``), using
  the fitted population, so no frame is needed. It returns the class and the
  ``Reason``s: the indicator values, the threshold, score cut or rule that placed it,
  and for rules why each earlier class did not match.

Also: ``required_columns(definition)`` (the frame columns to compute),
``fit(definition, frame, *, context)`` (the fit alone), ``preview_counts(definition,
frame, *, context) -> Preview`` (counts per class, reasons and cut points, for the
editor before saving) and ``cut_points(definition, fitted)`` (as explanations show them).

``Fitted.to_dict()``/``Fitted.from_dict()`` make the fit storable (JSON) beside a
snapshot; its ``fingerprint`` ties it to the definition (labels aside), and using it
with another definition raises ``StaleFit``.

Accounts without a value ("no orders") always get a class, never an error or a NaN:

* single indicator: the definition's ``missing`` class (default the lowest), with
  ``NO_VALUE``;
* weighted score: an indicator without a value counts as the worst (normalised 0 on
  the good side of its weight), with ``NO_VALUE``; an account with no value for any
  weighted indicator has no score and goes to ``missing``;
* rules: a condition on a null value is false (``NO_VALUE`` flag in the trace);
  ``otherwise`` catches whoever no class matches;
* RFM: accounts without orders go to the ``missing`` class (default ``no_orders``);
* lifecycle: no orders is the ``prospect`` stage.

The score of a weighted definition is ``sum(c_i * good_i)`` with
``c_i = 100 * |w_i| / sum |w|`` and ``good_i`` the normalised value (0..1) when the
weight is positive, ``1 - normalised`` when negative, so scores run from 0 to 100 and
"-10% overdue" rewards low overdue amounts. Normalisation, fitted per indicator:

* ``minmax``: ``(x - min) / (max - min)`` clipped to [0, 1]; a constant column (or
  none) normalises to 0.5 and a ``CONSTANT_INDICATOR`` reason says so;
* ``percentile``: the mid-rank ``(below + equal / 2) / n``, exact over up to
  ``KNOTS`` distinct values and read from ``KNOTS + 1`` evenly spaced order statistics
  beyond that (within 1/1000 of the exact rank).

Population-level reason codes (``Classification.reasons``): ``QUANTILES_TIED``
(group ties moved a plain quantile cut point, or rank ties split equal values; params: ``band``, ``indicator``,
``ties``, ``quantiles``, ``plain_cut_points``, ``cut_points``, ``sizes``),
``EMPTY_CLASSES`` (``band``, ``classes``), ``NO_POPULATION`` (no account has a
value to fit quantiles on), ``CONSTANT_INDICATOR``, ``QUANTILE_CUT`` (the value of a
rule's quantile leaf), ``NO_VALUE`` (how many accounts went to the missing class),
``INDICATOR_ABSENT`` (an optional column the frame lacks, read as null).

Per-account reason codes (``Membership.reasons``): ``BAND``, ``SCORE``,
``SCORE_BAND``, ``NO_VALUE``, ``TIE_BROKEN_BY_ACCOUNT_ID``, ``RULE_NOT_MATCHED``,
``RULE_MATCHED``, ``OTHERWISE``, ``RFM_SCORES``, ``RFM_CELL``, ``NO_ORDERS`` and
the lifecycle codes in ``lifecycle``. Params are JSON-able: money as Decimal strings
in the company currency's minor unit, scores and ratios as strings with four
decimals, counts and whole days as integers.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import numpy as np
import polars as pl

from patron.domain.explain import Reason
from patron.domain.money import minor_units
from patron.domain.segmentation import lifecycle, rfm
from patron.domain.segmentation.bands import Cuts, QuantileFit, band_expr, band_of, fit_quantiles, sorted_population
from patron.domain.segmentation.definitions import (
    Banding,
    ClassSpec,
    Definition,
    LifecycleDefinition,
    RfmDefinition,
    RulesDefinition,
    ScoreDefinition,
    SingleDefinition,
    class_keys,
    fingerprint,
)
from patron.domain.segmentation.indicators import (
    ACCOUNT_ID,
    INDICATORS,
    REGION_PATH,
    Kind,
    display_number,
    display_value,
    to_number,
)
from patron.domain.segmentation.rules import Leaf, compile_predicate, evaluate, leaves

KNOTS = 1000
SCORE_PLACES = Decimal("0.0001")
CLASS_INDEX = "class_index"


# --- values --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Context:
    """What a classification needs beside the definition and the frame."""

    currency: str  # the company currency: money columns are in it; explanations round to its minor unit

    def __post_init__(self) -> None:
        minor_units(self.currency)


class FrameError(ValueError):
    """The frame cannot be classified: ``code`` (missing_column, wrong_type, null_account_id,
    duplicate_account_id) and the ``columns`` concerned."""

    def __init__(self, code: str, columns: Sequence[str]) -> None:
        self.code = code
        self.columns = tuple(columns)
        super().__init__(f"{code}: {', '.join(columns)}")


class StaleFit(ValueError):
    """A fitted population used with a definition other than the one it was fitted for."""


@dataclass(frozen=True, slots=True)
class Scale:
    """How one indicator of a weighted score is normalised to 0..1."""

    method: str
    low: float | None = None
    high: float | None = None
    knots: tuple[float, ...] = ()
    cum: tuple[int, ...] = ()  # cum[i]: accounts below knots[i]; cum[-1]: all of them

    def normalise(self, x: float) -> float:
        if self.method == "minmax":
            if self.low is None or self.high is None or self.high <= self.low:
                return 0.5
            return min(max((x - self.low) / (self.high - self.low), 0.0), 1.0)
        if not self.knots:
            return 0.5
        left = bisect.bisect_left(self.knots, x)
        right = bisect.bisect_right(self.knots, x)
        return (self.cum[left] + 0.5 * (self.cum[right] - self.cum[left])) / self.cum[-1]

    def normalise_array(self, x: np.ndarray) -> np.ndarray:
        """``normalise`` over a float64 array (NaN for no value, kept as NaN).

        numpy, not polars: polars may divide by a constant as a multiplication by its
        reciprocal, which differs from ``normalise`` in the last bit, and an account on a
        score cut would then land in different classes in the two interpreters."""
        if self.method == "minmax":
            if self.low is None or self.high is None or self.high <= self.low:
                return np.where(np.isnan(x), np.nan, 0.5)
            return np.minimum(np.maximum((x - self.low) / (self.high - self.low), 0.0), 1.0)
        if not self.knots:
            return np.where(np.isnan(x), np.nan, 0.5)
        knots = np.asarray(self.knots, dtype=np.float64)
        cum = np.asarray(self.cum, dtype=np.int64)
        left = np.searchsorted(knots, x, side="left")
        # Knots are distinct: the right side is one further where x equals its knot.
        right = left + (knots[np.minimum(left, len(knots) - 1)] == x)
        ranked = (cum[left] + 0.5 * (cum[right] - cum[left])) / cum[-1]
        return np.where(np.isnan(x), np.nan, ranked)

    def to_dict(self) -> dict[str, Any]:
        if self.method == "minmax":
            return {"method": self.method, "low": self.low, "high": self.high}
        return {"method": self.method, "knots": list(self.knots), "cum": list(self.cum)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Scale:
        if data["method"] == "minmax":
            return cls("minmax", data.get("low"), data.get("high"))
        return cls("percentile", knots=tuple(float(k) for k in data["knots"]), cum=tuple(int(c) for c in data["cum"]))


@dataclass(frozen=True, slots=True)
class Fitted:
    """What a classification learned from its population; enough to explain any account."""

    kind: str
    fingerprint: str
    currency: str
    cuts: Mapping[str, Cuts] = field(default_factory=dict)  # "" for single/score; "r", "f", "m" for RFM
    scales: Mapping[str, Scale] = field(default_factory=dict)  # per weighted indicator
    cutoffs: Mapping[str, float | None] = field(default_factory=dict)  # per quantile leaf path (rules)
    absent: tuple[str, ...] = ()  # optional indicators the frame did not have
    reasons: tuple[Reason, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fingerprint": self.fingerprint,
            "currency": self.currency,
            "cuts": {k: v.to_dict() for k, v in self.cuts.items()},
            "scales": {k: v.to_dict() for k, v in self.scales.items()},
            "cutoffs": dict(self.cutoffs),
            "absent": list(self.absent),
            "reasons": [{"code": r.code, "params": r.params} for r in self.reasons],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fitted:
        return cls(
            kind=data["kind"],
            fingerprint=data["fingerprint"],
            currency=data["currency"],
            cuts={k: Cuts.from_dict(v) for k, v in data.get("cuts", {}).items()},
            scales={k: Scale.from_dict(v) for k, v in data.get("scales", {}).items()},
            cutoffs={k: (None if v is None else float(v)) for k, v in data.get("cutoffs", {}).items()},
            absent=tuple(data.get("absent", ())),
            reasons=tuple(Reason(r["code"], dict(r["params"])) for r in data.get("reasons", ())),
        )


@dataclass(frozen=True, slots=True)
class Membership:
    """One account's class and why."""

    class_key: str
    reasons: tuple[Reason, ...]
    score: float | None = None  # weighted score, 0..100
    scores: Mapping[str, int] | None = None  # RFM: r, f, m, fm


@dataclass(frozen=True, slots=True)
class Classification:
    """Every account's class. ``memberships`` columns: ``account_id``, ``class_key``
    (String, never null) and, by kind, ``score`` (Float64, null without any value) or
    ``r_score``, ``f_score``, ``m_score`` (Int32, null without orders)."""

    definition: Definition
    fitted: Fitted
    memberships: pl.DataFrame
    counts: Mapping[str, int]  # every class in definition order, zero included

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return self.fitted.reasons

    @property
    def cut_points(self) -> dict[str, list[Any]]:
        return cut_points(self.definition, self.fitted)


@dataclass(frozen=True, slots=True)
class Preview:
    counts: Mapping[str, int]
    total: int
    reasons: tuple[Reason, ...]
    cut_points: Mapping[str, list[Any]]


# --- columns -------------------------------------------------------------------------------------------------


def required_columns(definition: Definition) -> tuple[str, ...]:
    """The frame columns a definition reads, besides ``account_id``."""
    d = definition
    if isinstance(d, SingleDefinition):
        return (d.indicator,)
    if isinstance(d, ScoreDefinition):
        return tuple(k for k, _ in d.weights)
    if isinstance(d, RulesDefinition):
        keys: list[str] = []
        for c in d.classes:
            for leaf in leaves(c.when):
                if leaf.indicator not in keys:
                    keys.append(leaf.indicator)
        if "region" in keys:
            keys.append(REGION_PATH)
        return tuple(keys)
    if isinstance(d, RfmDefinition):
        return rfm.COLUMNS
    return (*lifecycle.COLUMNS, "p_alive") if lifecycle.uses_p_alive(d) else lifecycle.COLUMNS


_DTYPES: dict[Kind, Any] = {
    Kind.MONEY: pl.Float64,
    Kind.COUNT: pl.Float64,
    Kind.DAYS: pl.Float64,
    Kind.RATIO: pl.Float64,
    Kind.BOOL: pl.Boolean,
    Kind.CATEGORY: pl.String,
    Kind.REGION: pl.Int64,
}


def _prepare(frame: pl.DataFrame, columns: Sequence[str]) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """The columns the definition reads, in the types the interpreters expect; absent optional ones as null."""
    if ACCOUNT_ID not in frame.columns:
        raise FrameError("missing_column", [ACCOUNT_ID])
    lacking = [c for c in columns if c not in frame.columns and not (c in INDICATORS and INDICATORS[c].optional)]
    if lacking:
        raise FrameError("missing_column", lacking)
    ids = frame[ACCOUNT_ID]
    if ids.null_count():
        raise FrameError("null_account_id", [ACCOUNT_ID])
    if ids.n_unique() != len(ids):
        raise FrameError("duplicate_account_id", [ACCOUNT_ID])
    exprs: list[pl.Expr] = [pl.col(ACCOUNT_ID)]
    absent: list[str] = []
    for c in columns:
        if c == REGION_PATH:
            dtype: Any = pl.List(pl.Int64)
        else:
            dtype = _DTYPES[INDICATORS[c].kind]
        if c not in frame.columns:
            absent.append(c)
            exprs.append(pl.lit(None, dtype).alias(c))
            continue
        expr = pl.col(c).cast(dtype)
        if dtype == pl.Float64:
            expr = pl.when(expr.is_finite()).then(expr).otherwise(None)  # NaN and infinities: no value
        exprs.append(expr)
    try:
        prepared = frame.select(exprs)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError) as exc:
        raise FrameError("wrong_type", [c for c in columns if c in frame.columns]) from exc
    return prepared, tuple(absent)


# --- the vectorised interpreter -------------------------------------------------------------------------------


def fit(definition: Definition, frame: pl.DataFrame, *, context: Context) -> Fitted:
    """Fit the population-dependent parts of ``definition`` to ``frame``."""
    prepared, absent = _prepare(frame, required_columns(definition))
    return _fit(definition, prepared, context, absent)


def classify_accounts(
    definition: Definition, frame: pl.DataFrame, *, context: Context, fitted: Fitted | None = None
) -> Classification:
    """Every account of ``frame`` in exactly one class of ``definition``."""
    prepared, absent = _prepare(frame, required_columns(definition))
    scored: dict[str, pl.Series] = {}  # a weighted score computed while fitting, reused to assign
    if fitted is None:
        fitted = _fit(definition, prepared, context, absent, scored)
    else:
        _check_fit(definition, fitted)
    assigned = _assign(definition, fitted, prepared, scored.get("score"))
    keys = class_keys(definition)
    memberships = assigned.select(
        pl.col(ACCOUNT_ID),
        pl.col(CLASS_INDEX).replace_strict(dict(enumerate(keys)), return_dtype=pl.String).alias("class_key"),
        pl.exclude(ACCOUNT_ID, CLASS_INDEX),
    )
    counted = dict(assigned.group_by(CLASS_INDEX).len().iter_rows())
    counts = {key: int(counted.get(i, 0)) for i, key in enumerate(keys)}
    return Classification(definition, fitted, memberships, counts)


def preview_counts(definition: Definition, frame: pl.DataFrame, *, context: Context) -> Preview:
    """Counts per class (for the editor, before saving), with the population's reasons and cut points."""
    result = classify_accounts(definition, frame, context=context)
    return Preview(result.counts, len(frame), result.reasons, result.cut_points)


def _check_fit(definition: Definition, fitted: Fitted) -> None:
    if fitted.kind != definition.kind or fitted.fingerprint != fingerprint(definition):
        raise StaleFit("the fitted population belongs to another definition")


def _fit(
    definition: Definition,
    frame: pl.DataFrame,
    context: Context,
    absent: tuple[str, ...],
    scored: dict[str, pl.Series] | None = None,
) -> Fitted:
    d = definition
    currency = context.currency
    reasons: list[Reason] = [Reason("INDICATOR_ABSENT", {"indicator": c}) for c in absent]

    def fitted(
        cuts: Mapping[str, Cuts] | None = None,
        scales: Mapping[str, Scale] | None = None,
        cutoffs: Mapping[str, float | None] | None = None,
    ) -> Fitted:
        return Fitted(d.kind, fingerprint(d), currency, cuts or {}, scales or {}, cutoffs or {}, absent, tuple(reasons))

    if isinstance(d, SingleDefinition):
        cuts = _fit_banding(d.banding, frame, d.indicator, d.indicator, "", d.classes, currency, reasons)
        _count_missing(frame.select(pl.col(d.indicator).is_null().sum()).item(), d.indicator, d.missing, reasons)
        return fitted(cuts={"": cuts})
    if isinstance(d, ScoreDefinition):
        scales = {key: _fit_scale(d.normalisation, frame, key, currency, reasons) for key, _ in d.weights}
        score = _score_column(d, scales, frame)
        if scored is not None:
            scored["score"] = score
        with_score = frame.select(pl.col(ACCOUNT_ID)).with_columns(score)
        cuts = _fit_banding(d.banding, with_score, "score", None, "", d.classes, currency, reasons)
        _count_missing(score.null_count(), None, d.missing, reasons)
        return fitted(cuts={"": cuts}, scales=scales)
    if isinstance(d, RulesDefinition):
        cutoffs: dict[str, float | None] = {}
        for c in d.classes:
            for leaf in leaves(c.when):
                if leaf.quantile is not None:
                    cutoffs[leaf.path] = _fit_cutoff(leaf, frame, currency, reasons)
        return fitted(cutoffs=cutoffs)
    if isinstance(d, RfmDefinition):
        fits = rfm.fit_rfm(d, frame)
        scores = [str(i) for i in range(1, d.bins + 1)]
        for axis, column in rfm.AXES:
            labels = list(reversed(scores)) if axis == "r" else scores
            reasons.extend(_quantile_reasons(axis, column, rfm.fractions(d.bins), d.ties, fits[axis], labels, currency))
        missing = frame.select((~rfm.eligible_expr()).sum()).item()
        _count_missing(missing, None, d.missing.key, reasons)
        return fitted(cuts={axis: f.cuts for axis, f in fits.items()})
    return fitted()


def _count_missing(count: int, indicator: str | None, key: str, reasons: list[Reason]) -> None:
    if count:
        params: dict[str, Any] = {"accounts": int(count), "class": key}
        if indicator is not None:
            params["indicator"] = indicator
        reasons.append(Reason("NO_VALUE", params))


def _fit_banding(
    banding: Banding,
    frame: pl.DataFrame,
    column: str,
    indicator: str | None,
    band: str,
    classes: Sequence[ClassSpec],
    currency: str,
    reasons: list[Reason],
) -> Cuts:
    if banding.method == "thresholds":
        return Cuts(tuple(float(p) for p in banding.points))
    rank = banding.ties == "rank"
    values, ids = sorted_population(frame, column, ACCOUNT_ID, rank)
    result = fit_quantiles(values, banding.points, banding.ties, ids)
    labels = [c.key for c in classes]
    reasons.extend(_quantile_reasons(band, indicator, banding.points, banding.ties, result, labels, currency))
    return result.cuts


def _quantile_reasons(
    band: str,
    indicator: str | None,
    fractions: Sequence[Decimal],
    ties: str,
    result: QuantileFit,
    labels: Sequence[str],
    currency: str,
) -> list[Reason]:
    name = indicator or "score"
    out: list[Reason] = []
    if result.population == 0:
        return [Reason("NO_POPULATION", {"band": band, "indicator": name})]
    if result.tied:
        out.append(
            Reason(
                "QUANTILES_TIED",
                {
                    "band": band,
                    "indicator": name,
                    "ties": ties,
                    "quantiles": [str(f) for f in fractions],
                    "plain_cut_points": [_show(indicator, v, currency) for v in result.plain],
                    "cut_points": [_show(indicator, v, currency) for v in result.cuts.values],
                    "sizes": list(result.sizes),
                },
            )
        )
    if result.empty:
        out.append(
            Reason("EMPTY_CLASSES", {"band": band, "indicator": name, "classes": [labels[i] for i in result.empty]})
        )
    return out


def _show(indicator: str | None, value: Any, currency: str) -> Any:
    if indicator is None:
        return None if value is None else str(Decimal(repr(float(value))).quantize(SCORE_PLACES))
    return display_value(indicator, value, currency)


def _fit_scale(method: str, frame: pl.DataFrame, key: str, currency: str, reasons: list[Reason]) -> Scale:
    values = np.sort(frame[key].cast(pl.Float64).drop_nulls().to_numpy())
    if method == "minmax":
        if not len(values):
            return Scale("minmax")
        low, high = float(values[0]), float(values[-1])
        if low == high:
            reasons.append(Reason("CONSTANT_INDICATOR", {"indicator": key, "value": display_value(key, low, currency)}))
        return Scale("minmax", low, high)
    if not len(values):
        return Scale("percentile")
    if len(values) > KNOTS and len(np.unique(values)) > KNOTS:
        positions = np.round(np.arange(KNOTS + 1) * (len(values) - 1) / KNOTS).astype(np.int64)
        values = values[positions]
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) == 1:
        reasons.append(
            Reason("CONSTANT_INDICATOR", {"indicator": key, "value": display_value(key, float(distinct[0]), currency)})
        )
    cum = np.concatenate([[0], np.cumsum(counts)])
    return Scale("percentile", knots=tuple(float(v) for v in distinct), cum=tuple(int(c) for c in cum))


def _score_column(d: ScoreDefinition, scales: Mapping[str, Scale], frame: pl.DataFrame) -> pl.Series:
    """The weighted score (0..100), null where no weighted indicator has a value.

    Computed in numpy, one IEEE operation at a time, in the same order as
    ``_explain_score`` (the weights' registry order), so both interpreters get the same
    float to the last bit."""
    coefficients = _coefficients(d)
    total: np.ndarray | None = None
    present: np.ndarray | None = None
    for (key, weight), c in zip(d.weights, coefficients, strict=True):
        x = frame[key].cast(pl.Float64).fill_null(np.nan).to_numpy().astype(np.float64, copy=False)
        norm = scales[key].normalise_array(x)
        good = norm if weight > 0 else 1.0 - norm
        has = ~np.isnan(good)
        term = c * np.where(has, good, 0.0)
        total = term if total is None else total + term
        present = has if present is None else present | has
    assert total is not None
    assert present is not None
    return pl.Series("score", total).set(pl.Series(~present), None) if (~present).any() else pl.Series("score", total)


def _coefficients(d: ScoreDefinition) -> list[float]:
    total = sum((abs(w) for _, w in d.weights), Decimal(0))
    return [float(Decimal(100) * abs(w) / total) for _, w in d.weights]


def _fit_cutoff(leaf: Leaf, frame: pl.DataFrame, currency: str, reasons: list[Reason]) -> float | None:
    assert leaf.quantile is not None
    values = np.sort(frame[leaf.indicator].cast(pl.Float64).drop_nulls().to_numpy())
    if not len(values):
        reasons.append(Reason("NO_POPULATION", {"band": leaf.path, "indicator": leaf.indicator}))
        return None
    position = min(len(values) - 1, int((leaf.quantile * len(values)).to_integral_value(rounding=ROUND_FLOOR)))
    cut = float(values[position])
    reasons.append(
        Reason(
            "QUANTILE_CUT",
            {
                "path": leaf.path,
                "indicator": leaf.indicator,
                "quantile": str(leaf.quantile),
                "cut": display_value(leaf.indicator, cut, currency),
            },
        )
    )
    return cut


def _assign(
    definition: Definition, fitted: Fitted, frame: pl.DataFrame, score: pl.Series | None = None
) -> pl.DataFrame:
    """``account_id``, ``class_index`` (Int32, never null) and the kind's extra columns."""
    d = definition
    account = pl.col(ACCOUNT_ID)
    if isinstance(d, SingleDefinition):
        missing = class_keys(d).index(d.missing)
        index = band_expr(pl.col(d.indicator), fitted.cuts[""], account).fill_null(missing)
        return frame.select(account, index.cast(pl.Int32).alias(CLASS_INDEX))
    if isinstance(d, ScoreDefinition):
        missing = class_keys(d).index(d.missing)
        if score is None:
            score = _score_column(d, fitted.scales, frame)
        scored = frame.select(account).with_columns(score)
        index = band_expr(pl.col("score"), fitted.cuts[""], account).fill_null(missing)
        return scored.select(account, index.cast(pl.Int32).alias(CLASS_INDEX), pl.col("score"))
    if isinstance(d, RulesDefinition):
        chain: Any = pl
        for i, c in enumerate(d.classes):
            chain = chain.when(compile_predicate(c.when, fitted.cutoffs)).then(pl.lit(i, pl.Int32))
        index = chain.otherwise(pl.lit(len(d.classes), pl.Int32)) if d.classes else pl.lit(0, pl.Int32)
        return frame.select(account, index.cast(pl.Int32).alias(CLASS_INDEX))
    if isinstance(d, RfmDefinition):
        scores = rfm.score_exprs(d, fitted.cuts)
        return frame.select(
            account,
            rfm.segment_expr(d, scores).alias(CLASS_INDEX),
            scores["r"].alias("r_score"),
            scores["f"].alias("f_score"),
            scores["m"].alias("m_score"),
        )
    has_p_alive = "p_alive" not in fitted.absent
    return frame.select(account, lifecycle.stage_expr(d, has_p_alive).alias(CLASS_INDEX))


# --- the per-account interpreter ------------------------------------------------------------------------------


def explain_account(definition: Definition, fitted: Fitted, values: Mapping[str, Any]) -> Membership:
    """One account's class and reasons, from its values and the fitted population.

    ``values`` maps indicator keys (and ``account_id``, needed when quantile ties are
    broken by rank, and ``region_path`` for region rules) to the account's values;
    a missing key reads as null. Money may be Decimal or float."""
    _check_fit(definition, fitted)
    d = definition
    currency = fitted.currency
    account = values.get(ACCOUNT_ID)
    if isinstance(d, SingleDefinition):
        value = to_number(values.get(d.indicator))
        if value is None:
            return Membership(d.missing, (Reason("NO_VALUE", {"indicator": d.indicator, "class": d.missing}),))
        cuts = fitted.cuts[""]
        index = band_of(value, cuts, account)
        assert index is not None
        key = d.classes[index].key
        reasons = [_band_reason("BAND", d.indicator, value, index, key, d.banding, cuts, currency)]
        reasons.extend(_tie_reason(d.indicator, value, cuts, account, currency))
        return Membership(key, tuple(reasons))
    if isinstance(d, ScoreDefinition):
        return _explain_score(d, fitted, values, currency)
    if isinstance(d, RulesDefinition):
        found: list[Reason] = []
        for i, c in enumerate(d.classes):
            trace: list[dict[str, Any]] = []
            held = evaluate(c.when, values, fitted.cutoffs, currency, trace)
            params = {"class": c.key, "path": f"classes[{i}]", "conditions": trace}
            if held:
                found.append(Reason("RULE_MATCHED", params))
                return Membership(c.key, tuple(found))
            found.append(Reason("RULE_NOT_MATCHED", params))
        found.append(Reason("OTHERWISE", {"class": d.otherwise.key}))
        return Membership(d.otherwise.key, tuple(found))
    if isinstance(d, RfmDefinition):
        index, scores, why = rfm.rfm_of(d, fitted.cuts, values, currency)
        return Membership(class_keys(d)[index], why, scores=scores)
    assert isinstance(d, LifecycleDefinition)
    stage, why = lifecycle.stage_of(d, values, "p_alive" not in fitted.absent)
    return Membership(d.classes[stage].key, why)


def _band_reason(
    code: str,
    indicator: str | None,
    value: float,
    index: int,
    key: str,
    banding: Banding,
    cuts: Cuts,
    currency: str,
) -> Reason:
    lower = cuts.values[index - 1] if index > 0 else None
    upper = cuts.values[index] if index < len(cuts.values) else None
    params: dict[str, Any] = {
        "indicator": indicator or "score",
        "value": _show(indicator, value, currency),
        "class": key,
        "method": banding.method,
        "lower": _show(indicator, lower, currency),
        "upper": _show(indicator, upper, currency),
    }
    if banding.method == "quantiles":
        points = banding.points
        params["quantiles"] = [
            str(points[index - 1]) if index > 0 else None,
            str(points[index]) if index < len(points) else None,
        ]
    return Reason(code, params)


def _tie_reason(indicator: str | None, value: float, cuts: Cuts, account: Any, currency: str) -> list[Reason]:
    if cuts.tie_ids is None or value not in cuts.values:
        return []
    i = cuts.values.index(value)
    return [
        Reason(
            "TIE_BROKEN_BY_ACCOUNT_ID",
            {
                "indicator": indicator or "score",
                "value": _show(indicator, value, currency),
                "account_id": account,
                "cut_account_id": cuts.tie_ids[i],
            },
        )
    ]


def _explain_score(d: ScoreDefinition, fitted: Fitted, values: Mapping[str, Any], currency: str) -> Membership:
    terms: list[dict[str, Any]] = []
    reasons: list[Reason] = []
    total: float | None = None
    present = False
    for (key, weight), c in zip(d.weights, _coefficients(d), strict=True):
        x = to_number(values.get(key))
        if x is None:
            good = 0.0
            normalised = None
            reasons.append(Reason("NO_VALUE", {"indicator": key, "counted_as": "worst"}))
        else:
            present = True
            normalised = fitted.scales[key].normalise(x)
            good = normalised if weight > 0 else 1.0 - normalised
        term = c * good
        total = term if total is None else total + term
        terms.append(
            {
                "indicator": key,
                "value": display_value(key, x, currency),
                "normalised": None if normalised is None else display_number(Kind.RATIO, normalised, currency),
                "weight": str(weight),
                "points": _show(None, term, currency),
            }
        )
    if not present:
        keys = [k for k, _ in d.weights]
        return Membership(d.missing, (Reason("NO_VALUE", {"indicators": keys, "class": d.missing}),))
    assert total is not None
    cuts = fitted.cuts[""]
    index = band_of(total, cuts, values.get(ACCOUNT_ID))
    assert index is not None
    key = d.classes[index].key
    reasons.insert(0, Reason("SCORE", {"score": _show(None, total, currency), "terms": terms}))
    reasons.append(_band_reason("SCORE_BAND", None, total, index, key, d.banding, cuts, currency))
    reasons.extend(_tie_reason(None, total, cuts, values.get(ACCOUNT_ID), currency))
    return Membership(key, tuple(reasons), score=total)


def cut_points(definition: Definition, fitted: Fitted) -> dict[str, list[Any]]:
    """The cut points actually used, as explanations show them, by band ("" for single/score,
    "r"/"f"/"m" for RFM, the leaf path for a rule's quantile leaf)."""
    d = definition
    currency = fitted.currency
    if isinstance(d, SingleDefinition):
        return {"": [_show(d.indicator, v, currency) for v in fitted.cuts[""].values]}
    if isinstance(d, ScoreDefinition):
        return {"": [_show(None, v, currency) for v in fitted.cuts[""].values]}
    if isinstance(d, RfmDefinition):
        return {axis: [_show(column, v, currency) for v in fitted.cuts[axis].values] for axis, column in rfm.AXES}
    if isinstance(d, RulesDefinition):
        out: dict[str, list[Any]] = {}
        for c in d.classes:
            for leaf in leaves(c.when):
                if leaf.quantile is not None:
                    out[leaf.path] = [_show(leaf.indicator, fitted.cutoffs.get(leaf.path), currency)]
        return out
    return {}
