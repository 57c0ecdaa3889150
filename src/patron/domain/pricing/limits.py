"""Who must approve a quote's manual discounts: the salesperson's limit, the manager's, the floor.

A manual discount is measured per line as a percent of what the line cost after the
rules (so a 10% manual discount on a line the rules took to 90 is 9.00, and 10%),
and per order as the sum of manual discounts. Within the person's own limit it needs
nobody; beyond it, a sales manager, as far as the manager's limit; beyond that, an
admin. A line below its floor price always needs approval (a manager at least),
whoever priced it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from patron.domain.explain import Reason
from patron.domain.money import Money
from patron.domain.pricing.cart import Cart, Quote

NONE, MANAGER, ADMIN = "", "manager", "admin"
ROLE_LEVEL = {"admin": ADMIN, "sales_manager": MANAGER}
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Limit:
    """``None`` is no limit; a category's percent (for lines in it or below it) wins over ``percent``."""

    percent: Decimal | None
    amount: Decimal | None
    by_category: Mapping[int, Decimal] = field(default_factory=dict)

    def percent_for(self, category_path: tuple[int, ...]) -> Decimal | None:
        for category in category_path:  # nearest first
            if category in self.by_category:
                return self.by_category[category]
        return self.percent


UNLIMITED = Limit(None, None)


@dataclass(frozen=True, slots=True)
class Need:
    level: str  # NONE, MANAGER or ADMIN
    reasons: tuple[Reason, ...] = ()

    def __bool__(self) -> bool:
        return self.level != NONE


def _over(cart: Cart, quote: Quote, limit: Limit) -> list[Reason]:
    found = []
    paths = {ln.key: ln.category_path for ln in cart.lines}
    for line in quote.lines:
        manual = line.manual_amount
        if manual.is_zero():
            continue
        before = line.net_amount.amount + manual.amount
        percent = (manual.amount / before * HUNDRED).quantize(Decimal("0.01"), ROUND_HALF_UP) if before else HUNDRED
        allowed = limit.percent_for(paths.get(line.key, ()))
        if allowed is not None and percent > allowed:
            found.append(Reason("OVER_PERCENT_LIMIT", {"line": line.key, "percent": percent, "limit": allowed}))
    total = quote.manual_total
    if limit.amount is not None and total.amount > limit.amount:
        found.append(Reason("OVER_AMOUNT_LIMIT", {"amount": total, "limit": Money(limit.amount, quote.currency)}))
    return found


def required_approval(cart: Cart, quote: Quote, *, own: Limit, manager: Limit) -> Need:
    """The level whose approval the quote's manual discounts need, and why."""
    floor = [Reason("BELOW_FLOOR", {"line": ln.key, "floor": ln.floor_amount}) for ln in quote.lines if ln.below_floor]
    over_own = _over(cart, quote, own)
    if not over_own and not floor:
        return Need(NONE)
    over_manager = _over(cart, quote, manager)
    if over_manager:
        return Need(ADMIN, tuple(over_own + floor + [Reason("OVER_MANAGER_LIMIT", {"reasons": over_manager})]))
    return Need(MANAGER, tuple(over_own + floor))
