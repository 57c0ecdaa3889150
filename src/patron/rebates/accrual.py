"""Each account's accrued rebate, kept current as documents are recorded, and rebuilt from them.

Recording an order, a cancellation or a return adds its lines' volume to the accrual of every
agreement the account has, for the period of the *order's* date (a return after the period
reduces that period: its settlement, or a later claw-back, settles the difference). The add
is one locked row per agreement, in the document's own transaction. ``accruals_rebuild``
sums the documents afresh: what settlement uses, and the check that the two agree.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, QuerySet
from django.utils import timezone

from patron.core.db import fetch_prepared
from patron.domain.money import quantize
from patron.domain.periods import Period
from patron.domain.rebates import DocumentLine, RebateResult, Volume, rebate_for, statement_lines, volume_of
from patron.sales.hooks import DocumentsChanged
from patron.sales.models import Invoice, Order, OrderLine, Product, Return, ReturnLine

from .mappers import category_paths, document_lines, period_of, program_terms, rate_to, terms_of
from .models import RebateAccrual, RebateAgreement, RebateProgram

log = logging.getLogger(__name__)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _day(value: Any) -> Any:
    """SQLite hands raw dates back as text."""
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def agreements_on(account_id: int, day: dt.date) -> list[RebateAgreement]:
    """The agreements of active programs under which the account earns on ``day`` (one prepared query:
    every recorded order asks it)."""
    q = connection.ops.quote_name
    agreement, program = q(RebateAgreement._meta.db_table), q(RebateProgram._meta.db_table)
    rows = fetch_prepared(
        f"SELECT a.id, a.valid_from, a.valid_to, a.terms, p.id, p.currency, p.period_kind, "  # noqa: S608
        f"p.effective_from, p.effective_to, p.terms, p.version "
        f"FROM {agreement} a JOIN {program} p ON p.id = a.program_id "
        "WHERE a.account_id = %s AND a.valid_from <= %s AND (a.valid_to IS NULL OR a.valid_to > %s) "
        "AND p.status = 'active' AND p.effective_from <= %s AND (p.effective_to IS NULL OR p.effective_to > %s) "
        "ORDER BY a.id",
        [account_id, day, day, day, day],
    )
    out = []
    for pk, valid_from, valid_to, own, program_id, currency, kind, start, end, terms, version in rows:
        owner = RebateProgram(
            id=program_id,
            currency=currency,
            period_kind=kind,
            effective_from=_day(start),
            effective_to=_day(end),
            terms=_json(terms),
            version=version,
            status=RebateProgram.ACTIVE,
        )
        out.append(
            RebateAgreement(
                id=pk,
                account_id=account_id,
                program=owner,
                valid_from=_day(valid_from),
                valid_to=_day(valid_to),
                terms=_json(own),
            )
        )
    return out


_LINE_COLUMNS = ("quantity", "amount", "product_id", "sku", "category", "unit_cost", "number", "currency")


def _order_rows(order_id: int) -> list[dict[str, Any]]:
    q = connection.ops.quote_name
    line, order, product = (q(m._meta.db_table) for m in (OrderLine, Order, Product))
    rows = fetch_prepared(
        f"SELECT l.quantity, l.line_total, l.product_id, p.sku, p.category_id, p.unit_cost, o.number, "  # noqa: S608
        f"o.currency FROM {line} l JOIN {order} o ON o.id = l.order_id JOIN {product} p ON p.id = l.product_id "
        "WHERE l.order_id = %s ORDER BY l.position",
        [order_id],
    )
    return [dict(zip(_LINE_COLUMNS, r, strict=True)) for r in rows]


def _return_rows(return_id: int) -> list[dict[str, Any]]:
    q = connection.ops.quote_name
    rline, ret, line, product = (q(m._meta.db_table) for m in (ReturnLine, Return, OrderLine, Product))
    rows = fetch_prepared(
        f"SELECT r.quantity, r.amount, l.product_id, p.sku, p.category_id, p.unit_cost, t.number, "  # noqa: S608
        f"t.currency FROM {rline} r JOIN {ret} t ON t.id = r.ret_id JOIN {line} l ON l.id = r.order_line_id "
        f"JOIN {product} p ON p.id = l.product_id WHERE r.ret_id = %s ORDER BY r.id",
        [return_id],
    )
    return [dict(zip(_LINE_COLUMNS, r, strict=True)) for r in rows]


def documents_changed(event: DocumentsChanged) -> None:
    """The sales listener: called inside the service's transaction. Programs that count every confirmed
    order add the document's lines; those that count only invoiced or paid orders sum the account's
    period afresh (one account, one period), since an invoice can make a whole order count or not."""
    if event.kind not in ("order_confirmed", "order_cancelled", "return_recorded", "invoices_changed"):
        return  # a draft cancelled never counted
    agreements = agreements_on(event.account_id, event.order_date)
    counting_all = [a for a in agreements if _documents(a.program) == "all"]
    for agreement in agreements:
        if _documents(agreement.program) != "all":
            accruals_rebuild(agreement.program, event.order_date, agreements=[agreement])
    agreements = counting_all
    if not agreements or event.kind == "invoices_changed":
        return
    if event.kind == "return_recorded":
        assert event.return_id is not None
        rows, sign, kind = _return_rows(event.return_id), -1, "return"
    else:
        rows = _order_rows(event.order_id)
        sign, kind = (1, "order") if event.kind == "order_confirmed" else (-1, "order")
    for row in rows:
        row["day"] = event.order_date
    for agreement in agreements:
        accrue(agreement, rows, sign=sign, kind=kind, day=event.order_date)


def _documents(program: RebateProgram) -> str:
    documents = (program.terms or {}).get("documents", "all")
    return documents if isinstance(documents, str) else "all"


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
    delta = volume_of(statement_lines(terms, document_lines(priced, sign=sign, kind=kind), program.currency)[0])
    if delta == Volume():
        return
    period = period_of(program, day)
    if connection.vendor == "postgresql":
        _add_in_database(agreement, period, delta, sign, terms)
        return
    with transaction.atomic():
        row, _ = RebateAccrual.objects.select_for_update().get_or_create(
            agreement=agreement, period_start=period.start, defaults={"period_end": period.end}
        )
        row.amount += delta.amount
        row.quantity += delta.quantity
        row.profit += delta.profit
        row.documents = max(row.documents + sign, 0)
        result = rebate_for(terms, stored_volume(row, program.currency), program.currency)
        row.earned, row.tier = result.amount.amount, result.tier
        row.save(update_fields=["amount", "quantity", "profit", "documents", "earned", "tier", "updated_at"])


def _add_in_database(agreement: RebateAgreement, period: Period, delta: Volume, sign: int, terms: Any) -> None:
    """One upsert adds the volume (the row stays locked to the order's transaction, so accruals of
    the same account queue behind it), one update stores what the new total earns: two round trips."""
    q = connection.ops.quote_name
    table = q(RebateAccrual._meta.db_table)
    now = timezone.now()
    sql = (
        f"INSERT INTO {table} AS t (agreement_id, period_start, period_end, amount, quantity, profit, "  # noqa: S608
        "earned, tier, documents, updated_at) VALUES (%s, %s, %s, %s, %s, %s, 0, 0, %s, %s) "
        "ON CONFLICT (agreement_id, period_start) DO UPDATE SET amount = t.amount + EXCLUDED.amount, "
        "quantity = t.quantity + EXCLUDED.quantity, profit = t.profit + EXCLUDED.profit, "
        "documents = GREATEST(t.documents + %s, 0), updated_at = EXCLUDED.updated_at "
        "RETURNING id, amount, quantity, profit"
    )
    currency = agreement.program.currency
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            # A new row's count cannot start below zero (PostgreSQL checks it before it sees the conflict).
            [
                agreement.pk,
                period.start,
                period.end,
                delta.amount,
                delta.quantity,
                delta.profit,
                max(sign, 0),
                now,
                sign,
            ],
        )
        pk, amount, quantity, profit = cursor.fetchone()
        total = Volume(quantize(amount, currency), quantity.quantize(Decimal("0.001")), quantize(profit, currency))
        result = rebate_for(terms, total, currency)
        cursor.execute(
            f"UPDATE {table} SET earned = %s, tier = %s WHERE id = %s",  # noqa: S608
            [result.amount.amount, result.tier, pk],
        )


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


def qualifying(orders: QuerySet[Order], documents: str) -> QuerySet[Order]:
    """The confirmed orders a program counts: all, those invoiced (a live invoice), or those paid
    (invoiced, and every live invoice of theirs paid)."""
    if documents == "all":
        return orders
    live = Invoice.objects.filter(order=OuterRef("pk")).exclude(status=Invoice.VOID)
    orders = orders.filter(Exists(live))
    if documents == "paid":
        orders = orders.exclude(Exists(live.exclude(status=Invoice.PAID)))
    return orders


def documents_sql(documents: str, order: str = "o") -> str:
    """``qualifying`` as a clause of SQL over the order table aliased ``order``."""
    if documents == "all":
        return ""
    table = connection.ops.quote_name(Invoice._meta.db_table)
    live = f"SELECT 1 FROM {table} i WHERE i.order_id = {order}.id AND i.status <> 'void'"  # noqa: S608  (names from the models)
    clause = f" AND EXISTS ({live})"
    if documents == "paid":
        clause += f" AND NOT EXISTS ({live} AND i.status <> 'paid')"
    return clause


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
    orders = qualifying(orders, program_terms(program).documents)
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
    paths = category_paths(program_terms(program))
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
        volume = volume_of(statement_lines(terms, lines, program.currency)[0])
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
    orders = Order.objects.filter(status=Order.CONFIRMED, order_date__gte=period.start, order_date__lt=period.end)
    orders = qualifying(orders, program_terms(program).documents)
    if len(by_account) > 1000:  # a whole program's accounts: a join, not a list of parameters
        orders = orders.filter(account_id__in=RebateAgreement.objects.filter(program=program).values("account_id"))
    else:
        orders = orders.filter(account_id__in=list(by_account))
    if up_to is not None:
        orders = orders.filter(order_date__lte=up_to)
    summed: dict[int, Volume] = {}
    if connection.vendor == "postgresql" and agreements:
        # PostgreSQL sums the lines in the program's currency itself (numeric, ROUND half away from
        # zero: rule 4's half-up); only lines in other currencies come to Python to be converted.
        summed = _summed_in_database(program, period, agreements, up_to)
        orders = orders.exclude(currency=program.currency)
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
    paths = category_paths(program_terms(program))  # read only when the program names categories
    target = program.currency
    rates: dict[tuple[str, dt.date], Decimal] = {}
    sums: dict[int, list[Decimal]] = {a.pk: [Decimal(0), Decimal(0), Decimal(0)] for a in agreements}
    for rows, sign in ((sold, 1), (returned, -1)):
        for row in rows.iterator(chunk_size=20_000):
            account_id, currency, day, amount, quantity, product, category, unit_cost = row
            agreement = by_account.get(account_id)
            if agreement is None or not _valid_on(agreement, day):
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
            acc[0] += sign * amount
            acc[1] += sign * quantity
            acc[2] += sign * (amount - cost)
    out = {pk: Volume(*acc) for pk, acc in sums.items()}
    for pk, volume in summed.items():
        out[pk] = out[pk] + volume
    return out


def _scope_sql(program: RebateProgram) -> tuple[str, list[Any]]:
    """The program's products as SQL over ``p`` (product) and ``c`` (its category, by path prefix)."""
    from patron.sales.models import Category

    what = program_terms(program).what
    paths = dict(Category.objects.filter(pk__in=what.categories | what.exclude_categories).values_list("pk", "path"))
    sql, params = "", []

    def under(ids: frozenset[int]) -> tuple[str, list[Any]]:
        wanted = [paths[i] for i in sorted(ids) if i in paths]
        return " OR ".join(["c.path LIKE %s"] * len(wanted)) or "FALSE", [w + "%" for w in wanted]

    if not what.everything:
        parts, values = [], []
        if what.products:
            parts.append("p.id = ANY(%s)")
            values.append(sorted(what.products))
        if what.categories:
            clause, more = under(what.categories)
            parts.append(clause)
            values += more
        sql += " AND (" + " OR ".join(parts) + ")"
        params += values
    if what.exclude_products:
        sql += " AND NOT (p.id = ANY(%s))"
        params.append(sorted(what.exclude_products))
    if what.exclude_categories:
        clause, more = under(what.exclude_categories)
        sql += f" AND (c.path IS NULL OR NOT ({clause}))"
        params += more
    return sql, params


