"""How fast the pure segmentation engine classifies a million accounts (no database).

A synthetic population of 1,000,000 accounts with every indicator column (half of the
buyers bought once, 15% have no orders, money in cents as Float64), then, each timed
in this run:

* every built-in definition (value tier, frequency tier, RFM, lifecycle, key account
  candidates): the whole ``classify_accounts`` (fit + assign), wall seconds and CPU
  seconds of all threads (the machine's other jobs inflate the first, less the second);
* a four-indicator weighted score (min-max and percentile normalisation) and a rule
  set with a region, an industry and a recency condition;
* applying an existing fit to 10,000 changed accounts (the incremental path);
* explaining one account (``explain_account``), microseconds;
* the floor: polars' own ``bin_quantiles`` of the sales column into three classes, which does
  no tie handling and no explanation, for comparison.

Bar (issue 4): all built-ins on 1,000,000 accounts well under a few seconds.

    python benchmarks/bench_classify.py [--accounts 1000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from patron.domain.segmentation.builtin import builtin_definitions  # noqa: E402
from patron.domain.segmentation.classify import Context, classify_accounts, explain_account  # noqa: E402
from patron.domain.segmentation.definitions import parse_definition  # noqa: E402

CNY = Context("CNY")


def population(n: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    has_orders = rng.random(n) >= 0.15
    count = np.where(has_orders, np.where(rng.random(n) < 0.5, 1, 2 + rng.geometric(0.2, n)), 0)
    recency = np.where(has_orders, rng.integers(0, 1000, n), -1).astype(np.float64)
    first = np.where(has_orders, recency + np.where(count > 1, rng.integers(1, 1500, n), 0), -1).astype(np.float64)
    gap = np.where(count > 1, (first - recency) / np.maximum(count - 1, 1), np.nan)
    sales_cents = np.where(has_orders, (count * rng.gamma(2.0, 40_000, n)).astype(np.int64), 0)
    sales = sales_cents / 100
    regions = np.array([4401, 4403, 3301, 3302, 1101, 3101], dtype=np.int64)
    region = regions[rng.integers(0, len(regions), n)]
    industries = np.array(["retail", "food", "steel", "textile", "chemicals"])
    frame = pl.DataFrame(
        {
            "account_id": np.arange(1, n + 1, dtype=np.int64),
            "purchase_count": count,
            "purchase_frequency": count / 12.0,
            "recency_days": recency,
            "first_order_days": first,
            "interpurchase_days": gap,
            "sales": sales,
            "gross_profit": np.round(sales * rng.uniform(0.05, 0.4, n), 2),
            "overdue": np.where(rng.random(n) < 0.2, np.round(sales * rng.uniform(0, 0.3, n), 2), 0.0),
            "key_account": rng.random(n) < 0.01,
            "industry": industries[rng.integers(0, len(industries), n)],
            "region": region,
        }
    )
    paths = pl.Series("region_path", [[int(r), int(r) // 100] for r in regions])
    lookup = pl.DataFrame({"region": regions, "region_path": paths})
    frame = frame.join(lookup, on="region", how="left")
    return frame.with_columns(
        pl.when(pl.col(c) < 0).then(None).otherwise(pl.col(c)).alias(c) for c in ("recency_days", "first_order_days")
    ).with_columns(pl.col("interpurchase_days").fill_nan(None))


EXTRA = {
    "score_minmax": {
        "kind": "score",
        "weights": {"sales": 0.4, "gross_profit": 0.3, "purchase_frequency": 0.2, "overdue": -0.1},
        "normalisation": "minmax",
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
        "method": "quantiles",
        "quantiles": [0.5, 0.8],
    },
    "score_percentile": {
        "kind": "score",
        "weights": {"sales": 0.4, "gross_profit": 0.3, "purchase_frequency": 0.2, "overdue": -0.1},
        "normalisation": "percentile",
        "classes": [{"key": "low"}, {"key": "mid"}, {"key": "high"}],
        "method": "thresholds",
        "thresholds": [40, 70],
    },
    "rules_region": {
        "kind": "rules",
        "classes": [
            {
                "key": "gd_retail_recent",
                "when": {
                    "all": [
                        {"indicator": "region", "op": "in", "value": [44]},
                        {"indicator": "industry", "op": "=", "value": "retail"},
                        {"indicator": "recency_days", "op": "<", "value": 90},
                    ]
                },
            }
        ],
        "otherwise": {"key": "other"},
    },
}


CPU: dict[str, float] = {}


def _timed(fn: Any, name: str = "") -> tuple[float, Any]:
    """Wall seconds; the CPU seconds of all threads go to CPU[name] (wall time inflates when
    other jobs share the cores, CPU time much less)."""
    cpu = time.process_time()
    started = time.perf_counter()
    result = fn()
    if name:
        CPU[name] = time.process_time() - cpu
    return time.perf_counter() - started, result


def main(accounts: int = 1_000_000) -> dict[str, Any]:
    figures: dict[str, Any] = {"accounts": accounts}
    seconds, frame = _timed(lambda: population(accounts))
    figures["build synthetic frame (s)"] = seconds
    definitions = {code: parse_definition(data) for code, data in {**builtin_definitions(), **EXTRA}.items()}
    builtin_total = builtin_cpu = 0.0
    results = {}
    for code, d in definitions.items():
        seconds, result = _timed(lambda d=d: classify_accounts(d, frame, context=CNY), code)
        results[code] = result
        figures[f"{code} (s)"] = seconds
        figures[f"{code} (CPU s)"] = CPU[code]
        if code in builtin_definitions():
            builtin_total += seconds
            builtin_cpu += CPU[code]
    figures["all built-ins (s)"] = builtin_total
    figures["all built-ins (CPU s)"] = builtin_cpu
    changed = frame.sample(10_000, seed=1)
    rfm = definitions["rfm"]
    seconds, _ = _timed(lambda: classify_accounts(rfm, changed, context=CNY, fitted=results["rfm"].fitted))
    figures["rfm, 10,000 changed accounts on an earlier fit (s)"] = seconds
    rows = changed.head(1000).iter_rows(named=True)
    seconds, _ = _timed(lambda: [explain_account(rfm, results["rfm"].fitted, row) for row in rows])
    figures["explain one account, rfm (us)"] = seconds / 1000 * 1e6
    floor = pl.col("sales").bin_quantiles([0.5, 0.8], labels=["low", "mid", "high"])
    seconds, _ = _timed(lambda: frame.select(floor), "floor")
    figures["floor: polars bin_quantiles of sales (s)"] = seconds
    figures["floor: polars bin_quantiles of sales (CPU s)"] = CPU["floor"]
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    args = parser.parse_args()
    for key, value in main(args.accounts).items():
        print(f"{key:<55} {value:>12,.3f}" if isinstance(value, float) else f"{key:<55} {value:>12,}")
