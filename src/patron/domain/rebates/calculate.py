"""What a period's volume earns under a program's terms, with every step explained.

``rebate_for`` is the one calculation: the accrual shown while a period is open, the
forecast, partial and final settlement and the customer's statement all call it, so they
cannot disagree. Rounding (``patron.domain.money`` rule 8): the rebate is worked out
exactly and rounded half-up to the currency's minor unit once; incremental bands share
that rounded total in proportion to their exact amounts (rule 5), so they add up to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from patron.domain.explain import Reason
from patron.domain.money import Money, allocate, quantize

from .terms import RebateTerms, Tier

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Volume:
    """What an account bought in a period, net of returns, in the program's currency."""

    amount: Decimal = ZERO  # net sales
    quantity: Decimal = ZERO
    profit: Decimal = ZERO  # net sales less unit cost

    def __add__(self, other: Volume) -> Volume:
        return Volume(self.amount + other.amount, self.quantity + other.quantity, self.profit + other.profit)

    def __sub__(self, other: Volume) -> Volume:
        return Volume(self.amount - other.amount, self.quantity - other.quantity, self.profit - other.profit)

    def scale(self, basis: str) -> Decimal:
        """The volume tiers are measured in."""
        return self.quantity if basis == "quantity" else self.profit if basis == "profit" else self.amount

    def value(self, basis: str) -> Decimal:
        """What a percent applies to: gross profit for a profit basis, net sales otherwise."""
        return self.profit if basis == "profit" else self.amount

    def times(self, factor: Decimal) -> Volume:
        return Volume(self.amount * factor, self.quantity * factor, self.profit * factor)


@dataclass(frozen=True, slots=True)
class Band:
    """One tier's share of the rebate: in retroactive terms the one tier reached, in incremental each."""

    index: int  # 1-based
    start: Decimal
    end: Decimal | None  # where the next tier starts
    volume: Decimal  # of the scale, within the band (retroactive: all of it)
    base: Decimal  # the value its percent applies to
    percent: Decimal | None
    fixed: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RebateResult:
    currency: str
    basis: str
    mode: str
    volume: Volume
    scale: Decimal
    tier: int  # the highest tier reached, 1-based; 0: none
    bands: tuple[Band, ...]
    uncapped: Money
    amount: Money
    reasons: tuple[Reason, ...]
    next_tier: Reason | None

    @property
    def percent(self) -> Decimal | None:
        """The rate of the tier reached (for fixed tiers: none)."""
        return self.bands[-1].percent if self.bands else None

    @property
    def effective_percent(self) -> Decimal:
        """What the rebate is of the value, in percent, to 2 places: how generous it really was."""
        value = self.volume.value(self.basis)
        if value <= 0:
            return ZERO
        return quantize(self.amount.amount * HUNDRED / value, "CNY")


def _missing(terms: RebateTerms, gap: Decimal, currency: str) -> Decimal | Money:
    return gap if terms.basis == "quantity" else Money(gap, currency)


def _next_step(terms: RebateTerms, scale: Decimal, currency: str) -> Reason | None:
    """The next point where the rebate grows: the threshold, or the next tier's start."""
    steps = [t for t in terms.tiers if t.start > scale]
    target: Decimal | None = None
    tier: Tier | None = None
    if scale < terms.threshold:
        target = max(terms.threshold, terms.tiers[0].start)
        tier = [t for t in terms.tiers if t.start <= target][-1]
    elif steps:
        target, tier = steps[0].start, steps[0]
    if target is None or tier is None:
        return None
    params: dict[str, object] = {
        "index": terms.tiers.index(tier) + 1,
        "basis": terms.basis,
        "missing": _missing(terms, target - scale, currency),
    }
    if tier.percent is not None:
        params["percent"] = tier.percent
    else:
        params["amount"] = Money(tier.amount or ZERO, currency)
    return Reason("NEXT_TIER", params)


