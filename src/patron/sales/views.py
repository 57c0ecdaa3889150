"""Pages for orders, returns, invoices, payments and products.

Views read through the selectors and write through the services; the access table
decides what each user sees (a record on an account they may not see is a 404) and
may do (a forbidden action on a visible record is a 403).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from patron.accounts.access import can, require, scoped, visible_accounts
from patron.accounts.models import Account
from patron.audit import selectors as audit_selectors
from patron.core.errors import Conflict, error_dict
from patron.core.exports import FORMATS, ExportSource, cells_of
from patron.core.pagination import BadCursor, Page, keyset_page
from patron.domain.access import Action
from patron.exports.views import list_export

from . import credit, exports, pricing, selectors, services
from .forms import (
    CHOICE_LIMIT,
    LINE_PREFIX,
    MAX_LINES,
    CancelForm,
    InvoiceFilterForm,
    InvoiceForm,
    OrderFilterForm,
    OrderForm,
    OrderLineForm,
    PaymentFilterForm,
    PaymentForm,
    ProductFilterForm,
    ProductForm,
    ReturnForm,
    apply_errors,
    line_formset,
    product_choices,
)
from .models import Invoice, Order, Payment, Product

PAGE_SIZE = 50
Route = Callable[[str], Any]


# --- helpers ------------------------------------------------------------------


def _page(request: HttpRequest, queryset: QuerySet[Any], sort: str) -> Page[Any]:
    cursor = request.GET.get("after") or None
    try:
        return keyset_page(queryset, sort=sort, cursor=cursor, limit=PAGE_SIZE)
    except BadCursor:
        return keyset_page(queryset, sort=sort, cursor=None, limit=PAGE_SIZE)


def _export(request: HttpRequest, queryset: QuerySet[Any], sort: str, name: str, columns: Any) -> Any:
    """``?format=csv`` or ``xlsx`` on a list: every row the list would page through, as a file.

    A list longer than a few thousand rows is offered as a background export (``patron.exports``),
    which asks this view for the same rows again when it writes the file.
    """
    kind = request.GET.get("format", "")
    if kind not in FORMATS:
        return HttpResponseBadRequest(_("Export as csv or xlsx."))
    ordering = [sort, ("-" if sort.startswith("-") else "") + "id"]
    source = ExportSource(
        name=name,
        headings=[heading for heading, _value in columns],
        records=queryset.order_by(*ordering),
        cells=lambda record: cells_of(record, columns),
    )
    return list_export(request, source, kind)


def _next_url(request: HttpRequest, page: Page[Any]) -> str | None:
    if not page.next_cursor:
        return None
    params = request.GET.copy()
    params["after"] = page.next_cursor
    return "?" + params.urlencode()


def _url(name: str, *args: Any, **params: str) -> str:
    url = reverse(name, args=args)
    return url + "?" + urlencode(params) if params else url


def _account_or_404(user: Any, code: str) -> Account:
    return get_object_or_404(visible_accounts(user).select_related("owner__team"), code=code)


def _order_or_404(user: Any, number: str) -> Order:
    return get_object_or_404(
        selectors.order_list(user=user).select_related("account__owner__team", "created_by"), number=number
    )


def _visible_receivable(queryset: QuerySet[Any], user: Any, number: str) -> Any:
    """An invoice or payment: 404 unless its account is visible, 403 unless its receivables are."""
    record = get_object_or_404(
        scoped(queryset.select_related("account__owner__team"), user, Action.VIEW_ACCOUNT, "account__"),
        number=number,
    )
    require(user, Action.VIEW_RECEIVABLES, record.account)
    return record


def _date_filter(queryset: QuerySet[Any], form: Any, field: str) -> QuerySet[Any]:
    """The filters every list shares: one account (by code, as the account page links) and a date range."""
    if code := form.value("account"):
        queryset = queryset.filter(account__code=code.strip())
    date_from, date_to = form.value("date_from"), form.value("date_to")
    if date_from:
        queryset = queryset.filter(**{f"{field}__gte": date_from})
    if date_to:
        queryset = queryset.filter(**{f"{field}__lte": date_to})
    return queryset


def _account_search(q: str) -> Q:
    return Q(number__icontains=q) | Q(account__code__icontains=q) | Q(account__name__icontains=q)


def _line_router(entered: list[int], formset: Any, sink: list[str]) -> Route:
    """Send ``lines.N.field`` to the form of the N-th entered line; ``lines`` to the list of lines."""

    def route(key: str) -> Any:
        if key == LINE_PREFIX:
            return sink
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == LINE_PREFIX and parts[1].isdigit() and int(parts[1]) < len(entered):
            return formset.forms[entered[int(parts[1])]], parts[2]
        return None

    return route


def _explain_blanks(exc: ValidationError, entered: list[int], formset: Any) -> ValidationError:
    """A half-filled line is sent to the service as typed; say plainly what is missing."""
    errors = error_dict(exc)
    for n, i in enumerate(entered):
        data = formset.forms[i].cleaned_data
        for name, message in (("product", _("Choose a product.")), ("quantity", _("Enter a quantity."))):
            key = f"{LINE_PREFIX}.{n}.{name}"
            if key in errors and not (data.get(name) or "").strip():
                errors[key] = [message]
    return ValidationError(errors)  # type: ignore[arg-type]


# --- orders -------------------------------------------------------------------


@login_required
@require_GET
def order_list(request: HttpRequest) -> Any:
    user = request.user
    filters = OrderFilterForm(request.GET or None)
    orders = selectors.order_list(user=user)
    if q := filters.value("q"):
        orders = orders.filter(_account_search(q))
    if status := filters.value("status"):
        orders = orders.filter(status=status)
    orders = _date_filter(orders, filters, "order_date")
    if "format" in request.GET:
        return _export(request, orders, "-order_date", "orders", exports.order_columns())
    page = _page(request, orders, "-order_date")
    return render(
        request,
        "sales/order_list.html",
        {
            "filters": filters,
            "page": page,
            "next_url": _next_url(request, page),
            "can_create": can(user, Action.RECORD_ORDER),
        },
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    order = _order_or_404(user, number)
    account = order.account
    lines = selectors.order_lines_with_returns(order)
    returns = list(order.returns.prefetch_related("lines__order_line__product").select_related("created_by"))
    receivables = can(user, Action.VIEW_RECEIVABLES, account)
    invoices = list(order.invoices.all()) if receivables else []
    live_invoices = order.invoices.exclude(status=Invoice.VOID).exists()
    returned_total = sum((r.total for r in returns), Decimal(0))
    left_to_invoice = services.order_invoiceable(order) if order.status == Order.CONFIRMED else Decimal(0)
    may_order = can(user, Action.RECORD_ORDER, account)
    approval = pricing.approval_state(order) if order.status == Order.DRAFT else None
    waiting = order.status == Order.DRAFT and bool(order.approval_level) and not pricing.approved(order, approval)
    credit_panel = None
    if order.status == Order.DRAFT and receivables:
        position, verdict = credit.check(order)
        override = credit.override_state(order) if verdict.blocked else None
        credit_panel = {
            "position": position,
            "verdict": verdict,
            "reasons": [(r.code, credit.reason_text(r)) for r in verdict.reasons],
            "override": override,
            "may_ask": may_order and verdict.blocked and (override is None or override.status == "rejected"),
        }
    actions = {
        "confirm": may_order and order.status == Order.DRAFT and not waiting,
        "cancel": may_order and order.status != Order.CANCELLED and not live_invoices and not returns,
        "return": may_order
        and order.status == Order.CONFIRMED
        and any(line.quantity > line.returned for line in lines),  # type: ignore[attr-defined]
        "invoice": order.status == Order.CONFIRMED
        and left_to_invoice > 0
        and can(user, Action.RECORD_INVOICE, account),
    }
    return render(
        request,
        "sales/order_detail.html",
        {
            "order": order,
            "account": account,
            "lines": lines,
            "returns": returns,
            "returned_total": returned_total,
            "discount_total": order.list_total - order.net_total,
            "show_receivables": receivables,
            "invoices": invoices,
            "left_to_invoice": left_to_invoice,
            "actions": actions,
            "cancel_form": CancelForm(),
            "approval": approval,
            "waiting": waiting,
            "credit": credit_panel,
            "company_currency": settings.PATRON_COMPANY_CURRENCY,
        },
    )


def _order_form_context(
    form: OrderForm,
    formset: Any,
    products: list[tuple[str, str]],
    lines_errors: list[str] | None = None,
    quote: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "form": form,
        "formset": formset,
        "lines_errors": lines_errors or [],
        "quote": quote,
        # Many products: the lines take a typed SKU, with this list as suggestions.
        "product_options": products if len(products) > CHOICE_LIMIT else [],
    }


def _posted_initial(request: HttpRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What the user typed so far, to show again with one more empty line (the no-JS 'add line')."""
    post = request.POST
    header = {name: post.get(name, "") for name in ("account", "currency", "channel", "order_date", "note")}
    try:
        count = int(post.get(f"{LINE_PREFIX}-TOTAL_FORMS", "0"))
    except ValueError:
        count = 0
    count = max(0, min(count, MAX_LINES - 1))
    lines = [
        {name: post.get(f"{LINE_PREFIX}-{i}-{name}", "") for name in ("product", "quantity", "net_unit_price")}
        for i in range(count)
    ]
    return header, lines


