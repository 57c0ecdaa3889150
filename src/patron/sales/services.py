"""Writes to products, orders, returns, invoices and payments: one function per change, audited.

Every function that moves money locks the rows it reads (``select_for_update``)
so concurrent requests cannot over-return, over-invoice or over-pay.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Case, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext as _

from patron.accounts.access import require
from patron.accounts.models import Account
from patron.accounts.services import activity_add
from patron.audit.services import audit_record, audit_records, diff, snapshot
from patron.core.db import as_stored
from patron.core.errors import Conflict, FieldErrors, error_dict
from patron.core.messages import money_error, text_error
from patron.domain.access import Action
from patron.domain.money import (
    UNIT_PRICE_PLACES,
    Money,
    MoneyError,
    check_places,
    line_amount,
    minor_units,
    to_decimal,
)
from patron.domain.text import TextError, check_code

from . import credit, hooks, pricing
from .models import (
    Category,
    CreditAllocation,
    CreditNote,
    Invoice,
    Order,
    OrderLine,
    Payment,
    PaymentAllocation,
    Product,
    Return,
    ReturnLine,
)

QUANTITY_PLACES = 3
# Words the sales pages use in their addresses (/sales/orders/new/), so no document may be called that.
RESERVED_NUMBERS = frozenset({"new"})
PRODUCT_FIELDS = ("sku", "name", "category", "unit", "list_price", "unit_cost", "currency", "active")


def _number(errors: FieldErrors, field: str, value: Any, places: int, *, positive: bool = False) -> Decimal | None:
    try:
        number = check_places(to_decimal(value), places, field)
    except MoneyError as exc:
        errors.add(field, money_error(exc, places))
        return None
    if positive and number <= 0:
        errors.add(field, _("Must be greater than zero."))
        return None
    if number < 0:
        errors.add(field, _("Must not be negative."))
        return None
    return number


def _column_limit(model: type[models.Model], name: str) -> Decimal:
    """The first value a decimal column cannot hold (PostgreSQL refuses it; SQLite would not)."""
    field = model._meta.get_field(name)
    assert isinstance(field, models.DecimalField)
    return Decimal(10) ** (field.max_digits - field.decimal_places)


def _replayed(model: type[models.Model], key: str | None, account_id: int) -> Any:
    """The record an earlier request with this key made, marked ``replayed``; None for a new key."""
    if not key:
        return None
    earlier: Any = model._default_manager.filter(idempotency_key=key).first()
    if earlier is None:
        return None
    if earlier.account_id != account_id:
        raise Conflict(_("This request was already used for another record."), "idempotency_key")
    earlier.replayed = True
    return earlier


def _temporary_number() -> str:
    return f"tmp-{uuid.uuid4().hex[:20]}"


def _assign_number(instance: Any, prefix: str, requested: str | None, *, also: Sequence[str] = ()) -> None:
    """Use the number the user gave (imports keep theirs) or derive one from the id; ``also``: other
    fields set since the insert, written in the same UPDATE."""
    fields = list(also)
    if not requested:
        instance.number = f"{prefix}{instance.pk:08d}"
        fields.append("number")
    if fields:
        instance.save(update_fields=fields)


def _check_requested_number(errors: FieldErrors, model: type[models.Model], number: str | None) -> None:
    if not number:
        return
    try:
        check_code(number, "number")
    except TextError as exc:
        errors.add("number", text_error(exc))
        return
    if number.lower() in RESERVED_NUMBERS:
        errors.add("number", _("This number is reserved; choose another."))
        return
    if model._default_manager.filter(number=number).exists():  # type: ignore[attr-defined]
        errors.add("number", _("This number is already used."))


# --- products ---------------------------------------------------------------


def _apply_product(product: Product, data: dict[str, Any], errors: FieldErrors) -> None:
    for field, value in data.items():
        if field == "sku":
            try:
                product.sku = check_code(str(value or ""), "SKU")
            except TextError as exc:
                errors.add("sku", text_error(exc))
        elif field in ("list_price", "unit_cost"):
            number = _number(errors, field, value, UNIT_PRICE_PLACES)
            if number is not None:
                # Stored with UNIT_PRICE_PLACES; keep that form so "100" and "100.0000" are no change.
                setattr(product, field, number.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES)))
        elif field == "category":
            if value is None or isinstance(value, Category):
                product.category = value
            else:
                category = Category.objects.filter(code=str(value)).first()
                if category is None and str(value).isdigit():
                    category = Category.objects.filter(pk=int(value)).first()
                if category is None:
                    errors.add("category", _("Unknown category."))
                product.category = category
        elif field in PRODUCT_FIELDS:
            setattr(product, field, value.strip() if isinstance(value, str) else value)
        else:
            errors.add(field, _("Unknown field."))


@transaction.atomic
def _prices_changed() -> None:
    """Quotes read products from the discount rule book's copy: tell every process to read them again."""
    from patron.discounts.mappers import bump_version

    bump_version()


def product_create(*, actor: Any, data: dict[str, Any]) -> Product:
    require(actor, Action.EDIT_PRODUCT)
    product = Product()
    errors = FieldErrors()
    _apply_product(product, data, errors)
    errors.full_clean(product)
    errors.raise_if_any()
    product.save()
    _prices_changed()
    audit_record(
        actor=actor, action="PRODUCT_CREATED", instance=product, changes=diff({}, snapshot(product, PRODUCT_FIELDS))
    )
    return product


