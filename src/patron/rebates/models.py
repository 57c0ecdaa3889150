"""Rebate programs, the agreements that tie accounts to them, and what each account has accrued.

A program's ``terms`` are the pure core's dict (``patron.domain.rebates.terms``): basis,
retroactive or incremental tiers, threshold, cap, products. Its ``eligibility`` is the
discount rules' ``who`` (segments, regions, industries, named accounts). An account earns
under a program only through an agreement, valid on the order's date. ``RebateAccrual``
holds one account's volume for one period of one agreement, kept current as orders,
cancellations and returns are recorded, and what that volume earns so far.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.sales.models import CURRENCY_CHOICES, money_field


def volume_field(verbose_name: Any) -> Any:
    """Volume of a period: sums of amounts (2 places) or quantities (3): 4 places hold both."""
    return models.DecimalField(verbose_name, max_digits=20, decimal_places=4, default=0)


class RebateProgram(models.Model):
    DRAFT, ACTIVE, CLOSED = "draft", "active", "closed"
    STATUSES = [(DRAFT, _("Draft")), (ACTIVE, pgettext_lazy("program status", "Active")), (CLOSED, _("Closed"))]
    PERIODS = [
        ("month", _("Month")),
        ("quarter", _("Quarter")),
        ("half_year", _("Half year")),
        ("year", _("Year")),
        ("custom", _("Custom dates")),
    ]
    PAYOUTS = [
        ("credit_note", _("Credit note against later invoices")),
        ("cash", _("Cash or bank transfer")),
        ("discount", _("Discount on future orders")),
        ("points", _("Points")),
    ]

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    customer_text = models.TextField(_("text for customers"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=DRAFT, db_index=True)
    period_kind = models.CharField(_("period"), max_length=10, choices=PERIODS, default="quarter")
    # A program's whole life is one period when its period kind is "custom".
    effective_from = models.DateField(_("effective from"))
    effective_to = models.DateField(_("effective to"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    terms = models.JSONField(_("terms"))
    eligibility = models.JSONField(_("eligibility"), default=dict, blank=True)
    payout_form = models.CharField(_("payout"), max_length=12, choices=PAYOUTS, default="credit_note")
    settlement_lag_days = models.PositiveIntegerField(_("paid days after the period ends"), default=30)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="rebate_programs"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("rebate program")
        verbose_name_plural = _("rebate programs")
        ordering = ["status", "-updated_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=models.F("effective_from")),
                name="rebate_program_window_not_empty",
            ),
            models.CheckConstraint(
                condition=~Q(period_kind="custom") | Q(effective_to__isnull=False),
                name="rebate_program_custom_has_end",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RebateAgreement(models.Model):
    program = models.ForeignKey(
        RebateProgram, verbose_name=_("program"), on_delete=models.PROTECT, related_name="agreements"
    )
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="rebate_agreements"
    )
    signed_on = models.DateField(_("signed on"))
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    # The account's own tiers, when negotiated: the program's terms with "tiers" (and "threshold", "cap") replaced.
    terms = models.JSONField(_("account-specific terms"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("rebate agreement")
        verbose_name_plural = _("rebate agreements")
        ordering = ["program", "account"]
        constraints = [
            models.UniqueConstraint(fields=["program", "account"], name="rebate_agreement_one_per_account"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=models.F("valid_from")),
                name="rebate_agreement_window_not_empty",
            ),
        ]
        indexes = [models.Index(fields=["account", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.program} / {self.account_id}"


class RebateAccrual(models.Model):
    """One account's volume in one period of one agreement, and what it earns so far."""

    agreement = models.ForeignKey(
        RebateAgreement, verbose_name=_("agreement"), on_delete=models.CASCADE, related_name="accruals"
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))  # exclusive
    amount = volume_field(_("net sales"))
    quantity = volume_field(_("quantity"))
    profit = volume_field(_("gross profit"))
    earned = money_field(_("earned so far"), default=0)
    tier = models.PositiveSmallIntegerField(_("tier reached"), default=0)
    documents = models.PositiveIntegerField(_("documents"), default=0)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("rebate accrual")
        verbose_name_plural = _("rebate accruals")
        ordering = ["-period_start", "agreement"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "period_start"], name="rebate_accrual_one_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement_id} {self.period_start}: {self.earned}"