def rebate_for(terms: RebateTerms, volume: Volume, currency: str) -> RebateResult:
    """The rebate ``volume`` earns under ``terms``, explained: tier, bands, cap, what is missing."""
    basis = terms.basis
    scale = volume.scale(basis)
    value = volume.value(basis)
    reasons: list[Reason] = []
    next_tier = _next_step(terms, scale, currency)

    def result(tier: int, bands: tuple[Band, ...], uncapped: Decimal, amount: Decimal) -> RebateResult:
        return RebateResult(
            currency=currency,
            basis=basis,
            mode=terms.mode,
            volume=volume,
            scale=scale,
            tier=tier,
            bands=bands,
            uncapped=Money(uncapped, currency),
            amount=Money(amount, currency),
            reasons=tuple(reasons),
            next_tier=next_tier,
        )

    if scale <= 0:
        reasons.append(Reason("NO_VOLUME"))
        return result(0, (), ZERO, ZERO)
    if scale < terms.threshold:
        reasons.append(Reason("BELOW_THRESHOLD", {"missing": _missing(terms, terms.threshold - scale, currency)}))
        return result(0, (), ZERO, ZERO)
    reached = [t for t in terms.tiers if t.start <= scale]
    if not reached:
        first = terms.tiers[0]
        reasons.append(Reason("BELOW_FIRST_TIER", {"missing": _missing(terms, first.start - scale, currency)}))
        return result(0, (), ZERO, ZERO)
    tiers = terms.tiers
    exact: list[
        tuple[Tier, int, Decimal | None, Decimal, Decimal, Decimal]
    ] = []  # tier, index, end, volume, base, exact
    if terms.mode == "retroactive":
        top = reached[-1]
        index = len(reached)
        end = tiers[index].start if index < len(tiers) else None
        if top.percent is not None:
            exact.append((top, index, end, scale, value, value * top.percent / HUNDRED))
        else:
            exact.append((top, index, end, scale, value, top.amount or ZERO))
    else:
        for i, t in enumerate(reached):
            end = tiers[i + 1].start if i + 1 < len(tiers) else None
            band = (min(scale, end) if end is not None else scale) - t.start
            if t.percent is not None:
                # On a quantity basis a band's value is its share of the units at the period's average price.
                base = band if basis != "quantity" else value * band / scale
                exact.append((t, i + 1, end, band, base, base * t.percent / HUNDRED))
            else:
                exact.append((t, i + 1, end, band, ZERO, t.amount or ZERO))
    total_exact = sum((e[5] for e in exact), ZERO)
    uncapped = quantize(max(total_exact, ZERO), currency)
    shares = allocate(Money(uncapped, currency), [max(e[5], ZERO) for e in exact])
    bands = tuple(
        Band(
            index=index,
            start=t.start,
            end=end,
            volume=band,
            base=base,
            percent=t.percent,
            fixed=t.amount,
            amount=share.amount,
        )
        for (t, index, end, band, base, _), share in zip(exact, shares, strict=True)
    )
    amount = uncapped
    reasons.append(Reason("TIER_REACHED", {"index": len(reached), "mode": terms.mode}))
    if terms.cap is not None and uncapped > terms.cap:
        amount = quantize(terms.cap, currency)
        reasons.append(Reason("CAPPED", {"cap": Money(amount, currency), "uncapped": Money(uncapped, currency)}))
    return result(len(reached), bands, uncapped, amount)


@dataclass(frozen=True, slots=True)
class Forecast:
    """The period's end foreseen from its run rate so far."""

    volume: Volume
    result: RebateResult
    elapsed_days: int
    period_days: int
    method: str = "run_rate"  # or "expected_purchases": the segments' purchase model


def forecast_rebate(
    terms: RebateTerms, volume: Volume, currency: str, *, elapsed_days: int, period_days: int
) -> Forecast:
    """Linear run rate: what was bought per day so far, over the whole period."""
    if period_days <= 0:
        raise ValueError("a period has at least one day")
    elapsed = min(max(elapsed_days, 1), period_days)
    projected = volume.times(Decimal(period_days) / Decimal(elapsed))
    projected = Volume(
        quantize(projected.amount, currency),
        projected.quantity.quantize(Decimal("0.001")),
        quantize(projected.profit, currency),
    )
    return Forecast(projected, rebate_for(terms, projected, currency), elapsed, period_days)


def forecast_expected(
    terms: RebateTerms,
    volume: Volume,
    currency: str,
    *,
    expected_amount: Decimal,
    elapsed_days: int,
    period_days: int,
) -> Forecast:
    """What was bought so far plus what the purchase model expects in the rest of the period. The model
    speaks of net sales; units and profit follow in the proportion bought so far (nothing so far: none)."""
    extra = max(expected_amount, ZERO)
    quantity = volume.quantity / volume.amount * extra if volume.amount > 0 else ZERO
    profit = volume.profit / volume.amount * extra if volume.amount > 0 else ZERO
    projected = Volume(
        quantize(volume.amount + extra, currency),
        (volume.quantity + quantity).quantize(Decimal("0.001")),
        quantize(volume.profit + profit, currency),
    )
    result = rebate_for(terms, projected, currency)
    elapsed = min(max(elapsed_days, 1), period_days)
    return Forecast(projected, result, elapsed, period_days, method="expected_purchases")