@transaction.atomic
def product_update(*, actor: Any, product: Product, data: dict[str, Any]) -> Product:
    require(actor, Action.EDIT_PRODUCT)
    product = Product.objects.select_for_update().get(pk=product.pk)
    before = snapshot(product, PRODUCT_FIELDS)
    errors = FieldErrors()
    _apply_product(product, data, errors)
    errors.full_clean(product)
    errors.raise_if_any()
    product.save()
    _prices_changed()
    changes = diff(before, snapshot(product, PRODUCT_FIELDS))
    if changes:
        action = "PRODUCT_PRICE_CHANGED" if {"list_price", "unit_cost"} & set(changes) else "PRODUCT_UPDATED"
        audit_record(actor=actor, action=action, instance=product, changes=changes)
    return product


# --- orders -----------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """One line as the user entered it. ``net_unit_price`` None means the list price."""

    product: Product | int | str
    quantity: Any
    net_unit_price: Any = None
    reason: str = ""  # why a manual price, for the approver


def _resolve_product(ref: Product | int | str, products: Mapping[Any, Product] | None = None) -> Product | None:
    if isinstance(ref, Product):
        return ref
    if products is not None:
        return products.get(ref)
    if isinstance(ref, int):
        return Product.objects.filter(pk=ref).first()
    return Product.objects.filter(sku=ref).first()


def products_of(lines: Sequence[LineInput]) -> dict[Any, Product]:
    """The products the lines name, by SKU and by id, in one query."""
    skus = {line.product for line in lines if isinstance(line.product, str)}
    ids = {line.product for line in lines if isinstance(line.product, int) and not isinstance(line.product, bool)}
    if not skus and not ids:
        return {}
    found: dict[Any, Product] = {}
    for product in Product.objects.filter(models.Q(sku__in=skus) | models.Q(pk__in=ids)):
        if product.sku in skus:
            found[product.sku] = product
        if product.pk in ids:
            found[product.pk] = product
    return found


def build_lines(
    lines: Sequence[LineInput], currency: str, errors: FieldErrors, *, products: Mapping[Any, Product] | None = None
) -> list[OrderLine]:
    """Order lines priced and checked; ``products`` (by SKU or id) saves a query per line."""
    built: list[OrderLine] = []
    if products is None:
        products = products_of(lines)
    if not lines:
        errors.add("lines", _("An order needs at least one line."))
    for index, line in enumerate(lines):
        prefix = f"lines.{index}."
        product = _resolve_product(line.product, products)
        if product is None:
            errors.add(prefix + "product", _("Unknown product."))
            continue
        if not product.active:
            errors.add(prefix + "product", _("This product is no longer sold."))
        if product.currency != currency:
            errors.add(
                prefix + "product",
                _("This product is priced in %(product)s, the order in %(order)s.")
                % {"product": product.currency, "order": currency},
            )
        quantity = _number(errors, prefix + "quantity", line.quantity, QUANTITY_PLACES, positive=True)
        net = product.list_price
        if line.net_unit_price not in (None, ""):
            parsed = _number(errors, prefix + "net_unit_price", line.net_unit_price, UNIT_PRICE_PLACES)
            if parsed is not None:
                net = parsed
        if quantity is None:
            continue
        list_price = Decimal(product.list_price)
        if quantity >= _column_limit(OrderLine, "quantity") or line_amount(
            quantity, Money(max(net, list_price), currency)
        ).amount >= _column_limit(OrderLine, "line_total"):
            errors.add(prefix + "quantity", _("The quantity is too large."))
            continue
        discount = list_price - net
        breakdown = []
        if discount:
            breakdown.append(
                {
                    "source": "manual",
                    "per_unit": str(discount.quantize(Decimal(1).scaleb(-UNIT_PRICE_PLACES))),
                    # What the line's rounded totals differ by, so the breakdown adds up to the order.
                    "amount": str(
                        (
                            line_amount(quantity, Money(list_price, currency))
                            - line_amount(quantity, Money(net, currency))
                        ).amount
                    ),
                    "percent": str((discount / list_price * 100).quantize(Decimal("0.01"))) if list_price else None,
                }
            )
        built.append(
            OrderLine(
                position=index + 1,
                product=product,
                quantity=quantity,
                list_unit_price=list_price,
                net_unit_price=net,
                line_total=line_amount(quantity, Money(net, currency)).amount,
                discounts=breakdown,
            )
        )
    return built


def _live(account: Account) -> Account:
    """The account, read again with its row locked (its first order, its limit, its owner decide what an
    order gets); one merged into another takes no new records (they belong on the survivor). The
    caller's owner and team are kept when the owner is the same (they were read for this request)."""
    locked = Account.objects.select_for_update().get(pk=account.pk)
    if locked.merged_into_id is not None:
        raise Conflict(_("This account was merged into another; record this on that account."), "account")
    if locked.owner_id == account.owner_id and Account.owner.is_cached(account):
        locked.owner = account.owner
    return locked


def _check_currency(errors: FieldErrors, currency: str) -> None:
    try:
        minor_units(currency)
    except MoneyError:
        errors.add("currency", _("Unknown currency."))


def refresh_order_dates(account_id: int) -> None:
    """First and last order dates follow confirmed orders only."""
    agg = Order.objects.filter(account_id=account_id, status=Order.CONFIRMED).aggregate(
        first=models.Min("order_date"), last=models.Max("order_date")
    )
    Account.objects.filter(pk=account_id).update(first_order_date=agg["first"], last_order_date=agg["last"])


