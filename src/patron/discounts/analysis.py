"""What a discount policy would have cost (what-if) and what it did (effect): reads, computations, the run service.

What-if
=======
A policy (a draft, or any other) is replayed against the confirmed orders of a past
period. Every order is priced again by the pricing engine, as it stands now, at the
order's own moment (its confirmation time if that was on the order date, else noon
of the order date) and channel, at the list prices on its lines, twice:

* with the **current rules**: the rules of every active policy not yet ended, other
  than the one replayed (so a policy that is already active counts once);
* with the current rules **plus the policy's rules**, as if it had been in force
  throughout the period.

Policy dates (effective from / to) are set aside for both, since the question is
"what if these rules had been in force then"; the rules' own conditions (days, hours,
channel, thresholds, their own dates) are judged at each order's moment. Manual
discounts are not replayed: they are in the actual figures only.

Each order falls in the class of the chosen classification that its account was in,
as of the order's date or as of the period's last day (the run says which); the same
classes are what rules that target classes see. Per class: orders, list amount, the
discount actually given (list amount less the lines' net amounts, so manual discounts
and whatever priced the order then), the discount with the current rules and with the
policy, and the margin (net less quantity x the product's unit cost now) of each; the
margins are net of returns (the kept share of each returned line). Amounts are in the
company currency, converted per order at the rate of its date; orders in a currency
with no rate are counted apart.

The replay reads orders and lines in chunks with ``values_list`` (no model instance per
line), builds each account's profile once (regions from the tree, classes from the
memberships in one query) and prices with one rule book; a large period is split over
the machine's cores (``PATRON_WHATIF_PROCESSES``, forked workers that read their own
chunks). A small period (up to ``PATRON_WHATIF_INLINE_LINES`` lines, 20,000) is replayed
while the user waits; a larger one on the background queue, with progress.

Effect
======
For an active or archived policy: its **period** runs from its effective date (or the
day it was activated) to its end or today; **before** is as many days just before
that. Accounts are **targeted** when one of the policy's rules is for them by its
"who" (region with everything below it, industry, classes and stage as of the first
day, tags, named accounts, new customers) or when they got a discount from the policy;
the **comparison group** is every other account with orders in either period. For each
group and period: accounts with orders, orders, sales and margin (net of returns), and
the policy's discount. The difference-in-differences compares the change in sales,
margin and orders per account of the targeted accounts with that of the comparison
group, both over accounts with orders in both periods; a second figure weighs the
comparison group's change by the targeted accounts' mix of province and industry.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import itertools
import logging
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Context as DecimalContext
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import connection, connections, transaction
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from patron.accounts.access import can, role_of
from patron.accounts.models import Account, Region
from patron.audit.models import AuditEvent
from patron.audit.services import audit_record
from patron.core.errors import Conflict, FieldErrors
from patron.core.trees import id_paths
from patron.domain.access import Action, Role
from patron.domain.money import ROUNDING, UNIT_PRICE_PLACES, MoneyError, quantize, quantum
from patron.domain.periods import PeriodKind, period_containing, previous_period
from patron.domain.pricing import AccountProfile, Cart, CartLine, Quote, Rule, RuleBook, price_cart
from patron.domain.pricing.rules import Who
from patron.sales.models import Category, ExchangeRate, Order, OrderLine, Product, ReturnLine
from patron.segments.models import Classification, Membership

from .mappers import LIFECYCLE, build_rules
from .models import AppliedDiscount, Policy, WhatIfRun

logger = logging.getLogger(__name__)

ZERO = Decimal(0)
ONE = Decimal(1)
# A what-if over at most this many order lines is replayed while the user waits.
INLINE_LINES = 20_000
# Orders per chunk read and priced at once (and between two progress saves).
CHUNK_ORDERS = 4_000
# Below this many lines one process replays everything (forking costs more than it saves).
PARALLEL_LINES = 150_000
MAX_DAYS = 3 * 366
# A running replay with no progress for this long has lost its worker; a queued one nobody took, given up.
STALL_SECONDS = 900
QUEUE_SECONDS = 24 * 3600
READERS = frozenset({Role.ADMIN, Role.SALES_MANAGER, Role.FINANCE})


# --- who may ------------------------------------------------------------------------------------------------


def may_run_what_if(user: Any) -> bool:
    """Replaying a policy is part of writing policies (``EDIT_DISCOUNTS``)."""
    return can(user, Action.EDIT_DISCOUNTS)


def may_read_analysis(user: Any) -> bool:
    """What-if results and effects (company-wide figures): admins, sales managers and finance."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return role_of(user) in READERS


def require_runner(user: Any) -> None:
    if not may_run_what_if(user):
        raise PermissionDenied(Action.EDIT_DISCOUNTS.value)


def require_reader(user: Any) -> None:
    if not may_read_analysis(user):
        raise PermissionDenied("read_discount_analysis")


# --- settings -----------------------------------------------------------------------------------------------


def inline_limit() -> int:
    return int(
        getattr(settings, "PATRON_WHATIF_INLINE_LINES", os.environ.get("PATRON_WHATIF_INLINE_LINES", INLINE_LINES))
    )


def process_count() -> int:
    default = min(2, os.cpu_count() or 1)
    return max(1, int(getattr(settings, "PATRON_WHATIF_PROCESSES", os.environ.get("PATRON_WHATIF_PROCESSES", default))))


def company_currency() -> str:
    return str(settings.PATRON_COMPANY_CURRENCY)


# --- the question asked -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatIfSpec:
    period: str
    start: dt.date
    end: dt.date  # included
    classification: Classification
    classes_as_of: str


