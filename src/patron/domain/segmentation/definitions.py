"""Classification definitions: JSON-able dicts, parsed into typed, validated values.

``parse_definition(data)`` returns a ``Definition`` or raises ``DefinitionError``
carrying *every* ``Problem(path, code, params)`` found, ``path`` naming the field
(``"thresholds[1]"``, ``"weights.sales"``, ``"classes[2].when.all[0].op"``, ``""``
for the whole definition). ``definition_to_dict`` writes the canonical dict back
(``parse_definition(definition_to_dict(d)) == d``). Problem codes:

============== =================================================================
code           meaning (params)
============== =================================================================
required       the field is missing
wrong_type     not the expected type (``expected``: object, list, text, integer,
               number, money, boolean, region_id)
unknown_field  a field this kind does not have
unknown_kind   ``kind`` is none of ``allowed``
invalid_choice a value outside ``allowed`` (method, ties, normalisation)
invalid_key    a class key that is not 1-64 letters, digits, ``_ - .``
empty          an empty list or object where one item at least is needed
duplicate_key  a class key used twice (``key``, ``first``: path of the first use)
unknown_class  ``missing`` names no class of the definition (``key``)
unknown_indicator  ``indicator`` is not in ``indicators.INDICATORS``
not_numeric    an indicator that cannot be banded or weighted (``kind``)
unknown_op     ``op`` is not an operator
op_not_allowed ``op`` does not apply to the indicator's kind (``kind``, ``allowed``)
wrong_count    cut points do not number classes - 1 (``expected``, ``given``)
not_increasing a cut point below the previous one (``previous``)
duplicate      a cut point equal to the previous one: an empty band (``previous``)
out_of_range   a number outside its range (``min``, ``max``; bounds excluded for
               quantile fractions)
empty_range    ``between`` with low above high
all_zero       every weight is zero
ambiguous      a node with more than one of ``all``/``any``/``not``/``indicator``,
               or a leaf with both ``value`` and ``quantile``
too_deep       a predicate nested deeper than ``MAX_DEPTH``
unreachable    a class no account can reach (``reason``: ``below_domain``,
               ``above_domain``, ``no_integer``, ``contradiction``, ``covered``;
               ``by``: the earlier classes that take its cases)
overlap        an RFM grid cell given to two segments (``r``, ``fm``, ``with``)
uncovered      RFM grid cells given to no segment (``cells``: [[r, fm], ...])
fixed_keys     lifecycle classes must be ``expected`` in that order
not_greater    a parameter that must exceed another (``than``)
not_less       a parameter that must be below another (``than``)
============== =================================================================

Kinds and their shapes (``classes`` are ordered low to high where order matters;
``label`` is optional and defaults to the key)::

    {"kind": "single", "indicator": "sales",
     "classes": [{"key": "low", "label": "Low value"}, {"key": "mid"}, {"key": "high"}],
     "method": "thresholds", "thresholds": ["10000", "50000"],       # or:
     "method": "quantiles", "quantiles": [0.5, 0.8], "ties": "group",  # group | rank
     "missing": "low"}                                  # class for a null value; default: lowest

    {"kind": "score", "weights": {"sales": 0.4, "gross_profit": 0.3,
                                  "purchase_frequency": 0.2, "overdue": -0.1},
     "normalisation": "minmax",                          # minmax | percentile
     "classes": [...], "method": "thresholds", "thresholds": [40, 70], "missing": "low"}

    {"kind": "rules",
     "classes": [{"key": "gd_retail", "label": "...", "when": {"all": [...]}}, ...],
     "otherwise": {"key": "other", "label": "Other"}}

    {"kind": "rfm", "bins": 5, "ties": "group",
     "segments": [{"key": "champions", "label": "Champions",
                   "cells": [{"r": [5, 5], "fm": [4, 5]}]}, ...],
     "missing": {"key": "no_orders", "label": "No orders"}}

    {"kind": "lifecycle", "classes": [...prospect, new, loyal, at_risk, churned...],
     "new_days": 90, "loyal_factor": 1.5, "churn_factor": 3, "churn_max_days": 365,
     "one_time_churn_days": 180, "min_rhythm_days": 14,
     "p_alive_at_risk": null, "p_alive_churned": null}

Money (thresholds and rule values on money indicators) is written as text or an
integer (``"10000.50"``, ``10000``), never a JSON float, as everywhere in Patron.
Other numbers may be JSON numbers or numeric text. A ``"version": 1`` field is
accepted on every kind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from patron.domain.problems import DefinitionError, Problem, join_path
from patron.domain.problems import Problems as _Problems
from patron.domain.segmentation.bands import TIES
from patron.domain.segmentation.indicators import INDICATORS, NUMERIC_KINDS, Kind
from patron.domain.segmentation.rules import (
    OPS_BY_KIND,
    ORDER_OPS,
    All,
    AnyOf,
    Leaf,
    Not,
    Predicate,
    predicate_to_dict,
    unreachable_classes,
)

KINDS = ("single", "score", "rules", "rfm", "lifecycle")
METHODS = ("thresholds", "quantiles")
NORMALISATIONS = ("minmax", "percentile")
MAX_DEPTH = 12
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
SCORE_MIN, SCORE_MAX = Decimal(0), Decimal(100)
LIFECYCLE_STAGES = ("prospect", "new", "loyal", "at_risk", "churned")


# --- the typed definitions -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassSpec:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Banding:
    """How a number is cut: ``points`` are thresholds (Decimal, in the indicator's unit)
    or quantile fractions, ``len(classes) - 1`` of them."""

    method: str
    points: tuple[Decimal, ...]
    ties: str = "group"


@dataclass(frozen=True, slots=True)
class SingleDefinition:
    kind: ClassVar[str] = "single"
    indicator: str
    classes: tuple[ClassSpec, ...]
    banding: Banding
    missing: str  # the class of an account whose indicator is null

    @property
    def class_specs(self) -> tuple[ClassSpec, ...]:
        return self.classes


@dataclass(frozen=True, slots=True)
class ScoreDefinition:
    """A weighted score over normalised indicators, 0 to 100, cut into classes.

    ``weights`` are in the indicators' registry order (the order of a JSON object is
    not kept by every database, and the score's float sum must not depend on it)."""

    kind: ClassVar[str] = "score"
    weights: tuple[tuple[str, Decimal], ...]
    normalisation: str
    classes: tuple[ClassSpec, ...]
    banding: Banding
    missing: str  # the class of an account with no value for any weighted indicator

    @property
    def class_specs(self) -> tuple[ClassSpec, ...]:
        return self.classes


@dataclass(frozen=True, slots=True)
class RuleClass:
    key: str
    label: str
    when: Predicate


@dataclass(frozen=True, slots=True)
class RulesDefinition:
    kind: ClassVar[str] = "rules"
    classes: tuple[RuleClass, ...]
    otherwise: ClassSpec

    @property
    def class_specs(self) -> tuple[ClassSpec, ...]:
        return (*(ClassSpec(c.key, c.label) for c in self.classes), self.otherwise)


@dataclass(frozen=True, slots=True)
class RfmSegment:
    key: str
    label: str
    cells: tuple[tuple[int, int, int, int], ...]  # (r low, r high, fm low, fm high), inclusive


@dataclass(frozen=True, slots=True)
class RfmDefinition:
    kind: ClassVar[str] = "rfm"
    bins: int
    ties: str
    segments: tuple[RfmSegment, ...]
    missing: ClassSpec  # accounts without orders

    @property
    def class_specs(self) -> tuple[ClassSpec, ...]:
        return (*(ClassSpec(s.key, s.label) for s in self.segments), self.missing)


@dataclass(frozen=True, slots=True)
class LifecycleDefinition:
    kind: ClassVar[str] = "lifecycle"
    classes: tuple[ClassSpec, ...]  # prospect, new, loyal, at_risk, churned
    new_days: Decimal
    loyal_factor: Decimal
    churn_factor: Decimal
    churn_max_days: Decimal | None
    one_time_churn_days: Decimal
    min_rhythm_days: Decimal
    p_alive_at_risk: Decimal | None
    p_alive_churned: Decimal | None

    @property
    def class_specs(self) -> tuple[ClassSpec, ...]:
        return self.classes


Definition = SingleDefinition | ScoreDefinition | RulesDefinition | RfmDefinition | LifecycleDefinition


def class_keys(definition: Definition) -> tuple[str, ...]:
    return tuple(c.key for c in definition.class_specs)


# --- parsing ---------------------------------------------------------------------------------------------------


def parse_definition(data: Any) -> Definition:
    problems = _Problems()
    if not isinstance(data, Mapping):
        raise DefinitionError([Problem("", "wrong_type", {"expected": "object"})])
    kind = data.get("kind")
    if kind is None:
        problems.add("kind", "required")
        raise DefinitionError(problems.items)
    if kind not in KINDS:
        problems.add("kind", "unknown_kind", allowed=list(KINDS))
        raise DefinitionError(problems.items)
    parser = _PARSERS[kind]
    fields = _FIELDS[kind] | {"kind", "version"}
    for name in data:
        if name not in fields:
            problems.add(str(name), "unknown_field")
    result = parser(data, problems)
    if problems.items or result is None:
        raise DefinitionError(problems.items or [Problem("", "invalid")])
    return result


_FIELDS: dict[str, set[str]] = {
    "single": {"indicator", "classes", "method", "thresholds", "quantiles", "ties", "missing"},
    "score": {"weights", "normalisation", "classes", "method", "thresholds", "quantiles", "ties", "missing"},
    "rules": {"classes", "otherwise"},
    "rfm": {"bins", "ties", "segments", "missing"},
    "lifecycle": {
        "classes",
        "new_days",
        "loyal_factor",
        "churn_factor",
        "churn_max_days",
        "one_time_churn_days",
        "min_rhythm_days",
        "p_alive_at_risk",
        "p_alive_churned",
    },
}


def _number(value: Any, path: str, problems: _Problems, *, money: bool = False) -> Decimal | None:
    """A number from JSON; money refuses floats (write ``"10.50"``)."""
    expected = "money" if money else "number"
    if isinstance(value, bool) or value is None:
        problems.add(path, "wrong_type", expected=expected)
        return None
    if isinstance(value, float):
        if money or not math.isfinite(value):
            problems.add(path, "wrong_type", expected=expected)
            return None
        return Decimal(repr(value))
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            problems.add(path, "wrong_type", expected=expected)
            return None
    else:
        problems.add(path, "wrong_type", expected=expected)
        return None
    if not result.is_finite():
        problems.add(path, "wrong_type", expected=expected)
        return None
    return result


def _class_spec(data: Any, path: str, problems: _Problems) -> ClassSpec | None:
    if not isinstance(data, Mapping):
        problems.add(path, "wrong_type", expected="object")
        return None
    key = data.get("key")
    label = data.get("label", key)
    ok = True
    if key is None:
        problems.add(join_path(path, "key"), "required")
        ok = False
    elif not isinstance(key, str):
        problems.add(join_path(path, "key"), "wrong_type", expected="text")
        ok = False
    elif not KEY_PATTERN.match(key):
        problems.add(join_path(path, "key"), "invalid_key")
        ok = False
    if label is not None and not isinstance(label, str):
        problems.add(join_path(path, "label"), "wrong_type", expected="text")
        ok = False
    return ClassSpec(key, label or key) if ok and isinstance(key, str) else None


def _class_list(
    data: Mapping[str, Any],
    name: str,
    problems: _Problems,
    extra_fields: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[tuple[ClassSpec | None, Mapping[str, Any]]] | None:
    raw = data.get(name)
    if raw is None:
        problems.add(name, "required")
        return None
    if not isinstance(raw, list):
        problems.add(name, "wrong_type", expected="list")
        return None
    if not raw:
        problems.add(name, "empty")
        return None
    out: list[tuple[ClassSpec | None, Mapping[str, Any]]] = []
    for i, item in enumerate(raw):
        path = join_path(name, i)
        spec = _class_spec(item, path, problems)
        if isinstance(item, Mapping):
            for f in item:
                if f not in {"key", "label", *extra_fields}:
                    problems.add(join_path(path, str(f)), "unknown_field")
        out.append((spec, item if isinstance(item, Mapping) else {}))
    return out


def _check_unique(specs: Sequence[tuple[str, ClassSpec | None]], problems: _Problems) -> None:
    first: dict[str, str] = {}
    for path, spec in specs:
        if spec is None:
            continue
        if spec.key in first:
            problems.add(join_path(path, "key"), "duplicate_key", key=spec.key, first=first[spec.key])
        else:
            first[spec.key] = path


def _choice(data: Mapping[str, Any], name: str, allowed: Sequence[str], default: str, problems: _Problems) -> str:
    value = data.get(name, default)
    if value not in allowed:
        problems.add(name, "invalid_choice", allowed=list(allowed))
        return default
    return str(value)


def _banding(
    data: Mapping[str, Any],
    classes: Sequence[ClassSpec] | None,
    problems: _Problems,
    *,
    money: bool,
    lower: Decimal | None,
    upper: Decimal | None,
    integral: bool,
) -> Banding | None:
    method = data.get("method")
    if method is None:
        problems.add("method", "required")
        return None
    if method not in METHODS:
        problems.add("method", "invalid_choice", allowed=list(METHODS))
        return None
    other = "quantiles" if method == "thresholds" else "thresholds"
    if other in data:
        problems.add(other, "unknown_field", method=method)
    ties = _choice(data, "ties", TIES, "group", problems)
    if method == "thresholds" and "ties" in data:
        problems.add("ties", "unknown_field", method=method)
    raw = data.get(method)
    if raw is None:
        problems.add(method, "required")
        return None
    if not isinstance(raw, list):
        problems.add(method, "wrong_type", expected="list")
        return None
    if classes is not None and len(raw) != len(classes) - 1:
        problems.add(method, "wrong_count", expected=len(classes) - 1, given=len(raw))
    points: list[Decimal | None] = []
    for i, item in enumerate(raw):
        path = join_path(method, i)
        number = _number(item, path, problems, money=money and method == "thresholds")
        if number is not None and method == "quantiles" and not Decimal(0) < number < Decimal(1):
            problems.add(path, "out_of_range", min=0, max=1)
            number = None
        points.append(number)
    ok = all(p is not None for p in points)
    for i in range(1, len(points)):
        prev, here = points[i - 1], points[i]
        if prev is None or here is None:
            continue
        if here == prev:
            problems.add(join_path(method, i), "duplicate", previous=str(prev))
            ok = False
        elif here < prev:
            problems.add(join_path(method, i), "not_increasing", previous=str(prev))
            ok = False
    if not ok:
        return None
    cuts = tuple(p for p in points if p is not None)
    if method == "thresholds" and classes is not None and len(cuts) == len(classes) - 1:
        _check_domain(cuts, classes, problems, lower=lower, upper=upper, integral=integral)
    return Banding(method, cuts, ties)


def _check_domain(
    cuts: Sequence[Decimal],
    classes: Sequence[ClassSpec],
    problems: _Problems,
    *,
    lower: Decimal | None,
    upper: Decimal | None,
    integral: bool,
) -> None:
    """Classes whose band holds no value the indicator can take."""
    if not cuts:
        return
    bounds: list[Decimal | None] = [None, *cuts, None]  # class k: bounds[k] <= v < bounds[k+1]
    for k, spec in enumerate(classes):
        low, high = bounds[k], bounds[k + 1]
        path = f"classes[{k}]"
        if high is not None and lower is not None and high <= lower:
            problems.add(path, "unreachable", reason="below_domain", key=spec.key, lowest=str(lower))
        elif low is not None and upper is not None and low > upper:
            problems.add(path, "unreachable", reason="above_domain", key=spec.key, highest=str(upper))
        elif integral and low is not None and high is not None:
            first = low.to_integral_value(rounding="ROUND_CEILING")
            if first >= high:
                problems.add(path, "unreachable", reason="no_integer", key=spec.key)


def _missing_key(data: Mapping[str, Any], classes: Sequence[ClassSpec] | None, problems: _Problems) -> str:
    if not classes:
        return ""
    value = data.get("missing", classes[0].key)
    if not isinstance(value, str):
        problems.add("missing", "wrong_type", expected="text")
        return classes[0].key
    if value not in {c.key for c in classes}:
        problems.add("missing", "unknown_class", key=value)
    return value


def _plain_classes(data: Mapping[str, Any], problems: _Problems) -> list[ClassSpec] | None:
    items = _class_list(data, "classes", problems)
    if items is None:
        return None
    _check_unique([(f"classes[{i}]", spec) for i, (spec, _) in enumerate(items)], problems)
    specs = [spec for spec, _ in items if spec is not None]
    return specs if len(specs) == len(items) else None


def _parse_single(data: Mapping[str, Any], problems: _Problems) -> SingleDefinition | None:
    name = data.get("indicator")
    ind = None
    if name is None:
        problems.add("indicator", "required")
    elif not isinstance(name, str) or name not in INDICATORS:
        problems.add("indicator", "unknown_indicator", indicator=str(name))
    elif INDICATORS[name].kind not in NUMERIC_KINDS:
        problems.add("indicator", "not_numeric", kind=str(INDICATORS[name].kind))
    else:
        ind = INDICATORS[name]
    classes = _plain_classes(data, problems)
    banding = _banding(
        data,
        classes,
        problems,
        money=ind is not None and ind.kind is Kind.MONEY,
        lower=_bound(ind.lower) if ind else None,
        upper=_bound(ind.upper) if ind else None,
        integral=ind is not None and ind.integral,
    )
    missing = _missing_key(data, classes, problems)
    if ind is None or classes is None or banding is None:
        return None
    return SingleDefinition(ind.key, tuple(classes), banding, missing)


def _bound(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))


def _parse_score(data: Mapping[str, Any], problems: _Problems) -> ScoreDefinition | None:
    raw = data.get("weights")
    weights: dict[str, Decimal] = {}
    ok = True
    if raw is None:
        problems.add("weights", "required")
        ok = False
    elif not isinstance(raw, Mapping):
        problems.add("weights", "wrong_type", expected="object")
        ok = False
    elif not raw:
        problems.add("weights", "empty")
        ok = False
    else:
        for name, value in raw.items():
            path = join_path("weights", str(name))
            number = _number(value, path, problems)
            if name not in INDICATORS:
                problems.add(path, "unknown_indicator", indicator=str(name))
                ok = False
            elif INDICATORS[name].kind not in {*NUMERIC_KINDS, Kind.BOOL}:
                problems.add(path, "not_numeric", kind=str(INDICATORS[name].kind))
                ok = False
            if number is None:
                ok = False
            else:
                weights[str(name)] = number
        if weights and len(weights) == len(raw) and all(w == 0 for w in weights.values()):
            problems.add("weights", "all_zero")
            ok = False
    normalisation = _choice(data, "normalisation", NORMALISATIONS, "minmax", problems)
    classes = _plain_classes(data, problems)
    banding = _banding(data, classes, problems, money=False, lower=SCORE_MIN, upper=SCORE_MAX, integral=False)
    missing = _missing_key(data, classes, problems)
    if not ok or classes is None or banding is None:
        return None
    ordered = tuple((key, weights[key]) for key in INDICATORS if key in weights and weights[key] != 0)
    return ScoreDefinition(ordered, normalisation, tuple(classes), banding, missing)


# --- predicates ---


def parse_predicate(data: Any, path: str, problems: _Problems, depth: int = 0) -> Predicate | None:
    """A predicate tree from JSON (shape in ``rules``); problems are added under ``path``."""
    if depth > MAX_DEPTH:
        problems.add(path, "too_deep", max=MAX_DEPTH)
        return None
    if not isinstance(data, Mapping):
        problems.add(path, "wrong_type", expected="object")
        return None
    heads = [h for h in ("all", "any", "not", "indicator") if h in data]
    if len(heads) != 1:
        problems.add(path, "ambiguous" if heads else "required", allowed=["all", "any", "not", "indicator"])
        return None
    head = heads[0]
    if head == "indicator":
        return _parse_leaf(data, path, problems)
    for name in data:
        if name != head:
            problems.add(join_path(path, str(name)), "unknown_field")
    if head == "not":
        inner = parse_predicate(data["not"], join_path(path, "not"), problems, depth + 1)
        return None if inner is None else Not(inner, path)
    items = data[head]
    here = join_path(path, head)
    if not isinstance(items, list):
        problems.add(here, "wrong_type", expected="list")
        return None
    parsed = [parse_predicate(item, join_path(here, i), problems, depth + 1) for i, item in enumerate(items)]
    if any(p is None for p in parsed):
        return None
    children = tuple(p for p in parsed if p is not None)
    return All(children, path) if head == "all" else AnyOf(children, path)


def _parse_leaf(data: Mapping[str, Any], path: str, problems: _Problems) -> Leaf | None:
    for name in data:
        if name not in {"indicator", "op", "value", "quantile"}:
            problems.add(join_path(path, str(name)), "unknown_field")
    key = data.get("indicator")
    op = data.get("op")
    if not isinstance(key, str) or key not in INDICATORS:
        problems.add(join_path(path, "indicator"), "unknown_indicator", indicator=str(key))
        if op is None:
            problems.add(join_path(path, "op"), "required")
        return None
    kind = INDICATORS[key].kind
    allowed = OPS_BY_KIND[kind]
    if op is None:
        problems.add(join_path(path, "op"), "required")
        return None
    if op not in OPS_BY_KIND[Kind.MONEY]:
        problems.add(join_path(path, "op"), "unknown_op", allowed=list(OPS_BY_KIND[Kind.MONEY]))
        return None
    if op not in allowed:
        problems.add(join_path(path, "op"), "op_not_allowed", kind=str(kind), allowed=list(allowed))
        return None
    value_path = join_path(path, "value")
    if "quantile" in data:
        if "value" in data:
            problems.add(path, "ambiguous", fields=["value", "quantile"])
            return None
        qpath = join_path(path, "quantile")
        if kind not in NUMERIC_KINDS or op not in ORDER_OPS:
            problems.add(qpath, "op_not_allowed", kind=str(kind), allowed=list(ORDER_OPS))
            return None
        q = _number(data["quantile"], qpath, problems)
        if q is None:
            return None
        if not Decimal(0) < q < Decimal(1):
            problems.add(qpath, "out_of_range", min=0, max=1)
            return None
        return Leaf(key, op, None, path, q)
    if op == "is_null":
        value = data.get("value", True)
        if not isinstance(value, bool):
            problems.add(value_path, "wrong_type", expected="boolean")
            return None
        return Leaf(key, op, value, path)
    if "value" not in data:
        problems.add(value_path, "required")
        return None
    raw = data["value"]
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            problems.add(value_path, "wrong_type", expected="list", length=2)
            return None
        pair = [_scalar_value(v, kind, join_path(value_path, i), problems) for i, v in enumerate(raw)]
        if pair[0] is None or pair[1] is None:
            return None
        if pair[0] > pair[1]:
            problems.add(value_path, "empty_range")
            return None
        return Leaf(key, op, (pair[0], pair[1]), path)
    if op in {"in", "not_in"}:
        if not isinstance(raw, list):
            problems.add(value_path, "wrong_type", expected="list")
            return None
        if not raw:
            problems.add(value_path, "empty")
            return None
        items = [_scalar_value(v, kind, join_path(value_path, i), problems) for i, v in enumerate(raw)]
        if any(v is None for v in items):
            return None
        return Leaf(key, op, tuple(items), path)
    value = _scalar_value(raw, kind, value_path, problems)
    return None if value is None else Leaf(key, op, value, path)


def _scalar_value(value: Any, kind: Kind, path: str, problems: _Problems) -> Any:
    if kind in NUMERIC_KINDS:
        return _number(value, path, problems, money=kind is Kind.MONEY)
    if kind is Kind.BOOL:
        if not isinstance(value, bool):
            problems.add(path, "wrong_type", expected="boolean")
            return None
        return value
    if kind is Kind.CATEGORY:
        if not isinstance(value, str) or not value:
            problems.add(path, "wrong_type", expected="text")
            return None
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            return int(value)
        problems.add(path, "wrong_type", expected="region_id")
        return None
    return value


def _parse_rules(data: Mapping[str, Any], problems: _Problems) -> RulesDefinition | None:
    items = _class_list(data, "classes", problems, {"when"})
    otherwise_raw = data.get("otherwise")
    otherwise = None
    if otherwise_raw is None:
        problems.add("otherwise", "required")
    else:
        otherwise = _class_spec(otherwise_raw, "otherwise", problems)
        if isinstance(otherwise_raw, Mapping):
            for f in otherwise_raw:
                if f not in {"key", "label"}:
                    problems.add(join_path("otherwise", str(f)), "unknown_field")
    if items is None:
        return None
    _check_unique([*((f"classes[{i}]", s) for i, (s, _) in enumerate(items)), ("otherwise", otherwise)], problems)
    classes: list[RuleClass] = []
    complete = otherwise is not None
    for i, (spec, raw) in enumerate(items):
        path = f"classes[{i}].when"
        if "when" not in raw:
            problems.add(path, "required")
            complete = False
            continue
        when = parse_predicate(raw["when"], path, problems)
        if when is None or spec is None:
            complete = False
            continue
        classes.append(RuleClass(spec.key, spec.label, when))
    if not complete or otherwise is None:
        return None  # reachability is judged once every predicate parsed
    for gap in unreachable_classes([c.when for c in classes]):
        path = "otherwise" if gap.index == len(classes) else f"classes[{gap.index}].when"
        problems.add(path, "unreachable", reason=gap.reason, by=[f"classes[{j}]" for j in gap.by])
    return RulesDefinition(tuple(classes), otherwise)


# --- RFM ---


def _int_range(value: Any, path: str, bins: int, problems: _Problems) -> tuple[int, int] | None:
    pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, list)
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
    ):
        problems.add(path, "wrong_type", expected="list", length=2)
        return None
    low, high = pair
    if not (1 <= low <= bins and 1 <= high <= bins):
        problems.add(path, "out_of_range", min=1, max=bins)
        return None
    if low > high:
        problems.add(path, "empty_range")
        return None
    return low, high


