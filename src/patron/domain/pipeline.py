"""Key-account opportunities as rules: their stages, which moves are allowed, how long each stage took, and
what the pipeline is worth.

An opportunity goes through four open stages (qualification, needs analysis, proposal or quote,
negotiation) to one of two closed ones: won or lost. It may move between open stages in either
direction and close from any of them; a closed one only reopens to an open stage (won straight to
lost, or back, is two moves). Lost needs a reason. Moving to the stage it is in changes nothing.

Each stage has a default probability; the forecast weighs an open opportunity's amount by its
probability, counts a won one in full and a lost one not at all.

Data in, data out: ``now`` and ``today`` are arguments, amounts are ``Decimal`` in one currency
(the caller converts), no clock and no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from .explain import Reason
from .money import quantize

QUALIFICATION, NEEDS_ANALYSIS, PROPOSAL, NEGOTIATION = "qualification", "needs_analysis", "proposal", "negotiation"
WON, LOST = "won", "lost"
OPEN_STAGES: tuple[str, ...] = (QUALIFICATION, NEEDS_ANALYSIS, PROPOSAL, NEGOTIATION)
CLOSED_STAGES: tuple[str, ...] = (WON, LOST)
STAGES: tuple[str, ...] = OPEN_STAGES + CLOSED_STAGES
DEFAULT_PROBABILITY: dict[str, int] = {
    QUALIFICATION: 10,
    NEEDS_ANALYSIS: 25,
    PROPOSAL: 50,
    NEGOTIATION: 75,
    WON: 100,
    LOST: 0,
}
MAX_REASON = 300


def is_open(stage: str) -> bool:
    return stage in OPEN_STAGES


def stage_order(stage: str) -> int:
    """The stage's place on the board (qualification first, lost last); unknown stages after all."""
    return STAGES.index(stage) if stage in STAGES else len(STAGES)


# --- moves -----------------------------------------------------------------------------------------------------

UNKNOWN_STAGE = "UNKNOWN_STAGE"
SAME_STAGE = "SAME_STAGE"
CLOSED_TO_CLOSED = "CLOSED_TO_CLOSED"
REASON_REQUIRED = "LOST_REASON_REQUIRED"
BAD_PROBABILITY = "BAD_PROBABILITY"


@dataclass(frozen=True, slots=True)
class Move:
    """What moving an opportunity from ``current`` to ``target`` does.

    ``allowed`` False: ``reasons`` say why. ``changed`` False: it is there already (nothing to do).
    ``probability`` is the one to keep after the move; ``closes`` and ``reopens`` say what happens
    to the closing date.
    """

    allowed: bool
    changed: bool
    probability: int
    closes: bool = False
    reopens: bool = False
    reasons: tuple[Reason, ...] = ()


def check_move(
    current: str, target: str, *, probability: int | None = None, lost_reason: str = "", current_probability: int = 0
) -> Move:
    """May an opportunity in ``current`` move to ``target``; with what probability afterwards?

    A probability given is kept for an open stage (0 to 100); won is always 100 and lost 0.
    Moving to the same stage is allowed and changes nothing (``changed`` False).
    """
    reasons: list[Reason] = []
    if target not in STAGES:
        return Move(False, False, current_probability, reasons=(Reason(UNKNOWN_STAGE, {"stage": target}),))
    if target == current:
        return Move(True, False, current_probability, reasons=(Reason(SAME_STAGE, {"stage": target}),))
    if current in CLOSED_STAGES and target in CLOSED_STAGES:
        reasons.append(Reason(CLOSED_TO_CLOSED, {"from": current, "to": target}))
    if target == LOST and not lost_reason.strip():
        reasons.append(Reason(REASON_REQUIRED))
    if probability is not None and not 0 <= probability <= 100:
        reasons.append(Reason(BAD_PROBABILITY, {"probability": probability}))
    if reasons:
        return Move(False, False, current_probability, reasons=tuple(reasons))
    kept = DEFAULT_PROBABILITY[target] if target in CLOSED_STAGES or probability is None else probability
    return Move(
        True,
        True,
        kept,
        closes=target in CLOSED_STAGES,
        reopens=current in CLOSED_STAGES and target in OPEN_STAGES,
    )


# --- time in each stage ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageStep:
    """One recorded change of stage: at ``at`` it went from ``from_stage`` to ``to_stage``."""

    at: dt.datetime
    from_stage: str
    to_stage: str


@dataclass(frozen=True, slots=True)
class StageSpan:
    """A stretch of time spent in one stage; ``end`` None: it is still there (up to ``now``)."""

    stage: str
    start: dt.datetime
    end: dt.datetime | None
    duration: dt.timedelta


def stage_spans(
    created: dt.datetime, first_stage: str, steps: Sequence[StageStep], *, now: dt.datetime
) -> list[StageSpan]:
    """The stretches of an opportunity's life, stage by stage, from ``created`` to ``now``.

    Steps are taken in time order; a step dated before the one before it (clocks differ) or after
    ``now`` counts as happening at that bound, so the stretches never overlap and add up to its age.
    The stage after each step is the step's ``to_stage`` (a step's ``from_stage`` is informational).
    """
    end_of_life = max(now, created)
    spans: list[StageSpan] = []
    stage, start = first_stage, created
    for step in sorted(steps, key=lambda s: s.at):
        at = min(max(step.at, start), end_of_life)
        spans.append(StageSpan(stage, start, at, at - start))
        stage, start = step.to_stage, at
    spans.append(StageSpan(stage, start, None, end_of_life - start))
    return [s for s in spans if s.duration > dt.timedelta(0) or s.end is None]