def period_dates(period: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day of "last month" or "last quarter" as seen on ``today``."""
    kind = PeriodKind.MONTH if period == WhatIfRun.LAST_MONTH else PeriodKind.QUARTER
    previous = previous_period(period_containing(today, kind))
    return previous.start, previous.last_day


def _day(errors: FieldErrors, name: str, value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            errors.add(name, _("Enter a date as YYYY-MM-DD."))
            return None
    return value if errors.check_date(name, value) else None


def whatif_spec(data: Mapping[str, Any], *, today: dt.date | None = None) -> WhatIfSpec:
    """The question, checked: each problem under its field (period, start, end, classification, classes_as_of)."""
    today = today or timezone.localdate()
    errors = FieldErrors()
    period = str(data.get("period") or WhatIfRun.LAST_MONTH)
    periods = dict(WhatIfRun.PERIODS)
    if period not in periods:
        errors.add("period", _("Choose one of: %(choices)s.") % {"choices": ", ".join(periods)})
    start = _day(errors, "start", data.get("start"))
    end = _day(errors, "end", data.get("end"))
    if period == WhatIfRun.CUSTOM:
        if start is None and "start" not in errors.errors:
            errors.add("start", _("Give the first day of the period."))
        if end is None and "end" not in errors.errors:
            errors.add("end", _("Give the last day of the period."))
    elif period in periods:
        start, end = period_dates(period, today)
    if start is not None and end is not None:
        if end < start:
            errors.add("end", _("The last day must not come before the first."))
        elif end > today:
            errors.add("end", _("A what-if replays past orders: the last day cannot be after today."))
        elif (end - start).days + 1 > MAX_DAYS:
            errors.add("end", _("At most %(days)s days at a time.") % {"days": MAX_DAYS})
    key = str(data.get("classification") or "").strip()
    classification = Classification.objects.filter(key=key).first() if key else None
    if classification is None:
        errors.add("classification", _("Unknown classification.") if key else _("Choose a classification."))
    as_of = str(data.get("classes_as_of") or WhatIfRun.ORDER_DATE)
    if as_of not in dict(WhatIfRun.AS_OF_CHOICES):
        choices = ", ".join(dict(WhatIfRun.AS_OF_CHOICES))
        errors.add("classes_as_of", _("Choose one of: %(choices)s.") % {"choices": choices})
    errors.raise_if_any()
    assert start is not None
    assert end is not None
    assert classification is not None
    return WhatIfSpec(period=period, start=start, end=end, classification=classification, classes_as_of=as_of)


def _confirmed_in(start: dt.date, end: dt.date, prefix: str = "") -> Q:
    return Q(**{f"{prefix}status": Order.CONFIRMED, f"{prefix}order_date__gte": start, f"{prefix}order_date__lte": end})


def lines_in(start: dt.date, end: dt.date) -> int:
    return OrderLine.objects.filter(_confirmed_in(start, end, "order__")).count()


# --- the run: ask, perform, follow ---------------------------------------------------------------------------


def whatif_start(*, actor: Any, policy: Policy, data: Mapping[str, Any]) -> WhatIfRun:
    """Replay ``policy`` as ``data`` asks: at once when the period is small, else on the background queue.

    Asking again for the same replay while it is still running gives the one under way.
    """
    require_runner(actor)
    spec = whatif_spec(data)
    busy = WhatIfRun.objects.filter(
        policy=policy,
        status__in=(WhatIfRun.QUEUED, WhatIfRun.RUNNING),
        start=spec.start,
        end=spec.end,
        classification=spec.classification,
        classes_as_of=spec.classes_as_of,
    ).first()
    if busy is not None and not expire_if_stalled(busy):
        return busy
    lines = lines_in(spec.start, spec.end)
    background = lines > inline_limit()
    with transaction.atomic():
        run = WhatIfRun.objects.create(
            policy=policy,
            policy_version=policy.version,
            period=spec.period,
            start=spec.start,
            end=spec.end,
            classification=spec.classification,
            classification_key=spec.classification.key,
            classes_as_of=spec.classes_as_of,
            background=background,
            lines_total=lines,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="DISCOUNT_WHAT_IF_STARTED",
            instance=policy,
            changes={
                "what_if": [None, run.pk],
                "period": [None, f"{spec.start.isoformat()}..{spec.end.isoformat()}"],
                "classification": [None, spec.classification.key],
                "classes_as_of": [None, spec.classes_as_of],
            },
        )
        if background:
            transaction.on_commit(lambda: _enqueue(run.pk))
    if not background:
        run = whatif_perform(run.pk)
    return run


def _enqueue(run_id: int) -> None:
    from .analysis_tasks import what_if_run

    what_if_run(run_id)


def expire_if_stalled(run: WhatIfRun) -> bool:
    """Mark a run that lost its worker (or that no worker took) as failed; True if it was."""
    now = timezone.now()
    if run.status == WhatIfRun.RUNNING:
        last = run.progress_at or run.started_at or run.created_at
        if (now - last).total_seconds() <= STALL_SECONDS:
            return False
        message = _("The replay stopped: its worker was lost. Start it again.")
    elif run.status == WhatIfRun.QUEUED and run.background:
        if (now - run.created_at).total_seconds() <= QUEUE_SECONDS:
            return False
        message = _("No worker took the replay up (is the background worker running?). Start it again.")
    else:
        return False
    updated = WhatIfRun.objects.filter(pk=run.pk, status=run.status).update(
        status=WhatIfRun.FAILED, error=message, finished_at=now
    )
    if updated:
        run.status, run.error, run.finished_at = WhatIfRun.FAILED, message, now
    return bool(updated)


def _claim(run_id: int) -> WhatIfRun | None:
    with transaction.atomic():
        run = WhatIfRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != WhatIfRun.QUEUED:
            return None
        now = timezone.now()
        run.status, run.started_at, run.progress_at = WhatIfRun.RUNNING, now, now
        run.save(update_fields=["status", "started_at", "progress_at"])
    return run


def whatif_perform(run_id: int, *, processes: int | None = None) -> WhatIfRun:
    """Claim a waiting run and replay it (what the background task does); a failure is kept as its message."""
    run = _claim(run_id)
    if run is None:
        return WhatIfRun.objects.get(pk=run_id)
    try:
        spec = WhatIfSpec(
            period=run.period,
            start=run.start,
            end=run.end,
            classification=run.classification or Classification.objects.get(key=run.classification_key),
            classes_as_of=run.classes_as_of,
        )

        def progress(done: int, total: int) -> None:
            WhatIfRun.objects.filter(pk=run.pk).update(lines_done=done, lines_total=total, progress_at=timezone.now())

        outcome = replay(run.policy, spec, progress=progress, processes=processes)
    except Exception as exc:
        logger.exception("what-if %s failed", run.pk)
        WhatIfRun.objects.filter(pk=run.pk).update(
            status=WhatIfRun.FAILED,
            error=_("The replay stopped: %(error)s.") % {"error": exc.__class__.__name__},
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        return run
    WhatIfRun.objects.filter(pk=run.pk).update(
        status=WhatIfRun.DONE,
        result=outcome.data,
        timings=outcome.timings,
        lines_done=outcome.lines,
        lines_total=outcome.lines,
        finished_at=timezone.now(),
    )
    run.refresh_from_db()
    return run


def whatif_runs(policy: Policy, limit: int = 20) -> list[WhatIfRun]:
    runs = list(WhatIfRun.objects.filter(policy=policy).select_related("created_by")[:limit])
    for run in runs:
        expire_if_stalled(run)
    return runs


# --- the rules compared ----------------------------------------------------------------------------------------


def _without_dates(policy: Policy) -> Policy:
    """The policy as if in force at any time: its effective dates set aside (its rules' own dates stay)."""
    free = copy.copy(policy)
    free.effective_from = None
    free.effective_to = None
    return free


def current_policies(now: dt.datetime, *, besides: Policy | None = None) -> list[Policy]:
    """Active policies not yet ended, other than ``besides``."""
    policies = Policy.objects.filter(status=Policy.ACTIVE).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=now)
    )
    if besides is not None:
        policies = policies.exclude(pk=besides.pk)
    return list(policies.order_by("id"))


@dataclass(frozen=True)
class Books:
    current: RuleBook  # the current rules without the policy
    combined: RuleBook  # the current rules and the policy's
    policy: RuleBook  # the policy's alone: does it concern a cart at all?
    policy_rules: tuple[Rule, ...]


def books_for(policy: Policy, now: dt.datetime) -> Books:
    current = build_rules([_without_dates(p) for p in current_policies(now, besides=policy)])
    own = build_rules([_without_dates(policy)])
    return Books(
        current=RuleBook(current),
        combined=RuleBook([*current, *own]),
        policy=RuleBook(own),
        policy_rules=tuple(own),
    )