def _parse_rfm(data: Mapping[str, Any], problems: _Problems) -> RfmDefinition | None:
    raw_bins = data.get("bins", 5)
    bins = 5
    if isinstance(raw_bins, bool) or not isinstance(raw_bins, int):
        problems.add("bins", "wrong_type", expected="integer")
    elif not 2 <= raw_bins <= 10:
        problems.add("bins", "out_of_range", min=2, max=10)
    else:
        bins = raw_bins
    ties = _choice(data, "ties", TIES, "group", problems)
    items = _class_list(data, "segments", problems, {"cells"})
    missing_raw = data.get("missing", {"key": "no_orders", "label": "No orders"})
    missing = _class_spec(missing_raw, "missing", problems)
    if items is None:
        return None
    _check_unique([*((f"segments[{i}]", s) for i, (s, _) in enumerate(items)), ("missing", missing)], problems)
    owner: dict[tuple[int, int], str] = {}
    segments: list[RfmSegment] = []
    before = len(problems.items)
    for i, (spec, raw) in enumerate(items):
        path = f"segments[{i}].cells"
        cells_raw = raw.get("cells")
        if cells_raw is None:
            problems.add(path, "required")
            continue
        if not isinstance(cells_raw, list):
            problems.add(path, "wrong_type", expected="list")
            continue
        if not cells_raw:
            problems.add(path, "empty")
            continue
        cells: list[tuple[int, int, int, int]] = []
        for j, cell in enumerate(cells_raw):
            cpath = join_path(path, j)
            if not isinstance(cell, Mapping):
                problems.add(cpath, "wrong_type", expected="object")
                continue
            for f in cell:
                if f not in {"r", "fm"}:
                    problems.add(join_path(cpath, str(f)), "unknown_field")
            ranges: list[tuple[int, int] | None] = []
            for axis in ("r", "fm"):
                if axis not in cell:
                    problems.add(join_path(cpath, axis), "required")
                    ranges.append(None)
                else:
                    ranges.append(_int_range(cell[axis], join_path(cpath, axis), bins, problems))
            r, fm = ranges
            if r is None or fm is None:
                continue
            for rv in range(r[0], r[1] + 1):
                for fv in range(fm[0], fm[1] + 1):
                    if (rv, fv) in owner:
                        problems.add(cpath, "overlap", r=rv, fm=fv, **{"with": owner[(rv, fv)]})
                    else:
                        owner[(rv, fv)] = f"segments[{i}]"
            cells.append((r[0], r[1], fm[0], fm[1]))
        if spec is not None:
            segments.append(RfmSegment(spec.key, spec.label, tuple(cells)))
    uncovered = [[r, f] for r in range(bins, 0, -1) for f in range(1, bins + 1) if (r, f) not in owner]
    judged = ("overlap", "unknown_field", "duplicate_key", "invalid_key")  # problems that leave every cell read
    cells_parsed = all(p.code in judged for p in problems.items[before:] if p.path.startswith("segments"))
    if uncovered and cells_parsed and bins == raw_bins:
        problems.add("segments", "uncovered", cells=uncovered)
    if problems.items or missing is None:
        return None
    return RfmDefinition(bins, ties, tuple(segments), missing)


