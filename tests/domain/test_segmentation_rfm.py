"""RFM: scores by quintiles, the named-segment grid, ties, and accounts without orders."""

from __future__ import annotations

import polars as pl
import pytest

from patron.domain.segmentation import rfm
from patron.domain.segmentation.builtin import builtin_definitions
from patron.domain.segmentation.classify import Context, classify_accounts, explain_account
from patron.domain.segmentation.definitions import RfmDefinition, parse_definition

CNY = Context("CNY")

# The documented grid (rfm module docstring), R from 5 down to 1, FM from 1 to 5.
GRID = """
5  new          potential    potential    champions    champions
4  new          potential    potential    loyal        loyal
3  hibernating  hibernating  potential    loyal        loyal
2  hibernating  hibernating  at_risk      at_risk      cannot_lose
1  lost         lost         at_risk      at_risk      cannot_lose
"""


def definition() -> RfmDefinition:
    d = parse_definition(builtin_definitions()["rfm"])
    assert isinstance(d, RfmDefinition)
    return d


def test_the_default_grid_names_every_cell_as_documented():
    d = definition()
    keys = [s.key for s in d.segments]
    cells = rfm.grid(d)
    for line in GRID.strip().splitlines():
        r, *names = line.split()
        for fm, name in enumerate(names, start=1):
            expected = "potential_loyalist" if name == "potential" else name
            assert keys[cells[(int(r), fm)]] == expected, (r, fm)
    assert len(cells) == 25


@pytest.mark.parametrize(
    ("f", "m", "fm"), [(1, 1, 1), (1, 2, 2), (2, 3, 3), (4, 5, 5), (5, 4, 5), (3, 4, 4), (1, 5, 3)]
)
def test_fm_is_the_mean_of_f_and_m_rounded_up(f, m, fm):
    assert rfm.fm(f, m) == fm


# Ten accounts, two per quintile on every axis, with the (R, F, M) each should score.
TARGETS = [
    (5, 5, 5, "champions"),
    (5, 1, 1, "new"),
    (4, 4, 4, "loyal"),
    (4, 2, 3, "potential_loyalist"),
    (3, 3, 3, "potential_loyalist"),
    (3, 1, 2, "hibernating"),
    (2, 5, 4, "cannot_lose"),
    (2, 3, 2, "at_risk"),
    (1, 2, 1, "lost"),
    (1, 4, 5, "cannot_lose"),
]


def population() -> pl.DataFrame:
    rows = [
        {
            "account_id": i + 1,
            "recency_days": float((6 - r) * 100 + i),  # lower recency, higher R
            "purchase_count": f * 10 + i,
            "sales": float(m * 1000 + i),
        }
        for i, (r, f, m, _) in enumerate(TARGETS)
    ]
    rows.append({"account_id": 99, "recency_days": None, "purchase_count": 0, "sales": 0.0})
    return pl.DataFrame(rows)


def test_each_account_gets_its_quintile_scores_and_named_segment():
    d = definition()
    result = classify_accounts(d, population(), context=CNY)
    got = result.memberships.sort("account_id")
    assert got["r_score"].to_list()[:10] == [t[0] for t in TARGETS]
    assert got["f_score"].to_list()[:10] == [t[1] for t in TARGETS]
    assert got["m_score"].to_list()[:10] == [t[2] for t in TARGETS]
    assert got["class_key"].to_list() == [t[3] for t in TARGETS] + ["no_orders"]
    assert got.row(10, named=True)["r_score"] is None


def test_the_explanation_gives_the_scores_and_the_grid_cell():
    d = definition()
    frame = population()
    result = classify_accounts(d, frame, context=CNY)
    champion = explain_account(d, result.fitted, frame.row(0, named=True))
    assert champion.class_key == "champions"
    assert champion.scores == {"r": 5, "f": 5, "m": 5, "fm": 5}
    scores, cell = champion.reasons
    assert scores.code == "RFM_SCORES"
    assert scores.params["sales"] == "5000.00"
    assert cell.params == {"r": 5, "fm": 5, "class": "champions"}
    prospect = explain_account(d, result.fitted, frame.row(10, named=True))
    assert prospect.class_key == "no_orders"
    assert prospect.scores is None
    assert prospect.reasons[0].code == "NO_ORDERS"


def test_half_the_base_buying_once_all_score_f_1_and_the_tie_is_reported():
    n = 40
    counts = [1] * 20 + [2] * 8 + [3] * 6 + [4] * 4 + [7] * 2
    frame = pl.DataFrame(
        {
            "account_id": list(range(n)),
            "recency_days": [float(i) for i in range(n)],
            "purchase_count": counts,
            "sales": [float(100 * i) for i in range(n)],
        }
    )
    d = definition()
    result = classify_accounts(d, frame, context=CNY)
    f = result.memberships.sort("account_id")["f_score"].to_list()
    assert set(f[:20]) == {1}
    assert f[20:] == [2] * 8 + [3] * 6 + [4] * 4 + [5] * 2
    tied = next(r for r in result.reasons if r.code == "QUANTILES_TIED")
    assert tied.params["band"] == "f"
    assert tied.params["plain_cut_points"] == [1, 1, 2, 3]
    assert tied.params["cut_points"] == [2, 3, 4, 7]


def test_rank_ties_give_even_quintiles_of_once_buyers():
    data = builtin_definitions()["rfm"]
    data["ties"] = "rank"
    d = parse_definition(data)
    frame = pl.DataFrame(
        {
            "account_id": list(range(10)),
            "recency_days": [float(i) for i in range(10)],
            "purchase_count": [1] * 10,
            "sales": [float(i) for i in range(10)],
        }
    )
    result = classify_accounts(d, frame, context=CNY)
    assert result.memberships.sort("account_id")["f_score"].to_list() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    membership = explain_account(d, result.fitted, frame.row(2, named=True))
    assert membership.scores is not None
    assert membership.scores["f"] == 2
    assert "TIE_BROKEN_BY_ACCOUNT_ID" in [r.code for r in membership.reasons]


def test_an_edited_grid_with_three_bins_classifies_by_its_own_cells():
    data = {
        "kind": "rfm",
        "bins": 3,
        "segments": [
            {"key": "best", "cells": [{"r": 3, "fm": [2, 3]}]},
            {"key": "rest", "cells": [{"r": [1, 2], "fm": [1, 3]}, {"r": 3, "fm": 1}]},
        ],
    }
    d = parse_definition(data)
    frame = pl.DataFrame(
        {
            "account_id": [1, 2, 3],
            "recency_days": [1.0, 50.0, 100.0],
            "purchase_count": [9, 5, 1],
            "sales": [900.0, 500.0, 100.0],
        }
    )
    result = classify_accounts(d, frame, context=CNY)
    assert result.memberships.sort("account_id")["class_key"].to_list() == ["best", "rest", "rest"]
    assert result.counts == {"best": 1, "rest": 2, "no_orders": 0}