# --- accounts as rules see them -----------------------------------------------------------------------------------


def _class_keys_used(rules: Iterable[Rule]) -> tuple[set[str], bool, bool]:
    """Classifications rules ask about, whether any asks about a lifecycle stage, and about tags."""
    keys: set[str] = set()
    stages = tags = False
    for rule in rules:
        keys.update(c.split(":", 1)[0] for c in rule.who.classes)
        stages = stages or bool(rule.who.stages)
        tags = tags or bool(rule.who.tags)
    if stages:
        keys.add(LIFECYCLE)
    return keys, stages, tags


@dataclass
class _AccountState:
    """One account over the period: its profile (and segment) per stretch of days with the same classes."""

    first_order: dt.date | None
    bounds: list[dt.date]  # the first day of each stretch after the first
    profiles: list[AccountProfile]
    segments: list[str]
    fresh: dict[int, AccountProfile] = field(default_factory=dict)  # the same, as a new customer

    def at(self, day: dt.date) -> tuple[AccountProfile, str]:
        i = bisect.bisect_right(self.bounds, day) if self.bounds else 0
        profile = self.profiles[i]
        if self.first_order is None or day <= self.first_order:
            fresh = self.fresh.get(i)
            if fresh is None:
                fresh = self.fresh[i] = replace(profile, has_ordered=False)
            profile = fresh
        return profile, self.segments[i]


def _stretches(
    intervals: Sequence[tuple[dt.date, dt.date | None, str]], start: dt.date, end: dt.date, single_day: dt.date | None
) -> tuple[list[dt.date], list[frozenset[str]]]:
    """The class sets of an account over [start, end], as (first days after the first, sets)."""

    def on(day: dt.date) -> frozenset[str]:
        return frozenset(c for f, t, c in intervals if f <= day and (t is None or t > day))

    if single_day is not None or not intervals:
        return [], [on(single_day or end)]
    points = sorted(
        {start}
        | {f for f, _t, _c in intervals if start < f <= end}
        | {t for _f, t, _c in intervals if t is not None and start < t <= end}
    )
    bounds: list[dt.date] = []
    sets: list[frozenset[str]] = []
    for day in points:
        classes = on(day)
        if sets and classes == sets[-1]:
            continue
        if sets:
            bounds.append(day)
        sets.append(classes)
    return bounds, sets


def account_states(
    account_ids: Any,
    *,
    start: dt.date,
    end: dt.date,
    regions: Mapping[int, tuple[int, ...]],
    rules: Iterable[Rule],
    segment_key: str | None = None,
    single_day: dt.date | None = None,
) -> dict[int, _AccountState]:
    """Profiles of ``account_ids`` (ids or a values query) over [start, end]: classes as of each day, or of
    ``single_day`` for the whole period. A fixed number of queries, whatever the number of accounts."""
    keys, _stages, want_tags = _class_keys_used(rules)
    if segment_key:
        keys.add(segment_key)
    classifications = dict(Classification.objects.filter(key__in=keys).values_list("id", "key")) if keys else {}
    intervals: dict[int, list[tuple[dt.date, dt.date | None, str]]] = defaultdict(list)
    if classifications:
        rows = Membership.objects.filter(
            classification_id__in=list(classifications), account_id__in=account_ids, valid_from__lte=end
        ).exclude(valid_to__lte=single_day or start)
        for account_id, classification_id, class_key, valid_from, valid_to in rows.values_list(
            "account_id", "classification_id", "class_key", "valid_from", "valid_to"
        ):
            intervals[account_id].append((valid_from, valid_to, f"{classifications[classification_id]}:{class_key}"))
    tags: dict[int, frozenset[int]] = {}
    if want_tags:
        through = Account.tags.through.objects.filter(account_id__in=account_ids)
        grouped: dict[int, set[int]] = defaultdict(set)
        for account_id, tag_id in through.values_list("account_id", "tag_id"):
            grouped[account_id].add(tag_id)
        tags = {a: frozenset(t) for a, t in grouped.items()}
    prefix = f"{segment_key}:" if segment_key else None
    lifecycle = LIFECYCLE + ":"
    states: dict[int, _AccountState] = {}
    empty: frozenset[int] = frozenset()
    for account_id, region_id, industry_id, first_order in Account.objects.filter(id__in=account_ids).values_list(
        "id", "region_id", "industry_id", "first_order_date"
    ):
        bounds, sets = _stretches(intervals.get(account_id, ()), start, end, single_day)
        region_path = regions.get(region_id, ()) if region_id else ()
        profiles = []
        segments = []
        for classes in sets:
            stage = next((c[len(lifecycle) :] for c in classes if c.startswith(lifecycle)), "")
            profiles.append(
                AccountProfile(
                    account=account_id,
                    region_path=region_path,
                    industry=industry_id,
                    classes=classes,
                    stage=stage,
                    tags=tags.get(account_id, empty),
                    has_ordered=True,
                )
            )
            segments.append(next((c[len(prefix) :] for c in classes if c.startswith(prefix)), "") if prefix else "")
        states[account_id] = _AccountState(first_order, bounds, profiles, segments)
    return states


# --- money in the company currency ------------------------------------------------------------------------------


class Rates:
    """Rates to the company currency, loaded once; None for a day before any rate of a currency."""

    def __init__(self, currencies: Iterable[str]) -> None:
        self.company = company_currency()
        wanted = set(currencies) - {self.company}
        table: dict[str, tuple[list[dt.date], list[Decimal]]] = {}
        if wanted:
            rows = (
                ExchangeRate.objects.filter(currency__in=wanted)
                .order_by("currency", "valid_from")
                .values_list("currency", "valid_from", "rate")
            )
            for currency, group in itertools.groupby(rows, key=lambda r: r[0]):
                pairs = list(group)
                table[currency] = ([p[1] for p in pairs], [p[2] for p in pairs])
        self.table = table

    def on(self, currency: str, day: dt.date) -> Decimal | None:
        if currency == self.company:
            return Decimal(1)
        days, rates = self.table.get(currency, ([], []))
        i = bisect.bisect_right(days, day)
        return rates[i - 1] if i else None


# --- the replay ----------------------------------------------------------------------------------------------

# Columns of a segment's figures, in the order kept while replaying.
FIGURES = (
    "orders",
    "lines",
    "changed_orders",
    "list_amount",
    "actual_discount",
    "current_discount",
    "policy_discount",
    "actual_margin",
    "current_margin",
    "policy_margin",
)
_COUNTS = 3  # the first three are counts, the rest amounts


def _blank() -> list[Any]:
    return [0, 0, 0] + [ZERO] * (len(FIGURES) - _COUNTS)