@login_required
@require_http_methods(["GET", "POST"])
def order_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, Action.RECORD_ORDER)
    accounts = scoped(Account.objects.all(), user, Action.RECORD_ORDER).order_by("code")
    products = product_choices(Product.objects.filter(active=True).order_by("sku"))

    if request.method == "GET":
        initial: dict[str, Any] = {}
        if code := request.GET.get("account"):
            account = _account_or_404(user, code)
            require(user, Action.RECORD_ORDER, account)
            initial["account"] = account.code
        form = OrderForm(initial=initial, accounts=accounts)
        formset = line_formset(products=products)
        return render(request, "sales/order_form.html", _order_form_context(form, formset, products))

    if "add_line" in request.POST:
        header, lines = _posted_initial(request)
        form = OrderForm(initial=header, accounts=accounts)
        formset = line_formset(products=products, initial=lines, extra=1)
        return render(request, "sales/order_form.html", _order_form_context(form, formset, products))

    form = OrderForm(request.POST, accounts=accounts)
    formset = line_formset(request.POST, products=products)
    lines_errors: list[str] = []
    form_ok = form.is_valid()
    lines_ok = formset.is_valid()
    if form_ok and lines_ok:
        entered = [i for i, line in enumerate(formset.forms) if not line.is_blank()]
        inputs = [
            services.LineInput(
                product=formset.forms[i].cleaned_data["product"].strip(),
                quantity=formset.forms[i].cleaned_data["quantity"],
                net_unit_price=formset.forms[i].cleaned_data["net_unit_price"] or None,
            )
            for i in entered
        ]
        data = form.cleaned_data
        if request.POST.get("action") == "preview":
            # The same engine and the same checks as saving, nothing written: what each line will cost and why.
            try:
                preview = services.order_preview(
                    actor=user,
                    account=data["account"],
                    lines=inputs,
                    currency=data["currency"],
                    channel=data["channel"],
                )
            except ValidationError as exc:
                apply_errors(form, _explain_blanks(exc, entered, formset), _line_router(entered, formset, lines_errors))
            else:
                from patron.discounts.simulator import quote_panel

                panel = quote_panel(preview.priced, preview.requests)
                return render(
                    request, "sales/order_form.html", _order_form_context(form, formset, products, lines_errors, panel)
                )
            return render(request, "sales/order_form.html", _order_form_context(form, formset, products, lines_errors))
        try:
            order = services.order_create(
                actor=user,
                account=data["account"],
                lines=inputs,
                order_date=data["order_date"],
                currency=data["currency"],
                channel=data["channel"],
                note=data["note"],
                confirm=request.POST.get("action") == "confirm",
                idempotency_key=data.get("submission") or None,
            )
        except ValidationError as exc:
            apply_errors(form, _explain_blanks(exc, entered, formset), _line_router(entered, formset, lines_errors))
        else:
            if order.status == Order.CONFIRMED:
                messages.success(request, _("Order %(number)s confirmed.") % {"number": order.number})
            elif refusal := getattr(order, "credit_refusal", ""):
                messages.warning(
                    request,
                    _("Draft order %(number)s saved, not confirmed.") % {"number": order.number} + " " + refusal,
                )
            else:
                messages.success(request, _("Draft order %(number)s saved.") % {"number": order.number})
            return redirect("sales:order_detail", order.number)
    return render(request, "sales/order_form.html", _order_form_context(form, formset, products, lines_errors))


