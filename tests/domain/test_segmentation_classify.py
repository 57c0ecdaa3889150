"""Classifying a population and explaining one account, kind by kind, on small numbers."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from patron.domain.explain import Reason
from patron.domain.segmentation.builtin import builtin_definitions
from patron.domain.segmentation.classify import (
    Context,
    Fitted,
    FrameError,
    StaleFit,
    classify_accounts,
    explain_account,
    fit,
    preview_counts,
    required_columns,
)
from patron.domain.segmentation.definitions import parse_definition

CNY = Context("CNY")


def frame(**columns: list[Any]) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame({"account_id": list(range(1, n + 1)), **columns}, strict=False)


def classes(result) -> list[str]:
    return result.memberships.sort("account_id")["class_key"].to_list()


def explain_all(definition, result, population: pl.DataFrame) -> list[str]:
    return [explain_account(definition, result.fitted, row).class_key for row in population.iter_rows(named=True)]


def codes(reasons) -> list[str]:
    return [r.code for r in reasons]


def single(indicator: str, **rest: Any) -> Any:
    data = {
        "kind": "single",
        "indicator": indicator,
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
        **rest,
    }
    return parse_definition(data)


# --- single indicator ---------------------------------------------------------------------------------------


def test_value_tier_by_thresholds_puts_a_value_on_a_threshold_in_the_upper_class():
    d = single("sales", method="thresholds", thresholds=["10000", "50000"])
    population = frame(sales=[0.0, 9999.99, 10000.0, 49999.99, 50000.0, None])
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["low", "low", "mid", "mid", "high", "low"]
    assert result.counts == {"low": 3, "mid": 2, "high": 1}
    assert explain_all(d, result, population) == classes(result)


def test_the_explanation_shows_money_as_decimal_text_and_the_band_that_placed_the_account():
    d = single("sales", method="thresholds", thresholds=["10000", "50000.50"])
    population = frame(sales=[0.1 + 0.2, 12345.6, 50000.5])
    result = classify_accounts(d, population, context=CNY)
    low = explain_account(d, result.fitted, {"account_id": 1, "sales": 0.1 + 0.2})  # 0.30000000000000004
    assert low.reasons == (
        Reason(
            "BAND",
            {
                "indicator": "sales",
                "value": "0.30",
                "class": "low",
                "method": "thresholds",
                "lower": None,
                "upper": "10000.00",
            },
        ),
    )
    top = explain_account(d, result.fitted, {"account_id": 3, "sales": Decimal("50000.50")})
    assert top.class_key == "high"
    assert top.reasons[0].params["lower"] == "50000.50"
    assert top.reasons[0].params["upper"] is None


def test_amounts_in_yen_show_no_decimals():
    d = single("sales", method="thresholds", thresholds=["1000", "5000"])
    result = classify_accounts(d, frame(sales=[1234.0]), context=Context("JPY"))
    membership = explain_account(d, result.fitted, {"account_id": 1, "sales": 1234.0})
    assert membership.reasons[0].params["value"] == "1234"


def test_an_account_without_a_value_goes_to_the_missing_class_with_no_value():
    d = single("recency_days", method="thresholds", thresholds=[30, 90], missing="high")
    population = frame(recency_days=[10, None, 200])
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["low", "high", "high"]
    membership = explain_account(d, result.fitted, {"account_id": 2, "recency_days": None})
    assert membership.class_key == "high"
    assert membership.reasons == (Reason("NO_VALUE", {"indicator": "recency_days", "class": "high"}),)
    assert Reason("NO_VALUE", {"accounts": 1, "class": "high", "indicator": "recency_days"}) in result.reasons


def test_nan_in_the_frame_is_read_as_no_value():
    d = single("average_order_value", method="thresholds", thresholds=["100", "500"])
    population = frame(average_order_value=[float("nan"), 600.0])
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["low", "high"]
    assert explain_account(d, result.fitted, {"account_id": 1, "average_order_value": float("nan")}).class_key == "low"


def test_frequency_quantiles_with_half_the_base_buying_once_say_they_were_tied():
    d = single("purchase_count", method="quantiles", quantiles=["0.3333", "0.6667"])
    counts = [1] * 50 + [2] * 20 + [3] * 15 + [5] * 10 + [9] * 5
    population = frame(purchase_count=counts)
    result = classify_accounts(d, population, context=CNY)
    assert result.counts == {"low": 50, "mid": 20, "high": 30}
    (tied,) = [r for r in result.reasons if r.code == "QUANTILES_TIED"]
    assert tied.params["indicator"] == "purchase_count"
    assert tied.params["plain_cut_points"] == [1, 2]
    assert tied.params["cut_points"] == [2, 3]
    assert tied.params["sizes"] == [50, 20, 30]
    assert result.cut_points == {"": [2, 3]}
    once = explain_account(d, result.fitted, {"account_id": 1, "purchase_count": 1})
    assert once.class_key == "low"
    assert once.reasons[0].params["quantiles"] == [None, "0.3333"]


def test_rank_ties_split_equal_values_by_account_id_and_the_explanation_says_so():
    d = single("purchase_count", method="quantiles", quantiles=["0.5", "0.75"], ties="rank")
    population = frame(purchase_count=[1, 1, 1, 1, 1, 1, 2, 3])
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["low", "low", "low", "low", "mid", "mid", "high", "high"]
    membership = explain_account(d, result.fitted, {"account_id": 5, "purchase_count": 1})
    assert membership.class_key == "mid"
    assert codes(membership.reasons) == ["BAND", "TIE_BROKEN_BY_ACCOUNT_ID"]
    assert membership.reasons[1].params["cut_account_id"] == 5
    assert any(r.code == "QUANTILES_TIED" and r.params["ties"] == "rank" for r in result.reasons)


def test_quantiles_over_nobody_put_everybody_in_the_missing_class():
    d = single("recency_days", method="quantiles", quantiles=[0.5, 0.8])
    population = frame(recency_days=[None, None])
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["low", "low"]
    assert "NO_POPULATION" in codes(result.reasons)


# --- weighted score ---------------------------------------------------------------------------------------------


def score(**rest: Any) -> Any:
    data = {
        "kind": "score",
        "weights": {"sales": "0.5", "overdue": "-0.5"},
        "normalisation": "minmax",
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
        "method": "thresholds",
        "thresholds": [40, 70],
        **rest,
    }
    return parse_definition(data)


def test_a_weighted_score_rewards_sales_and_penalises_overdue():
    d = score()
    population = frame(sales=[0.0, 500.0, 1000.0, 1000.0], overdue=[100.0, 50.0, 0.0, 100.0])
    result = classify_accounts(d, population, context=CNY)
    scores = result.memberships.sort("account_id")["score"].to_list()
    assert scores == pytest.approx([0.0, 50.0, 100.0, 50.0])
    assert classes(result) == ["low", "mid", "high", "mid"]
    membership = explain_account(d, result.fitted, population.row(1, named=True))
    assert membership.score == pytest.approx(50.0)
    first, band = membership.reasons
    assert first.code == "SCORE"
    assert first.params["score"] == "50.0000"
    assert first.params["terms"] == [
        {"indicator": "sales", "value": "500.00", "normalised": "0.5000", "weight": "0.5", "points": "25.0000"},
        {"indicator": "overdue", "value": "50.00", "normalised": "0.5000", "weight": "-0.5", "points": "25.0000"},
    ]
    assert band.code == "SCORE_BAND"
    assert (band.params["lower"], band.params["upper"]) == ("40.0000", "70.0000")


def test_a_constant_indicator_normalises_to_the_middle_and_is_reported():
    d = score()
    population = frame(sales=[0.0, 1000.0], overdue=[0.0, 0.0])
    result = classify_accounts(d, population, context=CNY)
    assert result.memberships.sort("account_id")["score"].to_list() == [25.0, 75.0]
    assert Reason("CONSTANT_INDICATOR", {"indicator": "overdue", "value": "0.00"}) in result.reasons


def test_a_missing_indicator_counts_as_worst_and_no_value_at_all_gives_the_missing_class():
    d = score(missing="mid")
    population = frame(sales=[None, 1000.0, None, 0.0], overdue=[0.0, None, None, 100.0])
    result = classify_accounts(d, population, context=CNY)
    scores = result.memberships.sort("account_id")["score"].to_list()
    assert scores == [50.0, 50.0, None, 0.0]
    assert classes(result) == ["mid", "mid", "mid", "low"]
    membership = explain_account(d, result.fitted, population.row(0, named=True))
    assert Reason("NO_VALUE", {"indicator": "sales", "counted_as": "worst"}) in membership.reasons
    nothing = explain_account(d, result.fitted, population.row(2, named=True))
    assert nothing.class_key == "mid"
    assert nothing.score is None
    assert nothing.reasons == (Reason("NO_VALUE", {"indicators": ["sales", "overdue"], "class": "mid"}),)


def test_percentile_normalisation_ranks_with_ties_at_their_middle():
    d = score(weights={"purchase_count": 1}, normalisation="percentile", thresholds=[40, 70])
    population = frame(purchase_count=[1, 1, 1, 1, 5, 9])
    result = classify_accounts(d, population, context=CNY)
    scores = result.memberships.sort("account_id")["score"].to_list()
    # four tied at ranks 0..3 share (0 + 4/2)/6; 5 has 4 below: (4 + 0.5)/6; 9: (5 + 0.5)/6
    assert scores == pytest.approx([100 * 2 / 6] * 4 + [100 * 4.5 / 6, 100 * 5.5 / 6])
    assert classes(result) == ["low"] * 4 + ["high", "high"]


def test_a_score_cut_by_quantiles_is_fitted_on_the_scores():
    data = {
        "kind": "score",
        "weights": {"sales": 1},
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
        "method": "quantiles",
        "quantiles": [0.5, 0.75],
    }
    d = parse_definition(data)
    population = frame(sales=[0.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 1000.0])
    result = classify_accounts(d, population, context=CNY)
    assert result.counts == {"low": 4, "mid": 2, "high": 2}
    assert result.cut_points == {"": ["40.0000", "60.0000"]}
    assert explain_all(d, result, population) == classes(result)


# --- rules ------------------------------------------------------------------------------------------------------

GUANGDONG, GUANGZHOU, SHENZHEN, ZHEJIANG = 44, 4401, 4403, 33


def region_rules() -> Any:
    return parse_definition(
        {
            "kind": "rules",
            "classes": [
                {
                    "key": "gd_retail_recent",
                    "when": {
                        "all": [
                            {"indicator": "region", "op": "in", "value": [GUANGDONG]},
                            {"indicator": "industry", "op": "=", "value": "retail"},
                            {"indicator": "recency_days", "op": "<", "value": 90},
                        ]
                    },
                },
                {"key": "lapsed", "when": {"not": {"indicator": "recency_days", "op": "<", "value": 90}}},
            ],
            "otherwise": {"key": "other"},
        }
    )


def region_population() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [1, 2, 3, 4, 5, 6],
            "region": [GUANGZHOU, SHENZHEN, ZHEJIANG, GUANGDONG, None, GUANGZHOU],
            "region_path": [[GUANGZHOU, GUANGDONG], [SHENZHEN, GUANGDONG], [ZHEJIANG], [GUANGDONG], None, [4401, 44]],
            "industry": ["retail", "retail", "retail", "food", "retail", "retail"],
            "recency_days": [10, 200, 10, 10, 10, None],
        }
    )


def test_a_region_rule_includes_the_regions_cities_and_first_match_wins():
    d = region_rules()
    population = region_population()
    assert required_columns(d) == ("region", "industry", "recency_days", "region_path")
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["gd_retail_recent", "lapsed", "other", "other", "other", "lapsed"]
    assert explain_all(d, result, population) == classes(result)


def test_a_rule_explanation_says_why_earlier_classes_did_not_match():
    d = region_rules()
    population = region_population()
    result = classify_accounts(d, population, context=CNY)
    membership = explain_account(d, result.fitted, population.row(1, named=True))  # Shenzhen, 200 days
    assert membership.class_key == "lapsed"
    missed, matched = membership.reasons
    assert missed.code == "RULE_NOT_MATCHED"
    assert missed.params["class"] == "gd_retail_recent"
    failed = [c for c in missed.params["conditions"] if not c["held"]]
    assert failed == [
        {
            "path": "classes[0].when.all[2]",
            "indicator": "recency_days",
            "op": "<",
            "value": 90,
            "actual": 200,
            "held": False,
        }
    ]
    assert matched.code == "RULE_MATCHED"
    assert matched.params["conditions"][0]["negated"] is True


def test_a_condition_on_no_value_is_false_and_flagged():
    d = region_rules()
    population = region_population()
    result = classify_accounts(d, population, context=CNY)
    membership = explain_account(d, result.fitted, population.row(5, named=True))  # no recency
    missed = membership.reasons[0]
    recency = next(c for c in missed.params["conditions"] if c["indicator"] == "recency_days")
    assert recency["no_value"] is True
    assert recency["held"] is False
    assert membership.class_key == "lapsed"  # "not recency < 90" holds without orders


def test_a_quantile_leaf_is_fitted_from_the_population_and_shown_in_the_explanation():
    d = parse_definition(builtin_definitions()["key_account_candidates"])
    population = frame(
        key_account=[True] + [False] * 9,
        sales=[5000.0, 100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, 9000.0],
        gross_profit=[1.0] * 9 + [2000.0],
        purchase_frequency=[0.1] * 10,
    )
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["key_account"] + ["other"] * 8 + ["candidate"]
    cut = next(r for r in result.reasons if r.code == "QUANTILE_CUT" and r.params["indicator"] == "sales")
    assert cut.params["cut"] == "9000.00"
    membership = explain_account(d, result.fitted, population.row(9, named=True))
    assert membership.class_key == "candidate"
    sales = membership.reasons[-1].params["conditions"][0]
    assert (sales["quantile"], sales["cut"], sales["actual"], sales["held"]) == ("0.9", "9000.00", "9000.00", True)


# --- the frame ----------------------------------------------------------------------------------------------------


def test_a_frame_missing_a_column_is_refused_naming_it():
    d = single("sales", method="thresholds", thresholds=["1", "2"])
    with pytest.raises(FrameError) as caught:
        classify_accounts(d, frame(owed=[1.0]), context=CNY)
    assert (caught.value.code, caught.value.columns) == ("missing_column", ("sales",))


def test_duplicate_account_ids_are_refused():
    d = single("sales", method="thresholds", thresholds=["1", "2"])
    population = pl.DataFrame({"account_id": [1, 1], "sales": [1.0, 2.0]})
    with pytest.raises(FrameError) as caught:
        classify_accounts(d, population, context=CNY)
    assert caught.value.code == "duplicate_account_id"


def test_a_decimal_money_column_is_accepted():
    d = single("sales", method="thresholds", thresholds=["10000", "50000"])
    population = pl.DataFrame(
        {"account_id": [1, 2], "sales": [Decimal("9999.99"), Decimal("10000.00")]},
        schema={"account_id": pl.Int64, "sales": pl.Decimal(18, 2)},
    )
    assert classes(classify_accounts(d, population, context=CNY)) == ["low", "mid"]


def test_an_optional_column_absent_from_the_frame_reads_as_no_value():
    d = single("clv", method="thresholds", thresholds=["100", "1000"], missing="mid")
    result = classify_accounts(d, frame(sales=[1.0, 2.0]), context=CNY)
    assert classes(result) == ["mid", "mid"]
    assert Reason("INDICATOR_ABSENT", {"indicator": "clv"}) in result.reasons


def test_string_account_ids_work_too():
    d = single("purchase_count", method="quantiles", quantiles=[0.5, 0.75], ties="rank")
    population = pl.DataFrame({"account_id": ["b", "a", "c", "d"], "purchase_count": [1, 1, 1, 2]})
    result = classify_accounts(d, population, context=CNY)
    assert explain_all(d, result, population) == result.memberships["class_key"].to_list()


# --- fitted populations -------------------------------------------------------------------------------------------


def test_a_fit_survives_json_and_explains_without_the_frame():
    for code, data in builtin_definitions().items():
        d = parse_definition(data)
        population = frame(
            purchase_count=[0, 1, 2, 5],
            purchase_frequency=[0.0, 0.1, 0.2, 0.5],
            recency_days=[None, 10, 50, 400],
            first_order_days=[None, 10, 200, 900],
            interpurchase_days=[None, None, 30.0, 100.0],
            sales=[0.0, 100.0, 200.0, 5000.0],
            gross_profit=[0.0, 10.0, 20.0, 500.0],
            key_account=[False, False, False, True],
        )
        result = classify_accounts(d, population, context=CNY)
        stored = Fitted.from_dict(json.loads(json.dumps(result.fitted.to_dict())))
        assert stored == result.fitted, code
        assert [explain_account(d, stored, row).class_key for row in population.iter_rows(named=True)] == classes(
            result
        )


def test_classifying_changed_accounts_against_an_earlier_fit_keeps_its_cut_points():
    d = single("sales", method="quantiles", quantiles=[0.5, 0.8])
    everybody = frame(sales=[float(x) for x in range(1, 11)])
    nightly = classify_accounts(d, everybody, context=CNY)
    changed = pl.DataFrame({"account_id": [3], "sales": [9.5]})
    result = classify_accounts(d, changed, context=CNY, fitted=nightly.fitted)
    assert classes(result) == ["high"]
    assert result.fitted is nightly.fitted


def test_a_fit_from_another_definition_is_refused():
    d = single("sales", method="quantiles", quantiles=[0.5, 0.8])
    other = single("sales", method="quantiles", quantiles=[0.4, 0.8])
    fitted = fit(d, frame(sales=[1.0, 2.0]), context=CNY)
    with pytest.raises(StaleFit):
        explain_account(other, fitted, {"account_id": 1, "sales": 1.0})
    with pytest.raises(StaleFit):
        classify_accounts(other, frame(sales=[1.0]), context=CNY, fitted=fitted)


def test_the_preview_counts_every_class_including_empty_ones():
    d = single("sales", method="thresholds", thresholds=["10", "20"])
    preview = preview_counts(d, frame(sales=[1.0, 2.0, 30.0]), context=CNY)
    assert preview.counts == {"low": 2, "mid": 0, "high": 1}
    assert preview.total == 3
    assert preview.cut_points == {"": ["10.00", "20.00"]}


def test_an_unknown_currency_is_refused():
    with pytest.raises(ValueError, match="currency"):
        Context("XXX")


def test_infinite_amounts_read_as_no_value():
    d = single("sales", method="thresholds", thresholds=["1", "2"], missing="mid")
    population = frame(sales=[float("inf"), float("-inf"), 1.5])
    result = classify_accounts(d, population, context=CNY)
    assert classes(result) == ["mid", "mid", "mid"]
    assert explain_all(d, result, population) == classes(result)
