"""Collections: payment reminders sent per invoice and step (each once), and customers' promises to pay."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.core.outbox_models import OutboxBatch, OutboxRow
from patron.sales.models import CURRENCY_CHOICES, money_field


class CollectionRun(OutboxBatch):
    """One pass of the collection job: an email per account with invoices at a reminder step."""

    day = models.DateField(_("day"))
    created_at = models.DateTimeField(_("run"), auto_now_add=True)

    class Meta:
        verbose_name = _("collection run")
        verbose_name_plural = _("collection runs")
        ordering = ["-created_at", "-id"]


class CollectionEmail(OutboxRow):
    run = models.ForeignKey(CollectionRun, on_delete=models.CASCADE, related_name="emails")

    class Meta:
        verbose_name = _("payment reminder")
        verbose_name_plural = _("payment reminders")
        indexes = [models.Index(fields=["run", "status", "id"], name="collection_email_status_idx")]


class CollectionItem(models.Model):
    """An invoice in a payment reminder at one step of the schedule: never twice (the constraint)."""

    email = models.ForeignKey(CollectionEmail, on_delete=models.CASCADE, related_name="items")
    invoice = models.ForeignKey("sales.Invoice", on_delete=models.CASCADE, related_name="collection_items")
    step = models.SmallIntegerField(_("days from due date"))
    outstanding = money_field(_("outstanding"))

    class Meta:
        verbose_name = _("reminded invoice")
        verbose_name_plural = _("reminded invoices")
        constraints = [models.UniqueConstraint(fields=["invoice", "step"], name="collection_item_once_per_step")]

    def __str__(self) -> str:
        return f"{self.invoice_id} @ {self.step}"

    @property
    def days(self) -> int:
        """Days before (a negative step) or after the due date."""
        return abs(self.step)


class PromiseToPay(models.Model):
    OPEN, KEPT, BROKEN, CANCELLED = "open", "kept", "broken", "cancelled"
    STATUSES = [
        (OPEN, pgettext_lazy("promise to pay", "Open")),
        (KEPT, _("Kept")),
        (BROKEN, _("Broken")),
        (CANCELLED, _("Cancelled")),
    ]

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.CASCADE, related_name="promises"
    )
    invoice = models.ForeignKey(
        "sales.Invoice",
        verbose_name=_("invoice"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="promises",
    )
    amount = money_field(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    promised_on = models.DateField(_("pay by"), db_index=True)
    contact = models.CharField(_("promised by"), max_length=100, blank=True)
    note = models.TextField(_("note"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OPEN)
    paid = money_field(_("paid since"), default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    recorded_on = models.DateField(_("recorded on"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        ordering = ["-promised_on", "-id"]
        indexes = [models.Index(fields=["status", "promised_on"], name="promise_status_due_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="promise_amount_positive"),
            models.CheckConstraint(condition=Q(promised_on__gte=models.F("recorded_on")), name="promise_not_in_past"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.amount} by {self.promised_on}"