@login_required
@require_GET
def order_line(request: HttpRequest) -> HttpResponse:
    """One more empty line for the order form (htmx), and the new line count."""
    require(request.user, Action.RECORD_ORDER)
    try:
        index = int(request.GET.get(f"{LINE_PREFIX}-TOTAL_FORMS", ""))
    except ValueError:
        return HttpResponseBadRequest(_("The number of lines is missing."))
    if index < 0:
        return HttpResponseBadRequest(_("The number of lines is missing."))
    if index >= MAX_LINES:
        return HttpResponse(status=204)
    products = product_choices(Product.objects.filter(active=True).order_by("sku"))
    line = OrderLineForm(prefix=f"{LINE_PREFIX}-{index}", products=products)
    return render(request, "sales/_order_line.html", {"line": line, "index": index, "total": index + 1, "oob": True})


@login_required
@require_POST
def order_confirm(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    order = _order_or_404(user, number)
    require(user, Action.RECORD_ORDER, order.account)
    try:
        confirmed = services.order_confirm(actor=user, order=order)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Order %(number)s confirmed.") % {"number": order.number})
        verdict = getattr(confirmed, "credit_check", None)
        if verdict is not None and verdict.outcome != "ok":
            words = " ".join(credit.reason_text(r) for r in verdict.reasons if r.code not in credit.QUIET)
            messages.warning(request, _("Credit: %(words)s") % {"words": words})
    return redirect("sales:order_detail", order.number)


@login_required
@require_POST
def order_credit_override(request: HttpRequest, number: str) -> HttpResponse:
    """A salesperson asks finance to let a draft over the credit limit be confirmed."""
    user = request.user
    order = _order_or_404(user, number)
    require(user, Action.RECORD_ORDER, order.account)
    try:
        credit.override_request(actor=user, order=order, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(m for msgs in error_dict(exc).values() for m in msgs))
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("Finance has been asked to approve a credit override for %(number)s.") % {"number": order.number}
        )
    return redirect("sales:order_detail", order.number)


