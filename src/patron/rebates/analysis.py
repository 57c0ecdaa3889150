"""What rebates cost against the margin they reward, and replays of changed terms over last year.

``program_costs`` reads the accruals (kept current as documents arrive, one row per account and
period): per period and per tier reached, the accounts, their net sales, the margin of that
volume and the rebate it earned, beside what approved settlements paid.

``replay_start`` records a replay of proposed terms and runs it, in the request for a program
of a few thousand accounts, on the worker beyond. ``replay_perform`` sums each account's
volume in each of the program's periods of the last twelve months (in the database, grouped
by account) and hands them to the pure core's ``replay`` with the terms each account has and
the terms proposed. Agreements' own tiers stay as they are: they override the program's.
A program without agreements yet is replayed over the accounts it is open to.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from patron.accounts.access import can
from patron.accounts.models import Account
from patron.domain.access import Action
from patron.domain.money import minor_units, quantize
from patron.domain.periods import Period, PeriodKind, period_containing, previous_period
from patron.domain.rebates import RebateTerms, Volume, parse_terms
from patron.domain.rebates.replay import Replay, ReplayCase, Side, Totals, replay
from patron.sales.models import Category, Order, OrderLine, ReturnLine

from .accrual import qualifying
from .mappers import merged_terms, period_of, rate_to
from .models import RebateAccrual, RebateAgreement, RebateProgram, RebateReplay, RebateSettlement, RebateSettlementLine

log = logging.getLogger(__name__)

INLINE_ACCOUNTS = 3000  # a replay of more accounts runs on the worker
KEEP = 20  # accounts listed with the largest changes


def may_read(user: Any) -> bool:
    return can(user, Action.EDIT_REBATES) or can(user, Action.SETTLE_REBATES)


# --- what the program cost -------------------------------------------------------------------------------


def program_costs(program: RebateProgram, *, periods: int = 8) -> dict[str, Any]:
    """Per period (newest first, at most ``periods``) and per tier: accounts, sales, margin, rebate."""
    accruals = RebateAccrual.objects.filter(agreement__program=program)
    starts = list(accruals.values_list("period_start", flat=True).distinct().order_by("-period_start")[:periods])
    accruals = accruals.filter(period_start__in=starts)
    settled = dict(
        RebateSettlementLine.objects.filter(
            settlement__program=program, settlement__status=RebateSettlement.APPROVED, period_start__in=starts
        )
        .values_list("period_start")
        .annotate(paid=Sum(Coalesce("override", "due")))
        .order_by()
    )
    sums = {"accounts": Count("id"), "sales": Sum("amount"), "margin": Sum("profit"), "cost": Sum("earned")}
    rows = []
    for row in accruals.values("period_start").annotate(**sums).order_by("-period_start"):
        totals = _totals(row)
        rows.append(
            {
                "period": period_of(program, row["period_start"]),
                "totals": totals,
                "paid": settled.get(row["period_start"], Decimal(0)),
            }
        )
    tiers = [
        {"tier": row["tier"], "totals": _totals(row)}
        for row in accruals.values("tier").annotate(**sums).order_by("tier")
    ]
    whole = Totals()
    for row in rows:
        _merge(whole, row["totals"])
    return {"periods": rows, "tiers": tiers, "total": whole}


def _totals(row: Mapping[str, Any]) -> Totals:
    cost = row["cost"] or Decimal(0)
    return Totals(
        cases=row["accounts"],
        paid=0,
        sales=row["sales"] or Decimal(0),
        margin=row["margin"] or Decimal(0),
        cost=cost,
    )


def _merge(into: Totals, part: Totals) -> None:
    into.cases += part.cases
    into.sales += part.sales
    into.margin += part.margin
    into.cost += part.cost


def programs_overview(since: dt.date) -> list[dict[str, Any]]:
    """Every program's accruals for periods starting on or after ``since``, largest cost first."""
    rows = (
        RebateAccrual.objects.filter(period_start__gte=since)
        .values("agreement__program")
        .annotate(
            accounts=Count("agreement__account", distinct=True),
            paid_accounts=Count("agreement__account", distinct=True, filter=Q(earned__gt=0)),
            sales=Sum("amount"),
            margin=Sum("profit"),
            cost=Sum("earned"),
        )
        .order_by()
    )
    programs = RebateProgram.objects.in_bulk([r["agreement__program"] for r in rows])
    out: list[dict[str, Any]] = []
    for row in rows:
        totals = _totals(row)
        totals.paid = row["paid_accounts"]
        out.append({"program": programs[row["agreement__program"]], "totals": totals})
    out.sort(key=lambda r: (-r["totals"].cost, r["program"].name))
    return out


# --- replaying changed terms -----------------------------------------------------------------------------


def replay_periods(program: RebateProgram, today: dt.date) -> list[Period]:
    """The program's whole periods in the twelve months before the one holding ``today``, oldest first."""
    if program.period_kind == "custom":
        span = period_of(program, program.effective_from)
        years = 0
        while _years_back(span.end, years) > today:
            years += 1
        return [Period(_years_back(span.start, years), _years_back(span.end, years), PeriodKind.CUSTOM)]
    current = period_containing(today, PeriodKind(program.period_kind))
    year_ago = current.start.replace(year=current.start.year - 1)
    out = []
    period = previous_period(current)
    while period.start >= year_ago:
        out.append(period)
        period = previous_period(period)
    return out[::-1]


