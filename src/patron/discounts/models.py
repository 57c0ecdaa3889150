"""Discount policies, their rules, product sets, discount limits, and the discounts orders got.

A rule's definition is the pure core's rule dict (``patron.domain.pricing.rules``)
with one addition, ``what.product_sets``, expanded into products when the rule book
is built. Every change to a policy, a rule or a product set bumps ``RuleBookStamp``,
so each process rebuilds its cached rule book on its next quote.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.sales.models import money_field


class Policy(models.Model):
    DRAFT, ACTIVE, ARCHIVED = "draft", "active", "archived"
    STATUSES = [(DRAFT, _("Draft")), (ACTIVE, pgettext_lazy("policy status", "Active")), (ARCHIVED, _("Archived"))]

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    customer_text = models.TextField(_("text for customers"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=DRAFT, db_index=True)
    effective_from = models.DateTimeField(_("effective from"), null=True, blank=True)
    effective_to = models.DateTimeField(_("effective to"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="discount_policies"
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    published_version = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("discount policy")
        verbose_name_plural = _("discount policies")
        ordering = ["status", "-updated_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True)
                | Q(effective_from__isnull=True)
                | Q(effective_to__gt=models.F("effective_from")),
                name="policy_window_not_empty",
            )
        ]

    def __str__(self) -> str:
        return self.name


class DiscountRule(models.Model):
    policy = models.ForeignKey(Policy, verbose_name=_("policy"), on_delete=models.CASCADE, related_name="rules")
    name = models.CharField(_("name"), max_length=200)
    priority = models.IntegerField(_("priority"), default=0)
    definition = models.JSONField(_("definition"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("discount rule")
        verbose_name_plural = _("discount rules")
        ordering = ["policy", "-priority", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def key(self) -> str:
        return f"R{self.pk}"


class ProductSet(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    products = models.ManyToManyField("sales.Product", verbose_name=_("products"), related_name="product_sets")
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("product set")
        verbose_name_plural = _("product sets")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RuleBookStamp(models.Model):
    """One row: bumped on every change that alters the rule book (read once per quote)."""

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"rule book v{self.version}"


class DiscountLimit(models.Model):
    """How much manual discount a role (or one user) may give without approval.

    A user's own limit wins over their role's; a limit for a category applies to lines
    in it (and below it) and wins over the general one; a limit for a segment applies to
    accounts in it and wins over the one for every account."""

    role = models.CharField(_("role"), max_length=20, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
    )
    category = models.ForeignKey(
        "sales.Category", verbose_name=_("category"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # "classification:class": the limit for accounts in that segment (e.g. key accounts get more room).
    segment = models.CharField(_("segment"), max_length=110, blank=True, default="")
    percent = models.DecimalField(_("percent"), max_digits=5, decimal_places=2, null=True, blank=True)
    amount = money_field(_("amount per order"), null=True, blank=True)

    class Meta:
        verbose_name = _("discount limit")
        verbose_name_plural = _("discount limits")
        constraints = [
            models.CheckConstraint(
                condition=(Q(role="") & Q(user__isnull=False)) | (~Q(role="") & Q(user__isnull=True)),
                name="discount_limit_role_or_user",
            ),
            # One limit per role or user, in general and per category (four partial constraints, as
            # SQLite cannot treat empty columns as equal in one).
            models.UniqueConstraint(
                fields=["role", "segment"],
                condition=Q(user__isnull=True, category__isnull=True),
                name="discount_limit_role",
            ),
            models.UniqueConstraint(
                fields=["role", "category", "segment"],
                condition=Q(user__isnull=True, category__isnull=False),
                name="discount_limit_role_category",
            ),
            models.UniqueConstraint(
                fields=["user", "segment"],
                condition=Q(user__isnull=False, category__isnull=True),
                name="discount_limit_user",
            ),
            models.UniqueConstraint(
                fields=["user", "category", "segment"],
                condition=Q(user__isnull=False, category__isnull=False),
                name="discount_limit_user_category",
            ),
        ]

    def __str__(self) -> str:
        who = self.role or f"user {self.user_id}"
        return f"{who}{' ' + self.segment if self.segment else ''}: {self.percent}% / {self.amount}"


class AppliedDiscount(models.Model):
    """One discount on one confirmed order line, for "what did each policy cost and earn"."""

    order = models.ForeignKey("sales.Order", on_delete=models.CASCADE, related_name="applied_discounts")
    line = models.ForeignKey("sales.OrderLine", on_delete=models.CASCADE, related_name="applied_discounts")
    account = models.ForeignKey("accounts.Account", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    policy = models.ForeignKey(Policy, on_delete=models.SET_NULL, null=True, blank=True, related_name="applied")
    rule = models.ForeignKey(DiscountRule, on_delete=models.SET_NULL, null=True, blank=True, related_name="applied")
    source = models.CharField(max_length=10)  # policy | coupon | manual
    amount = money_field(_("amount"))
    currency = models.CharField(max_length=3)
    order_date = models.DateField()

    class Meta:
        indexes = [models.Index(fields=["policy", "order_date"]), models.Index(fields=["account", "order_date"])]

    def __str__(self) -> str:
        return f"{self.source} {self.amount} {self.currency} on line {self.line_id}"


from .analysis_models import WhatIfRun  # noqa: E402, F401  (what-if runs, in their own module)
from .publication_models import PolicyPublication, PublicationRecipient  # noqa: E402,F401
