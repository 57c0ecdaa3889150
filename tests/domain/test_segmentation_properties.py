"""The two interpreters agree: on random populations and random definitions of every kind,
the vectorised classification and the per-account explanation give every account the
same class (and the same score, to the bit), and every account gets exactly one class."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patron.domain.segmentation.builtin import builtin_definitions
from patron.domain.segmentation.classify import Context, Fitted, classify_accounts, explain_account
from patron.domain.segmentation.definitions import (
    Banding,
    ClassSpec,
    Definition,
    RfmDefinition,
    RfmSegment,
    RuleClass,
    RulesDefinition,
    ScoreDefinition,
    SingleDefinition,
    class_keys,
    parse_definition,
)
from patron.domain.segmentation.rules import ORDER_OPS, All, AnyOf, Leaf, Not, Predicate

CNY = Context("CNY")
# SEGMENTATION_EXAMPLES=5000 for a long hunt; the suite's default keeps these a few seconds each.
EXAMPLES = int(os.environ.get("SEGMENTATION_EXAMPLES", "150"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- populations ------------------------------------------------------------------------------------------------

REGIONS: dict[int | None, list[int] | None] = {
    4401: [4401, 44],
    4403: [4403, 44],
    44: [44],
    3301: [3301, 33],
    33: [33],
    None: None,
}
DAYS = [0.0, 5.0, 30.0, 45.0, 90.0, 91.0, 200.0, 365.0, 400.0]
CENTS = st.one_of(st.sampled_from([0, 10, 30, 9999, 10000, 500050]), st.integers(0, 10**8))


def money(signed: bool = False) -> st.SearchStrategy[float | None]:
    cents = CENTS if not signed else st.one_of(CENTS, CENTS.map(lambda c: -c))
    return st.one_of(st.none(), st.just(float("nan")), cents.map(lambda c: c / 100))


ROW = st.fixed_dictionaries(
    {
        "purchase_count": st.one_of(st.none(), st.integers(0, 6)),
        "purchase_frequency": st.one_of(st.none(), st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.3333])),
        "recency_days": st.one_of(st.none(), st.sampled_from(DAYS)),
        "first_order_days": st.one_of(st.none(), st.sampled_from([*DAYS, 1000.0])),
        "interpurchase_days": st.one_of(st.none(), st.sampled_from([0.0, 2.0, 14.0, 30.0, 100.5])),
        "sales": money(),
        "gross_profit": money(signed=True),
        "overdue": money(),
        "p_alive": st.one_of(st.none(), st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.99, 1.0])),
        "key_account": st.one_of(st.none(), st.booleans()),
        "industry": st.one_of(st.none(), st.sampled_from(["retail", "food", "steel"])),
        "region": st.sampled_from(list(REGIONS)),
    }
)

SCHEMA = {
    "account_id": pl.Int64,
    "purchase_count": pl.Int64,
    "purchase_frequency": pl.Float64,
    "recency_days": pl.Float64,
    "first_order_days": pl.Float64,
    "interpurchase_days": pl.Float64,
    "sales": pl.Float64,
    "gross_profit": pl.Float64,
    "overdue": pl.Float64,
    "p_alive": pl.Float64,
    "key_account": pl.Boolean,
    "industry": pl.String,
    "region": pl.Int64,
    "region_path": pl.List(pl.Int64),
}


@st.composite
def populations(draw: Any) -> pl.DataFrame:
    rows = draw(st.lists(ROW, min_size=0, max_size=30))
    ids = draw(st.lists(st.integers(1, 10**6), min_size=len(rows), max_size=len(rows), unique=True))
    for account_id, row in zip(ids, rows, strict=True):
        row["account_id"] = account_id
        row["region_path"] = REGIONS[row["region"]]
    return pl.DataFrame(rows, schema=SCHEMA)


# --- definitions --------------------------------------------------------------------------------------------------

NUMERIC = {
    "purchase_count": [0, 1, 2, 3, 5],
    "purchase_frequency": ["0.1", "0.25", "0.5", "1"],
    "recency_days": [0, 30, 45, 90, 91, 365],
    "sales": ["0", "0.10", "0.30", "99.99", "100", "5000.50", "100000"],
    "gross_profit": ["-100", "0", "0.30", "100", "5000.50"],
    "overdue": ["0", "0.10", "100", "5000.50"],
    "p_alive": ["0.05", "0.2", "0.5", "0.99"],
}
FRACTIONS = [Decimal(str(f)) for f in ("0.1", "0.2", "0.25", "0.3333", "0.5", "0.6", "0.75", "0.8", "0.9")]


def specs(n: int) -> tuple[ClassSpec, ...]:
    return tuple(ClassSpec(f"c{i}", f"Class {i}") for i in range(n))


@st.composite
def bandings(draw: Any, pool: list[Any]) -> Banding:
    n = draw(st.integers(1, 5))
    if draw(st.booleans()):
        points = sorted(
            {Decimal(str(p)) for p in draw(st.lists(st.sampled_from(pool), min_size=n - 1, max_size=n - 1))}
        )
        method = "thresholds"
    else:
        points = sorted(draw(st.lists(st.sampled_from(FRACTIONS), min_size=n - 1, max_size=n - 1, unique=True)))
        method = "quantiles"
    return Banding(method, tuple(points), draw(st.sampled_from(["group", "rank"])))


@st.composite
def singles(draw: Any) -> SingleDefinition:
    indicator = draw(st.sampled_from(sorted(NUMERIC)))
    banding = draw(bandings(NUMERIC[indicator]))
    classes = specs(len(banding.points) + 1)
    missing = draw(st.sampled_from(classes)).key
    return SingleDefinition(indicator, classes, banding, missing)


@st.composite
def scores(draw: Any) -> ScoreDefinition:
    keys = draw(
        st.lists(
            st.sampled_from(["sales", "gross_profit", "overdue", "purchase_count", "recency_days", "key_account"]),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    weights = [(k, Decimal(draw(st.sampled_from(["-1", "-0.1", "0.2", "0.3", "0.4", "1", "7"])))) for k in keys]
    order = ["sales", "gross_profit", "overdue", "purchase_count", "recency_days", "key_account"]
    from patron.domain.segmentation.indicators import INDICATORS

    registry = list(INDICATORS)
    weights.sort(key=lambda kw: registry.index(kw[0]))
    assert all(k in order for k, _ in weights)
    banding = draw(bandings([5, 10, "33.3", 50, "66.7", 90, 99]))
    classes = specs(len(banding.points) + 1)
    missing = draw(st.sampled_from(classes)).key
    normalisation = draw(st.sampled_from(["minmax", "percentile"]))
    return ScoreDefinition(tuple(weights), normalisation, classes, banding, missing)


@st.composite
def leaves(draw: Any) -> Leaf:
    kind = draw(st.sampled_from(["numeric", "numeric", "numeric", "quantile", "bool", "category", "region"]))
    if kind == "numeric":
        indicator = draw(st.sampled_from(sorted(NUMERIC)))
        pool = [Decimal(str(v)) for v in NUMERIC[indicator]]
        op = draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!=", "between", "in", "not_in", "is_null"]))
        if op == "is_null":
            return Leaf(indicator, op, draw(st.booleans()), "")
        if op == "between":
            pair = sorted(draw(st.lists(st.sampled_from(pool), min_size=2, max_size=2)))
            return Leaf(indicator, op, (pair[0], pair[1]), "")
        if op in {"in", "not_in"}:
            return Leaf(indicator, op, tuple(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))), "")
        return Leaf(indicator, op, draw(st.sampled_from(pool)), "")
    if kind == "quantile":
        indicator = draw(st.sampled_from(sorted(NUMERIC)))
        return Leaf(indicator, draw(st.sampled_from(ORDER_OPS)), None, "", draw(st.sampled_from(FRACTIONS)))
    if kind == "bool":
        op = draw(st.sampled_from(["=", "!=", "is_null"]))
        return Leaf("key_account", op, draw(st.booleans()), "")
    if kind == "category":
        op = draw(st.sampled_from(["=", "!=", "in", "not_in", "is_null"]))
        codes = ["retail", "food", "steel", "mining"]
        if op in {"in", "not_in"}:
            return Leaf("industry", op, tuple(draw(st.lists(st.sampled_from(codes), min_size=1, max_size=2))), "")
        return Leaf("industry", op, True if op == "is_null" else draw(st.sampled_from(codes)), "")
    op = draw(st.sampled_from(["=", "!=", "in", "not_in", "is_null"]))
    ids = [44, 4401, 4403, 33, 3301, 11]
    if op in {"in", "not_in"}:
        return Leaf("region", op, tuple(draw(st.lists(st.sampled_from(ids), min_size=1, max_size=2))), "")
    return Leaf("region", op, True if op == "is_null" else draw(st.sampled_from(ids)), "")


predicates = st.recursive(
    leaves(),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: All(tuple(items), "")),
        st.lists(inner, max_size=3).map(lambda items: AnyOf(tuple(items), "")),
        inner.map(lambda item: Not(item, "")),
    ),
    max_leaves=6,
)


def with_paths(pred: Predicate, path: str) -> Predicate:
    """Give every node the path a parsed definition would (quantile cuts are fitted per path)."""
    if isinstance(pred, Leaf):
        return Leaf(pred.indicator, pred.op, pred.value, path, pred.quantile)
    if isinstance(pred, Not):
        return Not(with_paths(pred.item, f"{path}.not"), path)
    head = "all" if isinstance(pred, All) else "any"
    items = tuple(with_paths(p, f"{path}.{head}[{i}]") for i, p in enumerate(pred.items))
    return All(items, path) if isinstance(pred, All) else AnyOf(items, path)


@st.composite
def rule_sets(draw: Any) -> RulesDefinition:
    whens = draw(st.lists(predicates, min_size=0, max_size=3))
    classes = tuple(RuleClass(f"r{i}", f"Rule {i}", with_paths(w, f"classes[{i}].when")) for i, w in enumerate(whens))
    return RulesDefinition(classes, ClassSpec("other", "Other"))


@st.composite
def rfms(draw: Any) -> RfmDefinition:
    bins = draw(st.integers(2, 5))
    owners = {(r, f): draw(st.integers(0, 3)) for r in range(1, bins + 1) for f in range(1, bins + 1)}
    segments = []
    for s in sorted(set(owners.values())):
        cells = tuple((r, r, f, f) for (r, f), owner in sorted(owners.items()) if owner == s)
        segments.append(RfmSegment(f"s{s}", f"Segment {s}", cells))
    return RfmDefinition(bins, draw(st.sampled_from(["group", "rank"])), tuple(segments), ClassSpec("none", "None"))


@st.composite
def lifecycles(draw: Any) -> Definition:
    data = builtin_definitions()["lifecycle"]
    loyal = draw(st.sampled_from(["1", "1.5", "2"]))
    data.update(
        new_days=draw(st.sampled_from([30, 90, 180])),
        loyal_factor=loyal,
        churn_factor=draw(st.sampled_from(["2.5", "3", "4"])),
        churn_max_days=draw(st.sampled_from([None, 365, 90])),
        one_time_churn_days=draw(st.sampled_from([60, 180, 400])),
        min_rhythm_days=draw(st.sampled_from([0, 14, 30])),
    )
    if draw(st.booleans()):
        data.update(p_alive_at_risk="0.5", p_alive_churned=draw(st.sampled_from([None, "0.2"])))
    return parse_definition(data)


definitions = st.one_of(
    singles(),
    scores(),
    rule_sets(),
    rfms(),
    lifecycles(),
    st.sampled_from(sorted(builtin_definitions())).map(lambda code: parse_definition(builtin_definitions()[code])),
)


# --- the properties ------------------------------------------------------------------------------------------------


def check_agreement(definition: Definition, population: pl.DataFrame, fitted: Fitted | None = None) -> None:
    result = classify_accounts(definition, population, context=CNY, fitted=fitted)
    memberships = result.memberships
    keys = class_keys(definition)
    # Exactly one class per account, a class of the definition, counted once.
    assert memberships.height == population.height
    assert sorted(memberships["account_id"].to_list()) == sorted(population["account_id"].to_list())
    assert memberships["class_key"].null_count() == 0
    assert set(memberships["class_key"].to_list()) <= set(keys)
    assert sum(result.counts.values()) == population.height
    assert list(result.counts) == list(keys)
    by_id = {row["account_id"]: row for row in memberships.iter_rows(named=True)}
    for row in population.iter_rows(named=True):
        membership = explain_account(definition, result.fitted, row)
        got = by_id[row["account_id"]]
        assert membership.class_key == got["class_key"], (row, membership)
        if "score" in got:
            assert membership.score == got["score"], (row, membership.score, got["score"])
        if "r_score" in got and membership.scores is not None:
            assert [membership.scores[a] for a in "rfm"] == [got["r_score"], got["f_score"], got["m_score"]]
        for reason in membership.reasons:
            json.dumps(reason.params)  # explanations are storable as they are


@pytest.mark.slow
@PROPERTY
@given(definitions, populations())
def test_vectorised_and_per_account_interpreters_agree(definition, population):
    check_agreement(definition, population)


@pytest.mark.slow
@PROPERTY
@given(definitions, populations(), populations())
def test_they_agree_on_new_accounts_classified_against_an_earlier_fit(definition, earlier, later):
    fitted = classify_accounts(definition, earlier, context=CNY).fitted
    stored = Fitted.from_dict(json.loads(json.dumps(fitted.to_dict())))
    check_agreement(definition, later, stored)


@pytest.mark.slow
@PROPERTY
@given(st.one_of(singles(), scores()), populations())
def test_quantile_classes_never_split_equal_values_in_group_mode(definition, population):
    result = classify_accounts(definition, population, context=CNY)
    if definition.banding.method != "quantiles" or definition.banding.ties != "group":
        return
    column = definition.indicator if isinstance(definition, SingleDefinition) else "score"
    joined = result.memberships
    if column != "score":
        joined = joined.join(
            population.select("account_id", pl.col(column).cast(pl.Float64).fill_nan(None)), on="account_id"
        )
    classes_per_value = joined.drop_nulls(column).group_by(column).agg(pl.col("class_key").n_unique())
    assert classes_per_value["class_key"].max() in (None, 1)