def _extend_order_dates(account_id: int, day: dt.date) -> None:
    """Confirming an order can only widen the account's first and last order dates (``refresh_order_dates``
    works them out afresh, for when one goes)."""
    Account.objects.filter(pk=account_id).update(
        first_order_date=Least(Coalesce("first_order_date", Value(day)), Value(day)),
        last_order_date=Greatest(Coalesce("last_order_date", Value(day)), Value(day)),
    )


def refresh_order_dates_many(account_ids: Sequence[int]) -> None:
    """``refresh_order_dates`` for many accounts: one UPDATE ... FROM per 500 (imports and their undo).

    Only accounts whose dates change are written, so a large import does not rewrite
    (and re-index) every account it touches.
    """
    ids = sorted(set(account_ids))
    quote = connection.ops.quote_name
    accounts, orders = quote(Account._meta.db_table), quote(Order._meta.db_table)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join(["%s"] * len(chunk))
        # Table names come from the models; ids and the status travel as parameters.
        sql = (
            f"UPDATE {accounts} SET first_order_date = agg.first_day, last_order_date = agg.last_day "  # noqa: S608
            f"FROM (SELECT a.id AS account_id, MIN(o.order_date) AS first_day, MAX(o.order_date) AS last_day "
            f"FROM {accounts} a LEFT JOIN {orders} o ON o.account_id = a.id AND o.status = %s "
            f"WHERE a.id IN ({marks}) GROUP BY a.id) agg "
            f"WHERE {accounts}.id = agg.account_id AND ({accounts}.first_order_date IS DISTINCT FROM agg.first_day "
            f"OR {accounts}.last_order_date IS DISTINCT FROM agg.last_day)"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [Order.CONFIRMED, *chunk])


def _price(
    actor: Any,
    account: Account,
    lines: Sequence[LineInput],
    currency: str,
    channel: str,
    errors: FieldErrors,
    coupons: Sequence[Any] = (),
) -> pricing.PricedLines:
    """Lines checked field by field, then priced by the discount rules (a typed net price is a manual
    price on top of them); raises every field error at once."""
    checked = build_lines(lines, currency, errors) if not errors.errors.get("currency") else []
    list_total = sum((line_amount(b.quantity, Money(b.list_unit_price, currency)).amount for b in checked), Decimal(0))
    if list_total >= _column_limit(Order, "list_total"):
        errors.add("lines", _("The order total is too large."))
    errors.raise_if_any()
    return pricing.price_lines(
        actor=actor,
        account=account,
        lines=[
            LineInput(
                product=b.product,
                quantity=b.quantity,
                net_unit_price=b.net_unit_price if b.net_unit_price != b.list_unit_price else None,
                reason=getattr(line, "reason", ""),
            )
            for b, line in zip(checked, lines, strict=True)
        ],
        currency=currency,
        channel=channel,
        coupons=coupons,
    )


def _coupon_hold(
    account: Account, codes: Sequence[str], currency: str, errors: FieldErrors, *, order_id: int | None = None
) -> Any:
    """The coupons given with an order, read and locked for its transaction (refusals join the order's
    other field errors); None without codes. ``order_id``: the draft whose lines change (it is not an
    earlier order of its account)."""
    if not codes:
        return None
    provider = hooks.coupon_provider()
    if provider is None:
        errors.add("coupons", _("Coupons are not available here."))
        return None
    try:
        return provider.hold(account=account, codes=codes, currency=currency, now=timezone.now(), order_id=order_id)
    except ValidationError as exc:
        for field, messages in error_dict(exc).items():
            for message in messages:
                errors.add(field, message)
        return None


def order_preview(
    *, actor: Any, account: Account, lines: Sequence[LineInput], currency: str = "CNY", channel: str = "sales_rep"
) -> pricing.PricedLines:
    """What ``order_create`` would price, and who would have to approve it, writing nothing."""
    require(actor, Action.RECORD_ORDER, account)
    errors = FieldErrors()
    _check_currency(errors, currency)
    return _price(actor, account, lines, currency, channel, errors)


