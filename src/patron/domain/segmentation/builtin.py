"""Classifications ready on day one, each an ordinary, editable definition dict.

``BUILTINS`` maps a stable code to a function returning a fresh dict (so editing one
copy never changes another); ``builtin_definitions()`` returns them all. Each parses
with ``parse_definition`` and runs through ``classify_accounts`` like any user
definition: none needs a special evaluator beyond its kind (RFM and lifecycle are
kinds of their own, with parameters validated the same way).

* ``value_tier``: cumulative ``sales`` cut at the 50% and 80% quantiles into low
  (bottom half), mid (next 30%) and high (top 20%); ties kept together.
* ``frequency_tier``: ``purchase_count`` cut the same way. Half of a base buys once,
  so the plain cut points collapse; ``ties: "group"`` moves them to the nearest run of
  equal counts and the classification reports ``QUANTILES_TIED`` with the cut points
  used.
* ``rfm``: R, F, M scores 1-5 by quintiles and the usual named segments on the R x FM
  grid (``rfm.DEFAULT_GRID``, drawn in ``rfm``), accounts without orders apart.
* ``lifecycle``: prospect, new, loyal, at risk, churned against each account's own
  rhythm (parameters and rules in ``lifecycle``).
* ``key_account_candidates``: accounts already marked key accounts; candidates, not
  yet key accounts, whose sales reach the top 10% and whose gross profit reaches the
  top 10% or purchase frequency the top 25%; everyone else.

Labels are English msgids; the application translates them for display.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (segment key, label, cells as (r low, r high, fm low, fm high)); see the grid in rfm.
DEFAULT_GRID: tuple[tuple[str, str, tuple[tuple[int, int, int, int], ...]], ...] = (
    ("champions", "Champions", ((5, 5, 4, 5),)),
    ("loyal", "Loyal", ((3, 4, 4, 5),)),
    ("potential_loyalist", "Potential loyalist", ((4, 5, 2, 3), (3, 3, 3, 3))),
    ("new", "New", ((4, 5, 1, 1),)),
    ("at_risk", "At risk", ((1, 2, 3, 4),)),
    ("cannot_lose", "Cannot lose", ((1, 2, 5, 5),)),
    ("hibernating", "Hibernating", ((2, 3, 1, 2),)),
    ("lost", "Lost", ((1, 1, 1, 2),)),
)

TIERS = [
    {"key": "low", "label": "Low"},
    {"key": "mid", "label": "Mid"},
    {"key": "high", "label": "High"},
]


def value_tier() -> dict[str, Any]:
    return {
        "kind": "single",
        "indicator": "sales",
        "classes": [dict(c, label=f"{c['label']} value") for c in TIERS],
        "method": "quantiles",
        "quantiles": ["0.5", "0.8"],
        "ties": "group",
        "missing": "low",
    }


def frequency_tier() -> dict[str, Any]:
    return {
        "kind": "single",
        "indicator": "purchase_count",
        "classes": [dict(c, label=f"{c['label']} frequency") for c in TIERS],
        "method": "quantiles",
        "quantiles": ["0.5", "0.8"],
        "ties": "group",
        "missing": "low",
    }


def rfm() -> dict[str, Any]:
    return {
        "kind": "rfm",
        "bins": 5,
        "ties": "group",
        "segments": [
            {"key": key, "label": label, "cells": [{"r": [c[0], c[1]], "fm": [c[2], c[3]]} for c in cells]}
            for key, label, cells in DEFAULT_GRID
        ],
        "missing": {"key": "no_orders", "label": "No orders"},
    }


def lifecycle() -> dict[str, Any]:
    return {
        "kind": "lifecycle",
        "classes": [
            {"key": "prospect", "label": "Prospect"},
            {"key": "new", "label": "New"},
            {"key": "loyal", "label": "Loyal"},
            {"key": "at_risk", "label": "At risk"},
            {"key": "churned", "label": "Churned"},
        ],
        "new_days": 90,
        "loyal_factor": "1.5",
        "churn_factor": 3,
        "churn_max_days": 365,
        "one_time_churn_days": 180,
        "min_rhythm_days": 14,
        "p_alive_at_risk": None,
        "p_alive_churned": None,
    }


def key_account_candidates() -> dict[str, Any]:
    return {
        "kind": "rules",
        "classes": [
            {
                "key": "key_account",
                "label": "Key account",
                "when": {"indicator": "key_account", "op": "=", "value": True},
            },
            {
                "key": "candidate",
                "label": "Key account candidate",
                "when": {
                    "all": [
                        {"indicator": "sales", "op": ">=", "quantile": "0.9"},
                        {
                            "any": [
                                {"indicator": "gross_profit", "op": ">=", "quantile": "0.9"},
                                {"indicator": "purchase_frequency", "op": ">=", "quantile": "0.75"},
                            ]
                        },
                    ]
                },
            },
        ],
        "otherwise": {"key": "other", "label": "Other"},
    }


BUILTINS: dict[str, Callable[[], dict[str, Any]]] = {
    "value_tier": value_tier,
    "frequency_tier": frequency_tier,
    "rfm": rfm,
    "lifecycle": lifecycle,
    "key_account_candidates": key_account_candidates,
}


def builtin_definitions() -> dict[str, dict[str, Any]]:
    """A fresh copy of every built-in definition, by code."""
    return {code: make() for code, make in BUILTINS.items()}
