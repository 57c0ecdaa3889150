"""Products, rates and the money-moving records in the admin.

Products are written through ``product_create``/``product_update`` (audited price
changes). Orders, returns, invoices and payments are read-only here: they are
recorded only through the services, so totals, locks and the audit trail hold;
orders may be confirmed or cancelled by an admin action that calls the services.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from patron.accounts.access import can
from patron.core.admin import (
    AccessAdminMixin,
    ReadOnlyAdminMixin,
    ReadOnlyInline,
    ReferenceAdmin,
    ServiceAdminMixin,
)
from patron.core.errors import Conflict
from patron.domain.access import Action

from . import services
from .models import (
    Category,
    CreditAllocation,
    CreditNote,
    ExchangeRate,
    Invoice,
    Order,
    OrderLine,
    Payment,
    PaymentAllocation,
    Product,
    Return,
    ReturnLine,
)

# --- products and reference data -----------------------------------------------------


@admin.register(Product)
class ProductAdmin(ServiceAdminMixin, AccessAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Whoever may edit products changes them here through the services (price changes are audited).

    Products are not deleted (order lines keep them); clear "active" to stop selling one.
    """

    change_action = Action.EDIT_PRODUCT
    add_action = Action.EDIT_PRODUCT
    delete_action = None
    list_display = ("sku", "name", "category", "unit", "list_price", "unit_cost", "currency", "active")
    list_filter = ("active", "currency", "category")
    search_fields = ("sku", "name")
    list_select_related = ("category",)
    save_as = False

    def service_save(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> Product:
        data = self.service_fields(form, change, services.PRODUCT_FIELDS)
        if change:
            return services.product_update(actor=request.user, product=obj, data=data)
        return services.product_create(actor=request.user, data=data)


@admin.register(Category)
class CategoryAdmin(ReferenceAdmin):
    list_display = ("code", "name_zh", "name_en", "parent", "path")
    search_fields = ("code", "name_zh", "name_en")
    readonly_fields = ("path",)
    audit_fields = ("code", "name_zh", "name_en", "parent", "path")


@admin.register(ExchangeRate)
class ExchangeRateAdmin(ReferenceAdmin):
    audit_entity = "EXCHANGE_RATE"
    list_display = ("currency", "valid_from", "rate")
    list_filter = ("currency",)
    date_hierarchy = "valid_from"


# --- money-moving records (read-only) ----------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ("position", "product", "quantity", "list_unit_price", "net_unit_price", "line_total", "discounts")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_action = Action.VIEW_ACCOUNT
    account_path = "account__"
    inlines = [OrderLineInline]
    list_display = ("number", "account", "status", "channel", "order_date", "net_total", "currency")
    list_filter = ("status", "channel", "currency")
    search_fields = ("number", "account__code", "account__name")
    date_hierarchy = "order_date"
    list_select_related = ("account",)
    actions = ["confirm_orders", "cancel_orders"]
    fieldsets = (
        (None, {"fields": ("number", "account", "status", "channel", "currency", "order_date", "note")}),
        (_("Totals"), {"fields": ("list_total", "net_total")}),
        (_("History"), {"fields": ("created_by", "created_at", "confirmed_at", "cancelled_at")}),
    )

    def has_record_order_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Action.RECORD_ORDER)

    def _run(self, request: HttpRequest, queryset: QuerySet[Order], call: Any, done: Any) -> None:
        count = 0
        for order in queryset:
            try:
                call(order)
                count += 1
            except (PermissionDenied, Conflict) as exc:
                reason = exc.message if isinstance(exc, Conflict) else _("not allowed")
                self.message_user(request, f"{order.number}: {reason}", messages.ERROR)
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Confirm the selected draft orders"), permissions=["record_order"])
    def confirm_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run(
            request,
            queryset.filter(status=Order.DRAFT),
            lambda order: services.order_confirm(actor=request.user, order=order),
            _("%(count)d orders confirmed."),
        )

    @admin.action(description=_("Cancel the selected orders"), permissions=["record_order"])
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        self._run(
            request,
            queryset.exclude(status=Order.CANCELLED),
            lambda order: services.order_cancel(
                actor=request.user, order=order, reason=str(_("Cancelled in the admin"))
            ),
            _("%(count)d orders cancelled."),
        )


class ReturnLineInline(ReadOnlyInline):
    model = ReturnLine
    fields = ("order_line", "quantity", "amount")
    readonly_fields = fields


@admin.register(Return)
class ReturnAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_action = Action.VIEW_ACCOUNT
    account_path = "account__"
    inlines = [ReturnLineInline]
    list_display = ("number", "order", "account", "return_date", "total", "currency")
    list_filter = ("currency",)
    search_fields = ("number", "order__number", "account__code", "account__name")
    date_hierarchy = "return_date"
    list_select_related = ("order", "account")


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_action = Action.VIEW_RECEIVABLES
    account_path = "account__"
    list_display = ("number", "account", "status", "issue_date", "due_date", "amount", "paid_amount", "currency")
    list_filter = ("status", "currency")
    search_fields = ("number", "account__code", "account__name")
    date_hierarchy = "issue_date"
    list_select_related = ("account",)


class PaymentAllocationInline(ReadOnlyInline):
    model = PaymentAllocation
    fields = ("invoice", "amount")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_action = Action.VIEW_RECEIVABLES
    account_path = "account__"
    inlines = [PaymentAllocationInline]
    list_display = ("number", "account", "received_on", "amount", "currency", "method", "reference")
    list_filter = ("method", "currency")
    search_fields = ("number", "reference", "account__code", "account__name")
    date_hierarchy = "received_on"
    list_select_related = ("account",)


class CreditAllocationInline(ReadOnlyInline):
    model = CreditAllocation
    fields = ("invoice", "amount")
    readonly_fields = fields


@admin.register(CreditNote)
class CreditNoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_action = Action.VIEW_RECEIVABLES
    account_path = "account__"
    inlines = [CreditAllocationInline]
    list_display = ("number", "account", "issue_date", "amount", "applied_amount", "currency", "ret")
    list_filter = ("currency",)
    search_fields = ("number", "account__code", "account__name")
    date_hierarchy = "issue_date"
    list_select_related = ("account", "ret")
