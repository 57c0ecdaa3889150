"""Products, orders with lines, returns, invoices, payments and exchange rates.

Amounts are stored in the document's own currency as entered; reports convert to
the company currency with ``ExchangeRate`` (see ``patron.domain.money``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from patron.accounts.models import Account, BilingualName
from patron.core.trees import TreePathMixin
from patron.domain.money import CURRENCIES, Money

CURRENCY_CHOICES = [(c, c) for c in CURRENCIES]


def money_field(verbose: Any, **kwargs: Any) -> Any:
    """A stored amount: up to the minor unit of any accepted currency (see domain.money)."""
    return models.DecimalField(verbose, max_digits=18, decimal_places=2, **kwargs)


def price_field(verbose: Any, **kwargs: Any) -> Any:
    """A unit price: up to UNIT_PRICE_PLACES decimals (see domain.money)."""
    return models.DecimalField(verbose, max_digits=18, decimal_places=4, **kwargs)


class Replayable:
    """Services set ``replayed`` on the record they return when the request repeated an earlier one."""

    replayed: bool = False


class Category(TreePathMixin, BilingualName):
    code = models.CharField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    path = models.CharField(max_length=300, db_index=True, editable=False)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["path"]


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.PROTECT, null=True, blank=True, related_name="products"
    )
    unit = models.CharField(_("unit"), max_length=20, default="pcs")
    list_price = price_field(_("list price"))
    unit_cost = price_field(_("unit cost"), default=0)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["sku"]
        constraints = [
            models.CheckConstraint(condition=Q(list_price__gte=0), name="product_list_price_not_negative"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0), name="product_unit_cost_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class ExchangeRate(models.Model):
    """Units of the company currency for one unit of ``currency``, from ``valid_from``."""

    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    valid_from = models.DateField(_("valid from"))
    rate = models.DecimalField(_("rate"), max_digits=18, decimal_places=8)

    class Meta:
        verbose_name = _("exchange rate")
        verbose_name_plural = _("exchange rates")
        ordering = ["currency", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "valid_from"], name="exchange_rate_one_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.valid_from}: {self.rate}"


class Order(Replayable, models.Model):
    DRAFT, CONFIRMED, CANCELLED = "draft", "confirmed", "cancelled"
    STATUSES = [(DRAFT, _("Draft")), (CONFIRMED, _("Confirmed")), (CANCELLED, _("Cancelled"))]
    CHANNELS = [
        ("sales_rep", _("Sales rep")),
        ("web_shop", _("Web shop")),
        ("store", _("Store")),
        ("phone", _("Phone")),
    ]

    number = models.CharField(_("number"), max_length=40, unique=True)
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=DRAFT, db_index=True)
    channel = models.CharField(_("channel"), max_length=10, choices=CHANNELS, default="sales_rep")
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    order_date = models.DateField(_("order date"), db_index=True)
    list_total = money_field(_("list total"), default=0)
    net_total = money_field(_("net total"), default=0)
    # Who must approve its manual discounts before it can be confirmed: "" nobody, "manager", "admin".
    approval_level = models.CharField(_("approval needed"), max_length=10, blank=True, default="")
    note = models.TextField(_("note"), blank=True)
    # Sent again by a double-clicked form or a retrying client: the record is made once.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-order_date", "-id"]
        indexes = [
            models.Index(fields=["account", "order_date"]),
            models.Index(fields=["order_date", "id"]),
            # "What changed since the last segment run" (segments.services.changed_accounts)
            models.Index(fields=["created_at"]),
            models.Index(fields=["confirmed_at"]),
            models.Index(
                fields=["cancelled_at"], condition=Q(cancelled_at__isnull=False), name="order_cancelled_at_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def net(self) -> Money:
        return Money(self.net_total, self.currency)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("line"), default=1)
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="lines")
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    list_unit_price = price_field(_("list unit price"))
    net_unit_price = price_field(_("net unit price"))
    line_total = money_field(_("line total"))
    # [{"source": "manual" | "rule", "rule": ..., "amount": "...", "reason": ...}], filled by the pricing engine.
    discounts = models.JSONField(_("discounts"), default=list, blank=True)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "position"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(net_unit_price__gte=0), name="order_line_net_price_not_negative"),
            models.UniqueConstraint(fields=["order", "position"], name="order_line_unique_position"),
        ]

    def __str__(self) -> str:
        return f"{self.order.number}#{self.position}"


class Return(Replayable, models.Model):
    number = models.CharField(_("number"), max_length=40, unique=True)
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="returns")
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="returns")
    return_date = models.DateField(_("return date"), db_index=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    total = money_field(_("total"), default=0)
    # Sent again by a double-clicked form or a retrying client: the record is made once.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-return_date", "-id"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.number


class ReturnLine(models.Model):
    ret = models.ForeignKey(Return, verbose_name=_("return"), on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        OrderLine, verbose_name=_("order line"), on_delete=models.PROTECT, related_name="return_lines"
    )
    quantity = models.DecimalField(_("quantity"), max_digits=14, decimal_places=3)
    amount = money_field(_("amount"))

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive")]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.order_line_id}"


class Invoice(Replayable, models.Model):
    OPEN, PAID, VOID = "open", "paid", "void"
    STATUSES = [(OPEN, _("Open")), (PAID, _("Paid")), (VOID, _("Void"))]

    number = models.CharField(_("number"), max_length=40, unique=True)
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="invoices")
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, null=True, blank=True, related_name="invoices"
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    issue_date = models.DateField(_("issue date"), db_index=True)
    due_date = models.DateField(_("due date"), db_index=True)
    amount = money_field(_("amount"))
    # Settled so far: payments and credit notes applied to this invoice.
    paid_amount = money_field(_("paid"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OPEN, db_index=True)
    # Sent again by a double-clicked form or a retrying client: the record is made once.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-issue_date", "-id"]
        indexes = [models.Index(fields=["account", "status", "due_date"]), models.Index(fields=["created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="invoice_amount_positive"),
            models.CheckConstraint(condition=Q(due_date__gte=F("issue_date")), name="invoice_due_not_before_issue"),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=F("amount")), name="invoice_paid_within_amount"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def outstanding(self) -> Decimal:
        return Decimal(0) if self.status == self.VOID else self.amount - self.paid_amount


class Payment(Replayable, models.Model):
    METHODS = [
        ("bank_transfer", _("Bank transfer")),
        ("cash", _("Cash")),
        ("cheque", _("Cheque")),
        ("alipay", _("Alipay")),
        ("wechat_pay", _("WeChat Pay")),
        ("acceptance_bill", _("Bank acceptance bill")),
    ]
    number = models.CharField(_("number"), max_length=40, unique=True)
    account = models.ForeignKey(Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="payments")
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    amount = money_field(_("amount"))
    received_on = models.DateField(_("received on"), db_index=True)
    method = models.CharField(_("method"), max_length=20, choices=METHODS, default="bank_transfer")
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    # Sent again by a double-clicked form or a retrying client: the payment is recorded once.
    idempotency_key = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-received_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive")]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return self.number


class PaymentAllocation(models.Model):
    """The part of a payment applied to one invoice."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = money_field(_("amount"))

    class Meta:
        verbose_name = _("payment allocation")
        verbose_name_plural = _("payment allocations")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_allocation_positive"),
            models.UniqueConstraint(fields=["payment", "invoice"], name="payment_allocation_once_per_invoice"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} -> {self.invoice_id}"