@transaction.atomic
def order_create(
    *,
    actor: Any,
    account: Account,
    lines: Sequence[LineInput],
    order_date: dt.date | None = None,
    currency: str = "CNY",
    channel: str = "sales_rep",
    confirm: bool = False,
    number: str | None = None,
    note: str = "",
    idempotency_key: str | None = None,
    coupons: Sequence[str] = (),
) -> Order:
    """Record an order; a request repeated with the same ``idempotency_key`` returns the first order.
    ``coupons``: codes priced with the order and redeemed in its transaction (each use counted once)."""
    account = _live(account)
    require(actor, Action.RECORD_ORDER, account)
    if (earlier := _replayed(Order, idempotency_key, account.pk)) is not None:
        return earlier
    errors = FieldErrors()
    _check_currency(errors, currency)
    _check_requested_number(errors, Order, number)
    order_date = order_date or timezone.localdate()
    errors.check_date("order_date", order_date)
    if order_date > timezone.localdate() + dt.timedelta(days=366):
        errors.add("order_date", _("An order date more than a year ahead is not accepted."))
    if channel not in dict(Order.CHANNELS):
        errors.add("channel", _("Unknown channel."))
    held = _coupon_hold(account, coupons, currency, errors)
    priced = _price(actor, account, lines, currency, channel, errors, held.rules if held else ())
    built, list_total, net_total = priced.lines, priced.list_total, priced.net_total
    order = Order(
        number=number or _temporary_number(),
        account=account,
        currency=currency,
        channel=channel,
        order_date=order_date,
        note=note,
        idempotency_key=idempotency_key or None,
        created_by=actor,
        list_total=list_total,
        net_total=net_total,
        approval_level=priced.level,
    )
    # Confirmed as it is written, unless it waits for approval or over the credit limit (then it is
    # written as a draft, and confirming it says why it cannot be).
    verdict = credit.assess(order, account_locked=True) if confirm and not priced.level else None
    at_once = verdict is not None and not verdict.blocked
    if at_once:
        order.status = Order.CONFIRMED
    order.save(force_insert=True)
    if at_once:
        order.confirmed_at = order.created_at  # confirmed the moment it was made
    _assign_number(order, "SO", number, also=["confirmed_at"] if at_once else [])
    for b in built:
        b.order = order
    OrderLine.objects.bulk_create(built)
    if held is not None:
        held.redeem(order=order, priced=priced.priced, now=timezone.now())
    if priced.level:
        pricing.submit_for_approval(
            actor=actor, order=order, level=priced.level, reasons=priced.reasons, note=priced.manual_reasons
        )
    created = {
        "number": [None, order.number],
        "net_total": [None, str(order.net_total)],
        "currency": [None, currency],
        "lines": [None, _line_summary(built)],
    }
    if at_once:
        assert verdict is not None
        order.credit_check = verdict  # type: ignore[attr-defined]  # not blocked: at most a warning to record
        _confirmed(actor, order, lines=built, created=created, warning=credit.warning_changes(verdict))
        as_stored(order, *built)
        order.written_lines = built  # type: ignore[attr-defined]  # as stored: the caller answers from them
        return order
    audit_record(actor=actor, action="ORDER_CREATED", instance=order, account_id=account.pk, changes=created)
    if verdict is not None:
        try:
            order_confirm(actor=actor, order=order)
        except Conflict as refusal:
            if refusal.field != "credit":
                raise
            order.credit_refusal = refusal.message  # type: ignore[attr-defined]  # kept as a draft, said why
        else:
            order.refresh_from_db()
            return order
    activity_add(
        account=account,
        kind="order",
        actor=actor,
        ref=order,
        event="order_draft",
        params={"number": order.number, "total": order.net},
    )
    return order


def _confirmed(
    actor: Any,
    order: Order,
    *,
    lines: Sequence[OrderLine] | None = None,
    created: dict[str, Any] | None = None,
    warning: dict[str, Any] | None = None,
) -> None:
    """What follows an order's confirming (its credit passed), in its transaction: each discount it
    gave, the listeners (rebates), the account's order dates, the audit trail and the timeline.
    ``lines``: the order's lines as just written; ``created``: the order was written confirmed (its
    credit ``warning``, if any, is recorded between its creation and its confirmation)."""
    pricing.record_applied(order, lines)
    hooks.documents_changed(hooks.DocumentsChanged("order_confirmed", order.pk, order.account_id, order.order_date))
    _extend_order_dates(order.account_id, order.order_date)
    confirmed = {"status": [Order.DRAFT, Order.CONFIRMED]}
    events: list[tuple[str, dict[str, Any] | None]] = []
    if created:
        events.append(("ORDER_CREATED", created))
    if warning:
        events.append(("CREDIT_WARNING", warning))
    events.append(("ORDER_CONFIRMED", confirmed))
    audit_records(actor=actor, instance=order, account_id=order.account_id, events=events)
    activity_add(
        account=order.account,
        kind="order",
        actor=actor,
        ref=order,
        event="order_confirmed",
        params={"number": order.number, "total": order.net},
    )


def _locked_order(order: Order) -> Order:
    return Order.objects.select_for_update(of=("self",)).select_related("account__owner__team").get(pk=order.pk)


def _line_summary(lines: Sequence[OrderLine]) -> list[dict[str, str]]:
    return [{"sku": b.product.sku, "quantity": str(b.quantity), "net_unit_price": str(b.net_unit_price)} for b in lines]


@transaction.atomic
def order_update_lines(*, actor: Any, order: Order, lines: Sequence[LineInput]) -> Order:
    """A draft's lines replaced and priced again by today's rules. Terms approved before no longer count:
    if the new ones need approval, a new request replaces the old; if not, the old one is withdrawn."""
    order = _locked_order(order)
    require(actor, Action.RECORD_ORDER, order.account)
    if order.status != Order.DRAFT:
        raise Conflict(_("Only a draft order's lines can change."), "status")
    provider = hooks.coupon_provider()
    codes = provider.release(order=order) if provider is not None else []  # priced and redeemed again below
    errors = FieldErrors()
    held = _coupon_hold(order.account, codes, order.currency, errors, order_id=order.pk)
    priced = _price(actor, order.account, lines, order.currency, order.channel, errors, held.rules if held else ())
    before = _line_summary(list(order.lines.select_related("product")))
    had_approval = pricing.approval_state(order) is not None
    order.lines.all().delete()
    for b in priced.lines:
        b.order = order
    OrderLine.objects.bulk_create(priced.lines)
    order.list_total, order.net_total, order.approval_level = priced.list_total, priced.net_total, priced.level
    order.save(update_fields=["list_total", "net_total", "approval_level"])
    if held is not None:
        held.redeem(order=order, priced=priced.priced, now=timezone.now())
    if priced.level:
        pricing.submit_for_approval(
            actor=actor, order=order, level=priced.level, reasons=priced.reasons, note=priced.manual_reasons
        )
    elif had_approval:
        from patron.approvals.services import approval_supersede

        approval_supersede(subject_type=pricing.SUBJECT, subject_id=order.pk, actor=actor)
    audit_record(
        actor=actor,
        action="ORDER_LINES_CHANGED",
        instance=order,
        account_id=order.account_id,
        changes={"lines": [before, _line_summary(priced.lines)], "net_total": [None, str(order.net_total)]},
    )
    return order


