"""REST endpoints for products, orders, returns, invoices and payments.

Money goes in and out as text ("1200.50"). Records the caller may not see answer
404; a record named in a request body that the caller may not see is refused as
unknown (422), so neither answer tells whether it exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status

from patron.accounts.access import can, require, visible_accounts
from patron.accounts.models import Account
from patron.accounts.selectors import FilterError
from patron.api.pagination import PageQuery, page_of
from patron.api.schemas import AccountRef, Amount, AmountIn, CodeIn, CodeName, Day, UserRef, responses
from patron.domain.access import Action

from . import credit, pricing, selectors, services
from .models import Category, Invoice, Order, Payment, Product, Return

router = Router()

ORDER_STATUSES = Literal["draft", "confirmed", "cancelled"]
INVOICE_STATUSES = Literal["open", "paid", "void"]
PRODUCT_SORTS = Literal["sku", "-sku", "name", "-name"]
Text = Annotated[str, Field(max_length=2000)]


# --- schemas ------------------------------------------------------------------


class ProductOut(Schema):
    sku: str
    name: str
    category: CodeName | None
    unit: str
    list_price: Amount
    unit_cost: Amount
    currency: str
    active: bool


class ProductPage(Schema):
    items: list[ProductOut]
    next_cursor: str | None


class ProductQuery(PageQuery):
    q: str = Field("", max_length=200, description="Part of the SKU or name.")
    category: str = Field("", max_length=40, description="Category code; includes its subcategories.")
    active: bool | None = None
    sort: PRODUCT_SORTS = "sku"


class ProductIn(Schema):
    sku: CodeIn
    name: Annotated[str, Field(max_length=500)]
    category: str | None = Field(None, max_length=40, description="Category code.")
    unit: Annotated[str, Field(max_length=100)] = "pcs"
    list_price: AmountIn
    unit_cost: AmountIn = "0"
    currency: Annotated[str, Field(max_length=10)] = "CNY"
    active: bool = True


class ProductPatch(Schema):
    sku: CodeIn | None = None
    name: Annotated[str, Field(max_length=500)] | None = None
    category: str | None = Field(None, max_length=40)
    unit: Annotated[str, Field(max_length=100)] | None = None
    list_price: AmountIn | None = None
    unit_cost: AmountIn | None = None
    currency: Annotated[str, Field(max_length=10)] | None = None
    active: bool | None = None


class ProductRef(Schema):
    sku: str
    name: str


class OrderLineOut(Schema):
    id: int
    position: int
    product: ProductRef
    quantity: Amount
    list_unit_price: Amount
    net_unit_price: Amount
    line_total: Amount
    discounts: list[dict[str, Any]]


class ReturnSummary(Schema):
    number: str
    return_date: dt.date
    reason: str
    total: Amount


class OrderOut(Schema):
    number: str
    account: AccountRef
    status: str
    channel: str
    currency: str
    order_date: dt.date
    list_total: Amount
    net_total: Amount
    created_by: UserRef | None
    created_at: dt.datetime
    confirmed_at: dt.datetime | None
    cancelled_at: dt.datetime | None


class OrderApproval(Schema):
    level: Literal["manager", "admin"] = Field(description="Who must approve the order's manual discounts.")
    request: int | None = Field(description="The approval request (GET /api/approvals/{id}); null if none is live.")
    status: Literal["pending", "approved"] | None


class OrderDetail(OrderOut):
    note: str
    lines: list[OrderLineOut]
    returns: list[ReturnSummary]
    approval: OrderApproval | None = Field(
        description="Set when the manual discounts need approval: the order can be confirmed once it is approved."
    )
    credit: OrderCredit | None = Field(
        None, description="A draft's credit check, for those who may see receivables; null otherwise."
    )

    @staticmethod
    def resolve_credit(obj: Order, context: Any) -> dict[str, Any] | None:
        request = (context or {}).get("request")
        user = getattr(request, "user", None) or getattr(request, "auth", None)
        if obj.status != Order.DRAFT or user is None or not can(user, Action.VIEW_RECEIVABLES, obj.account):
            return None
        position, verdict = credit.check(obj)
        live = credit.override_state(obj) if verdict.blocked else None
        return {
            "outcome": verdict.outcome.value,
            "credit_limit": position.limit,
            "exposure_after": verdict.exposure_after,
            "over_by": verdict.over_by,
            "reasons": [{"code": r.code, "text": credit.reason_text(r)} for r in verdict.reasons],
            "override": {"request": live.pk, "status": live.status} if live else None,
        }

    @staticmethod
    def resolve_approval(obj: Order) -> dict[str, Any] | None:
        if not obj.approval_level:
            return None
        live = pricing.approval_state(obj)
        return {
            "level": obj.approval_level,
            "request": live.pk if live else None,
            "status": live.status if live else None,
        }


class CreditReasonOut(Schema):
    code: str = Field(description="OVER_LIMIT, NEAR_LIMIT, WITHIN_LIMIT, OVERDUE, RATE_MISSING or NO_LIMIT.")
    text: str


class CreditOverrideOut(Schema):
    request: int = Field(description="The approval request (GET /api/approvals/{id}).")
    status: str


class OrderCredit(Schema):
    outcome: Literal["ok", "warn", "block"] = Field(
        description="block: confirming is refused until finance approves an override for this order."
    )
    credit_limit: Amount = Field(description="In the company currency; 0: no limit.")
    exposure_after: Amount = Field(description="Owed on open invoices plus ordered and not invoiced, with this order.")
    over_by: Amount
    reasons: list[CreditReasonOut]
    override: CreditOverrideOut | None


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: str | None


class OrderQuery(PageQuery):
    account: str = Field("", max_length=100, description="Account code.")
    status: ORDER_STATUSES | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class LineIn(Schema):
    product: CodeIn = Field(description="SKU.")
    quantity: AmountIn = Field(examples=["2"])
    net_unit_price: AmountIn | None = Field(
        None, description="A manual price below what the discount rules give; the rules' price when left out."
    )
    reason: Annotated[str, Field(max_length=500)] = Field("", description="Why the manual price, for the approver.")


class LinesIn(Schema):
    lines: list[LineIn] = Field(max_length=500)


class OrderIn(Schema):
    account: CodeIn = Field(description="Account code.")
    lines: list[LineIn] = Field(max_length=500)
    order_date: Day | None = None
    currency: Annotated[str, Field(max_length=10)] = "CNY"
    channel: Annotated[str, Field(max_length=20)] = "sales_rep"
    confirm: bool = False
    number: CodeIn | None = Field(None, description="Your own order number; assigned when left out.")
    note: Annotated[str, Field(max_length=20000)] = ""
    coupons: list[Annotated[str, Field(max_length=64)]] = Field(
        [], max_length=10, description="Coupon codes, redeemed with the order (typed as printed: any case, dashes)."
    )


class CancelIn(Schema):
    reason: Text = ""


class ReturnLineIn(Schema):
    order_line: int = Field(ge=1, le=2**63 - 1, description="`id` of the order line.")
    quantity: AmountIn


class ReturnIn(Schema):
    lines: list[ReturnLineIn] = Field(max_length=500)
    return_date: Day | None = None
    reason: Annotated[str, Field(max_length=200)] = ""
    number: CodeIn | None = None


class ReturnLineOut(Schema):
    order_line: int
    quantity: Amount
    amount: Amount

    @staticmethod
    def resolve_order_line(obj: Any) -> int:
        return int(obj.order_line_id)


class ReturnOut(Schema):
    number: str
    order: str
    return_date: dt.date
    reason: str
    currency: str
    total: Amount
    lines: list[ReturnLineOut]

    @staticmethod
    def resolve_order(obj: Any) -> str:
        return str(obj.order.number)


class InvoiceOut(Schema):
    number: str
    account: AccountRef
    order: str | None
    currency: str
    issue_date: dt.date
    due_date: dt.date
    amount: Amount
    paid_amount: Amount
    outstanding: Amount
    status: str
    created_at: dt.datetime

    @staticmethod
    def resolve_order(obj: Invoice) -> str | None:
        return obj.order.number if obj.order is not None else None


class InvoicePage(Schema):
    items: list[InvoiceOut]
    next_cursor: str | None


class InvoiceQuery(PageQuery):
    account: str = Field("", max_length=100, description="Account code.")
    status: INVOICE_STATUSES | None = None
    issued_from: dt.date | None = None
    issued_to: dt.date | None = None


class InvoiceIn(Schema):
    account: CodeIn = Field(description="Account code.")
    order: CodeIn | None = Field(None, description="Order number; the invoice is then in the order's currency.")
    amount: AmountIn | None = Field(None, description="What is left to invoice on the order when left out.")
    issue_date: Day | None = None
    due_date: Day | None = Field(None, description="Issue date plus the account's payment terms when left out.")
    currency: Annotated[str, Field(max_length=10)] | None = None
    number: CodeIn | None = None


class AllocationOut(Schema):
    invoice: str
    amount: Amount

    @staticmethod
    def resolve_invoice(obj: Any) -> str:
        return str(obj.invoice.number)


class PaymentOut(Schema):
    number: str
    account: AccountRef
    currency: str
    amount: Amount
    received_on: dt.date
    method: str
    reference: str
    allocations: list[AllocationOut]
    created_by: UserRef | None
    created_at: dt.datetime


class PaymentPage(Schema):
    items: list[PaymentOut]
    next_cursor: str | None


class PaymentQuery(PageQuery):
    account: str = Field("", max_length=100, description="Account code.")
    received_from: dt.date | None = None
    received_to: dt.date | None = None


class AllocationIn(Schema):
    invoice: CodeIn = Field(description="Invoice number.")
    amount: AmountIn


class PaymentIn(Schema):
    account: CodeIn = Field(description="Account code.")
    amount: AmountIn
    currency: Annotated[str, Field(max_length=10)] = "CNY"
    received_on: Day | None = None
    method: Annotated[str, Field(max_length=20)] = "bank_transfer"
    reference: Annotated[str, Field(max_length=100)] = ""
    allocations: list[AllocationIn] | None = Field(
        None, max_length=500, description="Which invoices the payment settles; oldest due first when left out."
    )
    number: CodeIn | None = Field(
        None, description="The payment's number (a bank reference); sending it again replays, not pays twice."
    )


# --- helpers ------------------------------------------------------------------


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


def _body_account(user: Any, code: str) -> Account:
    """The account a request body names, if the caller may see it; 422 on ``account`` otherwise."""
    account = visible_accounts(user).select_related("owner__team").filter(code=code).first()
    if account is None:
        raise ValidationError({"account": [_("Unknown account.")]})
    return account


def _require_receivables(user: Any) -> None:
    """Roles that never see invoices and payments are told so (403) before any lookup."""
    if not can(user, Action.VIEW_RECEIVABLES):
        raise PermissionDenied(Action.VIEW_RECEIVABLES.value)


def _orders(user: Any) -> QuerySet[Order]:
    return selectors.order_list(user=user).select_related("created_by")


class _Written:
    """An order confirmed as it was written, answered from what was written instead of read back:
    its lines as stored, no returns yet."""

    def __init__(self, order: Order, lines: list[Any]) -> None:
        self._order, self.lines = order, lines
        self.returns: list[Any] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._order, name)


def _order_detail(user: Any, number: str) -> Order:
    return get_object_or_404(
        _orders(user).prefetch_related("lines__product", "returns"),
        number=number,
    )


def _invoices(user: Any) -> QuerySet[Invoice]:
    return selectors.invoice_list(user=user).select_related("order")


def _payments(user: Any) -> QuerySet[Payment]:
    return selectors.payment_list(user=user).select_related("created_by").prefetch_related("allocations__invoice")


def _category(data: dict[str, Any]) -> dict[str, Any]:
    if "category" in data:
        code = data["category"]
        if code in (None, ""):
            data["category"] = None
        else:
            category = Category.objects.filter(code=code).first()
            if category is None:
                raise ValidationError({"category": [_("Unknown category.")]})
            data["category"] = category
    return data


# --- products -----------------------------------------------------------------


@router.get("/products", response=responses({200: ProductPage}, 422), tags=["products"], summary="List products")
def product_list(request: HttpRequest, query: Query[ProductQuery]) -> Any:
    qs = Product.objects.select_related("category")
    if query.q:
        qs = qs.filter(Q(sku__icontains=query.q) | Q(name__icontains=query.q))
    if query.category:
        category = Category.objects.filter(code=query.category).first()
        if category is None:
            raise FilterError("category", _("Unknown category."))
        qs = qs.filter(category__path__startswith=category.path)
    if query.active is not None:
        qs = qs.filter(active=query.active)
    return page_of(qs, sort=query.sort, query=query)


@router.post(
    "/products", response=responses({201: ProductOut}, 409, 422), tags=["products"], summary="Create a product"
)
def product_create(request: HttpRequest, payload: ProductIn) -> Any:
    user = _user(request)
    require(user, Action.EDIT_PRODUCT)
    product = services.product_create(actor=user, data=_category(payload.model_dump(exclude_unset=True)))
    return Status(201, Product.objects.select_related("category").get(pk=product.pk))


@router.patch(
    "/products/{sku}",
    response=responses({200: ProductOut}, 404, 409, 422),
    tags=["products"],
    summary="Change a product",
)
def product_update(request: HttpRequest, sku: str, payload: ProductPatch) -> Any:
    user = _user(request)
    product = get_object_or_404(Product, sku=sku)
    require(user, Action.EDIT_PRODUCT)
    product = services.product_update(
        actor=user, product=product, data=_category(payload.model_dump(exclude_unset=True))
    )
    return Product.objects.select_related("category").get(pk=product.pk)


# --- orders and returns -------------------------------------------------------


@router.get("/orders", response=responses({200: OrderPage}, 422), tags=["orders"], summary="List orders, newest first")
def order_list(request: HttpRequest, query: Query[OrderQuery]) -> Any:
    qs = _orders(_user(request))
    if query.account:
        qs = qs.filter(account__code=query.account)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.date_from:
        qs = qs.filter(order_date__gte=query.date_from)
    if query.date_to:
        qs = qs.filter(order_date__lte=query.date_to)
    return page_of(qs, sort="-order_date", query=query)


@router.post(
    "/orders",
    response=responses({200: OrderDetail, 201: OrderDetail}, 409, 422),
    tags=["orders"],
    summary="Record an order (draft or confirmed)",
)
def order_create(request: HttpRequest, payload: OrderIn) -> Any:
    user = _user(request)
    account = _body_account(user, payload.account)
    if payload.coupons:  # codes are tried here too: as limited as checking them
        from patron.coupons.throttles import check_rate

        check_rate(request)
    order = services.order_create(
        actor=user,
        account=account,
        lines=[
            services.LineInput(
                product=line.product, quantity=line.quantity, net_unit_price=line.net_unit_price, reason=line.reason
            )
            for line in payload.lines
        ],
        order_date=payload.order_date,
        currency=payload.currency,
        channel=payload.channel,
        confirm=payload.confirm,
        number=payload.number or None,
        idempotency_key=_idempotency_key(request),
        note=payload.note,
        coupons=payload.coupons,
    )
    if order.replayed or not hasattr(order, "written_lines"):
        return Status(200 if order.replayed else 201, _order_detail(user, order.number))
    return Status(201, _Written(order, order.written_lines))


@router.get("/orders/{number}", response=responses({200: OrderDetail}, 404), tags=["orders"], summary="Get an order")
def order_detail(request: HttpRequest, number: str) -> Any:
    return _order_detail(_user(request), number)


@router.post(
    "/orders/{number}/confirm",
    response=responses({200: OrderDetail}, 404, 409),
    tags=["orders"],
    summary="Confirm a draft order",
)
def order_confirm(request: HttpRequest, number: str) -> Any:
    user = _user(request)
    services.order_confirm(actor=user, order=_order_detail(user, number))
    return _order_detail(user, number)


class OverrideIn(Schema):
    reason: str = Field(min_length=1, max_length=2000, description="Why the order should go ahead; finance reads it.")


@router.post(
    "/orders/{number}/credit-override",
    response=responses({201: CreditOverrideOut}, 404, 409, 422),
    tags=["orders"],
    summary="Ask finance to approve a draft over the account's credit limit",
)
def order_credit_override(request: HttpRequest, number: str, payload: OverrideIn) -> Any:
    user = _user(request)
    approval = credit.override_request(actor=user, order=_order_detail(user, number), reason=payload.reason)
    return Status(201, {"request": approval.pk, "status": approval.status})


@router.put(
    "/orders/{number}/lines",
    response=responses({200: OrderDetail}, 404, 409, 422),
    tags=["orders"],
    summary="Replace a draft order's lines (priced again; approval asked again if needed)",
)
def order_lines_update(request: HttpRequest, number: str, payload: LinesIn) -> Any:
    user = _user(request)
    services.order_update_lines(
        actor=user,
        order=_order_detail(user, number),
        lines=[
            services.LineInput(
                product=line.product, quantity=line.quantity, net_unit_price=line.net_unit_price, reason=line.reason
            )
            for line in payload.lines
        ],
    )
    return _order_detail(user, number)


@router.post(
    "/orders/{number}/cancel",
    response=responses({200: OrderDetail}, 404, 409, 422),
    tags=["orders"],
    summary="Cancel an order",
)
def order_cancel(request: HttpRequest, number: str, payload: CancelIn | None = None) -> Any:
    user = _user(request)
    reason = payload.reason if payload is not None else ""
    services.order_cancel(actor=user, order=_order_detail(user, number), reason=reason)
    return _order_detail(user, number)


@router.post(
    "/orders/{number}/returns",
    response=responses({200: ReturnOut, 201: ReturnOut}, 404, 409, 422),
    tags=["orders"],
    summary="Record goods returned from an order (send an Idempotency-Key header to retry safely)",
)
def return_create(request: HttpRequest, number: str, payload: ReturnIn) -> Any:
    user = _user(request)
    order = _order_detail(user, number)
    ret = services.return_create(
        actor=user,
        order=order,
        lines=[services.ReturnLineInput(order_line=line.order_line, quantity=line.quantity) for line in payload.lines],
        return_date=payload.return_date,
        reason=payload.reason,
        number=payload.number or None,
        idempotency_key=_idempotency_key(request),
    )
    return Status(
        200 if ret.replayed else 201, Return.objects.select_related("order").prefetch_related("lines").get(pk=ret.pk)
    )


def _idempotency_key(request: HttpRequest) -> str | None:
    """The ``Idempotency-Key`` header: a retried request with it records once and answers 200."""
    key = request.headers.get("Idempotency-Key", "").strip() or None
    if key is not None and len(key) > 64:
        raise ValidationError({"idempotency_key": [_("At most 64 characters.")]})
    return key


# --- invoices -----------------------------------------------------------------


@router.get(
    "/invoices",
    response=responses({200: InvoicePage}, 422),
    tags=["receivables"],
    summary="List invoices, newest first",
)
def invoice_list(request: HttpRequest, query: Query[InvoiceQuery]) -> Any:
    user = _user(request)
    _require_receivables(user)
    qs = _invoices(user)
    if query.account:
        qs = qs.filter(account__code=query.account)
    if query.status:
        qs = qs.filter(status=query.status)
    if query.issued_from:
        qs = qs.filter(issue_date__gte=query.issued_from)
    if query.issued_to:
        qs = qs.filter(issue_date__lte=query.issued_to)
    return page_of(qs, sort="-issue_date", query=query)


@router.post(
    "/invoices",
    response=responses({200: InvoiceOut, 201: InvoiceOut}, 409, 422),
    tags=["receivables"],
    summary="Issue an invoice",
)
def invoice_create(request: HttpRequest, payload: InvoiceIn) -> Any:
    user = _user(request)
    account = _body_account(user, payload.account)
    order = None
    if payload.order:
        order = selectors.order_list(user=user).filter(number=payload.order).first()
        if order is None:
            raise ValidationError({"order": [_("Unknown order.")]})
    invoice = services.invoice_create(
        actor=user,
        account=account,
        amount=payload.amount,
        order=order,
        issue_date=payload.issue_date,
        due_date=payload.due_date,
        currency=payload.currency or None,
        number=payload.number or None,
        idempotency_key=_idempotency_key(request),
    )
    return Status(
        200 if invoice.replayed else 201, Invoice.objects.select_related("account", "order").get(pk=invoice.pk)
    )


@router.get(
    "/invoices/{number}", response=responses({200: InvoiceOut}, 404), tags=["receivables"], summary="Get an invoice"
)
def invoice_detail(request: HttpRequest, number: str) -> Any:
    user = _user(request)
    _require_receivables(user)
    return get_object_or_404(_invoices(user), number=number)


@router.post(
    "/invoices/{number}/void",
    response=responses({200: InvoiceOut}, 403, 404, 409, 422),
    tags=["receivables"],
    summary="Void an invoice issued in error (only while nothing is applied to it; voiding twice is a no-op)",
)
def invoice_void(request: HttpRequest, number: str, payload: CancelIn | None = None) -> Any:
    user = _user(request)
    _require_receivables(user)
    invoice = get_object_or_404(_invoices(user), number=number)
    services.invoice_void(actor=user, invoice=invoice, reason=payload.reason if payload is not None else "")
    return _invoices(user).get(pk=invoice.pk)


# --- payments -----------------------------------------------------------------


@router.get(
    "/payments",
    response=responses({200: PaymentPage}, 422),
    tags=["receivables"],
    summary="List payments, newest first",
)
def payment_list(request: HttpRequest, query: Query[PaymentQuery]) -> Any:
    user = _user(request)
    _require_receivables(user)
    qs = _payments(user)
    if query.account:
        qs = qs.filter(account__code=query.account)
    if query.received_from:
        qs = qs.filter(received_on__gte=query.received_from)
    if query.received_to:
        qs = qs.filter(received_on__lte=query.received_to)
    return page_of(qs, sort="-received_on", query=query)


@router.post(
    "/payments",
    response=responses({200: PaymentOut, 201: PaymentOut}, 409, 422),
    tags=["receivables"],
    summary="Record a payment received (201; 200 when a payment with this number was already recorded)",
    description=(
        "Send an `Idempotency-Key` header (at most 64 characters) to retry safely: a request repeated with "
        "the same key returns the payment already recorded instead of paying twice."
    ),
)
def payment_record(request: HttpRequest, payload: PaymentIn) -> Any:
    user = _user(request)
    account = _body_account(user, payload.account)
    key = _idempotency_key(request)
    allocations = None
    if payload.allocations is not None:
        allocations = [services.AllocationInput(invoice=a.invoice, amount=a.amount) for a in payload.allocations]
    payment = services.payment_record(
        actor=user,
        account=account,
        amount=payload.amount,
        currency=payload.currency,
        received_on=payload.received_on,
        method=payload.method,
        reference=payload.reference,
        allocations=allocations,
        number=payload.number or None,
        idempotency_key=key,
    )
    found = Payment.objects.select_related("account", "created_by").prefetch_related("allocations__invoice")
    return Status(200 if payment.replayed else 201, found.get(pk=payment.pk))


@router.get(
    "/payments/{number}", response=responses({200: PaymentOut}, 404), tags=["receivables"], summary="Get a payment"
)
def payment_detail(request: HttpRequest, number: str) -> Any:
    user = _user(request)
    _require_receivables(user)
    return get_object_or_404(_payments(user), number=number)