class CreditNote(models.Model):
    """Money the account is owed back (红字发票 / 贷项通知): for returned goods now, for rebates later.

    Its amount is applied to the account's open invoices; what cannot be applied stays
    available as the account's credit.
    """

    number = models.CharField(_("number"), max_length=40, unique=True)
    account = models.ForeignKey(
        Account, verbose_name=_("account"), on_delete=models.PROTECT, related_name="credit_notes"
    )
    ret = models.OneToOneField(
        Return, verbose_name=_("return"), on_delete=models.PROTECT, null=True, blank=True, related_name="credit_note"
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field(_("amount"))
    applied_amount = money_field(_("applied"), default=0)
    issue_date = models.DateField(_("issue date"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit note")
        verbose_name_plural = _("credit notes")
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_note_amount_positive"),
            models.CheckConstraint(
                condition=Q(applied_amount__gte=0) & Q(applied_amount__lte=F("amount")),
                name="credit_note_applied_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.number


class CreditAllocation(models.Model):
    """The part of a credit note applied to one invoice."""

    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_allocations")
    amount = money_field(_("amount"))

    class Meta:
        verbose_name = _("credit allocation")
        verbose_name_plural = _("credit allocations")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_allocation_positive"),
            models.UniqueConstraint(fields=["credit_note", "invoice"], name="credit_allocation_once_per_invoice"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} -> {self.invoice_id}"