@transaction.atomic
def order_confirm(*, actor: Any, order: Order) -> Order:
    order = _locked_order(order)
    require(actor, Action.RECORD_ORDER, order.account)
    if order.status == Order.CONFIRMED:
        return order  # confirming twice is a no-op, not an error
    if order.status == Order.CANCELLED:
        raise Conflict(_("A cancelled order cannot be confirmed."), "status")
    if not pricing.approved(order):
        raise Conflict(pricing.waiting_message(order), "approval")
    order.credit_check = credit.gate(actor=actor, order=order)  # type: ignore[attr-defined]
    order.status = Order.CONFIRMED
    order.confirmed_at = timezone.now()
    order.save(update_fields=["status", "confirmed_at"])
    _confirmed(actor, order)
    return order


@transaction.atomic
def order_cancel(*, actor: Any, order: Order, reason: str = "") -> Order:
    order = _locked_order(order)
    require(actor, Action.RECORD_ORDER, order.account)
    if order.status == Order.CANCELLED:
        return order
    if order.invoices.exclude(status=Invoice.VOID).exists():
        raise Conflict(_("This order has been invoiced; void its invoices before cancelling."), "status")
    if order.returns.exists():
        raise Conflict(_("Goods of this order were returned; it can no longer be cancelled."), "status")
    before = order.status
    order.status = Order.CANCELLED
    order.cancelled_at = timezone.now()
    order.save(update_fields=["status", "cancelled_at"])
    pricing.forget_applied(order)
    # A confirmed order took volume (rebates) that goes back; a draft took only its coupons' uses.
    kind = "order_cancelled" if before == Order.CONFIRMED else "draft_cancelled"
    hooks.documents_changed(hooks.DocumentsChanged(kind, order.pk, order.account_id, order.order_date))
    if order.approval_level:
        from patron.approvals.services import approval_supersede

        approval_supersede(subject_type=pricing.SUBJECT, subject_id=order.pk, actor=actor)
    refresh_order_dates(order.account_id)
    audit_record(
        actor=actor,
        action="ORDER_CANCELLED",
        instance=order,
        account_id=order.account_id,
        changes={"status": [before, Order.CANCELLED], "reason": [None, reason]},
    )
    activity_add(
        account=order.account,
        kind="order",
        actor=actor,
        ref=order,
        body=reason,
        event="order_cancelled",
        params={"number": order.number},
    )
    return order


# --- returns ----------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLineInput:
    order_line: OrderLine | int
    quantity: Any


@transaction.atomic
def return_create(
    *,
    actor: Any,
    order: Order,
    lines: Sequence[ReturnLineInput],
    return_date: dt.date | None = None,
    reason: str = "",
    number: str | None = None,
    idempotency_key: str | None = None,
) -> Return:
    order = _locked_order(order)
    require(actor, Action.RECORD_ORDER, order.account)
    if (earlier := _replayed(Return, idempotency_key, order.account_id)) is not None:
        return earlier
    errors = FieldErrors()
    _check_requested_number(errors, Return, number)
    if order.status != Order.CONFIRMED:
        raise Conflict(_("Only a confirmed order can have returns."), "order")
    return_date = return_date or timezone.localdate()
    errors.check_date("return_date", return_date)
    if return_date < order.order_date:
        errors.add("return_date", _("A return cannot be dated before its order."))
    if return_date > timezone.localdate():
        errors.add("return_date", _("A return cannot be dated in the future."))
    order_lines = {line.pk: line for line in order.lines.select_related("product")}
    earlier = {
        row["order_line"]: (row["q"], row["a"])
        for row in ReturnLine.objects.filter(order_line__order=order)
        .values("order_line")
        .annotate(q=Sum("quantity"), a=Sum("amount"))
    }
    returned = {line_id: q for line_id, (q, _a) in earlier.items()}
    built: list[ReturnLine] = []
    if not lines:
        errors.add("lines", _("A return needs at least one line."))
    seen: dict[int, Decimal] = {}
    for index, line in enumerate(lines):
        prefix = f"lines.{index}."
        line_id = line.order_line.pk if isinstance(line.order_line, OrderLine) else line.order_line
        order_line = order_lines.get(line_id)  # type: ignore[arg-type]
        if order_line is None:
            errors.add(prefix + "order_line", _("This line is not on the order."))
            continue
        quantity = _number(errors, prefix + "quantity", line.quantity, QUANTITY_PLACES, positive=True)
        if quantity is None:
            continue
        already = returned.get(order_line.pk, Decimal(0)) + seen.get(order_line.pk, Decimal(0))
        if already + quantity > order_line.quantity:
            left = order_line.quantity - already
            errors.add(prefix + "quantity", _("At most %(left)s can still be returned.") % {"left": left.normalize()})
            continue
        seen[order_line.pk] = seen.get(order_line.pk, Decimal(0)) + quantity
        # Each return is rounded on its own; the line's last return takes what is left of its
        # total, so returns of a line never add up to more (or less) than the line cost.
        refunded = earlier.get(order_line.pk, (Decimal(0), Decimal(0)))[1] + sum(
            (b.amount for b in built if b.order_line.pk == order_line.pk), Decimal(0)
        )
        left_to_refund = order_line.line_total - refunded
        amount = line_amount(quantity, Money(order_line.net_unit_price, order.currency)).amount
        if already + quantity == order_line.quantity or amount > left_to_refund:
            amount = left_to_refund
        built.append(ReturnLine(order_line=order_line, quantity=quantity, amount=amount))
    errors.raise_if_any()
    ret = Return.objects.create(
        number=number or _temporary_number(),
        order=order,
        account=order.account,
        return_date=return_date,
        reason=reason,
        currency=order.currency,
        total=sum((b.amount for b in built), Decimal(0)),
        idempotency_key=idempotency_key or None,
        created_by=actor,
    )
    _assign_number(ret, "RT", number)
    for b in built:
        b.ret = ret
    ReturnLine.objects.bulk_create(built)
    hooks.documents_changed(
        hooks.DocumentsChanged("return_recorded", order.pk, order.account_id, order.order_date, ret.pk)
    )
    audit_record(
        actor=actor,
        action="RETURN_RECORDED",
        instance=ret,
        account_id=order.account_id,
        changes={"order": [None, order.number], "total": [None, str(ret.total)], "reason": [None, reason]},
    )
    activity_add(
        account=order.account,
        kind="return",
        actor=actor,
        ref=ret,
        body=reason,
        event="return_recorded",
        params={"number": ret.number, "order": order.number, "total": Money(ret.total, ret.currency)},
    )
    _credit_returned_goods(actor=actor, ret=ret, order=order)
    return ret