# --- lifecycle ---


def _parse_lifecycle(data: Mapping[str, Any], problems: _Problems) -> LifecycleDefinition | None:
    if "classes" in data:
        classes = _plain_classes(data, problems)
        if classes is not None and tuple(c.key for c in classes) != LIFECYCLE_STAGES:
            problems.add("classes", "fixed_keys", expected=list(LIFECYCLE_STAGES))
    else:
        classes = [ClassSpec(k, k) for k in LIFECYCLE_STAGES]

    def positive(name: str, default: Any, *, integer: bool = False, nullable: bool = False) -> Decimal | None:
        raw = data.get(name, default)
        if raw is None and nullable:
            return None
        value = _number(raw, name, problems)
        if value is None:
            return None
        if integer and value != value.to_integral_value():
            problems.add(name, "wrong_type", expected="integer")
            return None
        if value <= 0:
            problems.add(name, "out_of_range", min=0)
            return None
        return value

    new_days = positive("new_days", 90, integer=True)
    loyal = positive("loyal_factor", "1.5")
    churn = positive("churn_factor", 3)
    churn_max = positive("churn_max_days", 365, nullable=True)
    one_time = positive("one_time_churn_days", 180)
    floor_raw = data.get("min_rhythm_days", 14)
    min_rhythm = _number(floor_raw, "min_rhythm_days", problems)
    if min_rhythm is not None and min_rhythm < 0:
        problems.add("min_rhythm_days", "out_of_range", min=0)
    if loyal is not None and churn is not None and churn <= loyal:
        problems.add("churn_factor", "not_greater", than="loyal_factor")
    fractions: dict[str, Decimal | None] = {}
    for name in ("p_alive_at_risk", "p_alive_churned"):
        raw = data.get(name)
        if raw is None:
            fractions[name] = None
            continue
        value = _number(raw, name, problems)
        if value is not None and not Decimal(0) < value < Decimal(1):
            problems.add(name, "out_of_range", min=0, max=1)
            value = None
        fractions[name] = value
    at_risk, churned = fractions["p_alive_at_risk"], fractions["p_alive_churned"]
    if at_risk is not None and churned is not None and churned >= at_risk:
        problems.add("p_alive_churned", "not_less", than="p_alive_at_risk")
    if problems.items or classes is None:
        return None
    assert new_days is not None
    assert loyal is not None
    assert churn is not None
    assert one_time is not None
    assert min_rhythm is not None
    return LifecycleDefinition(
        tuple(classes), new_days, loyal, churn, churn_max, one_time, min_rhythm, at_risk, churned
    )


