"""Discount rules as data: every problem named by its field, and a faithful round trip."""

from __future__ import annotations

from typing import Any

import pytest

from patron.domain.pricing import parse_rule, rule_to_dict
from patron.domain.problems import DefinitionError

PERCENT = {"kind": "percent_off", "percent": "5"}


def problems(data: Any) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        parse_rule(data, key="k")
    return [(p.path, p.code) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"benefit": PERCENT}, [("name", "required")]),
        ({"name": "x"}, [("benefit", "required")]),
        ({"name": "x", "benefit": {"kind": "percent_off", "percent": "101"}}, [("benefit.percent", "out_of_range")]),
        ({"name": "x", "benefit": {"kind": "percent_off", "percent": "-1"}}, [("benefit.percent", "not_positive")]),
        ({"name": "x", "benefit": {"kind": "percent_off", "percent": 5.5}}, [("benefit.percent", "wrong_type")]),
        ({"name": "x", "benefit": {"kind": "bogus"}}, [("benefit.kind", "unknown_kind")]),
        (
            {"name": "x", "benefit": {"kind": "percent_off", "percent": "5", "amount": "1"}},
            [("benefit.amount", "unknown_field")],
        ),
        (
            {
                "name": "x",
                "benefit": PERCENT,
                "when": {"starts": "2026-12-02T00:00+08:00", "ends": "2026-12-01T00:00+08:00"},
            },
            [("when.ends", "empty_range")],
        ),
        ({"name": "x", "benefit": PERCENT, "when": {"starts": "2026-12-02T00:00"}}, [("when.starts", "wrong_type")]),
        ({"name": "x", "benefit": PERCENT, "when": {"hours": ["09:00", "09:00"]}}, [("when.hours", "empty_range")]),
        ({"name": "x", "benefit": PERCENT, "when": {"weekdays": [0]}}, [("when.weekdays[0]", "invalid_choice")]),
        ({"name": "x", "benefit": PERCENT, "when": {"channels": ["fax"]}}, [("when.channels[0]", "invalid_choice")]),
        ({"name": "x", "benefit": PERCENT, "who": {"regions": [3, 3]}}, [("who.regions[1]", "duplicate")]),
        ({"name": "x", "benefit": PERCENT, "who": {"classes": ["nocolon"]}}, [("who.classes[0]", "wrong_type")]),
        (
            {"name": "x", "benefit": PERCENT, "what": {"products": [2], "exclude_products": [2]}},
            [("what.exclude_products", "excluded_included")],
        ),
        (
            {
                "name": "x",
                "benefit": {"kind": "tiers", "tiers": [{"from": "10", "percent": "5"}, {"from": "5", "percent": "8"}]},
            },
            [("benefit.tiers[1].from", "not_increasing")],
        ),
        (
            {
                "name": "x",
                "benefit": {"kind": "tiers", "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "5"}]},
            },
            [("benefit.tiers[1].percent", "not_better")],
        ),
        ({"name": "x", "benefit": {"kind": "tiers", "tiers": []}}, [("benefit.tiers", "empty")]),
        (
            {"name": "x", "benefit": {"kind": "spend_save", "spend": "100", "save": "150"}},
            [("benefit.save", "out_of_range")],
        ),
        ({"name": "x", "benefit": {"kind": "buy_get", "buy": 2}}, [("benefit.free", "required")]),
        ({"name": "x", "benefit": {"kind": "fixed_price", "price": "9"}}, [("benefit.kind", "scope_mismatch")]),
        (
            {"name": "x", "benefit": {"kind": "cart_amount_off", "amount": "9"}, "caps": {"per_line": "1"}},
            [("caps.per_line", "scope_mismatch")],
        ),
        ({"name": "x", "benefit": PERCENT, "stacking": {"group": "has space"}}, [("stacking.group", "wrong_type")]),
        ({"name": "x", "benefit": PERCENT, "colour": "red"}, [("colour", "unknown_field")]),
        ({"name": "x", "benefit": PERCENT, "priority": "high"}, [("priority", "wrong_type")]),
    ],
)
def test_each_problem_names_its_field(data, expected):
    assert problems(data) == expected


def test_every_problem_is_reported_at_once():
    found = problems({"benefit": {"kind": "percent_off", "percent": "500"}, "when": {"weekdays": [9]}})
    assert found == [("name", "required"), ("when.weekdays[0]", "invalid_choice"), ("benefit.percent", "out_of_range")]


def test_a_rule_that_is_not_an_object_is_refused():
    assert problems(["a"]) == [("", "wrong_type")]


FULL = {
    "name": "Guangdong retail: 5% on cables, 10+ units",
    "priority": 40,
    "who": {"regions": [3], "industries": [2], "classes": ["value_tier:high"], "new_customers": True},
    "what": {"categories": [4], "exclude_products": [9]},
    "when": {
        "min_quantity": "10",
        "min_cart_amount": "500",
        "category_min": {"category": 4, "amount": "300"},
        "channels": ["web_shop"],
        "weekdays": [6, 7],
        "hours": ["09:00", "12:00"],
        "starts": "2026-12-01T00:00:00+08:00",
        "ends": "2026-12-31T00:00:00+08:00",
        "first_order": True,
    },
    "benefit": {
        "kind": "tiers",
        "basis": "quantity",
        "tiers": [{"from": "10", "percent": "5"}, {"from": "50", "percent": "8"}],
    },
    "stacking": {"exclusive": False, "group": "volume", "combines_with": ["season"]},
    "caps": {"per_line": "100", "per_order": "500"},
}


@pytest.mark.parametrize(
    "benefit",
    [
        PERCENT,
        {"kind": "amount_off_unit", "amount": "1.2345"},
        {"kind": "cart_amount_off", "amount": "50"},
        {"kind": "spend_save", "spend": "300", "save": "50", "repeat": True},
        {"kind": "buy_get", "buy": 2, "free": 1},
        FULL["benefit"],
    ],
)
def test_the_dict_round_trips(benefit):
    rule = parse_rule({**FULL, "benefit": benefit}, key="r1")
    assert parse_rule(rule_to_dict(rule), key="r1") == rule