@login_required
@require_POST
def order_cancel(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    order = _order_or_404(user, number)
    require(user, Action.RECORD_ORDER, order.account)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.order_cancel(actor=user, order=order, reason=reason)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Order %(number)s cancelled.") % {"number": order.number})
    return redirect("sales:order_detail", order.number)


# --- returns ------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def return_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    number = request.GET.get("order")
    if not number:
        raise Http404(_("Choose an order to return goods from."))
    order = _order_or_404(user, number)
    require(user, Action.RECORD_ORDER, order.account)
    if order.status != Order.CONFIRMED:
        messages.error(request, _("Only a confirmed order can have returns."))
        return redirect("sales:order_detail", order.number)
    lines = selectors.order_lines_with_returns(order)
    form = ReturnForm(request.POST or None, lines=lines)
    if request.method == "POST" and form.is_valid():
        entered = form.entered()
        inputs = [services.ReturnLineInput(order_line=line, quantity=value) for line, value in entered]

        def route(key: str) -> Any:
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "lines" and parts[1].isdigit() and int(parts[1]) < len(entered):
                return form, form.line_field(entered[int(parts[1])][0])
            return None

        try:
            ret = services.return_create(
                actor=user,
                order=order,
                lines=inputs,
                return_date=form.cleaned_data["return_date"],
                reason=form.cleaned_data["reason"],
                idempotency_key=form.cleaned_data.get("submission") or None,
            )
        except ValidationError as exc:
            apply_errors(form, exc, route)
        except Conflict as exc:
            messages.error(request, exc.message)
            return redirect("sales:order_detail", order.number)
        else:
            messages.success(
                request,
                _("Return %(number)s recorded on order %(order)s.") % {"number": ret.number, "order": order.number},
            )
            return redirect("sales:order_detail", order.number)
    rows = [
        {
            "line": line,
            "left": line.quantity - line.returned,  # type: ignore[attr-defined]
            "field": form[form.line_field(line)],
        }
        for line in lines
    ]
    return render(request, "sales/return_form.html", {"order": order, "form": form, "rows": rows})


# --- invoices -----------------------------------------------------------------


@login_required
@require_GET
def invoice_list(request: HttpRequest) -> Any:
    user = request.user
    require(user, Action.VIEW_RECEIVABLES)
    filters = InvoiceFilterForm(request.GET or None)
    invoices = selectors.invoice_list(user=user).select_related("order")
    if q := filters.value("q"):
        invoices = invoices.filter(_account_search(q))
    status = filters.value("status")
    today = timezone.localdate()
    if status == "overdue":
        invoices = invoices.filter(status=Invoice.OPEN, due_date__lt=today)
    elif status:
        invoices = invoices.filter(status=status)
    invoices = _date_filter(invoices, filters, "issue_date")
    if "format" in request.GET:
        return _export(request, invoices, "-issue_date", "invoices", exports.invoice_columns())
    page = _page(request, invoices, "-issue_date")
    return render(
        request,
        "sales/invoice_list.html",
        {
            "filters": filters,
            "page": page,
            "next_url": _next_url(request, page),
            "today": today,
            "can_create": can(user, Action.RECORD_INVOICE),
        },
    )


@login_required
@require_GET
def invoice_detail(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    invoice: Invoice = _visible_receivable(Invoice.objects.select_related("order", "created_by"), user, number)
    allocations = list(invoice.allocations.select_related("payment").order_by("payment__received_on", "payment__id"))
    credits = list(invoice.credit_allocations.select_related("credit_note__ret").order_by("credit_note__issue_date"))
    today = timezone.localdate()
    return render(
        request,
        "sales/invoice_detail.html",
        {
            "invoice": invoice,
            "account": invoice.account,
            "allocations": allocations,
            "credits": credits,
            "overdue": invoice.status == Invoice.OPEN and invoice.due_date < today,
            "can_pay": invoice.status == Invoice.OPEN and can(user, Action.RECORD_PAYMENT, invoice.account),
            "can_void": invoice.status == Invoice.OPEN
            and not invoice.paid_amount
            and can(user, Action.RECORD_INVOICE, invoice.account),
        },
    )


@login_required
@require_POST
def invoice_void(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    invoice: Invoice = _visible_receivable(Invoice.objects.all(), user, number)
    require(user, Action.RECORD_INVOICE, invoice.account)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.invoice_void(actor=user, invoice=invoice, reason=reason)
    except Conflict as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Invoice %(number)s voided.") % {"number": invoice.number})
    return redirect("sales:invoice_detail", invoice.number)


@login_required
@require_http_methods(["GET", "POST"])
def invoice_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, Action.RECORD_INVOICE)
    order: Order | None = None
    account: Account | None = None
    if number := request.GET.get("order"):
        order = _order_or_404(user, number)
        account = order.account
        require(user, Action.RECORD_INVOICE, account)
        if order.status != Order.CONFIRMED:
            messages.error(request, _("Only a confirmed order can be invoiced."))
            return redirect("sales:order_detail", order.number)
    elif code := request.GET.get("account"):
        account = _account_or_404(user, code)
        require(user, Action.RECORD_INVOICE, account)
    accounts = scoped(Account.objects.all(), user, Action.RECORD_INVOICE).order_by("code")
    left = services.order_invoiceable(order) if order is not None else None
    initial = {"account": account.code} if account is not None and order is None else {}
    form = InvoiceForm(request.POST or None, initial=initial, accounts=accounts, order=order, left=left)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invoice = services.invoice_create(
                actor=user,
                account=order.account if order is not None else data["account"],
                order=order,
                amount=data["amount"] or None,
                issue_date=data["issue_date"],
                due_date=data["due_date"],
                currency=None if order is not None else data["currency"],
                idempotency_key=data.get("submission") or None,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Invoice %(number)s issued.") % {"number": invoice.number})
            return redirect("sales:invoice_detail", invoice.number)
    return render(request, "sales/invoice_form.html", {"form": form, "order": order, "account": account, "left": left})


# --- payments -----------------------------------------------------------------


@login_required
@require_GET
def payment_list(request: HttpRequest) -> Any:
    user = request.user
    require(user, Action.VIEW_RECEIVABLES)
    filters = PaymentFilterForm(request.GET or None)
    payments = selectors.payment_list(user=user)
    if q := filters.value("q"):
        payments = payments.filter(_account_search(q) | Q(reference__icontains=q))
    if method := filters.value("method"):
        payments = payments.filter(method=method)
    payments = _date_filter(payments, filters, "received_on")
    if "format" in request.GET:
        return _export(request, payments, "-received_on", "payments", exports.payment_columns())
    page = _page(request, payments, "-received_on")
    return render(
        request,
        "sales/payment_list.html",
        {
            "filters": filters,
            "page": page,
            "next_url": _next_url(request, page),
            "can_create": can(user, Action.RECORD_PAYMENT),
        },
    )


@login_required
@require_GET
def payment_detail(request: HttpRequest, number: str) -> HttpResponse:
    user = request.user
    payment: Payment = _visible_receivable(Payment.objects.select_related("created_by"), user, number)
    allocations = list(payment.allocations.select_related("invoice").order_by("invoice__due_date", "invoice__id"))
    applied = sum((a.amount for a in allocations), Decimal(0))
    return render(
        request,
        "sales/payment_detail.html",
        {
            "payment": payment,
            "account": payment.account,
            "allocations": allocations,
            "unapplied": payment.amount - applied,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def payment_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, Action.RECORD_PAYMENT)
    accounts = scoped(Account.objects.all(), user, Action.RECORD_PAYMENT).order_by("code")
    account: Account | None = None
    if request.method == "POST":
        # An account the user may not pay into is an invalid choice of the form, not a 404.
        code = request.POST.get("account") or ""
        account = accounts.select_related("owner__team").filter(code=code).first() if code else None
    elif code := request.GET.get("account", ""):
        account = _account_or_404(user, code)
        require(user, Action.RECORD_PAYMENT, account)
    open_invoices = list(selectors.open_invoices(account)) if account is not None else []
    initial = {"account": account.code} if account is not None else {}
    form = PaymentForm(request.POST or None, initial=initial, accounts=accounts, open_invoices=open_invoices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = form.allocations()

        def route(key: str) -> Any:
            if key == "allocations":
                return form, None
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "allocations" and parts[1].isdigit() and int(parts[1]) < len(chosen):
                return form, form.allocation_field(chosen[int(parts[1])][0])
            return None

        try:
            payment = services.payment_record(
                actor=user,
                account=data["account"],
                amount=data["amount"],
                currency=data["currency"],
                received_on=data["received_on"],
                method=data["method"],
                reference=data["reference"],
                allocations=[services.AllocationInput(invoice=i.pk, amount=v) for i, v in chosen] or None,
                idempotency_key=data.get("submission") or None,
            )
        except ValidationError as exc:
            apply_errors(form, exc, route)
        except Conflict as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request,
                _("Payment %(number)s recorded: %(amount)s %(currency)s.")
                % {
                    "number": payment.number,
                    "amount": payment.amount,
                    "currency": payment.currency,
                },
            )
            return redirect("sales:payment_detail", payment.number)
    context = {
        "form": form,
        "account": account,
        "receivables": selectors.account_receivables(account, timezone.localdate()) if account is not None else {},
        "invoice_rows": [(i, form[form.allocation_field(i)]) for i in form.open_invoices],
        "today": timezone.localdate(),
    }
    if getattr(request, "htmx", False) and request.method == "GET":
        return render(request, "sales/_payment_receivables.html", {**context, "oob": True})
    return render(request, "sales/payment_form.html", context)


# --- products -----------------------------------------------------------------


@login_required
@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    filters = ProductFilterForm(request.GET or None)
    products = Product.objects.select_related("category")
    if q := filters.value("q"):
        products = products.filter(Q(sku__icontains=q) | Q(name__icontains=q))
    if category := filters.value("category"):
        products = products.filter(category__path__startswith=category.path)
    if not filters.value("inactive"):
        products = products.filter(active=True)
    if "format" in request.GET:
        columns = exports.product_columns(with_cost=can(request.user, Action.EDIT_PRODUCT))
        return _export(request, products, "sku", "products", columns)
    page = _page(request, products, "sku")
    return render(
        request,
        "sales/product_list.html",
        {
            "filters": filters,
            "page": page,
            "next_url": _next_url(request, page),
            "can_edit": can(request.user, Action.EDIT_PRODUCT),
        },
    )


def _product_changes(product: Product, data: dict[str, Any]) -> dict[str, Any]:
    """Only what the user changed, so an untouched price ("100.00" for 100.0000) is no price change."""
    changed: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("list_price", "unit_cost"):
            try:
                same = Decimal(str(value).strip().replace(",", "")) == Decimal(getattr(product, name))
            except ArithmeticError:
                same = False
        elif name == "category":
            same = (value.pk if value is not None else None) == product.category_id
        else:
            same = value == getattr(product, name)
        if not same:
            changed[name] = value
    return changed


@login_required
@require_http_methods(["GET", "POST"])
def product_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    require(user, Action.EDIT_PRODUCT)
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_create(actor=user, data=form.service_data())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Product %(sku)s created.") % {"sku": product.sku})
            return redirect("sales:product_list")
    return render(request, "sales/product_form.html", {"form": form, "product": None, "history": []})


@login_required
@require_http_methods(["GET", "POST"])
def product_edit(request: HttpRequest, sku: str) -> HttpResponse:
    user = request.user
    product = get_object_or_404(Product, sku=sku)
    require(user, Action.EDIT_PRODUCT)
    form = ProductForm(request.POST or None, initial=ProductForm.initial_for(product))
    if request.method == "POST" and form.is_valid():
        try:
            product = services.product_update(
                actor=user, product=product, data=_product_changes(product, form.service_data())
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Product %(sku)s saved.") % {"sku": product.sku})
            return redirect("sales:product_list")
    history = list(audit_selectors.record_history(product)[:20])
    return render(request, "sales/product_form.html", {"form": form, "product": product, "history": history})