_PARSERS: dict[str, Any] = {
    "single": _parse_single,
    "score": _parse_score,
    "rules": _parse_rules,
    "rfm": _parse_rfm,
    "lifecycle": _parse_lifecycle,
}


# --- back to JSON ------------------------------------------------------------------------------------------------


def _num(value: Decimal, money: bool = False) -> Any:
    if money:
        return str(value)
    if value == value.to_integral_value():
        return int(value)
    return str(value)


def _classes_json(classes: Sequence[ClassSpec]) -> list[dict[str, str]]:
    return [{"key": c.key, "label": c.label} for c in classes]


def _banding_json(banding: Banding, money: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"method": banding.method}
    if banding.method == "thresholds":
        out["thresholds"] = [_num(p, money) for p in banding.points]
    else:
        out["quantiles"] = [_num(p) for p in banding.points]
        out["ties"] = banding.ties
    return out


def definition_to_dict(definition: Definition) -> dict[str, Any]:
    """The canonical JSON-able form; parsing it gives back an equal definition."""
    d = definition
    if isinstance(d, SingleDefinition):
        money = INDICATORS[d.indicator].kind is Kind.MONEY
        return {
            "kind": d.kind,
            "indicator": d.indicator,
            "classes": _classes_json(d.classes),
            **_banding_json(d.banding, money),
            "missing": d.missing,
        }
    if isinstance(d, ScoreDefinition):
        return {
            "kind": d.kind,
            "weights": {k: _num(w) for k, w in d.weights},
            "normalisation": d.normalisation,
            "classes": _classes_json(d.classes),
            **_banding_json(d.banding, False),
            "missing": d.missing,
        }
    if isinstance(d, RulesDefinition):
        return {
            "kind": d.kind,
            "classes": [{"key": c.key, "label": c.label, "when": predicate_to_dict(c.when)} for c in d.classes],
            "otherwise": {"key": d.otherwise.key, "label": d.otherwise.label},
        }
    if isinstance(d, RfmDefinition):
        return {
            "kind": d.kind,
            "bins": d.bins,
            "ties": d.ties,
            "segments": [
                {
                    "key": s.key,
                    "label": s.label,
                    "cells": [{"r": [c[0], c[1]], "fm": [c[2], c[3]]} for c in s.cells],
                }
                for s in d.segments
            ],
            "missing": {"key": d.missing.key, "label": d.missing.label},
        }
    return {
        "kind": d.kind,
        "classes": _classes_json(d.classes),
        "new_days": _num(d.new_days),
        "loyal_factor": _num(d.loyal_factor),
        "churn_factor": _num(d.churn_factor),
        "churn_max_days": None if d.churn_max_days is None else _num(d.churn_max_days),
        "one_time_churn_days": _num(d.one_time_churn_days),
        "min_rhythm_days": _num(d.min_rhythm_days),
        "p_alive_at_risk": None if d.p_alive_at_risk is None else _num(d.p_alive_at_risk),
        "p_alive_churned": None if d.p_alive_churned is None else _num(d.p_alive_churned),
    }


@functools.lru_cache(maxsize=256)
def fingerprint(definition: Definition) -> str:
    """A hash of what decides membership (labels left out): a fitted population matches
    the definition it was fitted for only while this stays the same."""
    data = definition_to_dict(definition)
    _drop_labels(data)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _drop_labels(value: Any) -> None:
    if isinstance(value, dict):
        value.pop("label", None)
        for v in value.values():
            _drop_labels(v)
    elif isinstance(value, list):
        for v in value:
            _drop_labels(v)
