"""Classification definitions: what is accepted, and every problem named by its field."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from patron.domain.segmentation.builtin import BUILTINS, builtin_definitions
from patron.domain.segmentation.definitions import (
    DefinitionError,
    RulesDefinition,
    ScoreDefinition,
    SingleDefinition,
    definition_to_dict,
    fingerprint,
    parse_definition,
)


def single(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "single",
        "indicator": "sales",
        "classes": [{"key": "low", "label": "Low"}, {"key": "mid", "label": "Mid"}, {"key": "high", "label": "High"}],
        "method": "thresholds",
        "thresholds": ["10000", "50000"],
    }
    data.update(changes)
    return data


def score(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "score",
        "weights": {"sales": 0.4, "gross_profit": 0.3, "purchase_frequency": 0.2, "overdue": -0.1},
        "normalisation": "minmax",
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
        "method": "thresholds",
        "thresholds": [40, 70],
    }
    data.update(changes)
    return data


def leaf(indicator: str, op: str, value: Any = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"indicator": indicator, "op": op}
    if value is not None:
        out["value"] = value
    out.update(extra)
    return out


def rules(*classes: dict[str, Any], otherwise: Any = None) -> dict[str, Any]:
    return {
        "kind": "rules",
        "classes": list(classes),
        "otherwise": otherwise if otherwise is not None else {"key": "other"},
    }


def rule(key: str, when: Any) -> dict[str, Any]:
    return {"key": key, "when": when}


def problems_of(data: Any) -> set[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    assert caught.value.problems, "a DefinitionError always carries its problems"
    return {(p.path, p.code) for p in caught.value.problems}


# --- accepted ------------------------------------------------------------------------------------------------


def test_a_single_indicator_definition_parses_with_exact_money_thresholds():
    d = parse_definition(single())
    assert isinstance(d, SingleDefinition)
    assert d.banding.points == (Decimal("10000"), Decimal("50000"))
    assert d.missing == "low"  # default: the lowest class
    assert [c.label for c in d.classes] == ["Low", "Mid", "High"]


def test_a_label_defaults_to_the_key():
    d = parse_definition(score())
    assert [c.label for c in d.class_specs] == ["low", "mid", "high"]


def test_score_weights_keep_the_registry_order_whatever_the_json_order():
    a = parse_definition(score(weights={"overdue": -0.1, "sales": 0.4}))
    b = parse_definition(score(weights={"sales": 0.4, "overdue": -0.1}))
    assert isinstance(a, ScoreDefinition)
    assert a == b
    assert [k for k, _ in a.weights] == ["sales", "overdue"]
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize("code", sorted(BUILTINS))
def test_every_builtin_parses_and_survives_a_json_round_trip(code):
    data = builtin_definitions()[code]
    d = parse_definition(data)
    again = parse_definition(json.loads(json.dumps(definition_to_dict(d))))
    assert again == d


def test_builtins_are_fresh_copies_so_editing_one_changes_no_other():
    first = builtin_definitions()
    first["value_tier"]["quantiles"][0] = "0.1"
    assert builtin_definitions()["value_tier"]["quantiles"][0] == "0.5"


def test_the_fingerprint_ignores_labels_but_not_cut_points():
    base = parse_definition(single())
    relabelled = parse_definition(single(classes=[{"key": "low"}, {"key": "mid"}, {"key": "high", "label": "Top"}]))
    moved = parse_definition(single(thresholds=["10000", "60000"]))
    assert fingerprint(base) == fingerprint(relabelled)
    assert fingerprint(base) != fingerprint(moved)


def test_a_rule_with_a_quantile_leaf_and_every_operator_kind_parses():
    d = parse_definition(
        rules(
            rule(
                "a",
                {
                    "all": [
                        leaf("region", "in", [44]),
                        leaf("industry", "=", "retail"),
                        leaf("recency_days", "<", 90),
                        leaf("sales", "between", ["100", "200.50"]),
                        leaf("key_account", "=", False),
                        leaf("clv", "is_null", False),
                        leaf("gross_profit", ">=", quantile=0.9),
                        {"not": leaf("purchase_count", "in", [1, 2])},
                    ]
                },
            )
        )
    )
    assert isinstance(d, RulesDefinition)
    assert [c.key for c in d.class_specs] == ["a", "other"]


# --- refused, each problem named by its field -----------------------------------------------------------------

CASES: list[tuple[str, Any, set[tuple[str, str]]]] = [
    ("not_an_object", [1, 2], {("", "wrong_type")}),
    ("kind_missing", {"indicator": "sales"}, {("kind", "required")}),
    ("kind_unknown", {"kind": "magic"}, {("kind", "unknown_kind")}),
    ("unknown_field", single(colour="red"), {("colour", "unknown_field")}),
    ("unknown_indicator", single(indicator="shoe_size"), {("indicator", "unknown_indicator")}),
    ("category_cannot_be_banded", single(indicator="industry", thresholds=[1, 2]), {("indicator", "not_numeric")}),
    ("empty_classes", single(classes=[], thresholds=[]), {("classes", "empty")}),
    (
        "duplicate_class_keys",
        single(classes=[{"key": "low"}, {"key": "low"}, {"key": "high"}]),
        {("classes[1].key", "duplicate_key")},
    ),
    (
        "bad_class_key",
        single(classes=[{"key": "low value"}, {"key": "mid"}, {"key": "high"}]),
        {("classes[0].key", "invalid_key")},
    ),
    ("too_few_cut_points", single(thresholds=["10000"]), {("thresholds", "wrong_count")}),
    ("too_many_cut_points", single(thresholds=["1", "2", "3"]), {("thresholds", "wrong_count")}),
    ("thresholds_unordered", single(thresholds=["50000", "10000"]), {("thresholds[1]", "not_increasing")}),
    ("thresholds_duplicated", single(thresholds=["10000", "10000.00"]), {("thresholds[1]", "duplicate")}),
    ("money_as_float", single(thresholds=[10000.5, "50000"]), {("thresholds[0]", "wrong_type")}),
    ("threshold_not_a_number", single(thresholds=["ten", "50000"]), {("thresholds[0]", "wrong_type")}),
    ("method_unknown", single(method="kmeans"), {("method", "invalid_choice")}),
    ("cut_points_missing", {k: v for k, v in single().items() if k != "thresholds"}, {("thresholds", "required")}),
    (
        "quantile_fraction_out_of_range",
        single(method="quantiles", thresholds=None, quantiles=[0.5, 1.0]) | {"thresholds": None},
        {("quantiles[1]", "out_of_range"), ("thresholds", "unknown_field")},
    ),
    (
        "quantiles_equal_make_an_empty_band",
        {k: v for k, v in single(method="quantiles", quantiles=[0.5, 0.5]).items() if k != "thresholds"},
        {("quantiles[1]", "duplicate")},
    ),
    (
        "ties_unknown",
        {k: v for k, v in single(method="quantiles", quantiles=[0.3, 0.6], ties="coin").items() if k != "thresholds"},
        {("ties", "invalid_choice")},
    ),
    ("missing_class_unknown", single(missing="none"), {("missing", "unknown_class")}),
    (
        "count_band_without_an_integer",
        single(indicator="purchase_count", thresholds=[1.2, 1.5]),
        {("classes[1]", "unreachable")},
    ),
    (
        "count_threshold_at_zero_leaves_the_lowest_class_empty",
        single(indicator="purchase_count", thresholds=[0, 5]),
        {("classes[0]", "unreachable")},
    ),
    (
        "probability_above_one_leaves_the_top_class_empty",
        single(indicator="p_alive", thresholds=[0.5, 1.5]),
        {("classes[2]", "unreachable")},
    ),
    ("weights_all_zero", score(weights={"sales": 0, "overdue": "0.0"}), {("weights", "all_zero")}),
    ("weights_empty", score(weights={}), {("weights", "empty")}),
    ("weight_unknown_indicator", score(weights={"sales": 1, "karma": 1}), {("weights.karma", "unknown_indicator")}),
    ("weight_on_a_category", score(weights={"sales": 1, "industry": 1}), {("weights.industry", "not_numeric")}),
    ("weight_not_a_number", score(weights={"sales": "much"}), {("weights.sales", "wrong_type")}),
    ("normalisation_unknown", score(normalisation="zscore"), {("normalisation", "invalid_choice")}),
    ("score_threshold_above_100", score(thresholds=[40, 120]), {("classes[2]", "unreachable")}),
    ("rules_without_otherwise", {"kind": "rules", "classes": [rule("a", {"all": []})]}, {("otherwise", "required")}),
    ("rule_without_when", rules({"key": "a"}), {("classes[0].when", "required")}),
    (
        "rule_unknown_indicator",
        rules(rule("a", leaf("mood", "=", 1))),
        {("classes[0].when.indicator", "unknown_indicator")},
    ),
    ("rule_unknown_op", rules(rule("a", leaf("sales", "~", 1))), {("classes[0].when.op", "unknown_op")}),
    (
        "rule_op_not_valid_for_a_category",
        rules(rule("a", leaf("industry", "<", "retail"))),
        {("classes[0].when.op", "op_not_allowed")},
    ),
    (
        "rule_op_not_valid_for_a_bool",
        rules(rule("a", leaf("key_account", "in", [True]))),
        {("classes[0].when.op", "op_not_allowed")},
    ),
    (
        "rule_value_of_the_wrong_type",
        rules(rule("a", {"all": [leaf("recency_days", "<", "soon"), leaf("key_account", "=", "yes")]})),
        {("classes[0].when.all[0].value", "wrong_type"), ("classes[0].when.all[1].value", "wrong_type")},
    ),
    (
        "rule_money_value_as_float",
        rules(rule("a", leaf("sales", ">", 99.5))),
        {("classes[0].when.value", "wrong_type")},
    ),
    ("rule_value_missing", rules(rule("a", leaf("sales", ">"))), {("classes[0].when.value", "required")}),
    (
        "rule_between_backwards",
        rules(rule("a", leaf("recency_days", "between", [90, 30]))),
        {("classes[0].when.value", "empty_range")},
    ),
    ("rule_in_empty", rules(rule("a", leaf("industry", "in", []))), {("classes[0].when.value", "empty")}),
    (
        "rule_region_not_an_id",
        rules(rule("a", leaf("region", "in", ["Guangdong"]))),
        {("classes[0].when.value[0]", "wrong_type")},
    ),
    (
        "rule_quantile_on_equality",
        rules(rule("a", leaf("sales", "=", quantile=0.5))),
        {("classes[0].when.quantile", "op_not_allowed")},
    ),
    (
        "rule_value_and_quantile",
        rules(rule("a", leaf("sales", ">", "1", quantile=0.5))),
        {("classes[0].when", "ambiguous")},
    ),
    ("rule_node_with_two_heads", rules(rule("a", {"all": [], "any": []})), {("classes[0].when", "ambiguous")}),
    ("rule_all_not_a_list", rules(rule("a", {"all": {}})), {("classes[0].when.all", "wrong_type")}),
    (
        "rule_contradiction_in_one_all",
        rules(rule("a", {"all": [leaf("recency_days", "<", 10), leaf("recency_days", ">", 20)]})),
        {("classes[0].when", "unreachable")},
    ),
    (
        "rule_contradiction_between_null_and_a_value",
        rules(rule("a", {"all": [leaf("recency_days", "is_null"), leaf("recency_days", "<", 20)]})),
        {("classes[0].when", "unreachable")},
    ),
    (
        "rule_any_of_nothing_never_holds",
        rules(rule("a", {"any": []})),
        {("classes[0].when", "unreachable")},
    ),
    (
        "rule_after_an_unconditional_one",
        rules(rule("all", {"all": []}), rule("b", leaf("sales", ">", "1"))),
        {("classes[1].when", "unreachable"), ("otherwise", "unreachable")},
    ),
    (
        "rule_shadowed_by_a_wider_earlier_rule",
        rules(rule("recent", leaf("recency_days", "<", 90)), rule("very_recent", leaf("recency_days", "<", 30))),
        {("classes[1].when", "unreachable")},
    ),
    (
        "rule_covered_by_two_earlier_rules_together",
        rules(
            rule("low", leaf("purchase_count", "<=", 2)),
            rule("high", leaf("purchase_count", ">=", 3)),
            rule("one", leaf("purchase_count", "=", 1)),
        ),
        {("classes[2].when", "unreachable")},
    ),
    (
        "otherwise_left_nothing",
        rules(rule("has", leaf("recency_days", "is_null", False)), rule("none", leaf("recency_days", "is_null"))),
        {("otherwise", "unreachable")},
    ),
    (
        "rule_category_contradiction",
        rules(rule("a", {"all": [leaf("industry", "in", ["retail", "food"]), leaf("industry", "=", "steel")]})),
        {("classes[0].when", "unreachable")},
    ),
    (
        "rule_region_within_and_not_within_the_same_region",
        rules(rule("a", {"all": [leaf("region", "=", 44), leaf("region", "not_in", [44, 45])]})),
        {("classes[0].when", "unreachable")},
    ),
    (
        "rule_count_between_integers",
        rules(rule("a", {"all": [leaf("purchase_count", ">", 1), leaf("purchase_count", "<", 2)]})),
        {("classes[0].when", "unreachable")},
    ),
    (
        "rule_duplicate_keys_with_otherwise",
        rules(rule("other", leaf("sales", ">", "1"))),
        {("otherwise.key", "duplicate_key")},
    ),
    ("rfm_bins_out_of_range", {**BUILTINS["rfm"](), "bins": 1}, {("bins", "out_of_range")}),
    (
        "lifecycle_churn_factor_below_loyal",
        {**BUILTINS["lifecycle"](), "churn_factor": 1},
        {("churn_factor", "not_greater")},
    ),
    ("lifecycle_new_days_negative", {**BUILTINS["lifecycle"](), "new_days": -5}, {("new_days", "out_of_range")}),
    ("lifecycle_new_days_fractional", {**BUILTINS["lifecycle"](), "new_days": 30.5}, {("new_days", "wrong_type")}),
    (
        "lifecycle_p_alive_thresholds_reversed",
        {**BUILTINS["lifecycle"](), "p_alive_at_risk": 0.2, "p_alive_churned": 0.5},
        {("p_alive_churned", "not_less")},
    ),
    (
        "lifecycle_p_alive_out_of_range",
        {**BUILTINS["lifecycle"](), "p_alive_at_risk": 2},
        {("p_alive_at_risk", "out_of_range")},
    ),
    (
        "lifecycle_stage_keys_are_fixed",
        {**BUILTINS["lifecycle"](), "classes": [{"key": k} for k in ("prospect", "new", "loyal", "risky", "churned")]},
        {("classes", "fixed_keys")},
    ),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(d, e, id=name) for name, d, e in CASES])
def test_a_bad_definition_is_refused_naming_the_field(data, expected):
    found = problems_of(data)
    assert expected <= found, f"expected {expected}, found {found}"


def test_every_problem_is_reported_not_only_the_first():
    data = single(
        indicator="shoe_size",
        classes=[{"key": "a"}, {"key": "a"}],
        thresholds=["3", "2", "1"],
        missing="zzz",
        extra=1,
    )
    found = problems_of(data)
    assert {
        ("indicator", "unknown_indicator"),
        ("classes[1].key", "duplicate_key"),
        ("thresholds", "wrong_count"),
        ("thresholds[1]", "not_increasing"),
        ("thresholds[2]", "not_increasing"),
        ("missing", "unknown_class"),
        ("extra", "unknown_field"),
    } <= found


def test_an_unreachable_rule_is_reported_beside_other_problems():
    data = rules(rule("recent", leaf("recency_days", "<", 90)), rule("very_recent", leaf("recency_days", "<", 30)))
    data["colour"] = "red"
    assert problems_of(data) == {("colour", "unknown_field"), ("classes[1].when", "unreachable")}


def test_an_unreachable_rule_names_the_classes_that_take_its_cases():
    data = rules(
        rule("recent", leaf("recency_days", "<", 90)),
        rule("very_recent", leaf("recency_days", "<", 30)),
    )
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    (problem,) = caught.value.problems
    assert problem.path == "classes[1].when"
    assert problem.params == {"reason": "covered", "by": ["classes[0]"]}


def test_a_contradiction_is_told_apart_from_a_covered_class():
    data = rules(rule("never", {"all": [leaf("recency_days", "<", 10), leaf("recency_days", ">", 20)]}))
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    assert caught.value.problems[0].params["reason"] == "contradiction"


@pytest.mark.parametrize(
    "when",
    [
        pytest.param({"not": leaf("recency_days", "<", 90)}, id="not_includes_accounts_without_orders"),
        pytest.param(
            {"all": [leaf("recency_days", ">=", 10), leaf("recency_days", "<=", 10)]}, id="a_single_point_is_reachable"
        ),
        pytest.param(
            {"all": [leaf("region", "in", [44]), leaf("region", "not_in", [4401])]}, id="province_but_not_city"
        ),
        pytest.param(
            {"all": [leaf("sales", ">=", quantile=0.9), leaf("sales", "<", "100")]}, id="a_fitted_cut_is_not_judged"
        ),
        pytest.param(
            {"all": [leaf("industry", "!=", "retail"), leaf("industry", "not_in", ["food"])]}, id="categories_are_open"
        ),
    ],
)
def test_reachable_rules_are_not_refused(when):
    data = rules(rule("big", leaf("sales", ">", "1000000")), rule("x", when))
    parse_definition(data)


def test_rfm_grid_cells_given_twice_or_never_are_refused():
    data = BUILTINS["rfm"]()
    data["segments"][0]["cells"].append({"r": [4, 4], "fm": [5, 5]})  # champions take loyal's cell
    data["segments"][-1]["cells"] = [{"r": 1, "fm": 1}]  # lost gives up (1, 2)
    found = problems_of(data)
    assert ("segments[1].cells[0]", "overlap") in found  # loyal comes second: its cell is taken
    assert ("segments", "uncovered") in found  # reported together
    data = BUILTINS["rfm"]()
    data["segments"][-1]["cells"] = [{"r": 1, "fm": 1}]
    with pytest.raises(DefinitionError) as caught:
        parse_definition(data)
    assert [(p.path, p.code, p.params) for p in caught.value.problems] == [
        ("segments", "uncovered", {"cells": [[1, 2]]})
    ]


def test_rfm_cells_outside_the_grid_are_refused():
    data = BUILTINS["rfm"]()
    data["segments"][0]["cells"] = [{"r": [5, 6], "fm": [4, 5]}]
    assert ("segments[0].cells[0].r", "out_of_range") in problems_of(data)


def test_a_parsed_definition_does_not_change_when_its_input_does():
    data = single()
    d = parse_definition(data)
    before = copy.deepcopy(d)
    data["thresholds"][0] = "1"
    assert d == before
