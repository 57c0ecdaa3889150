"""Each account's accrued rebate, kept current as documents are recorded, and rebuilt from them.

Recording an order, a cancellation or a return adds its lines' volume to the accrual of every
agreement the account has, for the period of the *order's* date (a return after the period
reduces that period: its settlement, or a later claw-back, settles the difference). The add
is one locked row per agreement, in the document's own transaction. ``accruals_rebuild``
sums the documents afresh: what settlement uses, and the check that the two agree.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from patron.domain.money import quantize
from patron.domain.periods import Period
from patron.domain.rebates import DocumentLine, RebateResult, Volume, rebate_for
from patron.sales.hooks import DocumentsChanged
from patron.sales.models import Order, OrderLine, ReturnLine

from .mappers import category_paths, document_lines, period_of, rate_to, terms_of, volume_in
from .models import RebateAccrual, RebateAgreement, RebateProgram

log = logging.getLogger(__name__)


def agreements_on(account_id: int, day: dt.date) -> list[RebateAgreement]:
    """The agreements of active programs under which the account earns on ``day``."""
    return list(
        RebateAgreement.objects.filter(
            account_id=account_id,
            valid_from__lte=day,
            program__status=RebateProgram.ACTIVE,
            program__effective_from__lte=day,
        )
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=day))
        .filter(Q(program__effective_to__isnull=True) | Q(program__effective_to__gt=day))
        .select_related("program")
    )


def _order_rows(order_id: int) -> list[dict[str, Any]]:
    rows: Any = OrderLine.objects.filter(order_id=order_id).values(
        "quantity",
        "product_id",
        day=F("order__order_date"),
        number=F("order__number"),
        sku=F("product__sku"),
        category=F("product__category_id"),
        amount=F("line_total"),
        unit_cost=F("product__unit_cost"),
        currency=F("order__currency"),
    )
    return list(rows)


def _return_rows(return_id: int) -> list[dict[str, Any]]:
    rows: Any = ReturnLine.objects.filter(ret_id=return_id).values(
        "quantity",
        "amount",
        day=F("order_line__order__order_date"),
        number=F("ret__number"),
        product_id=F("order_line__product_id"),
        sku=F("order_line__product__sku"),
        category=F("order_line__product__category_id"),
        unit_cost=F("order_line__product__unit_cost"),
        currency=F("ret__currency"),
    )
    return list(rows)


def documents_changed(event: DocumentsChanged) -> None:
    """The sales listener: called inside the service's transaction."""
    if event.kind == "return_recorded":
        assert event.return_id is not None
        rows, sign, kind = _return_rows(event.return_id), -1, "return"
    else:
        rows = _order_rows(event.order_id)
        sign, kind = (1, "order") if event.kind == "order_confirmed" else (-1, "order")
    if not rows:
        return
    account_id, day = Order.objects.filter(pk=event.order_id).values_list("account_id", "order_date").get()
    for agreement in agreements_on(account_id, day):
        accrue(agreement, rows, sign=sign, kind=kind, day=day)


def accrue(agreement: RebateAgreement, rows: Sequence[dict[str, Any]], *, sign: int, kind: str, day: dt.date) -> None:
    program = agreement.program
    terms = terms_of(agreement)
    paths = category_paths(terms)
    rates: dict[str, Decimal | None] = {}
    priced: list[dict[str, Any]] = []
    for r in rows:
        currency = r["currency"]
        if currency not in rates:
            rates[currency] = rate_to(currency, program.currency, day)
        rate = rates[currency]
        if rate is None:
            # Settlement rebuilds from the documents and says which rate is missing; the order stays recorded.
            log.warning("rebate accrual: no %s rate on %s for program %s", currency, day, program.pk)
            return
        priced.append({**r, "rate": rate, "category_path": paths.get(r["category"], ()) if r["category"] else ()})
    delta = volume_in(terms, document_lines(priced, sign=sign, kind=kind), program.currency)
    if delta == Volume():
        return
    period = period_of(program, day)
    with transaction.atomic():
        row, _ = RebateAccrual.objects.select_for_update().get_or_create(
            agreement=agreement, period_start=period.start, defaults={"period_end": period.end}
        )
        row.amount += delta.amount
        row.quantity += delta.quantity
        row.profit += delta.profit
        row.documents += sign
        result = rebate_for(terms, stored_volume(row, program.currency), program.currency)
        row.earned, row.tier = result.amount.amount, result.tier
        row.save(update_fields=["amount", "quantity", "profit", "documents", "earned", "tier", "updated_at"])