def _years_back(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def population(program: RebateProgram, day: dt.date) -> tuple[str, QuerySet[Any]]:
    """The accounts to replay over: those with an agreement, or (none yet) those the program is open to."""
    from patron.discounts.publication import who_filter

    agreements = RebateAgreement.objects.filter(program=program)
    if agreements.exists():
        return RebateReplay.AGREEMENTS, agreements.values("account_id")
    wanted = who_filter(program.eligibility or {}, day=day)
    accounts = Account.objects.all() if wanted is None else Account.objects.filter(wanted)
    return RebateReplay.ELIGIBLE, accounts.values("pk")


def _scope(terms: RebateTerms, prefix: str) -> Q:
    """The program's products as a filter on order lines (``prefix`` leads to the product)."""
    what = terms.what
    paths = dict(Category.objects.filter(pk__in=what.categories | what.exclude_categories).values_list("pk", "path"))

    def under(ids: Iterable[int]) -> Q:
        found = Q(pk__in=[])
        for pk in sorted(ids):
            if pk in paths:
                found |= Q(**{f"{prefix}category__path__startswith": paths[pk]})
        return found

    scope = Q()
    if not what.everything:
        scope &= Q(**{f"{prefix}id__in": sorted(what.products)}) | under(what.categories)
    if what.exclude_products:
        scope &= ~Q(**{f"{prefix}id__in": sorted(what.exclude_products)})
    if what.exclude_categories:
        scope &= Q(**{f"{prefix}category__isnull": True}) | ~under(what.exclude_categories)
    return scope


def account_volumes(terms: RebateTerms, period: Period, accounts: QuerySet[Any], currency: str) -> dict[int, Volume]:
    """Each account's volume in the period under ``terms``' products, returns netted in the order's period.

    Summed in the database per account, day and currency; each line's cost is rounded to the
    document currency's minor unit first (rule 8), and sums in another currency are converted at
    that day's rate (rule 6). Statements convert line by line, so a replay's foreign sums may
    differ from them by a cent per day: a replay is an estimate of a decision, not a payment."""
    number: DecimalField[Decimal, Decimal] = DecimalField(max_digits=24, decimal_places=4)
    orders = Order.objects.filter(
        status=Order.CONFIRMED, order_date__gte=period.start, order_date__lt=period.end, account_id__in=accounts
    )
    orders = qualifying(orders, terms.documents)
    out: dict[int, list[Decimal]] = {}
    currencies = sorted(set(orders.values_list("currency", flat=True).distinct().order_by()))
    queries = (
        (OrderLine.objects.filter(order__in=orders), "order__", "line_total", "product__", "order__currency", 1),
        (
            ReturnLine.objects.filter(order_line__order__in=orders),
            "ret__",
            "amount",
            "order_line__product__",
            "ret__currency",
            -1,
        ),
    )
    for lines, document, amount, product, currency_key, sign in queries:
        lines = lines.filter(_scope(terms, product))
        for doc_currency in currencies:
            # In the program's currency, one row per account; in another, per account and day (its rate).
            keys = [f"{document}account_id"]
            if doc_currency != currency:
                keys.append("order_line__order__order_date" if sign < 0 else "order__order_date")
            cost = Round(F("quantity") * Coalesce(f"{product}unit_cost", Value(Decimal(0))), minor_units(doc_currency))
            grouped = (
                lines.filter(**{currency_key: doc_currency})
                .values(*keys)
                .annotate(
                    sold=Sum(amount, output_field=number),
                    pieces=Sum("quantity", output_field=number),
                    cost=Sum(cost, output_field=number),
                )
                .order_by()
            )
            for row in grouped:
                sold, pieces, spent = (Decimal(row[k] or 0) for k in ("sold", "pieces", "cost"))
                if doc_currency != currency:
                    rate = rate_to(doc_currency, currency, row[keys[1]])
                    if rate is None:
                        from .accrual import MissingRate

                        raise MissingRate(doc_currency, row[keys[1]])
                    sold, spent = quantize(sold * rate, currency), quantize(spent * rate, currency)
                acc = out.setdefault(row[keys[0]], [Decimal(0), Decimal(0), Decimal(0)])
                acc[0] += sign * sold
                acc[1] += sign * pieces
                acc[2] += sign * (sold - spent)
    return {account: Volume(*acc) for account, acc in out.items()}


def replay_start(*, actor: Any, program: RebateProgram, terms: Any, today: dt.date | None = None) -> RebateReplay:
    """Record a replay of ``terms`` (the program's terms dict, changed) and run it or queue it."""
    from django.core.exceptions import ValidationError

    from patron.domain.rebates import terms_to_dict

    from .services import Errors, check_terms, require_editor

    require_editor(actor)
    errors: Errors = {}
    check_terms(terms, errors)
    if errors:
        raise ValidationError(errors)
    today = today or timezone.localdate()
    periods = replay_periods(program, today)
    source, accounts = population(program, today)
    made = RebateReplay.objects.create(
        program=program,
        program_version=program.version,
        terms=terms_to_dict(parse_terms(terms)),
        source=source,
        accounts=accounts.count(),
        first_day=periods[0].start,
        last_day=periods[-1].last_day,
        created_by=actor,
    )
    if made.accounts <= INLINE_ACCOUNTS:
        return replay_perform(made.pk, today=today)
    from .tasks import rebate_replay

    transaction.on_commit(lambda: rebate_replay(made.pk))
    return made


def replay_perform(replay_id: int, *, today: dt.date | None = None) -> RebateReplay:
    """Sum the volumes and replay both sets of terms; a failure is recorded on the replay, not lost."""
    claimed = RebateReplay.objects.filter(pk=replay_id, status=RebateReplay.QUEUED).update(status=RebateReplay.RUNNING)
    made = RebateReplay.objects.select_related("program").get(pk=replay_id)
    if not claimed:
        return made
    try:
        made.result = replay_to_dict(_replayed(made, today or made.created_at.date()), made.program)
        made.status = RebateReplay.DONE
    except Exception as exc:
        log.exception("rebate replay %s failed", replay_id)
        made.status, made.error = RebateReplay.FAILED, f"{type(exc).__name__}: {exc}"
    made.finished_at = timezone.now()
    made.save(update_fields=["result", "status", "error", "finished_at"])
    return made


def _replayed(made: RebateReplay, today: dt.date) -> Replay:
    program = made.program
    proposed_program = parse_terms(made.terms)
    current_program = parse_terms(program.terms)
    source, accounts = population(program, today)
    own: dict[int, Any] = {}
    if source == RebateReplay.AGREEMENTS:
        for account_id, terms in RebateAgreement.objects.filter(program=program).values_list("account_id", "terms"):
            own[account_id] = terms
    parsed: dict[str, RebateTerms] = {}

    def terms_for(base: Mapping[str, Any], account: int, fallback: RebateTerms) -> RebateTerms:
        if not own.get(account):
            return fallback
        text = json.dumps(merged_terms(base, own[account]), sort_keys=True)
        if text not in parsed:
            parsed[text] = parse_terms(json.loads(text))
        return parsed[text]

    def cases() -> Iterable[ReplayCase]:
        for period in replay_periods(program, today):
            now = account_volumes(current_program, period, accounts, program.currency)
            then = (
                now
                if proposed_program.what == current_program.what
                else account_volumes(proposed_program, period, accounts, program.currency)
            )
            for account in sorted(set(now) | set(then)):
                yield ReplayCase(
                    account=account,
                    period=period.start,
                    volume=now.get(account, Volume()),
                    current=terms_for(program.terms, account, current_program),
                    proposed=terms_for(made.terms, account, proposed_program),
                    proposed_volume=then.get(account, Volume()),
                )

    return replay(cases(), program.currency, keep=KEEP)


def _side(side: Side) -> dict[str, Any]:
    def totals(t: Totals) -> dict[str, Any]:
        return {"cases": t.cases, "paid": t.paid, "sales": str(t.sales), "margin": str(t.margin), "cost": str(t.cost)}

    return {
        "total": totals(side.total),
        "accounts_paid": side.accounts_paid,
        "tiers": {str(k): totals(v) for k, v in sorted(side.tiers.items())},
        "periods": {k.isoformat(): totals(v) for k, v in sorted(side.periods.items())},
    }


def replay_to_dict(made: Replay, program: RebateProgram) -> dict[str, Any]:
    names = dict(Account.objects.filter(pk__in=[c.account for c in made.changes]).values_list("pk", "code"))
    return {
        "currency": made.currency,
        "accounts": made.accounts,
        "periods": [p.isoformat() for p in made.periods],
        "now": _side(made.now),
        "then": _side(made.then),
        "gaining": made.gaining,
        "losing": made.losing,
        "changes": [
            {"account": c.account, "code": names.get(c.account, ""), "now": str(c.now), "then": str(c.then)}
            for c in made.changes
        ],
    }


def totals_from(data: Mapping[str, Any]) -> Totals:
    return Totals(
        cases=data["cases"],
        paid=data["paid"],
        sales=Decimal(data["sales"]),
        margin=Decimal(data["margin"]),
        cost=Decimal(data["cost"]),
    )


def replay_reasons(result: Mapping[str, Any]) -> tuple[Any, ...]:
    """The replay's summary sentences, rebuilt from what was stored."""
    now, then = Side(), Side()
    now.total, then.total = totals_from(result["now"]["total"]), totals_from(result["then"]["total"])
    now.accounts_paid, then.accounts_paid = result["now"]["accounts_paid"], result["then"]["accounts_paid"]
    stored = Replay(
        currency=result["currency"],
        accounts=result["accounts"],
        periods=[dt.date.fromisoformat(p) for p in result["periods"]],
        now=now,
        then=then,
        changes=[],
        gaining=result["gaining"],
        losing=result["losing"],
    )
    return stored.reasons