def _summed_in_database(
    program: RebateProgram, period: Period, agreements: Sequence[RebateAgreement], up_to: dt.date | None
) -> dict[int, Volume]:
    from patron.domain.money import minor_units
    from patron.sales.models import Category, Product, Return

    q = connection.ops.quote_name
    tables = {
        "line": q(OrderLine._meta.db_table),
        "order": q(Order._meta.db_table),
        "product": q(Product._meta.db_table),
        "category": q(Category._meta.db_table),
        "agreement": q(RebateAgreement._meta.db_table),
        "rline": q(ReturnLine._meta.db_table),
        "ret": q(Return._meta.db_table),
    }
    scope, scope_params = _scope_sql(program)
    places = minor_units(program.currency)
    last = up_to if up_to is not None else period.last_day
    common = (
        f"JOIN {tables['product']} p ON p.id = l.product_id "
        f"LEFT JOIN {tables['category']} c ON c.id = p.category_id "
        f"JOIN {tables['agreement']} a ON a.account_id = o.account_id AND a.id = ANY(%s) "
        "WHERE o.status = 'confirmed' AND o.order_date >= %s AND o.order_date < %s AND o.order_date <= %s "
        "AND o.order_date >= a.valid_from AND (a.valid_to IS NULL OR o.order_date < a.valid_to) "
        + documents_sql(program_terms(program).documents)
        + " "
    )
    ids = [a.pk for a in agreements]
    window: list[Any] = [ids, period.start, period.end, last]
    sold = (
        f"SELECT a.id, SUM(l.line_total), SUM(l.quantity), "  # noqa: S608  (names from the models)
        f"SUM(l.line_total - ROUND(l.quantity * COALESCE(p.unit_cost, 0), {places})) "
        f"FROM {tables['line']} l JOIN {tables['order']} o ON o.id = l.order_id {common}"
        f"AND o.currency = %s {scope} GROUP BY a.id"
    )
    returned = (
        f"SELECT a.id, SUM(r.amount), SUM(r.quantity), "  # noqa: S608
        f"SUM(r.amount - ROUND(r.quantity * COALESCE(p.unit_cost, 0), {places})) "
        f"FROM {tables['rline']} r JOIN {tables['ret']} t ON t.id = r.ret_id "
        f"JOIN {tables['line']} l ON l.id = r.order_line_id JOIN {tables['order']} o ON o.id = l.order_id {common}"
        f"AND t.currency = %s {scope} GROUP BY a.id"
    )
    out: dict[int, Volume] = {}
    with connection.cursor() as cursor:
        for sql, sign in ((sold, 1), (returned, -1)):
            cursor.execute(sql, [*window, program.currency, *scope_params])
            for pk, amount, quantity, profit in cursor.fetchall():
                part = Volume(amount * sign, quantity * sign, profit * sign)
                out[pk] = out[pk] + part if pk in out else part
    return out