def time_in_stages(spans: Iterable[StageSpan]) -> dict[str, dt.timedelta]:
    """Total time per stage (a stage visited twice adds up), in board order."""
    totals: dict[str, dt.timedelta] = {}
    for span in spans:
        totals[span.stage] = totals.get(span.stage, dt.timedelta(0)) + span.duration
    return dict(sorted(totals.items(), key=lambda item: stage_order(item[0])))


def average_time_in_stages(per_opportunity: Iterable[dict[str, dt.timedelta]]) -> dict[str, dt.timedelta]:
    """The mean time per stage over the opportunities that spent any time in it."""
    sums: dict[str, dt.timedelta] = {}
    counts: dict[str, int] = {}
    for totals in per_opportunity:
        for stage, spent in totals.items():
            sums[stage] = sums.get(stage, dt.timedelta(0)) + spent
            counts[stage] = counts.get(stage, 0) + 1
    means = {stage: sums[stage] / counts[stage] for stage in sums}
    return dict(sorted(means.items(), key=lambda item: stage_order(item[0])))


# --- forecast --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Deal:
    """What the forecast reads of one opportunity; ``amount`` in the forecast's currency."""

    amount: Decimal
    stage: str
    probability: int
    expected_close: dt.date
    owner: str = ""
    closed_on: dt.date | None = None  # when it was won or lost


def weighted(deal: Deal, currency: str) -> Decimal:
    """What the deal is expected to bring: won in full, lost nothing, open ones by their probability."""
    if deal.stage == WON:
        return quantize(deal.amount, currency)
    if deal.stage not in OPEN_STAGES:
        return Decimal(0)
    return quantize(deal.amount * Decimal(deal.probability) / 100, currency)


def is_overdue(stage: str, expected_close: dt.date, today: dt.date) -> bool:
    """An open opportunity whose expected close is past."""
    return stage in OPEN_STAGES and expected_close < today


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_from(today: dt.date, count: int) -> list[dt.date]:
    """The first days of ``count`` months from today's."""
    out, month = [], month_of(today)
    for _ in range(max(count, 0)):
        out.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)
    return out


@dataclass
class ForecastLine:
    """Opportunities of one group: how many, the open amount, what was won, and the weighted total."""

    count: int = 0
    open_amount: Decimal = Decimal(0)
    won: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    overdue: int = 0

    @property
    def best_case(self) -> Decimal:
        """Everything open won, with what is won already."""
        return self.open_amount + self.won


K = TypeVar("K", bound=Hashable)


def _add(line: ForecastLine, deal: Deal, currency: str, today: dt.date | None) -> None:
    line.count += 1
    line.weighted += weighted(deal, currency)
    if deal.stage == WON:
        line.won += quantize(deal.amount, currency)
    else:
        line.open_amount += quantize(deal.amount, currency)
        if today is not None and is_overdue(deal.stage, deal.expected_close, today):
            line.overdue += 1


def forecast_by(
    deals: Iterable[Deal], key: Callable[[Deal], K], *, currency: str, today: dt.date | None = None
) -> dict[K, ForecastLine]:
    """Forecast lines grouped by ``key`` (an owner, a stage); lost opportunities are left out."""
    lines: dict[K, ForecastLine] = {}
    for deal in deals:
        if deal.stage not in OPEN_STAGES and deal.stage != WON:
            continue
        _add(lines.setdefault(key(deal), ForecastLine()), deal, currency, today)
    return lines


def close_month(deal: Deal, today: dt.date) -> dt.date:
    """The month a deal counts in: a won one when it was won, an open one when it is expected to close
    (this month if that is past: it is still expected, only late)."""
    if deal.stage == WON and deal.closed_on is not None:
        return month_of(deal.closed_on)
    if deal.stage in OPEN_STAGES and deal.expected_close < today:
        return month_of(today)
    return month_of(deal.expected_close)


@dataclass(frozen=True)
class Forecast:
    months: list[tuple[dt.date, ForecastLine]]
    by_stage: list[tuple[str, ForecastLine]]
    total: ForecastLine = field(default_factory=ForecastLine)


def forecast(deals: Iterable[Deal], *, today: dt.date, months: int, currency: str) -> Forecast:
    """The weighted forecast for ``months`` months from today's, month by month and by stage.

    Only deals that count in one of those months are in it (won ones won in them, open ones
    expected to close in them or overdue); lost ones never are.
    """
    window = months_from(today, months)
    wanted = set(window)
    kept = [d for d in deals if (d.stage in OPEN_STAGES or d.stage == WON) and close_month(d, today) in wanted]
    by_month = forecast_by(kept, lambda d: close_month(d, today), currency=currency, today=today)
    by_stage = forecast_by(kept, lambda d: d.stage, currency=currency, today=today)
    total = ForecastLine()
    for deal in kept:
        _add(total, deal, currency, today)
    return Forecast(
        months=[(m, by_month.get(m, ForecastLine())) for m in window],
        by_stage=sorted(by_stage.items(), key=lambda item: stage_order(item[0])),
        total=total,
    )
