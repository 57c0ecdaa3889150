"""What a program cost against the margin it rewarded, and what changed terms would have cost.

``replay`` takes each account's volume in each past period with the terms it had and the
terms proposed, and answers the question a manager asks before changing a program: "had
these tiers applied, they would have cost X and paid Y accounts", beside what the program
as it stands cost, per tier and per period, and which accounts gain or lose most.

Rebate cost is set against the margin (gross profit) of the volume it rewards: a program
that pays 40% of the margin it rewards is a different decision from one that pays 4%.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from patron.domain.explain import Reason
from patron.domain.money import Money

from .calculate import ZERO, Volume, rebate_for
from .terms import RebateTerms

TENTH = Decimal("0.1")


def share(part: Decimal, whole: Decimal) -> Decimal | None:
    """``part`` as a percent of ``whole``, to one place; none when there is no positive whole."""
    if whole <= 0:
        return None
    return (part / whole * 100).quantize(TENTH, rounding=ROUND_HALF_UP)


@dataclass
class Totals:
    """Account-periods, their sales and margin, and the rebate they earned."""

    cases: int = 0
    paid: int = 0  # account-periods that earned something
    sales: Decimal = ZERO
    margin: Decimal = ZERO
    cost: Decimal = ZERO

    def add(self, volume: Volume, cost: Decimal) -> None:
        self.cases += 1
        self.paid += cost > 0
        self.sales += volume.amount
        self.margin += volume.profit
        self.cost += cost

    @property
    def of_margin(self) -> Decimal | None:
        return share(self.cost, self.margin)

    @property
    def margin_after(self) -> Decimal:
        return self.margin - self.cost


@dataclass(frozen=True, slots=True)
class ReplayCase:
    account: int
    period: dt.date  # the period's first day
    volume: Volume
    current: RebateTerms
    proposed: RebateTerms
    proposed_volume: Volume | None = None  # when the proposed terms count other products


@dataclass(frozen=True, slots=True)
class AccountChange:
    account: int
    now: Decimal
    then: Decimal

    @property
    def difference(self) -> Decimal:
        return self.then - self.now


@dataclass
class Side:
    """One set of terms over all cases: in total, per tier reached and per period."""

    total: Totals = field(default_factory=Totals)
    tiers: dict[int, Totals] = field(default_factory=dict)
    periods: dict[dt.date, Totals] = field(default_factory=dict)
    accounts_paid: int = 0


@dataclass
class Replay:
    currency: str
    accounts: int
    periods: list[dt.date]
    now: Side
    then: Side
    changes: list[AccountChange]  # the largest differences first
    gaining: int  # accounts paid more under the proposed terms
    losing: int

    @property
    def difference(self) -> Decimal:
        return self.then.total.cost - self.now.total.cost

    @property
    def reasons(self) -> tuple[Reason, ...]:
        def money(amount: Decimal) -> Money:
            return Money(amount, self.currency)

        out = [
            Reason(
                "REPLAY_PROPOSED",
                {
                    "cost": money(self.then.total.cost),
                    "accounts": self.then.accounts_paid,
                    "periods": len(self.periods),
                },
            ),
            Reason("REPLAY_CURRENT", {"cost": money(self.now.total.cost), "accounts": self.now.accounts_paid}),
        ]
        if self.difference > 0:
            out.append(Reason("REPLAY_COSTS_MORE", {"amount": money(self.difference), "accounts": self.gaining}))
        elif self.difference < 0:
            out.append(Reason("REPLAY_COSTS_LESS", {"amount": money(-self.difference), "accounts": self.losing}))
        else:
            out.append(Reason("REPLAY_SAME", {}))
        return tuple(out)


def replay(cases: Iterable[ReplayCase], currency: str, *, keep: int = 20) -> Replay:
    """Both sets of terms over the same volumes; ``keep`` accounts with the largest differences are listed."""
    now, then = Side(), Side()
    per_account: dict[int, list[Decimal]] = {}
    periods: set[dt.date] = set()
    for case in cases:
        periods.add(case.period)
        sums = per_account.setdefault(case.account, [ZERO, ZERO])
        proposed_volume = case.volume if case.proposed_volume is None else case.proposed_volume
        sides = ((now, case.current, case.volume), (then, case.proposed, proposed_volume))
        for index, (side, terms, volume) in enumerate(sides):
            result = rebate_for(terms, volume, currency)
            cost = result.amount.amount
            side.total.add(volume, cost)
            side.tiers.setdefault(result.tier, Totals()).add(volume, cost)
            side.periods.setdefault(case.period, Totals()).add(volume, cost)
            sums[index] += cost
    changes = [AccountChange(account, a, b) for account, (a, b) in per_account.items()]
    now.accounts_paid = sum(1 for c in changes if c.now > 0)
    then.accounts_paid = sum(1 for c in changes if c.then > 0)
    changes.sort(key=lambda c: (-abs(c.difference), c.account))
    return Replay(
        currency=currency,
        accounts=len(per_account),
        periods=sorted(periods),
        now=now,
        then=then,
        changes=[c for c in changes[:keep] if c.difference],
        gaining=sum(1 for c in changes if c.difference > 0),
        losing=sum(1 for c in changes if c.difference < 0),
    )
