"""Reading opportunities: the ones a user may reach, the board, the forecast, and how long each stage takes.

A salesperson reaches the opportunities of the accounts they own (and any they own themselves), a sales
manager their team's, an admin everyone's: the reach of editing accounts. Amounts add up in the company
currency, converted at the latest rate on or before today; an opportunity in a currency without a rate is
left out of totals (and said to be).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from patron.accounts.access import account_scope, can
from patron.domain import pipeline as rules
from patron.domain.access import Action
from patron.domain.money import Money, convert

from .models import STAGES, Opportunity, StageChange

FORECAST_MONTHS = 6


def may_use_pipeline(user: Any) -> bool:
    return can(user, Action.EDIT_ACCOUNT)


def opportunities_visible(user: Any) -> QuerySet[Opportunity]:
    scope = account_scope(user, Action.EDIT_ACCOUNT, "account__")
    if scope is None:
        return Opportunity.objects.none()
    visible = Opportunity.objects.filter(account__merged_into__isnull=True)
    if not scope:  # everyone's (an empty Q would vanish from an OR)
        return visible
    return visible.filter(scope | Q(owner=user.pk))


def opportunity_list(user: Any, filters: dict[str, Any] | None = None) -> QuerySet[Opportunity]:
    """Filtered by ``stage`` ("open" for every open one), ``owner`` (username), ``account`` (code), ``month``
    (the first day of the expected close month)."""
    qs = opportunities_visible(user).select_related("account", "owner")
    filters = filters or {}
    stage = filters.get("stage")
    if stage == "open":
        qs = qs.filter(stage__in=rules.OPEN_STAGES)
    elif stage:
        qs = qs.filter(stage=stage)
    if filters.get("owner"):
        qs = qs.filter(owner__username=filters["owner"])
    if filters.get("account"):
        qs = qs.filter(account__code=filters["account"])
    month = filters.get("month")
    if isinstance(month, dt.date):
        start = rules.month_of(month)
        qs = qs.filter(expected_close__gte=start, expected_close__lt=rules.months_from(start, 2)[1])
    return qs.order_by("expected_close", "id")


def account_open_opportunities(account: Any) -> list[Opportunity]:
    """The account's open opportunities, soonest close first (shown on the account's page)."""
    return list(
        Opportunity.objects.filter(account=account, stage__in=rules.OPEN_STAGES)
        .select_related("owner")
        .order_by("expected_close", "id")[:10]
    )


class Rates:
    """Company-currency amounts, one rate query per currency at most."""

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.currency = settings.PATRON_COMPANY_CURRENCY
        self._rates: dict[str, Decimal | None] = {}

    def convert(self, amount: Decimal, currency: str) -> Decimal | None:
        from patron.sales.selectors import rate_on

        if currency == self.currency:
            return amount
        if currency not in self._rates:
            self._rates[currency] = rate_on(currency, self.day)
        rate = self._rates[currency]
        return None if rate is None else convert(Money(amount, currency), rate, self.currency).amount


@dataclass
class Column:
    stage: str
    label: str
    cards: list[Opportunity] = field(default_factory=list)
    amount: Decimal = Decimal(0)
    weighted: Decimal = Decimal(0)
    unconverted: int = 0


def board(user: Any, *, owner: str = "", today: dt.date | None = None) -> list[Column]:
    """A column per open stage with its opportunities (soonest close first) and totals in the company currency;
    then won and lost, with those closed in the last 30 days."""
    today = today or timezone.localdate()
    rates = Rates(today)
    labels = dict(STAGES)
    columns = {stage: Column(stage, str(labels[stage])) for stage in rules.STAGES}
    recent = timezone.now() - dt.timedelta(days=30)
    qs = opportunities_visible(user).filter(Q(stage__in=rules.OPEN_STAGES) | Q(closed_at__gte=recent))
    if owner:
        qs = qs.filter(owner__username=owner)
    for opp in qs.select_related("account", "owner").order_by("expected_close", "id"):
        column = columns[opp.stage]
        column.cards.append(opp)
        amount = rates.convert(opp.amount, opp.currency)
        if amount is None:
            column.unconverted += 1
            continue
        column.amount += amount
        deal = rules.Deal(amount, opp.stage, opp.probability, opp.expected_close)
        column.weighted += rules.weighted(deal, rates.currency)
    return [columns[stage] for stage in rules.STAGES]


def _deals(qs: QuerySet[Opportunity], rates: Rates, tz: Any) -> tuple[list[rules.Deal], int]:
    deals, unconverted = [], 0
    rows = qs.values_list(
        "amount", "currency", "stage", "probability", "expected_close", "owner__username", "closed_at"
    ).order_by()
    for amount, currency, stage, probability, close, owner, closed_at in rows:
        converted = rates.convert(amount, currency)
        if converted is None:
            unconverted += 1
            continue
        closed_on = timezone.localtime(closed_at, tz).date() if closed_at else None
        deals.append(rules.Deal(converted, stage, probability, close, owner or "", closed_on))
    return deals, unconverted


@dataclass
class ForecastView:
    currency: str
    forecast: rules.Forecast
    by_owner: list[tuple[str, rules.ForecastLine]]
    unconverted: int


def forecast(user: Any, *, months: int = FORECAST_MONTHS, today: dt.date | None = None) -> ForecastView:
    """The weighted forecast for the next ``months`` months, by month, stage and owner, in the company currency.

    Reads the open opportunities and those won in the window, in one query (and one per foreign currency).
    """
    today = today or timezone.localdate()
    window = rules.months_from(today, months)
    end = rules.months_from(window[-1], 2)[1] if window else today
    start_moment = timezone.make_aware(dt.datetime.combine(window[0] if window else today, dt.time.min))
    qs = opportunities_visible(user).filter(
        Q(stage__in=rules.OPEN_STAGES, expected_close__lt=end) | Q(stage=rules.WON, closed_at__gte=start_moment)
    )
    rates = Rates(today)
    deals, unconverted = _deals(qs, rates, timezone.get_current_timezone())
    result = rules.forecast(deals, today=today, months=months, currency=rates.currency)
    wanted = {m for m, _line in result.months}
    kept = [d for d in deals if rules.close_month(d, today) in wanted]
    owners = rules.forecast_by(kept, lambda d: d.owner, currency=rates.currency, today=today)
    return ForecastView(
        currency=rates.currency,
        forecast=result,
        by_owner=sorted(owners.items(), key=lambda item: (-item[1].weighted, item[0])),
        unconverted=unconverted,
    )


def _spans(opportunity: Opportunity, changes: list[StageChange], now: dt.datetime) -> list[rules.StageSpan]:
    first = changes[0].to_stage if changes and not changes[0].from_stage else opportunity.stage
    steps = [rules.StageStep(c.at, c.from_stage, c.to_stage) for c in changes if c.from_stage]
    return rules.stage_spans(opportunity.created_at, first, steps, now=now)


def stage_history(opportunity: Opportunity, *, now: dt.datetime | None = None) -> list[tuple[StageChange, Any]]:
    """Each recorded change with how long the opportunity then stayed in the stage it went to."""
    now = now or timezone.now()
    changes = list(opportunity.stage_changes.select_related("by").order_by("at", "id"))
    out = []
    for i, change in enumerate(changes):
        following = changes[i + 1].at if i + 1 < len(changes) else now
        out.append((change, max(min(following, now) - change.at, dt.timedelta(0))))
    return out


def time_in_stages(opportunity: Opportunity, *, now: dt.datetime | None = None) -> list[tuple[str, str, Any]]:
    """(stage, label, total time) for each stage the opportunity has been in, in board order."""
    now = now or timezone.now()
    changes = list(opportunity.stage_changes.order_by("at", "id"))
    labels = dict(STAGES)
    totals = rules.time_in_stages(_spans(opportunity, changes, now))
    return [(stage, str(labels.get(stage, stage)), spent) for stage, spent in totals.items()]


def average_time_in_stages(user: Any, *, now: dt.datetime | None = None) -> list[tuple[str, str, Any]]:
    """The mean time the user's opportunities spent in each stage they went through (open stages only:
    a closed stage lasts for ever), in two queries."""
    now = now or timezone.now()
    opportunities = {o.pk: o for o in opportunities_visible(user).only("id", "stage", "created_at")}
    changes: dict[int, list[StageChange]] = defaultdict(list)
    for change in StageChange.objects.filter(opportunity__in=opportunities_visible(user)).order_by(
        "opportunity_id", "at", "id"
    ):
        changes[change.opportunity_id].append(change)
    totals = []
    for pk, opportunity in opportunities.items():
        spent = rules.time_in_stages(_spans(opportunity, changes.get(pk, []), now))
        totals.append({s: t for s, t in spent.items() if s in rules.OPEN_STAGES})
    labels = dict(STAGES)
    return [(s, str(labels[s]), t) for s, t in rules.average_time_in_stages(totals).items()]


def owners_to_filter(user: Any) -> list[tuple[str, str]]:
    """The people whose opportunities the user sees, for the filters."""
    from patron.staff.models import User

    ids = opportunities_visible(user).values("owner")
    return [(u.username, u.display_name()) for u in User.objects.filter(pk__in=ids).order_by("username")]