@dataclass
class _Partial:
    figures: dict[str, list[Any]] = field(default_factory=dict)
    accounts: dict[str, set[int]] = field(default_factory=dict)
    unconverted: dict[str, int] = field(default_factory=dict)  # currency -> orders
    lines: int = 0
    priced: int = 0  # carts the engine was asked about (the others had no rule to consider)

    def merge(self, other: _Partial) -> None:
        for key, values in other.figures.items():
            mine = self.figures.setdefault(key, _blank())
            for i, v in enumerate(values):
                mine[i] += v
        for key, ids in other.accounts.items():
            self.accounts.setdefault(key, set()).update(ids)
        for currency, n in other.unconverted.items():
            self.unconverted[currency] = self.unconverted.get(currency, 0) + n
        self.lines += other.lines
        self.priced += other.priced


def _floor(cost: Decimal, margin: Decimal) -> Decimal | None:
    """``mappers.floor_price`` for a cost read with ``values_list``."""
    if cost <= 0:
        return None
    return (cost * (1 + margin / 100)).quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES))


class Replay:
    """What a replay needs, loaded once; ``chunk`` replays the orders with ids in a range (also in a worker)."""

    def __init__(self, policy: Policy, spec: WhatIfSpec, *, now: dt.datetime | None = None) -> None:
        self.spec = spec
        self.now = now or timezone.now()
        self.tz = timezone.get_current_timezone()
        self.books = books_for(policy, self.now)
        self.currency = company_currency()
        categories = id_paths(Category)
        margin = Decimal(str(getattr(settings, "PATRON_FLOOR_MARGIN_PERCENT", "0")))
        self.products = {
            pk: (categories.get(category_id, ()) if category_id else (), _floor(cost, margin), cost)
            for pk, category_id, cost in Product.objects.values_list("id", "category_id", "unit_cost")
        }
        orders = Order.objects.filter(_confirmed_in(spec.start, spec.end))
        single = spec.end if spec.classes_as_of == WhatIfRun.PERIOD_END else None
        self.accounts = account_states(
            orders.values("account_id"),
            start=spec.start,
            end=spec.end,
            regions=id_paths(Region),
            rules=self.books.combined.rules,
            segment_key=spec.classification.key,
            single_day=single,
        )
        self.rates = Rates(orders.values_list("currency", flat=True).distinct())
        self.has_returns = ReturnLine.objects.filter(order_line__order__in=orders).exists()
        self.noon = dt.time(12, 0)

    def order_ids(self) -> list[int]:
        return list(
            Order.objects.filter(_confirmed_in(self.spec.start, self.spec.end))
            .order_by("id")
            .values_list("id", flat=True)
        )

    def _moment(self, day: dt.date, confirmed_at: dt.datetime | None) -> dt.datetime:
        if confirmed_at is not None:
            local = confirmed_at.astimezone(self.tz)
            if local.date() == day:
                return local
        return dt.datetime.combine(day, self.noon, tzinfo=self.tz)

    def chunk(self, ids: Sequence[int]) -> _Partial:
        """Replay the orders ``ids`` (of the period, ``order_ids()``): each query goes by their keys."""
        out = _Partial()
        ids = list(ids)
        orders = _raw_rows(
            Order.objects.filter(id__in=ids, status=Order.CONFIRMED)
            .order_by("id")
            .values_list("id", "account_id", "order_date", "channel", "currency", "confirmed_at"),
            dates=(2,),
            moments=(5,),
        )
        lines = _raw_rows(
            OrderLine.objects.filter(order_id__in=ids)
            .order_by("order_id", "position")
            .values_list("order_id", "id", "position", "product_id", "quantity", "list_unit_price", "line_total"),
            decimals=((4, 3), (5, UNIT_PRICE_PLACES), (6, 2)),
        )
        returned: dict[int, Decimal] = {}
        if self.has_returns:
            returned = dict(
                ReturnLine.objects.filter(order_line__order_id__in=ids)
                .values("order_line_id")
                .annotate(quantity=Sum("quantity"))
                .values_list("order_line_id", "quantity")
            )
        by_order = {oid: list(group) for oid, group in itertools.groupby(lines, key=lambda r: r[0])}
        for row in orders:
            order_lines = by_order.get(row[0])
            if order_lines:
                self._order(row, order_lines, returned, out)
        return out

    def _order(
        self, row: tuple[Any, ...], lines: list[tuple[Any, ...]], returned: Mapping[int, Decimal], out: _Partial
    ) -> None:
        _oid, account_id, day, channel, currency, confirmed_at = row
        state = self.accounts.get(account_id)
        if state is None:  # an account made after the period was read: nothing to say about it
            return
        rate = self.rates.on(currency, day)
        if rate is None:
            out.unconverted[currency] = out.unconverted.get(currency, 0) + 1
            return
        profile, segment = state.at(day)
        products = self.products
        minor = quantum(currency)
        cart_lines = []
        list_total = actual_net = cost_total = ZERO
        kept: list[Decimal] | None = None  # per line, when something of the order came back
        for i, (_o, line_id, position, product_id, quantity, list_price, line_total) in enumerate(lines):
            path, floor, cost = products.get(product_id, _NO_PRODUCT)
            cart_lines.append(
                CartLine(str(position), product_id, quantity, list_price, path, floor_price=floor, unit_cost=cost)
            )
            list_total += (quantity * list_price).quantize(minor, ROUNDING)
            actual_net += line_total
            cost_total += (quantity * cost).quantize(minor, ROUNDING)
            back = returned.get(line_id) if returned else None
            if back:
                kept = kept or [ONE] * len(lines)
                kept[i] = max(ZERO, 1 - back / quantity)
        cart = Cart(currency, tuple(cart_lines), channel)
        books = self.books
        now = None
        current = with_policy = None
        if books.current.candidates(cart, profile):
            now = self._moment(day, confirmed_at)
            current = price_cart(cart, books.current, profile, now=now)
            out.priced += 1
        if books.policy.candidates(cart, profile):
            now = now or self._moment(day, confirmed_at)
            with_policy = price_cart(cart, books.combined, profile, now=now)
            out.priced += 1
        current_net = list_total if current is None else current.net_total.amount
        policy_net = current_net if with_policy is None else with_policy.net_total.amount
        if kept is None:
            margins = (actual_net - cost_total, current_net - cost_total, policy_net - cost_total)
        else:
            margins = self._kept_margins(lines, kept, minor, current, with_policy)
        amounts: tuple[Decimal, ...] = (
            list_total,
            list_total - actual_net,
            list_total - current_net,
            list_total - policy_net,
            *margins,
        )
        if currency != self.currency:
            amounts = tuple(quantize(a * rate, self.currency) for a in amounts)
        figures = out.figures.get(segment)
        if figures is None:
            figures = out.figures[segment] = _blank()
            out.accounts[segment] = set()
        figures[0] += 1
        figures[1] += len(lines)
        figures[2] += policy_net != current_net
        for i, amount in enumerate(amounts, start=_COUNTS):
            figures[i] += amount
        out.accounts[segment].add(account_id)
        out.lines += len(lines)

    def _kept_margins(
        self,
        lines: list[tuple[Any, ...]],
        kept: list[Decimal],
        minor: Decimal,
        current: Quote | None,
        with_policy: Quote | None,
    ) -> tuple[Decimal, Decimal, Decimal]:
        """Margins of an order some of which came back: each line's margin times the share of it kept."""
        margins = [ZERO, ZERO, ZERO]
        for i, (_o, _id, _pos, product_id, quantity, list_price, line_total) in enumerate(lines):
            cost = (quantity * products_cost(self.products, product_id)).quantize(minor, ROUNDING)
            listed = (quantity * list_price).quantize(minor, ROUNDING)
            now_net = listed if current is None else current.lines[i].net_amount.amount
            policy_net = now_net if with_policy is None else with_policy.lines[i].net_amount.amount
            for j, net in enumerate((line_total, now_net, policy_net)):
                margins[j] += (net - cost) * kept[i]
        return margins[0], margins[1], margins[2]