def _credit_returned_goods(*, actor: Any, ret: Return, order: Order) -> CreditNote | None:
    """Goods returned after they were invoiced are owed back: a credit note, applied to open invoices.

    Returns first use up what was never invoiced; only the rest is credited. The credit is
    applied to this order's open invoices, then the account's others in the currency, oldest
    due first; what is left stays on the credit note as the account's credit.
    """
    totals = _order_totals(order)
    due = totals["returned"] + totals["invoiced"] - order.net_total - totals["credited"]
    if due <= 0:
        return None
    return _issue_credit(
        actor=actor,
        account=order.account,
        amount=due,
        currency=order.currency,
        issue_date=ret.return_date,
        reason=ret.reason,
        ret=ret,
        first=order,
        changes={"return": [None, ret.number]},
        params={"return": ret.number},
    )


def credit_note_issue(
    *, actor: Any, account: Account, amount: Decimal, currency: str, issue_date: dt.date, reason: str
) -> CreditNote:
    """Money owed to the account for something other than returned goods (a rebate): applied to its
    open invoices in the currency, oldest due first; what is left stays as the account's credit."""
    if amount <= 0:
        raise ValueError("a credit note is for more than zero")
    return _issue_credit(
        actor=actor,
        account=account,
        amount=amount,
        currency=currency,
        issue_date=issue_date,
        reason=reason,
        event="credit_note_for",
        params={"reason": reason},
    )


def _issue_credit(
    *,
    actor: Any,
    account: Account,
    amount: Decimal,
    currency: str,
    issue_date: dt.date,
    reason: str,
    ret: Return | None = None,
    first: Order | None = None,
    changes: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
    event: str = "credit_note_issued",
) -> CreditNote:
    note = CreditNote.objects.create(
        number=_temporary_number(),
        account=account,
        ret=ret,
        currency=currency,
        amount=amount,
        issue_date=issue_date,
        reason=reason[:200],
        created_by=actor,
    )
    _assign_number(note, "CN", None)
    invoices = list(
        Invoice.objects.select_for_update()
        .filter(account=account, currency=currency, status=Invoice.OPEN)
        .order_by(Case(When(order=first, then=0), default=1), "due_date", "id")
    )
    plan = _oldest_first(invoices, amount)
    CreditAllocation.objects.bulk_create(
        [CreditAllocation(credit_note=note, invoice=invoice, amount=part) for invoice, part in plan]
    )
    _settle(plan)
    applied = {invoice.number: str(part) for invoice, part in plan}
    note.applied_amount = sum((part for _invoice, part in plan), Decimal(0))
    note.save(update_fields=["applied_amount"])
    audit_record(
        actor=actor,
        action="CREDIT_NOTE_ISSUED",
        instance=note,
        account_id=account.pk,
        changes={**(changes or {}), "amount": [None, str(amount)], "applied": [None, applied]},
    )
    activity_add(
        account=account,
        kind="invoice",
        actor=actor,
        ref=note,
        event=event,
        params={"number": note.number, **(params or {}), "amount": Money(amount, currency)},
    )
    return note


# --- invoices and payments --------------------------------------------------


def _oldest_first(invoices: Sequence[Invoice], amount: Decimal) -> list[tuple[Invoice, Decimal]]:
    """How ``amount`` spreads over ``invoices`` in the order given, each up to what it still owes."""
    plan: list[tuple[Invoice, Decimal]] = []
    left = amount
    for invoice in invoices:
        if left <= 0:
            break
        part = min(left, invoice.outstanding)
        if part > 0:
            plan.append((invoice, part))
            left -= part
    return plan


