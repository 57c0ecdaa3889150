"""How long the pure pricing engine takes to quote a 20-line cart, in process (no database).

A rule book shaped like a real one: most rules are contract terms for named accounts,
then rules for classes, regions and industries on products and categories, a few for
everyone, with every benefit kind, conditions, groups and exclusive rules. A 20-line
cart for an account that is in several classes and regions is quoted many times;
the median and 95th percentile are printed for 100 rules (a company's rules for its
segments, regions and industries), for 10,000 (the same 100 and 9,900 contract terms
and product prices, most for other accounts and products: what makes a book grow),
and the ratio between them; and for a denser book where 2,000 rules are for segments,
so that many more concern each cart. Building the rule book (what a policy change costs) is timed too.

Bars (issue 5): 10,000 rules p50 under 2 ms; 100 -> 10,000 rules at most 3x.

    python benchmarks/bench_pricing.py [--quotes 3000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from patron.domain.pricing import AccountProfile, Cart, CartLine, RuleBook, parse_rule, price_cart  # noqa: E402

NOW = dt.datetime(2026, 12, 7, 10, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
ACCOUNTS = 50_000
PRODUCTS = 5_000
CATEGORIES = 200  # leaf categories 1..200 under 20 parents 201..220
REGIONS = 300  # cities 1..300 under 30 provinces 301..330
CLASSES = [f"{c}:{k}" for c in ("value_tier", "frequency_tier", "rfm", "lifecycle") for k in ("a", "b", "c", "d", "e")]


def _benefit(rnd: random.Random) -> dict[str, Any]:
    kind = rnd.choices(
        ["percent_off", "amount_off_unit", "fixed_price", "tiers", "buy_get", "spend_save", "cart_amount_off"],
        weights=[40, 15, 10, 15, 5, 10, 5],
    )[0]
    if kind == "percent_off":
        return {"kind": kind, "percent": str(rnd.randint(1, 15))}
    if kind == "amount_off_unit":
        return {"kind": kind, "amount": f"{rnd.randint(1, 20)}.50"}
    if kind == "fixed_price":
        return {"kind": kind, "price": f"{rnd.randint(20, 200)}.00"}
    if kind == "tiers":
        return {
            "kind": kind,
            "tiers": [{"from": "10", "percent": "3"}, {"from": "50", "percent": "6"}, {"from": "200", "percent": "9"}],
        }
    if kind == "buy_get":
        return {"kind": kind, "buy": rnd.randint(2, 5), "free": 1}
    if kind == "spend_save":
        return {"kind": kind, "spend": "300", "save": "30", "repeat": rnd.random() < 0.5}
    return {"kind": kind, "amount": str(rnd.randint(10, 100))}


def _rule(rnd: random.Random, i: int, who: dict[str, Any], what: dict[str, Any]) -> Any:
    benefit = _benefit(rnd)
    if benefit["kind"] == "fixed_price" and "products" not in what:
        what = {"products": [rnd.randint(1, PRODUCTS)]}
    when: dict[str, Any] = {}
    if rnd.random() < 0.2:
        when["min_quantity"] = str(rnd.randint(2, 20))
    if rnd.random() < 0.1:
        when["ends"] = "2027-01-01T00:00:00+08:00"
    stacking = {"exclusive": rnd.random() < 0.05, "group": rnd.choice(["", "", "", "vol", "season"])}
    data = {"name": f"rule {i}", "priority": rnd.randint(0, 100), "who": who, "what": what, "when": when}
    return parse_rule({**data, "benefit": benefit, "stacking": stacking}, key=f"R{i:06d}")


def shared_rules(count: int, seed: int = 7) -> list[Any]:
    """What a company's rules for its segments look like: classes, regions, industries and
    everyone, on categories and products; the rules every benchmark book starts with."""
    rnd = random.Random(seed)
    rules = []
    for i in range(count):
        shape = rnd.random()
        if shape < 0.4:
            who: dict[str, Any] = {"classes": [rnd.choice(CLASSES)]}
            what: dict[str, Any] = {"categories": [rnd.randint(1, CATEGORIES + 20)]}
        elif shape < 0.7:
            who = (
                {"regions": [rnd.randint(1, REGIONS + 30)]}
                if rnd.random() < 0.6
                else {"industries": [rnd.randint(1, 40)]}
            )
            what = {"categories": [rnd.randint(1, CATEGORIES + 20)]}
        else:
            who = {}
            what = {"categories": [rnd.randint(CATEGORIES + 1, CATEGORIES + 20)]}
        rules.append(_rule(rnd, i, who, what))
    return rules


def scaled_rules(count: int, seed: int = 8, start: int = 100_000) -> list[Any]:
    """What makes a rule book grow to 10,000: contract terms of named accounts, regional and
    industry prices on products, promotions on single products."""
    rnd = random.Random(seed)
    rules = []
    for i in range(count):
        shape = rnd.random()
        if shape < 0.7:
            who: dict[str, Any] = {"accounts": [rnd.randint(1, ACCOUNTS)]}
            what: dict[str, Any] = {"products": rnd.sample(range(1, PRODUCTS + 1), rnd.randint(1, 5))}
        elif shape < 0.9:
            who = (
                {"regions": [rnd.randint(1, REGIONS + 30)]}
                if rnd.random() < 0.6
                else {"industries": [rnd.randint(1, 40)]}
            )
            what = {"products": rnd.sample(range(1, PRODUCTS + 1), rnd.randint(1, 10))}
        else:
            who = {}
            what = {"products": [rnd.randint(1, PRODUCTS)]}
        rules.append(_rule(rnd, start + i, who, what))
    return rules


def make_cart(seed: int = 11) -> tuple[Cart, AccountProfile]:
    rnd = random.Random(seed)
    lines = []
    for i in range(20):
        product = rnd.randint(1, PRODUCTS)
        leaf = 1 + product % CATEGORIES
        lines.append(
            CartLine(
                str(i + 1),
                product,
                Decimal(rnd.randint(1, 60)),
                Decimal(f"{rnd.randint(20, 400)}.{rnd.randint(0, 99):02d}"),
                (leaf, CATEGORIES + 1 + leaf % 20),
                floor_price=Decimal("15.00"),
                unit_cost=Decimal("12.00"),
            )
        )
    profile = AccountProfile(
        account=rnd.randint(1, ACCOUNTS),
        region_path=(17, REGIONS + 1 + 17 % 30),
        industry=5,
        classes=frozenset(rnd.sample(CLASSES, 4)),
        stage="loyal",
    )
    return Cart("CNY", tuple(lines)), profile


def measure(rules: list[Any], quotes: int) -> dict[str, float]:
    started = time.perf_counter()
    book = RuleBook(rules)
    build = time.perf_counter() - started
    carts = [make_cart(seed) for seed in range(50)]
    # A few carts for accounts with contract terms, as real traffic has.
    contract = [r for r in rules if r.who.accounts][:10]
    for i, rule in enumerate(contract):
        cart, profile = carts[i]
        extra = CartLine("21", next(iter(rule.what.products)), Decimal(30), Decimal("99.00"), (1, CATEGORIES + 1))
        carts[i] = (
            Cart("CNY", (*cart.lines[:19], extra)),
            AccountProfile(account=next(iter(rule.who.accounts)), classes=profile.classes),
        )
    times = []
    candidates = []
    for n in range(quotes):
        cart, profile = carts[n % len(carts)]
        t0 = time.perf_counter()
        q = price_cart(cart, book, profile, now=NOW)
        times.append(time.perf_counter() - t0)
        candidates.append(len(q.outcomes))
    times.sort()
    return {
        "build_ms": build * 1000,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95)] * 1000,
        "rules_considered_mean": statistics.mean(candidates),
    }


def main(quotes: int = 3000) -> dict[str, Any]:
    shared = shared_rules(100)
    books = {
        "100 rules": shared,
        "10,000 rules": shared + scaled_rules(9_900),
        # Denser: 2,000 segment rules, so that many more of them concern each cart.
        "10,000 rules, 2,000 for segments": shared_rules(2_000) + scaled_rules(8_000),
    }
    measured = {name: measure(rules, quotes) for name, rules in books.items()}
    figures: dict[str, Any] = {}
    for name, m in measured.items():
        for key, value in m.items():
            figures[f"{name}: {key}"] = round(value, 3)
    figures["ratio p50 10,000 / 100"] = round(measured["10,000 rules"]["p50_ms"] / measured["100 rules"]["p50_ms"], 2)
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quotes", type=int, default=3000)
    args = parser.parse_args()
    for key, value in main(args.quotes).items():
        print(f"{key:40} {value}")