def products_cost(products: Mapping[int, tuple[Any, ...]], product_id: int) -> Decimal:
    return products.get(product_id, _NO_PRODUCT)[2]


_NO_PRODUCT: tuple[tuple[int, ...], Decimal | None, Decimal] = ((), None, ZERO)
_FROM_FLOAT = DecimalContext(prec=15).create_decimal_from_float


def _raw_rows(
    query: Any,
    *,
    decimals: Sequence[tuple[int, int]] = (),
    dates: Sequence[int] = (),
    moments: Sequence[int] = (),
) -> list[tuple[Any, ...]]:
    """A ``values_list`` query's rows straight from the driver, converted only where the driver leaves
    work to do (SQLite: decimals as numbers, times without their zone): the ORM's converters cost more than
    the replay.

    Conversions are those of Django's SQLite backend (15 significant digits, then the field's places)."""
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor != "sqlite" or not rows:
        return rows
    places = [(i, Decimal(1).scaleb(-p)) for i, p in decimals]
    out = []
    for row in rows:
        values = list(row)
        for i, q in places:
            v = values[i]
            if v is not None:
                values[i] = _FROM_FLOAT(v).quantize(q)
        for i in dates:
            if isinstance(values[i], str):
                values[i] = dt.date.fromisoformat(values[i])
        for i in moments:
            v = values[i]
            if isinstance(v, str):
                v = dt.datetime.fromisoformat(v)
            if isinstance(v, dt.datetime) and v.tzinfo is None:
                values[i] = v.replace(tzinfo=dt.UTC)  # stored in UTC
        out.append(tuple(values))
    return out


@dataclass
class Outcome:
    data: dict[str, Any]
    timings: dict[str, float]
    lines: int


_WORKER_REPLAY: Replay | None = None  # the replay a forked worker inherits


def _work(ids: list[int]) -> _Partial:
    assert _WORKER_REPLAY is not None
    return _WORKER_REPLAY.chunk(ids)


def _may_fork() -> bool:
    """Workers read with their own connections: only what is committed, and never an in-memory SQLite database."""
    if connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())  # type: ignore[attr-defined]


def _chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def replay(
    policy: Policy,
    spec: WhatIfSpec,
    *,
    progress: Callable[[int, int], None] | None = None,
    processes: int | None = None,
    now: dt.datetime | None = None,
) -> Outcome:
    """Replay ``policy`` over the period of ``spec``; see the module's docstring for what is compared."""
    global _WORKER_REPLAY
    timings: dict[str, float] = {}
    started = time.perf_counter()
    state = Replay(policy, spec, now=now)
    ids = state.order_ids()
    timings["load"] = round(time.perf_counter() - started, 3)
    total = lines_in(spec.start, spec.end)
    chunks = _chunks(ids, CHUNK_ORDERS)
    workers = processes if processes is not None else process_count()
    parallel = workers > 1 and len(chunks) > 1 and total > PARALLEL_LINES and _may_fork()
    done = _Partial()
    lap = time.perf_counter()
    if parallel:
        connections.close_all()  # each worker opens its own
        _WORKER_REPLAY = state
        try:
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                for part in pool.imap_unordered(_work, chunks):
                    done.merge(part)
                    if progress is not None:
                        progress(done.lines, total)
        finally:
            _WORKER_REPLAY = None
    else:
        for chunk in chunks:
            done.merge(state.chunk(chunk))
            if progress is not None:
                progress(done.lines, total)
    timings["replay"] = round(time.perf_counter() - lap, 3)
    timings["processes"] = workers if parallel else 1
    data = _result_data(policy, spec, state, done)
    timings["total"] = round(time.perf_counter() - started, 3)
    return Outcome(data=data, timings=timings, lines=done.lines)


def _money_text(value: Decimal, currency: str) -> str:
    try:
        return str(quantize(value, currency))
    except MoneyError:
        return str(value)