def _settle(plan: Sequence[tuple[Invoice, Decimal]]) -> None:
    """Apply money (payments, credit notes) to locked invoices; a fully settled one is paid."""
    for invoice, part in plan:
        invoice.paid_amount += part
        newly_paid = invoice.status != Invoice.PAID and invoice.paid_amount >= invoice.amount
        if newly_paid:
            invoice.status = Invoice.PAID
        invoice.save(update_fields=["paid_amount", "status"])
        if newly_paid:
            _invoices_changed(invoice)


def _invoices_changed(invoice: Invoice) -> None:
    """An order's invoices changed (issued, paid, voided): what counts only invoiced or paid orders hears it."""
    if invoice.order_id is None:
        return
    order = Order.objects.only("account_id", "order_date").get(pk=invoice.order_id)
    hooks.documents_changed(hooks.DocumentsChanged("invoices_changed", order.pk, order.account_id, order.order_date))


def _order_totals(order: Order) -> dict[str, Decimal]:
    return {
        "returned": order.returns.aggregate(t=Sum("total"))["t"] or Decimal(0),
        "invoiced": order.invoices.exclude(status=Invoice.VOID).aggregate(t=Sum("amount"))["t"] or Decimal(0),
        "credited": CreditNote.objects.filter(ret__order=order).aggregate(t=Sum("amount"))["t"] or Decimal(0),
    }


def order_invoiceable(order: Order) -> Decimal:
    """What is left to invoice: the net total less returns and invoices, plus returns credited after invoicing."""
    totals = _order_totals(order)
    return order.net_total - totals["returned"] - totals["invoiced"] + totals["credited"]


@transaction.atomic
def invoice_void(*, actor: Any, invoice: Invoice, reason: str = "") -> Invoice:
    """Cancel an invoice issued in error. One that has been settled in part needs a credit note instead."""
    invoice = Invoice.objects.select_for_update(of=("self",)).select_related("account__owner__team").get(pk=invoice.pk)
    require(actor, Action.RECORD_INVOICE, invoice.account)
    if invoice.status == Invoice.VOID:
        return invoice  # voiding twice is a no-op
    if invoice.paid_amount > 0:
        raise Conflict(_("Money has been applied to this invoice; it can no longer be voided."), "status")
    before = invoice.status
    invoice.status = Invoice.VOID
    invoice.save(update_fields=["status"])
    _invoices_changed(invoice)
    audit_record(
        actor=actor,
        action="INVOICE_VOIDED",
        instance=invoice,
        account_id=invoice.account_id,
        changes={"status": [before, Invoice.VOID], "reason": [None, reason]},
    )
    activity_add(
        account=invoice.account,
        kind="invoice",
        actor=actor,
        ref=invoice,
        body=reason,
        event="invoice_voided",
        params={"number": invoice.number},
    )
    return invoice


@transaction.atomic
def invoice_create(
    *,
    actor: Any,
    account: Account,
    amount: Any = None,
    order: Order | None = None,
    issue_date: dt.date | None = None,
    due_date: dt.date | None = None,
    currency: str | None = None,
    number: str | None = None,
    idempotency_key: str | None = None,
) -> Invoice:
    account = _live(account)
    require(actor, Action.RECORD_INVOICE, account)
    if (earlier := _replayed(Invoice, idempotency_key, account.pk)) is not None:
        return earlier
    errors = FieldErrors()
    _check_requested_number(errors, Invoice, number)
    if order is not None:
        order = _locked_order(order)
        if order.account_id != account.pk:
            errors.add("order", _("This order belongs to another account."))
        elif order.status != Order.CONFIRMED:
            errors.add("order", _("Only a confirmed order can be invoiced."))
        if currency and currency != order.currency:
            errors.add("currency", _("An invoice is in its order's currency."))
        currency = order.currency
    currency = currency or "CNY"
    _check_currency(errors, currency)
    issue_date = issue_date or timezone.localdate()
    if errors.check_date("issue_date", issue_date) and errors.check_date("due_date", due_date):
        due_date = due_date or issue_date + dt.timedelta(days=account.payment_terms_days)
        errors.check_date("due_date", due_date)
    errors.raise_if_any()
    assert due_date is not None
    if due_date < issue_date:
        errors.add("due_date", _("The due date cannot be before the issue date."))
    if errors:
        errors.raise_if_any()
    value: Decimal | None
    if amount in (None, "") and order is not None:
        value = order_invoiceable(order)
    else:
        value = _number(errors, "amount", amount, minor_units(currency), positive=True)
    if value is not None and order is not None and not errors:
        left = order_invoiceable(order)
        if value > left:
            errors.add(
                "amount",
                _("Only %(left)s of this order is left to invoice.") % {"left": Money(left, currency)},
            )
    if value is not None and value <= 0 and "amount" not in errors.errors:
        errors.add("amount", _("Nothing is left to invoice."))
    errors.raise_if_any()
    assert value is not None
    invoice = Invoice.objects.create(
        number=number or _temporary_number(),
        account=account,
        order=order,
        currency=currency,
        issue_date=issue_date,
        due_date=due_date,
        amount=value,
        idempotency_key=idempotency_key or None,
        created_by=actor,
    )
    _assign_number(invoice, "INV", number)
    _invoices_changed(invoice)
    audit_record(
        actor=actor,
        action="INVOICE_ISSUED",
        instance=invoice,
        account_id=account.pk,
        changes=diff({}, snapshot(invoice, ("number", "order", "currency", "issue_date", "due_date", "amount"))),
    )
    activity_add(
        account=account,
        kind="invoice",
        actor=actor,
        ref=invoice,
        event="invoice_issued",
        params={"number": invoice.number, "amount": Money(invoice.amount, currency), "due": due_date.isoformat()},
    )
    return invoice


