"""The credit check on a new order: does it keep the account within its credit limit?

An account's *exposure* is what it owes on open invoices plus what it has ordered (confirmed)
and not yet been invoiced for, both in the company currency. The order being confirmed is
added to it. Against the limit:

- no limit set (zero): nothing to check, the outcome is *ok*;
- the exposure after the order exceeds the limit: *block*, until finance approves an override
  for exactly this order (or, where the company only warns, *warn*);
- the order brings the exposure to ``warn_at`` of the limit or more: *warn*;
- anything overdue: *warn*, with the amount and the oldest invoice's days late, whatever the limit;
- open amounts in a currency without an exchange rate cannot be counted: *warn*, naming them.

Every outcome carries its reasons (``Reason``), translated at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .explain import Reason

OVER_LIMIT = "OVER_LIMIT"
NEAR_LIMIT = "NEAR_LIMIT"
OVERDUE = "OVERDUE"
RATE_MISSING = "RATE_MISSING"
NO_LIMIT = "NO_LIMIT"
WITHIN_LIMIT = "WITHIN_LIMIT"

WARN_AT = Decimal("0.9")


class Outcome(StrEnum):
    OK = "ok"
    WARN = "warn"
    BLOCK = "block"


_SEVERITY = {Outcome.OK: 0, Outcome.WARN: 1, Outcome.BLOCK: 2}


@dataclass(frozen=True, slots=True)
class CreditPosition:
    """What the account owes and has on order, in the company currency, before this order."""

    limit: Decimal
    open_invoices: Decimal
    uninvoiced_orders: Decimal
    overdue: Decimal = Decimal(0)
    oldest_overdue_days: int = 0
    uncounted_currencies: tuple[str, ...] = ()

    @property
    def exposure(self) -> Decimal:
        return self.open_invoices + self.uninvoiced_orders

    @property
    def over_limit(self) -> Decimal:
        """How far over its limit the account already is (zero within it, or without a limit)."""
        return max(Decimal(0), self.exposure - self.limit) if self.limit > 0 else Decimal(0)

    @property
    def available(self) -> Decimal | None:
        """What can still be ordered before the limit; None without a limit."""
        return None if self.limit <= 0 else self.limit - self.exposure


@dataclass(frozen=True, slots=True)
class CreditCheck:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    exposure_after: Decimal
    over_by: Decimal  # zero unless over the limit

    @property
    def blocked(self) -> bool:
        return self.outcome is Outcome.BLOCK


def check_order(
    position: CreditPosition, order_amount: Decimal, *, block: bool = True, warn_at: Decimal = WARN_AT
) -> CreditCheck:
    """The verdict on an order of ``order_amount`` (company currency). ``block=False``: over the limit only warns."""
    if order_amount < 0:
        raise ValueError("order_amount must not be negative")
    if not Decimal(0) < warn_at <= 1:
        raise ValueError("warn_at must be in (0, 1]")
    after = position.exposure + order_amount
    reasons: list[Reason] = []
    outcome = Outcome.OK
    over_by = Decimal(0)

    def worse(new: Outcome) -> None:
        nonlocal outcome
        if _SEVERITY[new] > _SEVERITY[outcome]:
            outcome = new

    limit = position.limit
    if limit <= 0:
        reasons.append(Reason(NO_LIMIT))
    elif after > limit:
        over_by = after - limit
        reasons.append(Reason(OVER_LIMIT, {"limit": limit, "exposure": after, "over_by": over_by}))
        worse(Outcome.BLOCK if block else Outcome.WARN)
    else:
        used = after / limit
        params = {"limit": limit, "exposure": after, "available": limit - after, "percent": _percent(used)}
        if used >= warn_at:
            reasons.append(Reason(NEAR_LIMIT, params))
            worse(Outcome.WARN)
        else:
            reasons.append(Reason(WITHIN_LIMIT, params))
    if position.overdue > 0:
        reasons.append(Reason(OVERDUE, {"amount": position.overdue, "days": position.oldest_overdue_days}))
        worse(Outcome.WARN)
    if position.uncounted_currencies and limit > 0:  # without a limit there is nothing they could go over
        reasons.append(Reason(RATE_MISSING, {"currencies": ", ".join(position.uncounted_currencies)}))
        worse(Outcome.WARN)
    return CreditCheck(outcome, tuple(reasons), after, over_by)


def _percent(share: Decimal) -> int:
    return int((share * 100).to_integral_value())