def _own_dates_outside(rules: Sequence[Rule], spec: WhatIfSpec, tz: Any) -> list[str]:
    first = dt.datetime.combine(spec.start, dt.time(0), tzinfo=tz)
    after = dt.datetime.combine(spec.end + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return sorted(
        r.name
        for r in rules
        if (r.when.starts is not None and r.when.starts >= after) or (r.when.ends is not None and r.when.ends <= first)
    )


def _result_data(policy: Policy, spec: WhatIfSpec, state: Replay, done: _Partial) -> dict[str, Any]:
    cur = state.currency
    order = [*class_keys(spec.classification), ""]
    keys = [k for k in order if k in done.figures] + sorted(k for k in done.figures if k not in order)

    def row(values: Sequence[Any], accounts: int) -> dict[str, Any]:
        out: dict[str, Any] = {"accounts": accounts}
        for i, name in enumerate(FIGURES):
            out[name] = values[i] if i < _COUNTS else _money_text(values[i], cur)
        return out

    total = _blank()
    for values in done.figures.values():
        for i, v in enumerate(values):
            total[i] += v
    everyone = set().union(*done.accounts.values()) if done.accounts else set()
    notes: list[dict[str, Any]] = []
    if policy.status == Policy.ACTIVE:
        notes.append({"code": "ALREADY_ACTIVE", "params": {}})
    if not state.books.policy_rules:
        notes.append({"code": "NO_RULES", "params": {}})
    outside = _own_dates_outside(state.books.policy_rules, spec, state.tz)
    if outside:
        notes.append({"code": "OWN_DATES_OUTSIDE", "params": {"rules": outside}})
    if not done.lines and not done.unconverted:
        notes.append({"code": "NO_ORDERS", "params": {}})
    if done.unconverted:
        notes.append(
            {
                "code": "UNCONVERTED",
                "params": {"orders": sum(done.unconverted.values()), "currencies": sorted(done.unconverted)},
            }
        )
    return {
        "currency": cur,
        "classification": spec.classification.key,
        "classes_as_of": spec.classes_as_of,
        "rules": {"current": len(state.books.current), "policy": len(state.books.policy_rules)},
        "policy_status": policy.status,
        "segments": [{"key": k, **row(done.figures[k], len(done.accounts.get(k, ())))} for k in keys],
        "totals": row(total, len(everyone)),
        "orders_priced": done.priced,
        "unconverted": {"orders": sum(done.unconverted.values()), "currencies": sorted(done.unconverted)},
        "notes": notes,
    }


def class_keys(classification: Classification) -> list[str]:
    """The classification's classes in its own order (the rows of a what-if)."""
    from patron.segments.selectors import class_keys as keys_of

    return keys_of(classification)


def note_text(note: Mapping[str, Any]) -> str:
    """A what-if or effect note in the reader's words."""
    params = note.get("params") or {}
    code = note.get("code")
    if code == "ALREADY_ACTIVE":
        return _(
            "This policy is already active: “current rules” are the other active policies, without it, so that it "
            "counts once."
        )
    if code == "NO_RULES":
        return _("The policy has no rules yet: it changes nothing.")
    if code == "OWN_DATES_OUTSIDE":
        return _("These rules have their own dates outside the period and give nothing in it: %(rules)s.") % {
            "rules": ", ".join(params.get("rules", []))
        }
    if code == "NO_ORDERS":
        return _("No confirmed order in this period.")
    if code == "UNCONVERTED":
        return ngettext(
            "%(n)s order in %(currencies)s is left out: no exchange rate to the company currency on its date.",
            "%(n)s orders in %(currencies)s are left out: no exchange rate to the company currency on their dates.",
            int(params.get("orders", 0)),
        ) % {"n": params.get("orders", 0), "currencies": ", ".join(params.get("currencies", []))}
    if code == "EVERYONE":
        return _("A rule of this policy is for every account: there is no account it did not target to compare with.")
    if code == "NO_COMPARISON":
        return _("No account outside the policy's reach ordered in both periods: there is nothing to compare with.")
    if code == "NO_TARGETED":
        return _("No targeted account ordered in both periods: the change cannot be measured yet.")
    if code == "NEW_CUSTOMERS":
        return _(
            "A rule is for new customers: they had no orders before, so the comparison covers the other targeted "
            "accounts only."
        )
    if code == "RUNNING":
        return _("The policy is still running: its period so far is compared with as many days before it.")
    if code == "RECEIVED_ONLY":
        return ngettext(
            "%(n)s account got a discount from the policy without matching its rules now; it counts as targeted.",
            "%(n)s accounts got a discount from the policy without matching its rules now; they count as targeted.",
            int(params.get("accounts", 0)),
        ) % {"n": params.get("accounts", 0)}
    return str(code)


# --- effect --------------------------------------------------------------------------------------------------------


def _who_matches(who: Who, profile: AccountProfile) -> bool:
    """Whether a rule's "who" is for this account (as the pricing engine reads it)."""
    if who.accounts and profile.account not in who.accounts:
        return False
    if who.classes and not (who.classes & profile.classes):
        return False
    if who.tags and not (who.tags & profile.tags):
        return False
    if who.regions and who.regions.isdisjoint(profile.region_path):
        return False
    if who.industries and profile.industry not in who.industries:
        return False
    if who.stages and profile.stage not in who.stages:
        return False
    return not (who.new_customers and profile.has_ordered)


def policy_started(policy: Policy) -> dt.datetime | None:
    """When the policy took effect: its effective date, else when it was (last) activated."""
    if policy.effective_from is not None:
        return policy.effective_from
    events = AuditEvent.objects.filter(
        action="DISCOUNT_POLICY_STATUS_CHANGED", entity_type="policy", entity_id=str(policy.pk)
    ).order_by("-id")
    for at, changes in events.values_list("at", "changes"):
        status = (changes or {}).get("status")
        if isinstance(status, list) and len(status) == 2 and status[1] == Policy.ACTIVE:
            return at
    return None


def _exclusive_day(moment: dt.datetime) -> dt.date:
    local = timezone.localtime(moment)
    return local.date() if local.time() == dt.time(0) else local.date() + dt.timedelta(days=1)


@dataclass(frozen=True)
class EffectPeriods:
    before_start: dt.date
    start: dt.date
    end: dt.date  # exclusive
    running: bool

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)


def effect_periods(policy: Policy, today: dt.date) -> EffectPeriods:
    if policy.status == Policy.DRAFT:
        raise Conflict(_("A draft policy has had no effect yet: replay it with a what-if instead."), field="status")
    started = policy_started(policy)
    if started is None:
        raise Conflict(_("This policy has no start date and was never activated."), field="effective_from")
    start = timezone.localtime(started).date()
    end = today + dt.timedelta(days=1)
    running = True
    if policy.effective_to is not None and _exclusive_day(policy.effective_to) <= end:
        end = _exclusive_day(policy.effective_to)
        running = False
    if policy.status == Policy.ARCHIVED and running:
        archived = _archived_at(policy)
        if archived is not None:
            end = min(end, timezone.localtime(archived).date() + dt.timedelta(days=1))
            running = False
    if end <= start:
        raise Conflict(_("The policy has not started yet: there is nothing to measure."), field="effective_from")
    days = (end - start).days
    return EffectPeriods(before_start=start - dt.timedelta(days=days), start=start, end=end, running=running)


def _archived_at(policy: Policy) -> dt.datetime | None:
    events = AuditEvent.objects.filter(
        action="DISCOUNT_POLICY_STATUS_CHANGED", entity_type="policy", entity_id=str(policy.pk)
    ).order_by("-id")
    for at, changes in events.values_list("at", "changes"):
        status = (changes or {}).get("status")
        if isinstance(status, list) and len(status) == 2 and status[1] == Policy.ARCHIVED:
            return at
    return None


@dataclass
class Figures:
    accounts: int = 0
    orders: int = 0
    sales: Decimal = ZERO
    margin: Decimal = ZERO
    discount: Decimal = ZERO


@dataclass
class Change:
    """Per account, over accounts with orders in both periods."""

    accounts: int
    sales_before: Decimal
    sales_during: Decimal
    margin_before: Decimal
    margin_during: Decimal
    orders_before: Decimal
    orders_during: Decimal

    @property
    def sales(self) -> Decimal:
        return self.sales_during - self.sales_before

    @property
    def margin(self) -> Decimal:
        return self.margin_during - self.margin_before

    @property
    def orders(self) -> Decimal:
        return self.orders_during - self.orders_before


@dataclass
class Effect:
    policy: Policy
    periods: EffectPeriods
    currency: str
    targeting: str  # "who_or_discount"
    targeted: dict[str, Figures]  # "before", "during"
    comparison: dict[str, Figures]
    targeted_change: Change
    comparison_change: Change
    did: dict[str, Decimal]  # sales, margin, orders (per account)
    did_mix: dict[str, Decimal] | None
    mix_coverage: Decimal | None  # share of the targeted accounts whose cell had comparison accounts
    discount_total: Decimal  # every discount the policy ever gave
    discount_orders: int
    months: list[str]
    monthly: dict[str, list[Decimal]]  # "targeted", "comparison": sales per account of the panels, by month
    notes: list[dict[str, Any]]


@dataclass
class _Acc:
    """One account's figures: per period (0 before, 1 during) and per month."""

    orders: list[int] = field(default_factory=lambda: [0, 0])
    sales: list[Decimal] = field(default_factory=lambda: [ZERO, ZERO])
    cost: list[Decimal] = field(default_factory=lambda: [ZERO, ZERO])
    months: dict[dt.date, Decimal] = field(default_factory=dict)


