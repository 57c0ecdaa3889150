"""Predicates over indicators: one typed tree, two interpreters, and a checker.

A predicate is stored as JSON (parsed by ``definitions.parse_predicate``)::

    {"all": [p, ...]}      every part holds ({"all": []} always holds)
    {"any": [p, ...]}      some part holds ({"any": []} never holds)
    {"not": p}
    {"indicator": "recency_days", "op": "<", "value": 90}
    {"indicator": "sales", "op": ">=", "quantile": 0.9}   # cut fitted from the population

Operators by indicator kind (``OPS_BY_KIND``):

* money, count, days, ratio: ``< <= > >= = !=`` (a number; money as text or an
  integer, e.g. ``"1000.50"``), ``between`` (``[low, high]``, both included),
  ``in`` / ``not_in`` (a list of numbers), ``is_null``. The four order operators may
  take ``"quantile": q`` (0 < q < 1) instead of a value: the cut is the value at
  rank ``floor(q * n)`` of the accounts that have one, fitted by the population pass.
* bool: ``= !=`` (true/false), ``is_null``.
* category (industry): ``= != in not_in is_null`` with codes as text.
* region: ``= != in not_in is_null`` with region ids; ``=`` and ``in`` hold when the
  account's region *or one of its ancestors* is listed (through ``region_path``):
  "region in [Guangdong]" includes Guangzhou and Shenzhen.

``is_null`` takes an optional boolean value (default true: "has no value").

Nulls: two-valued logic. A comparison on a null value is false (``!=`` and
``not_in`` too), and ``not`` of it is true. So "not recency < 90" holds for an
account without orders. Only ``is_null`` looks at the null itself.

The two interpreters are ``compile_predicate`` (a polars expression over the whole
frame) and ``evaluate`` (one account, with the conditions that held or failed);
``classify`` proves they agree. ``unreachable_classes`` finds rule classes no account
can reach: contradictions (``recency < 10`` and ``recency > 20`` in one ``all``) and
classes whose every case an earlier class already takes, by expanding predicates to
disjunctive normal form (bounded; larger predicates are not judged).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import polars as pl

from patron.domain.segmentation.indicators import INDICATORS, REGION_PATH, Kind, display_value, to_number

ORDER_OPS = ("<", "<=", ">", ">=")
NUMERIC_OPS = (*ORDER_OPS, "=", "!=", "between", "in", "not_in", "is_null")
OPS_BY_KIND: Mapping[Kind, tuple[str, ...]] = {
    Kind.MONEY: NUMERIC_OPS,
    Kind.COUNT: NUMERIC_OPS,
    Kind.DAYS: NUMERIC_OPS,
    Kind.RATIO: NUMERIC_OPS,
    Kind.BOOL: ("=", "!=", "is_null"),
    Kind.CATEGORY: ("=", "!=", "in", "not_in", "is_null"),
    Kind.REGION: ("=", "!=", "in", "not_in", "is_null"),
}


@dataclass(frozen=True, slots=True)
class Leaf:
    """One condition. ``value`` by op: Decimal for comparisons on numbers, a pair of
    Decimals for ``between``, a tuple for ``in``/``not_in`` (Decimal, str or int by kind),
    a bool for bool indicators and for ``is_null``, str for a category, int for a region.
    ``quantile`` replaces ``value`` for a cut fitted from the population."""

    indicator: str
    op: str
    value: Any
    path: str
    quantile: Decimal | None = None

    @property
    def kind(self) -> Kind:
        return INDICATORS[self.indicator].kind


@dataclass(frozen=True, slots=True)
class All:
    items: tuple[Predicate, ...]
    path: str


@dataclass(frozen=True, slots=True)
class AnyOf:
    items: tuple[Predicate, ...]
    path: str


@dataclass(frozen=True, slots=True)
class Not:
    item: Predicate
    path: str


Predicate = Leaf | All | AnyOf | Not


def leaves(pred: Predicate) -> Iterator[Leaf]:
    if isinstance(pred, Leaf):
        yield pred
    elif isinstance(pred, Not):
        yield from leaves(pred.item)
    else:
        for item in pred.items:
            yield from leaves(item)


def predicate_to_dict(pred: Predicate) -> dict[str, Any]:
    if isinstance(pred, All):
        return {"all": [predicate_to_dict(p) for p in pred.items]}
    if isinstance(pred, AnyOf):
        return {"any": [predicate_to_dict(p) for p in pred.items]}
    if isinstance(pred, Not):
        return {"not": predicate_to_dict(pred.item)}
    out: dict[str, Any] = {"indicator": pred.indicator, "op": pred.op}
    if pred.quantile is not None:
        out["quantile"] = _json_number(pred.quantile, Kind.RATIO)
    elif pred.op == "is_null":
        if pred.value is not True:
            out["value"] = pred.value
    elif pred.op in {"between", "in", "not_in"}:
        out["value"] = [_json_scalar(v, pred.kind) for v in pred.value]
    else:
        out["value"] = _json_scalar(pred.value, pred.kind)
    return out


def _json_number(value: Decimal, kind: Kind) -> Any:
    if kind is Kind.MONEY:
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def _json_scalar(value: Any, kind: Kind) -> Any:
    return _json_number(value, kind) if isinstance(value, Decimal) else value


# --- the vectorised interpreter ----------------------------------------------------------------------------

Cutoffs = Mapping[str, float | None]  # leaf path -> fitted cut of a quantile leaf (None: no population)


def compile_predicate(pred: Predicate, cutoffs: Cutoffs) -> pl.Expr:
    """A Boolean polars expression without nulls, over a frame prepared by ``classify``."""
    if isinstance(pred, All):
        parts = [compile_predicate(p, cutoffs) for p in pred.items]
        return _fold(parts, lambda a, b: a & b, True)
    if isinstance(pred, AnyOf):
        parts = [compile_predicate(p, cutoffs) for p in pred.items]
        return _fold(parts, lambda a, b: a | b, False)
    if isinstance(pred, Not):
        return ~compile_predicate(pred.item, cutoffs)
    return _compile_leaf(pred, cutoffs).fill_null(False)


def _fold(parts: list[pl.Expr], op: Callable[[pl.Expr, pl.Expr], pl.Expr], empty: bool) -> pl.Expr:
    if not parts:
        return pl.lit(empty)
    result = parts[0]
    for part in parts[1:]:
        result = op(result, part)
    return result


def _compile_leaf(leaf: Leaf, cutoffs: Cutoffs) -> pl.Expr:
    col = pl.col(leaf.indicator)
    op, kind = leaf.op, leaf.kind
    if op == "is_null":
        return col.is_null() if leaf.value else col.is_not_null()
    if kind is Kind.REGION:
        within = _fold([pl.col(REGION_PATH).list.contains(int(r)) for r in _as_tuple(leaf.value)], _or, False)
        if op in {"=", "in"}:
            return col.is_not_null() & within.fill_null(False)
        return col.is_not_null() & ~within.fill_null(False)
    if leaf.quantile is not None:
        cut = cutoffs.get(leaf.path)
        if cut is None:
            return pl.lit(False)
        return _compare(col, op, pl.lit(cut))
    if op == "between":
        low, high = leaf.value
        return (col >= float(low)) & (col <= float(high))
    if op in {"in", "not_in"}:
        items = [_literal(v, kind) for v in leaf.value]
        member = col.is_in(items)
        return member if op == "in" else col.is_not_null() & ~member
    return _compare(col, op, pl.lit(_literal(leaf.value, kind)))


def _or(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return a | b


def _compare(col: pl.Expr, op: str, lit: pl.Expr) -> pl.Expr:
    if op == "<":
        return col < lit
    if op == "<=":
        return col <= lit
    if op == ">":
        return col > lit
    if op == ">=":
        return col >= lit
    if op == "=":
        return col == lit
    return col != lit


def _literal(value: Any, kind: Kind) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _as_tuple(value: Any) -> tuple[Any, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)


# --- the per-account interpreter ---------------------------------------------------------------------------


def evaluate(
    pred: Predicate,
    values: Mapping[str, Any],
    cutoffs: Cutoffs,
    currency: str,
    trace: list[dict[str, Any]],
    negated: bool = False,
) -> bool:
    """Whether ``pred`` holds for one account; appends every leaf's outcome to ``trace``.

    A trace entry: ``path``, ``indicator``, ``op``, the condition's ``value`` (or
    ``quantile`` and the fitted ``cut``), the account's ``actual`` value, whether it
    ``held``, ``no_value`` when the account has none, ``negated`` under an odd number of
    ``not``. All leaves are evaluated so the explanation is complete.
    """
    if isinstance(pred, All):
        results = [evaluate(p, values, cutoffs, currency, trace, negated) for p in pred.items]
        return all(results)
    if isinstance(pred, AnyOf):
        results = [evaluate(p, values, cutoffs, currency, trace, negated) for p in pred.items]
        return any(results)
    if isinstance(pred, Not):
        return not evaluate(pred.item, values, cutoffs, currency, trace, not negated)
    held, entry = _evaluate_leaf(pred, values, cutoffs, currency)
    entry["held"] = held
    if negated:
        entry["negated"] = True
    trace.append(entry)
    return held


def _evaluate_leaf(
    leaf: Leaf, values: Mapping[str, Any], cutoffs: Cutoffs, currency: str
) -> tuple[bool, dict[str, Any]]:
    key, kind, op = leaf.indicator, leaf.kind, leaf.op
    raw = values.get(key)
    actual = _scalar(raw, kind)
    entry: dict[str, Any] = {"path": leaf.path, "indicator": key, "op": op}
    if leaf.quantile is not None:
        cut = cutoffs.get(leaf.path)
        entry["quantile"] = str(leaf.quantile)
        entry["cut"] = display_value(key, cut, currency)
    elif op == "is_null":
        entry["value"] = bool(leaf.value)
    elif op in {"between", "in", "not_in"}:
        entry["value"] = [_show(key, v, currency) for v in leaf.value]
    else:
        entry["value"] = _show(key, leaf.value, currency)
    entry["actual"] = display_value(key, actual, currency) if actual is not None else None
    if actual is None:
        entry["no_value"] = True
    if op == "is_null":
        return (actual is None) == bool(leaf.value), entry
    if actual is None:
        return False, entry
    if kind is Kind.REGION:
        path = values.get(REGION_PATH) or ()
        within = any(int(r) in path for r in _as_tuple(leaf.value))
        return (within if op in {"=", "in"} else not within), entry
    if leaf.quantile is not None:
        cut = cutoffs.get(leaf.path)
        return (cut is not None and _holds(actual, op, cut)), entry
    if op == "between":
        low, high = leaf.value
        return float(low) <= actual <= float(high), entry
    if op in {"in", "not_in"}:
        member = any(actual == _literal(v, kind) for v in leaf.value)
        return (member if op == "in" else not member), entry
    return _holds(actual, op, _literal(leaf.value, kind)), entry


def _scalar(raw: Any, kind: Kind) -> Any:
    if raw is None:
        return None
    if kind in {Kind.MONEY, Kind.COUNT, Kind.DAYS, Kind.RATIO}:
        return to_number(raw)
    if kind is Kind.BOOL:
        return bool(raw)
    if kind is Kind.CATEGORY:
        return str(raw)
    return int(raw)


def _show(key: str, value: Any, currency: str) -> Any:
    return display_value(key, value, currency)


def _holds(actual: Any, op: str, cut: Any) -> bool:
    if op == "<":
        return bool(actual < cut)
    if op == "<=":
        return bool(actual <= cut)
    if op == ">":
        return bool(actual > cut)
    if op == ">=":
        return bool(actual >= cut)
    if op == "=":
        return bool(actual == cut)
    return bool(actual != cut)


# --- static analysis: contradictions and shadowed classes ---------------------------------------------------

Literal = tuple[Leaf, bool]  # a leaf, and whether it appears positively
Term = tuple[Literal, ...]  # a conjunction of literals
DNF_LIMIT = 2048


class _TooBig(Exception):
    pass


def dnf(pred: Predicate, positive: bool = True) -> list[Term]:
    """Disjunctive normal form with satisfiable terms only; raises _TooBig past DNF_LIMIT terms."""
    if isinstance(pred, Leaf):
        term: Term = ((pred, positive),)
        return [term] if satisfiable(term) else []
    if isinstance(pred, Not):
        return dnf(pred.item, not positive)
    conjunction = isinstance(pred, All) == positive
    parts = [dnf(p, positive) for p in pred.items]
    if not conjunction:
        return [t for part in parts for t in part]
    terms: list[Term] = [()]
    for part in parts:
        terms = [a + b for a, b in itertools.product(terms, part)]
        terms = [t for t in terms if satisfiable(t)]
        if len(terms) > DNF_LIMIT:
            raise _TooBig
    return terms


def _fits_limit(pred: Predicate) -> list[Term] | None:
    try:
        return dnf(pred)
    except _TooBig:
        return None


@dataclass(frozen=True, slots=True)
class Unreachable:
    index: int  # position of the class; len(classes) for "otherwise"
    reason: str  # "contradiction" (cannot hold) or "covered" (earlier classes take every case)
    by: tuple[int, ...] = ()  # the earlier classes that take its cases


def unreachable_classes(whens: Sequence[Predicate]) -> list[Unreachable]:
    """Rule classes (first match wins) that no account can reach, and the ``otherwise`` class
    (index ``len(whens)``) when the rules leave it nothing."""
    found: list[Unreachable] = []
    forms = [_fits_limit(w) for w in whens]
    for k, form in enumerate(forms):
        if form is None:
            continue
        if not form:
            found.append(Unreachable(k, "contradiction"))
            continue
        if k and _covered(whens[k], whens[:k]):
            by = tuple(j for j in range(k) if _fits_limit(All((whens[j], whens[k]), "")) != [])
            found.append(Unreachable(k, "covered", by))
    if whens and _covered(All((), ""), whens):
        by = tuple(j for j, form in enumerate(forms) if form != [])
        found.append(Unreachable(len(whens), "covered", by))
    return found


def _covered(pred: Predicate, earlier: Sequence[Predicate]) -> bool:
    """True when every account ``pred`` holds for is taken by one of ``earlier``; False when unsure."""
    rest = All((pred, Not(AnyOf(tuple(earlier), ""), "")), "")
    try:
        return dnf(rest) == []
    except _TooBig:
        return _covered_by_one_term(pred, earlier)


def _covered_by_one_term(pred: Predicate, earlier: Sequence[Predicate]) -> bool:
    mine = _fits_limit(pred)
    if mine is None:
        return False
    theirs: list[Term] = []
    for e in earlier:
        form = _fits_limit(e)
        if form:
            theirs.extend(form)
    return all(any(_implies(t, u) for u in theirs) for t in mine)


def _implies(t: Term, u: Term) -> bool:
    return all(not satisfiable((*t, (leaf, not positive))) for leaf, positive in u)


INF = Decimal("Infinity")
Interval = tuple[Decimal, bool, Decimal, bool]  # low, low included, high, high included


def satisfiable(term: Iterable[Literal]) -> bool:
    """Whether some account could satisfy every literal (indicators vary independently)."""
    by_indicator: dict[str, list[Literal]] = {}
    for literal in term:
        by_indicator.setdefault(literal[0].indicator, []).append(literal)
    return all(_variable_satisfiable(key, lits) for key, lits in by_indicator.items())


def _null_truth(leaf: Leaf) -> bool:
    return leaf.op == "is_null" and bool(leaf.value)


def _variable_satisfiable(key: str, lits: list[Literal]) -> bool:
    if all(_null_truth(leaf) == positive for leaf, positive in lits):
        return True  # an account without a value satisfies them all
    # With a value: is_null literals are decided, the rest constrain the value.
    rest: list[Literal] = []
    for leaf, positive in lits:
        if leaf.op == "is_null":
            if bool(leaf.value) == positive:
                return False
        else:
            rest.append((leaf, positive))
    ind = INDICATORS[key]
    opaque: list[Literal] = []
    plain: list[Literal] = []
    for leaf, positive in rest:
        is_opaque = leaf.quantile is not None or ind.kind is Kind.REGION
        (opaque if is_opaque else plain).append((leaf, positive))
    if not _opaque_consistent(opaque):
        return False
    if ind.kind is Kind.BOOL:
        options = {True, False}
        for leaf, positive in plain:
            holds = {leaf.value} if leaf.op == "=" else {not leaf.value}
            options &= holds if positive else {True, False} - holds
        return bool(options)
    if ind.kind is Kind.CATEGORY:
        allowed: set[str] | None = None
        excluded: set[str] = set()
        for leaf, positive in plain:
            listed = set(_as_tuple(leaf.value))
            inside = leaf.op in {"=", "in"}
            if inside == positive:
                allowed = listed if allowed is None else allowed & listed
            else:
                excluded |= listed
        return allowed is None or bool(allowed - excluded)
    if ind.kind is Kind.REGION:
        return True
    low = Decimal(str(ind.lower)) if ind.lower is not None else -INF
    high = Decimal(str(ind.upper)) if ind.upper is not None else INF
    space: list[Interval] = [(low, True, high, True)]
    for leaf, positive in plain:
        allowed_set = _interval_set(leaf)
        space = _intersect(space, allowed_set if positive else _complement(allowed_set))
        if not space:
            return False
    if ind.integral:
        return any(_has_integer(iv) for iv in space)
    return True


def _opaque_consistent(lits: list[Literal]) -> bool:
    """Atoms we cannot place on a number line: fitted quantile cuts and region memberships."""
    seen: dict[tuple[str, str, Any], bool] = {}
    within: list[tuple[frozenset[int], bool]] = []
    for leaf, positive in lits:
        if leaf.quantile is not None:
            atom: tuple[str, str, Any] = (leaf.indicator, leaf.op, leaf.quantile)
            if seen.setdefault(atom, positive) != positive:
                return False
        else:
            ids = frozenset(int(v) for v in _as_tuple(leaf.value))
            inside = leaf.op in {"=", "in"}
            within.append((ids, inside == positive))
    # within(A) and not within(B) cannot both hold when A is a subset of B.
    return not any(a <= b for a, yes_a in within if yes_a for b, yes_b in within if not yes_b)


def _interval_set(leaf: Leaf) -> list[Interval]:
    op, v = leaf.op, leaf.value
    if op == "<":
        return [(-INF, False, v, False)]
    if op == "<=":
        return [(-INF, False, v, True)]
    if op == ">":
        return [(v, False, INF, False)]
    if op == ">=":
        return [(v, True, INF, False)]
    if op == "=":
        return [(v, True, v, True)]
    if op == "!=":
        return [(-INF, False, v, False), (v, False, INF, False)]
    if op == "between":
        return [(v[0], True, v[1], True)]
    points = [(p, True, p, True) for p in sorted(set(v))]
    return points if op == "in" else _complement(points)


def _complement(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    cursor, cursor_in = -INF, False  # the next gap starts at cursor (included when cursor_in)
    for low, low_in, high, high_in in sorted(intervals):
        if low > cursor or (low == cursor and cursor_in and not low_in):
            out.append((cursor, cursor_in, low, not low_in))
        if high > cursor:
            cursor, cursor_in = high, not high_in
        elif high == cursor and high_in:
            cursor_in = False
    if cursor < INF:
        out.append((cursor, cursor_in, INF, False))
    return [iv for iv in out if _nonempty(iv)]


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for lo1, li1, hi1, hi1_in in a:
        for lo2, li2, hi2, hi2_in in b:
            if lo1 > lo2 or (lo1 == lo2 and not li1):
                low, low_in = lo1, li1
            else:
                low, low_in = lo2, li2
            if hi1 < hi2 or (hi1 == hi2 and not hi1_in):
                high, high_in = hi1, hi1_in
            else:
                high, high_in = hi2, hi2_in
            iv = (low, low_in, high, high_in)
            if _nonempty(iv):
                out.append(iv)
    return out


def _nonempty(iv: Interval) -> bool:
    low, low_in, high, high_in = iv
    return low < high or (low == high and low_in and high_in and low.is_finite())


def _has_integer(iv: Interval) -> bool:
    low, low_in, high, high_in = iv
    if not low.is_finite() or not high.is_finite():
        return True
    first = low.to_integral_value(rounding="ROUND_CEILING")
    if first == low and not low_in:
        first += 1
    return first < high or (first == high and high_in)