def accrual_result(accrual: RebateAccrual) -> RebateResult:
    """What the accrual's volume earns, explained (tier, what is missing for the next one)."""
    agreement = accrual.agreement
    currency = agreement.program.currency
    return rebate_for(terms_of(agreement), stored_volume(accrual, currency), currency)


def stored_volume(row: RebateAccrual, currency: str) -> Volume:
    """A stored volume with amounts back at the currency's minor unit (the column holds quantities too)."""
    return Volume(
        quantize(Decimal(row.amount), currency),
        Decimal(row.quantity).quantize(Decimal("0.001")),
        quantize(Decimal(row.profit), currency),
    )


# --- from the documents ---------------------------------------------------------------------------------------


def period_documents(
    program: RebateProgram,
    period: Period,
    account_ids: Sequence[int] | None = None,
    *,
    up_to: dt.date | None = None,
) -> dict[int, list[DocumentLine]]:
    """Every qualifying line of the accounts' confirmed orders dated in the period, and of their returns
    (whenever recorded), in the program's currency at each order's dated rate."""
    orders = Order.objects.filter(status=Order.CONFIRMED, order_date__gte=period.start, order_date__lt=period.end)
    if account_ids is not None:
        orders = orders.filter(account_id__in=account_ids)
    else:
        agreed = RebateAgreement.objects.filter(program=program).values("account_id")
        orders = orders.filter(account_id__in=agreed)
    order_rows = OrderLine.objects.filter(order__in=orders).values(
        "quantity",
        "product_id",
        account=F("order__account_id"),
        day=F("order__order_date"),
        number=F("order__number"),
        sku=F("product__sku"),
        category=F("product__category_id"),
        amount=F("line_total"),
        unit_cost=F("product__unit_cost"),
        currency=F("order__currency"),
    )
    return_rows = ReturnLine.objects.filter(order_line__order__in=orders).values(
        "quantity",
        "amount",
        account=F("ret__account_id"),
        day=F("order_line__order__order_date"),
        number=F("ret__number"),
        product_id=F("order_line__product_id"),
        sku=F("order_line__product__sku"),
        category=F("order_line__product__category_id"),
        unit_cost=F("order_line__product__unit_cost"),
        currency=F("ret__currency"),
    )
    paths = id_paths_if_needed(program)
    rates: dict[tuple[str, dt.date], Decimal | None] = {}
    out: dict[int, list[DocumentLine]] = defaultdict(list)
    for rows, sign, kind in ((order_rows, 1, "order"), (return_rows, -1, "return")):
        for r in rows:
            key = (r["currency"], r["day"])
            if key not in rates:
                rates[key] = rate_to(r["currency"], program.currency, r["day"])
            rate = rates[key]
            if rate is None:
                raise MissingRate(r["currency"], r["day"])
            path = paths.get(r["category"], ()) if r["category"] else ()
            out[r["account"]].extend(document_lines([{**r, "rate": rate, "category_path": path}], sign=sign, kind=kind))
    return out


class MissingRate(LookupError):
    def __init__(self, currency: str, day: dt.date) -> None:
        super().__init__(f"no {currency} exchange rate on or before {day}")
        self.currency, self.day = currency, day


def id_paths_if_needed(program: RebateProgram) -> Any:
    from patron.domain.rebates import parse_terms

    return category_paths(parse_terms(program.terms))


def _valid_on(agreement: RebateAgreement, day: dt.date) -> bool:
    return agreement.valid_from <= day and (agreement.valid_to is None or day < agreement.valid_to)


def _valid_in(agreement: RebateAgreement, period: Period) -> bool:
    return agreement.valid_from < period.end and (agreement.valid_to is None or agreement.valid_to > period.start)