def _cost_expression(product: str = "product") -> Any:
    """Quantity x the product's unit cost, for order lines (``product``) or return lines (``order_line__product``)."""
    return ExpressionWrapper(
        F("quantity") * F(f"{product}__unit_cost"), output_field=DecimalField(max_digits=30, decimal_places=6)
    )


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _two_places(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _account_figures(periods: EffectPeriods, rates: Rates) -> dict[int, _Acc]:
    """Orders, sales and cost (net of returns) per account, period and month, in the company currency."""
    cur = rates.company
    span = Q(
        order__status=Order.CONFIRMED, order__order_date__gte=periods.before_start, order__order_date__lt=periods.end
    )
    figures: dict[int, _Acc] = defaultdict(_Acc)

    def add(account: int, day: dt.date, currency: str, sales: Any, cost: Any, orders: int, sign: int = 1) -> None:
        rate = rates.on(currency, day)
        if rate is None:
            return
        sales_c = _two_places(Decimal(str(sales or 0)) * rate)
        cost_c = Decimal(str(cost or 0)) * rate
        acc = figures[account]
        slot = 0 if day < periods.start else 1
        acc.orders[slot] += orders * (sign > 0)
        acc.sales[slot] += sign * sales_c
        acc.cost[slot] += sign * cost_c
        month = _month(day)
        acc.months[month] = acc.months.get(month, ZERO) + sign * sales_c

    home = OrderLine.objects.filter(span, order__currency=cur)
    # In the company currency: grouped by account and month, each month split at the policy's first day.
    for start, end in ((periods.before_start, periods.start), (periods.start, periods.end)):
        rows = (
            home.filter(order__order_date__gte=start, order__order_date__lt=end)
            .annotate(month=TruncMonth("order__order_date"))
            .values("order__account_id", "month")
            .annotate(sales=Sum("line_total"), cost=Sum(_cost_expression()), orders=Count("order_id", distinct=True))
            .values_list("order__account_id", "month", "sales", "cost", "orders")
        )
        for account, month, sales, cost, orders in rows:
            add(account, max(_as_date(month), start), cur, sales, cost, orders)
        returns = (
            ReturnLine.objects.filter(
                order_line__order__status=Order.CONFIRMED,
                order_line__order__currency=cur,
                order_line__order__order_date__gte=start,
                order_line__order__order_date__lt=end,
            )
            .annotate(month=TruncMonth("order_line__order__order_date"))
            .values("order_line__order__account_id", "month")
            .annotate(amount=Sum("amount"), cost=Sum(_cost_expression("order_line__product")))
            .values_list("order_line__order__account_id", "month", "amount", "cost")
        )
        for account, month, amount, cost in returns:
            add(account, max(_as_date(month), start), cur, amount, cost, 0, sign=-1)
    # Other currencies (few): by day, each at its day's rate.
    foreign = (
        OrderLine.objects.filter(span)
        .exclude(order__currency=cur)
        .values("order__account_id", "order__order_date", "order__currency")
        .annotate(sales=Sum("line_total"), cost=Sum(_cost_expression()), orders=Count("order_id", distinct=True))
        .values_list("order__account_id", "order__order_date", "order__currency", "sales", "cost", "orders")
    )
    for account, day, currency, sales, cost, orders in foreign:
        add(account, day, currency, sales, cost, orders)
    foreign_returns = (
        ReturnLine.objects.filter(
            order_line__order__status=Order.CONFIRMED,
            order_line__order__order_date__gte=periods.before_start,
            order_line__order__order_date__lt=periods.end,
        )
        .exclude(order_line__order__currency=cur)
        .values("order_line__order__account_id", "order_line__order__order_date", "order_line__order__currency")
        .annotate(amount=Sum("amount"), cost=Sum(_cost_expression("order_line__product")))
        .values_list(
            "order_line__order__account_id",
            "order_line__order__order_date",
            "order_line__order__currency",
            "amount",
            "cost",
        )
    )
    for account, day, currency, amount, cost in foreign_returns:
        add(account, day, currency, amount, cost, 0, sign=-1)
    return figures


def _as_date(value: Any) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _mean(values: Sequence[Decimal]) -> Decimal:
    return sum(values, ZERO) / len(values) if values else ZERO


def _change(ids: Sequence[int], figures: Mapping[int, _Acc]) -> Change:
    accs = [figures[a] for a in ids]
    return Change(
        accounts=len(accs),
        sales_before=_mean([a.sales[0] for a in accs]),
        sales_during=_mean([a.sales[1] for a in accs]),
        margin_before=_mean([a.sales[0] - a.cost[0] for a in accs]),
        margin_during=_mean([a.sales[1] - a.cost[1] for a in accs]),
        orders_before=_mean([Decimal(a.orders[0]) for a in accs]),
        orders_during=_mean([Decimal(a.orders[1]) for a in accs]),
    )


def _province(path: tuple[int, ...]) -> int | None:
    return path[-2] if len(path) >= 2 else (path[0] if path else None)


def effect(policy: Policy, *, today: dt.date | None = None) -> Effect:
    """Before and during the policy, for the accounts it targeted and for a comparable group it did not."""
    today = today or timezone.localdate()
    periods = effect_periods(policy, today)
    rules = build_rules([policy])
    applied = AppliedDiscount.objects.filter(policy=policy)
    currencies = set(
        Order.objects.filter(order_date__gte=periods.before_start, order_date__lt=periods.end)
        .values_list("currency", flat=True)
        .distinct()
    )
    rates = Rates(currencies | set(applied.values_list("currency", flat=True).distinct()))
    figures = _account_figures(periods, rates)
    received: dict[int, Decimal] = defaultdict(lambda: ZERO)
    discount_total = ZERO
    for account_id, day, currency, amount in (
        applied.values("account_id", "order_date", "currency")
        .annotate(amount=Sum("amount"))
        .values_list("account_id", "order_date", "currency", "amount")
    ):
        rate = rates.on(currency, day)
        if rate is None:
            continue
        value = _two_places(Decimal(str(amount)) * rate)
        discount_total += value
        if periods.start <= day < periods.end:
            received[account_id] += value
    discount_orders = applied.values("order_id").distinct().count()
    accounts = set(figures) | set(received)
    regions = id_paths(Region)
    # Every account with orders in either period (those that got the policy's discount among them), as a
    # subquery: a list of ids would make one parameter per account.
    in_span = Order.objects.filter(
        status=Order.CONFIRMED, order_date__gte=periods.before_start, order_date__lt=periods.end
    ).values("account_id")
    states = account_states(
        in_span, start=periods.start, end=periods.start, regions=regions, rules=rules, single_day=periods.start
    )
    notes: list[dict[str, Any]] = []
    everyone = any(r.who.everyone for r in rules)
    targeted: set[int] = set()
    received_only = 0
    for account_id in accounts:
        state = states.get(account_id)
        hit = False
        if state is not None:
            profile, _seg = state.at(periods.start)
            hit = any(_who_matches(r.who, profile) for r in rules)
        if not hit and account_id in received:
            received_only += 1
            hit = True
        if hit:
            targeted.add(account_id)
    if everyone:
        notes.append({"code": "EVERYONE", "params": {}})
    if any(r.who.new_customers for r in rules):
        notes.append({"code": "NEW_CUSTOMERS", "params": {}})
    if received_only:
        notes.append({"code": "RECEIVED_ONLY", "params": {"accounts": received_only}})
    if periods.running:
        notes.append({"code": "RUNNING", "params": {}})
    others = accounts - targeted

    def group(ids: Iterable[int]) -> dict[str, Figures]:
        out = {"before": Figures(), "during": Figures()}
        for account_id in ids:
            acc = figures.get(account_id)
            if acc is None:
                continue
            for slot, name in ((0, "before"), (1, "during")):
                if acc.orders[slot] or acc.sales[slot]:
                    g = out[name]
                    g.accounts += 1
                    g.orders += acc.orders[slot]
                    g.sales += acc.sales[slot]
                    g.margin += acc.sales[slot] - acc.cost[slot]
        out["during"].discount = sum((received.get(a, ZERO) for a in ids), ZERO)
        return out

    def panel(ids: Iterable[int]) -> list[int]:
        return sorted(a for a in ids if a in figures and figures[a].orders[0] and figures[a].orders[1])

    t_panel, c_panel = panel(targeted), panel(others)
    t_change, c_change = _change(t_panel, figures), _change(c_panel, figures)
    if not t_panel:
        notes.append({"code": "NO_TARGETED", "params": {}})
    if not c_panel and not everyone:
        notes.append({"code": "NO_COMPARISON", "params": {}})
    did = {
        "sales": t_change.sales - c_change.sales,
        "margin": t_change.margin - c_change.margin,
        "orders": t_change.orders - c_change.orders,
    }
    did_mix: dict[str, Decimal] | None = None
    coverage: Decimal | None = None
    if t_panel and c_panel:
        did_mix, coverage = _mix_adjusted(t_panel, c_panel, figures, states, t_change, c_change)
    months, monthly = _monthly(periods, figures, t_panel, c_panel)
    return Effect(
        policy=policy,
        periods=periods,
        currency=rates.company,
        targeting="who_or_discount",
        targeted=group(targeted),
        comparison=group(others),
        targeted_change=t_change,
        comparison_change=c_change,
        did=did if (t_panel and c_panel) else {},
        did_mix=did_mix,
        mix_coverage=coverage,
        discount_total=discount_total,
        discount_orders=discount_orders,
        months=months,
        monthly=monthly,
        notes=notes,
    )


def _mix_adjusted(
    t_panel: Sequence[int],
    c_panel: Sequence[int],
    figures: Mapping[int, _Acc],
    states: Mapping[int, _AccountState],
    t_change: Change,
    c_change: Change,
) -> tuple[dict[str, Decimal], Decimal]:
    """The comparison group's change per (province, industry) cell, weighed by the targeted accounts per cell."""

    def cell(account_id: int) -> tuple[int | None, int | None]:
        state = states.get(account_id)
        if state is None:
            return (None, None)
        profile = state.profiles[0]
        return (_province(profile.region_path), profile.industry)

    controls: dict[tuple[int | None, int | None], list[int]] = defaultdict(list)
    for a in c_panel:
        controls[cell(a)].append(a)
    changes = {k: _change(ids, figures) for k, ids in controls.items()}
    weights: dict[str, Decimal] = {"sales": ZERO, "margin": ZERO, "orders": ZERO}
    covered = 0
    for a in t_panel:
        c = changes.get(cell(a))
        if c is not None:
            covered += 1
        c = c or c_change
        weights["sales"] += c.sales
        weights["margin"] += c.margin
        weights["orders"] += c.orders
    n = Decimal(len(t_panel))
    return (
        {
            "sales": t_change.sales - weights["sales"] / n,
            "margin": t_change.margin - weights["margin"] / n,
            "orders": t_change.orders - weights["orders"] / n,
        },
        Decimal(covered) / n,
    )


def _monthly(
    periods: EffectPeriods, figures: Mapping[int, _Acc], t_panel: Sequence[int], c_panel: Sequence[int]
) -> tuple[list[str], dict[str, list[Decimal]]]:
    months: list[dt.date] = []
    month = _month(periods.before_start)
    while month < periods.end:
        months.append(month)
        month = (month + dt.timedelta(days=32)).replace(day=1)

    def series(ids: Sequence[int]) -> list[Decimal]:
        if not ids:
            return [ZERO] * len(months)
        return [
            (sum((figures[a].months.get(m, ZERO) for a in ids), ZERO) / len(ids)).quantize(Decimal("0.01"))
            for m in months
        ]

    return [f"{m.year}-{m.month:02d}" for m in months], {"targeted": series(t_panel), "comparison": series(c_panel)}


# --- as data, for the API and the pages ----------------------------------------------------------------------------


def whatif_rows(run: WhatIfRun) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The result's rows with each class's label in the reader's language, and the totals."""
    from patron.segments.messages import class_label

    result = run.result or {}
    classification: Any = run.classification
    rows = [{**row, "label": class_label(classification, row["key"])} for row in result.get("segments", [])]
    totals = result.get("totals")
    return rows, ({**totals, "key": "", "label": _("Total")} if totals else None)


def whatif_notes(run: WhatIfRun) -> list[dict[str, Any]]:
    return [{**note, "text": note_text(note)} for note in (run.result or {}).get("notes", [])]


def _text(value: Decimal | None, places: str = "0.01") -> str | None:
    return None if value is None else str(value.quantize(Decimal(places)))


def effect_data(found: Effect) -> dict[str, Any]:
    """The effect as JSON-able data: amounts as text, to the cent; orders per account to 0.01."""

    def figures(f: Figures) -> dict[str, Any]:
        return {
            "accounts": f.accounts,
            "orders": f.orders,
            "sales": _text(f.sales),
            "margin": _text(f.margin),
            "discount": _text(f.discount),
        }

    def change(c: Change) -> dict[str, Any]:
        return {
            "accounts": c.accounts,
            "sales_before": _text(c.sales_before),
            "sales_during": _text(c.sales_during),
            "margin_before": _text(c.margin_before),
            "margin_during": _text(c.margin_during),
            "orders_before": _text(c.orders_before),
            "orders_during": _text(c.orders_during),
        }

    def did(values: Mapping[str, Decimal] | None) -> dict[str, Any] | None:
        if not values:
            return None
        return {name: _text(values[name]) for name in ("sales", "margin", "orders")}

    p = found.periods
    return {
        "policy": found.policy.pk,
        "name": found.policy.name,
        "status": found.policy.status,
        "currency": found.currency,
        "targeting": found.targeting,
        "before": {"start": p.before_start, "end": p.start - dt.timedelta(days=1)},
        "during": {"start": p.start, "end": p.last_day, "running": p.running},
        "targeted": {k: figures(v) for k, v in found.targeted.items()},
        "comparison": {k: figures(v) for k, v in found.comparison.items()},
        "targeted_change": change(found.targeted_change),
        "comparison_change": change(found.comparison_change),
        "did": did(found.did),
        "did_mix": did(found.did_mix),
        "mix_coverage": _text(found.mix_coverage, "0.0001"),
        "discount_total": _text(found.discount_total),
        "discount_orders": found.discount_orders,
        "months": found.months,
        "monthly": {k: [_text(v) for v in values] for k, values in found.monthly.items()},
        "notes": [{**n, "text": note_text(n)} for n in found.notes],
    }
