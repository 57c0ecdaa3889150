"""Did a campaign earn more than it cost? Its numbers, and its uplift against the hold-out group.

The uplift compares the accounts that got a code with those held out, over the same window:
the difference in the share that bought (two proportions) and in spend per account (two means,
Welch's standard error, since the groups differ in size and spread), each with a 95% interval
from the normal approximation. An interval that contains zero says the campaign's effect is
not told apart from chance; a hold-out too small to say anything is said so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from patron.domain.explain import Reason

Z95 = 1.959963984540054
MIN_GROUP = 30  # below this many accounts in a group the normal approximation is not trusted
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Group:
    accounts: int
    buyers: int  # accounts with at least one order in the window
    spend: tuple[Decimal, ...]  # per account, zeros included

    @classmethod
    def of(cls, spend: Sequence[Decimal]) -> Group:
        return cls(len(spend), sum(1 for s in spend if s > 0), tuple(spend))

    @property
    def rate(self) -> float:
        return self.buyers / self.accounts if self.accounts else 0.0

    @property
    def mean(self) -> float:
        return float(sum(self.spend, Decimal(0))) / self.accounts if self.accounts else 0.0

    @property
    def variance(self) -> float:
        if self.accounts < 2:
            return 0.0
        mean = self.mean
        return sum((float(s) - mean) ** 2 for s in self.spend) / (self.accounts - 1)


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    low: float
    high: float

    @property
    def clear(self) -> bool:
        """The interval leaves zero out: an effect told apart from chance."""
        return self.low > 0 or self.high < 0


@dataclass(frozen=True, slots=True)
class Uplift:
    treated: Group
    held_out: Group
    purchase_rate: Estimate | None  # percentage points
    spend_per_account: Estimate | None  # in the campaign's currency
    reasons: tuple[Reason, ...]

    def money(self, value: float) -> Decimal:
        return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _interval(value: float, se: float) -> Estimate:
    return Estimate(value, value - Z95 * se, value + Z95 * se)


def uplift(treated: Group, held_out: Group) -> Uplift:
    if held_out.accounts == 0 or treated.accounts == 0:
        return Uplift(treated, held_out, None, None, (Reason("NO_HOLD_OUT"),))
    reasons: list[Reason] = []
    if min(treated.accounts, held_out.accounts) < MIN_GROUP:
        reasons.append(Reason("SMALL_GROUPS", {"minimum": MIN_GROUP}))
    p1, p2 = treated.rate, held_out.rate
    rate_se = math.sqrt(p1 * (1 - p1) / treated.accounts + p2 * (1 - p2) / held_out.accounts)
    rate = _interval((p1 - p2) * 100, rate_se * 100)
    spend_se = math.sqrt(treated.variance / treated.accounts + held_out.variance / held_out.accounts)
    spend = _interval(treated.mean - held_out.mean, spend_se)
    reasons.append(Reason("UPLIFT_CLEAR" if spend.clear else "UPLIFT_UNCLEAR"))
    return Uplift(treated, held_out, rate, spend, tuple(reasons))


def roi(margin: Decimal, cost: Decimal) -> Decimal | None:
    """What each unit of discount given brought back in margin, less the unit: (margin - cost) / cost."""
    if cost <= 0:
        return None
    return ((margin - cost) / cost).quantize(CENT, rounding=ROUND_HALF_UP)
