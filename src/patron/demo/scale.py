"""The scale data set: the demo generator's shape for a million accounts.

The demo gives each account about 140 rows (14 orders over three years, a full
timeline), which is right for 2,000 accounts and far too much for 1,000,000. The
scale set keeps every kind of record and the demo's rules (money, returns,
invoices, payments, allocations) but buys the way a large customer base does:
about half the accounts order once and never again, the others a fifth as often
as the demo's with somewhat larger orders (about four lines instead of three),
key accounts a lot; the timeline keeps the last 90 days. That gives about 10
order lines and 25 rows per account: 1,000,000 accounts make about 10 million
order lines, 2.5 million orders, invoices and payments, 25 million rows.

Pure Python, like the generator: loaders live in loader.py (any database) and
copy_loader.py (PostgreSQL, COPY).
"""

from __future__ import annotations

import datetime as dt

from .generator import DemoSpec

SCALE_ACCOUNTS = 1_000_000
# The shape (see DemoSpec); tests/integration/test_scale_data.py checks what it gives.
SCALE_SHAPE: dict[str, float | int] = {"order_rate": 0.18, "one_off_share": 0.45, "timeline_days": 90, "more_lines": 3}


def scale_spec(
    *,
    today: dt.date,
    seed: int = 42,
    accounts: int = SCALE_ACCOUNTS,
    years: int = 3,
    time_zone: str = "Asia/Shanghai",
    now: dt.datetime | None = None,
) -> DemoSpec:
    """The spec of the scale set: the same seed and size always give the same rows."""
    return DemoSpec(
        today=today,
        seed=seed,
        accounts=accounts,
        years=years,
        time_zone=time_zone,
        now=now,
        order_rate=float(SCALE_SHAPE["order_rate"]),
        one_off_share=float(SCALE_SHAPE["one_off_share"]),
        timeline_days=int(SCALE_SHAPE["timeline_days"]),
        more_lines=int(SCALE_SHAPE["more_lines"]),
    )