@dataclass(frozen=True)
class AllocationInput:
    invoice: Invoice | int | str
    amount: Any


@transaction.atomic
def payment_record(
    *,
    actor: Any,
    account: Account,
    amount: Any,
    currency: str = "CNY",
    received_on: dt.date | None = None,
    method: str = "bank_transfer",
    reference: str = "",
    allocations: Sequence[AllocationInput] | None = None,
    number: str | None = None,
    idempotency_key: str | None = None,
) -> Payment:
    """Record money received and apply it to invoices (oldest due first unless told).

    Replaying a request with the same payment ``number`` or ``idempotency_key`` for
    the same account and amount returns the payment already recorded instead of
    paying twice; the account row lock makes concurrent replays wait for the first.
    """
    account = _live(account)
    require(actor, Action.RECORD_PAYMENT, account)
    if idempotency_key:
        earlier = Payment.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            same = earlier.account_id == account.pk and earlier.currency == currency
            if same and earlier.amount == _safe_decimal(amount):
                earlier.replayed = True
                return earlier
            raise Conflict(_("This request was already used for another payment."), "idempotency_key")
    if number:
        existing = Payment.objects.filter(number=number).first()
        if existing is not None:
            same = existing.account_id == account.pk and existing.currency == currency
            if same and existing.amount == _safe_decimal(amount):
                existing.replayed = True
                return existing
            raise Conflict(_("Payment number %(number)s is already used.") % {"number": number}, "number")
    errors = FieldErrors()
    _check_currency(errors, currency)
    _check_requested_number(errors, Payment, number)
    received_on = received_on or timezone.localdate()
    errors.check_date("received_on", received_on)
    if received_on > timezone.localdate():
        errors.add("received_on", _("A payment cannot be received in the future."))
    if method not in dict(Payment.METHODS):
        errors.add("method", _("Unknown payment method."))
    if len(reference) > Payment._meta.get_field("reference").max_length:  # type: ignore[operator]
        errors.add("reference", _("At most %(count)s characters.") % {"count": 100})
    errors.raise_if_any()
    value = _number(errors, "amount", amount, minor_units(currency), positive=True)
    errors.raise_if_any()
    assert value is not None
    open_invoices = list(
        Invoice.objects.select_for_update()
        .filter(account=account, currency=currency, status=Invoice.OPEN)
        .order_by("due_date", "id")
    )
    owed = sum((i.outstanding for i in open_invoices), Decimal(0))
    plan: list[tuple[Invoice, Decimal]] = []
    if allocations is None:
        if value > owed:
            errors.add(
                "amount",
                _("The payment (%(amount)s) is larger than what the account owes (%(owed)s).")
                % {"amount": Money(value, currency), "owed": Money(owed, currency)},
            )
        plan = _oldest_first(open_invoices, value)
    else:
        by_key: dict[object, Invoice] = {i.pk: i for i in open_invoices} | {i.number: i for i in open_invoices}
        total = Decimal(0)
        used: set[int] = set()
        for index, alloc in enumerate(allocations):
            prefix = f"allocations.{index}."
            key = alloc.invoice.pk if isinstance(alloc.invoice, Invoice) else alloc.invoice
            found = by_key.get(key)
            if found is None:
                errors.add(
                    prefix + "invoice",
                    _("No open invoice of this account in %(currency)s has this reference.") % {"currency": currency},
                )
                continue
            if found.pk in used:
                errors.add(prefix + "invoice", _("Each invoice may appear once."))
                continue
            used.add(found.pk)
            share = _number(errors, prefix + "amount", alloc.amount, minor_units(currency), positive=True)
            if share is None:
                continue
            if share > found.outstanding:
                errors.add(
                    prefix + "amount",
                    _("Invoice %(number)s has only %(left)s outstanding.")
                    % {"number": found.number, "left": Money(found.outstanding, currency)},
                )
                continue
            total += share
            plan.append((found, share))
        if not errors and total != value:
            errors.add(
                "allocations",
                _("The allocations add up to %(total)s, the payment is %(amount)s.")
                % {"total": Money(total, currency), "amount": Money(value, currency)},
            )
    errors.raise_if_any()
    payment = Payment.objects.create(
        number=number or _temporary_number(),
        account=account,
        currency=currency,
        amount=value,
        received_on=received_on,
        method=method,
        reference=reference,
        idempotency_key=idempotency_key or None,
        created_by=actor,
    )
    _assign_number(payment, "PAY", number)
    PaymentAllocation.objects.bulk_create(
        [PaymentAllocation(payment=payment, invoice=invoice, amount=part) for invoice, part in plan]
    )
    _settle(plan)
    audit_record(
        actor=actor,
        action="PAYMENT_RECORDED",
        instance=payment,
        account_id=account.pk,
        changes={
            "amount": [None, str(value)],
            "currency": [None, currency],
            "received_on": [None, received_on.isoformat()],
            "allocations": [None, {invoice.number: str(part) for invoice, part in plan}],
        },
    )
    activity_add(
        account=account,
        kind="payment",
        actor=actor,
        ref=payment,
        event="payment_received",
        params={"number": payment.number, "amount": Money(value, currency)},
    )
    return payment


def _safe_decimal(value: Any) -> Decimal | None:
    try:
        return to_decimal(value)
    except MoneyError:
        return None
