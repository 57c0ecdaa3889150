"""Rule predicates: what each operator means, nulls included, through both interpreters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl
import pytest

from patron.domain.segmentation.classify import Context, classify_accounts, explain_account
from patron.domain.segmentation.definitions import parse_definition
from patron.domain.segmentation.rules import Leaf, satisfiable

CNY = Context("CNY")

ACCOUNT: dict[str, Any] = {
    "account_id": 7,
    "recency_days": 30.0,
    "purchase_count": 2,
    "sales": 1000.5,
    "industry": "retail",
    "key_account": False,
    "region": 4401,
    "region_path": [4401, 44],
    "clv": None,
}


def holds(when: dict[str, Any], account: dict[str, Any] = ACCOUNT) -> bool:
    """Whether ``when`` holds for ``account``, asserting both interpreters say the same."""
    d = parse_definition({"kind": "rules", "classes": [{"key": "yes", "when": when}], "otherwise": {"key": "no"}})
    schema = {
        "account_id": pl.Int64,
        "recency_days": pl.Float64,
        "purchase_count": pl.Int64,
        "sales": pl.Float64,
        "industry": pl.String,
        "key_account": pl.Boolean,
        "region": pl.Int64,
        "region_path": pl.List(pl.Int64),
        "clv": pl.Float64,
    }
    frame = pl.DataFrame([account], schema=schema)
    result = classify_accounts(d, frame, context=CNY)
    vectorised = result.memberships["class_key"].item()
    assert explain_account(d, result.fitted, account).class_key == vectorised
    return vectorised == "yes"


def leaf(indicator: str, op: str, value: Any = None) -> dict[str, Any]:
    out = {"indicator": indicator, "op": op}
    if value is not None:
        out["value"] = value
    return out


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (leaf("recency_days", "<", 90), True),
        (leaf("recency_days", "<", 30), False),
        (leaf("recency_days", "<=", 30), True),
        (leaf("recency_days", ">", 30), False),
        (leaf("recency_days", ">=", 30), True),
        (leaf("recency_days", "=", 30), True),
        (leaf("recency_days", "!=", 30), False),
        (leaf("recency_days", "between", [30, 90]), True),  # both ends included
        (leaf("recency_days", "between", [0, 30]), True),
        (leaf("recency_days", "between", [31, 90]), False),
        (leaf("purchase_count", "in", [1, 2, 3]), True),
        (leaf("purchase_count", "not_in", [1, 2, 3]), False),
        (leaf("sales", ">=", "1000.50"), True),  # money compared exactly as written
        (leaf("sales", ">", "1000.50"), False),
        (leaf("industry", "=", "retail"), True),
        (leaf("industry", "in", ["food", "steel"]), False),
        (leaf("industry", "not_in", ["food", "steel"]), True),
        (leaf("key_account", "=", False), True),
        (leaf("key_account", "!=", False), False),
        (leaf("region", "in", [44]), True),  # Guangzhou is within Guangdong
        (leaf("region", "=", 44), True),
        (leaf("region", "=", 4403), False),
        (leaf("region", "not_in", [44]), False),
        (leaf("region", "!=", 33), True),
        (leaf("clv", "is_null"), True),
        (leaf("clv", "is_null", False), False),
        ({"all": [leaf("industry", "=", "retail"), leaf("purchase_count", ">", 1)]}, True),
        ({"any": [leaf("recency_days", ">", 100), leaf("industry", "=", "retail")]}, True),
        ({"not": leaf("industry", "=", "retail")}, False),
    ],
)
def test_each_operator_on_an_account_with_values(when, expected):
    assert holds(when) is expected


NO_ORDERS = {
    **ACCOUNT,
    "recency_days": None,
    "sales": None,
    "industry": None,
    "key_account": None,
    "region": None,
    "region_path": None,
}


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (leaf("recency_days", "<", 90), False),
        (leaf("recency_days", ">=", 90), False),
        (leaf("recency_days", "!=", 90), False),  # a comparison with no value is false, != too
        (leaf("recency_days", "not_in", [1, 2]), False),
        (leaf("recency_days", "between", [0, 10**6]), False),
        ({"not": leaf("recency_days", "<", 90)}, True),  # ...and its negation true
        (leaf("recency_days", "is_null"), True),
        (leaf("industry", "!=", "retail"), False),
        (leaf("key_account", "=", False), False),
        (leaf("region", "not_in", [44]), False),
        ({"not": leaf("region", "in", [44])}, True),
    ],
)
def test_a_condition_on_no_value_is_false_and_only_is_null_sees_the_null(when, expected):
    assert holds(when, NO_ORDERS) is expected


def test_the_checker_sees_a_point_between_two_open_intervals():
    d = parse_definition(
        {
            "kind": "rules",
            "classes": [
                {"key": "a", "when": {"all": [leaf("recency_days", "!=", 30), leaf("recency_days", "is_null", False)]}},
                {"key": "b", "when": leaf("recency_days", "=", 30)},  # the only non-null value a leaves
            ],
            "otherwise": {"key": "none"},  # accounts without orders
        }
    )
    assert [c.key for c in d.class_specs] == ["a", "b", "none"]


def test_satisfiable_terms_follow_the_indicator_domains():
    below_zero = Leaf("purchase_count", "<", Decimal(0), "")
    assert not satisfiable([(below_zero, True)])  # no account has fewer than 0 orders...
    assert satisfiable([(below_zero, False)])  # ...so "not fewer than 0" is everyone