@transaction.atomic
def accruals_rebuild(
    program: RebateProgram, day: dt.date, *, agreements: Sequence[RebateAgreement] | None = None
) -> int:
    """Sum the documents of the period holding ``day`` afresh into the agreements' accruals (all by default)."""
    period = period_of(program, day)
    if agreements is None:
        agreements = list(program.agreements.select_related("program"))
    documents = period_documents(program, period, [a.account_id for a in agreements])
    count = 0
    for agreement in agreements:
        if agreement.valid_from >= period.end or (
            agreement.valid_to is not None and agreement.valid_to <= period.start
        ):
            continue
        terms = terms_of(agreement)
        lines = [
            ln
            for ln in documents.get(agreement.account_id, [])
            if agreement.valid_from <= ln.day and (agreement.valid_to is None or ln.day < agreement.valid_to)
        ]
        volume = volume_in(terms, lines, program.currency)
        result = rebate_for(terms, volume, program.currency)
        RebateAccrual.objects.update_or_create(
            agreement=agreement,
            period_start=period.start,
            defaults={
                "period_end": period.end,
                "amount": volume.amount,
                "quantity": volume.quantity,
                "profit": volume.profit,
                "earned": result.amount.amount,
                "tier": result.tier,
                "documents": len({ln.number for ln in lines}),
            },
        )
        count += 1
    return count


def period_volumes(
    program: RebateProgram,
    period: Period,
    agreements: Sequence[RebateAgreement],
    *,
    up_to: dt.date | None = None,
) -> dict[int, Volume]:
    """Each agreement's volume in the period, summed from the document lines as tuples: what
    settlement needs of a hundred thousand accounts. Line by line exactly as ``period_documents``
    and the statement convert and cost them (rules 6 and 8), so the sums agree to the cent."""
    by_account = {a.account_id: a for a in agreements}
    orders = Order.objects.filter(
        status=Order.CONFIRMED,
        order_date__gte=period.start,
        order_date__lt=period.end,
        account_id__in=list(by_account),
    )
    if up_to is not None:
        orders = orders.filter(order_date__lte=up_to)
    columns = ("quantity", "product_id", "product__category_id", "product__unit_cost")
    sold = OrderLine.objects.filter(order__in=orders).values_list(
        "order__account_id", "order__currency", "order__order_date", "line_total", *columns
    )
    returned = ReturnLine.objects.filter(
        order_line__order__in=orders
    ).values_list(
        "ret__account_id",
        "ret__currency",
        "order_line__order__order_date",
        "amount",
        "quantity",  # the return's own, not the order line's
        *(f"order_line__{c}" for c in columns[1:]),
    )
    terms = {a.pk: terms_of(a) for a in agreements}
    needs_paths = any(t.what.categories or t.what.exclude_categories for t in terms.values())
    paths = id_paths_if_needed(program) if needs_paths else {}
    target = program.currency
    rates: dict[tuple[str, dt.date], Decimal] = {}
    sums: dict[int, list[Decimal]] = {a.pk: [Decimal(0), Decimal(0), Decimal(0)] for a in agreements}
    for rows, sign in ((sold, 1), (returned, -1)):
        for row in rows.iterator(chunk_size=20_000):
            account_id, currency, day, amount, quantity, product, category, unit_cost = row
            agreement = by_account[account_id]
            if not _valid_on(agreement, day):
                continue
            what = terms[agreement.pk].what
            narrowed = not what.everything or what.exclude_products or what.exclude_categories
            if narrowed and not what.covers(product, paths.get(category, ()) if category else ()):
                continue
            cost = quantize(Decimal(unit_cost or 0) * quantity, currency)
            if currency != target:
                key = (currency, day)
                if key not in rates:
                    rate = rate_to(currency, target, day)
                    if rate is None:
                        raise MissingRate(currency, day)
                    rates[key] = rate
                amount = quantize(amount * rates[key], target)
                cost = quantize(cost * rates[key], target)
            acc = sums[agreement.pk]
            if sign > 0:
                acc[0] += amount
                acc[1] += quantity
                acc[2] += amount - cost
            else:
                acc[0] -= amount
                acc[1] -= quantity
                acc[2] -= amount - cost
    return {pk: Volume(*acc) for pk, acc in sums.items()}
