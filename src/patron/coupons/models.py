"""Coupon campaigns, their codes, and every use of a code on an order.

A campaign's ``terms`` are the pure core's dict (``patron.domain.coupons.terms``): kind, the
pricing engine's benefit, products, minimum spend, validity, limits per code and per account,
budget, and what it combines with. ``budget_used`` is the discount its redemptions gave, kept
(for a campaign with a budget) on the campaign row so that locking that row makes a budget hold
under concurrent orders; pages sum the redemptions instead.
A coupon is one code, for anyone or bound to one account; ``uses`` counts its live
redemptions. A redemption is one code used on one order; reversing it (the order cancelled or
returned) gives the use back and keeps the record.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patron.core.outbox_models import OutboxBatch, OutboxRow
from patron.sales.models import CURRENCY_CHOICES, money_field

EMAIL, SMS, PUSH = "email", "sms", "push"
CHANNELS = [(EMAIL, _("Email")), (SMS, _("SMS")), (PUSH, _("App push"))]


class Campaign(models.Model):
    DRAFT, ACTIVE, ENDED = "draft", "active", "ended"
    STATUSES = [(DRAFT, _("Draft")), (ACTIVE, _("Active")), (ENDED, _("Ended"))]
    KINDS = [
        ("percent_off", _("Percent off")),
        ("amount_off", _("Amount off")),
        ("spend_save", _("Spend and save")),
        ("gift", _("Free gift")),
        ("first_order", _("New customer's first order")),
        ("loyal_reward", _("Loyal customer reward")),
        ("birthday", _("Birthday")),
        ("holiday", _("Holiday")),
        ("points_exchange", _("Points exchange")),
        ("rebate", _("Rebate paid as a discount")),
    ]

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    customer_text = models.TextField(_("text for customers"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=KINDS)
    terms = models.JSONField(_("terms"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), null=True, blank=True)
    prefix = models.CharField(_("code prefix"), max_length=12, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=STATUSES, default=DRAFT, db_index=True)
    budget_used = money_field(_("discount given"), default=0)
    internal = models.BooleanField(default=False, editable=False)  # made by Patron itself (rebate payouts)
    # Issued by Patron each day to the accounts that come due (a birthday month, a first order still to
    # make, loyalty reached) among ``target``, holding out ``holdout_percent``, told by ``channel``.
    auto_issue = models.BooleanField(_("issue automatically"), default=False)
    target = models.JSONField(_("target"), default=dict, blank=True)
    holdout_percent = models.PositiveSmallIntegerField(_("held out (%)"), default=0)
    channel = models.CharField(_("channel"), max_length=8, choices=CHANNELS, default=EMAIL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("coupon campaign")
        verbose_name_plural = _("coupon campaigns")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    GENERATED, SHARED, IMPORTED, REBATE = "generated", "shared", "imported", "rebate"
    SOURCES = [
        (GENERATED, _("Generated")),
        (SHARED, _("Shared public code")),
        (IMPORTED, _("Imported")),
        (REBATE, _("Rebate payout")),
    ]

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(_("code"), max_length=64, unique=True)  # normalized: codes.normalize
    account = models.ForeignKey(
        "accounts.Account",
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="coupons",
    )
    source = models.CharField(_("source"), max_length=10, choices=SOURCES, default=GENERATED)
    issued_at = models.DateTimeField(_("issued"))
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    uses = models.PositiveIntegerField(_("uses"), default=0)
    # A code worth its own amount off the order (a rebate paid as a discount), instead of the campaign's benefit.
    amount = models.DecimalField(_("amount off"), max_digits=18, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["campaign", "id"]
        indexes = [models.Index(fields=["account", "campaign"], name="coupon_account_idx")]

    def __str__(self) -> str:
        return self.code


class Redemption(models.Model):
    coupon = models.ForeignKey(Coupon, verbose_name=_("coupon"), on_delete=models.PROTECT, related_name="redemptions")
    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="redemptions"
    )
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="+"
    )
    order = models.ForeignKey(
        "sales.Order", verbose_name=_("order"), on_delete=models.PROTECT, related_name="coupon_redemptions"
    )
    amount = money_field(_("discount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    redeemed_at = models.DateTimeField(_("redeemed"), auto_now_add=True)
    reversed_at = models.DateTimeField(_("reversed"), null=True, blank=True)
    reversed_reason = models.CharField(_("why reversed"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "order"], condition=Q(reversed_at=None), name="redemption_live_once_per_order"
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "account"], name="redemption_account_idx", condition=Q(reversed_at=None)),
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} on {self.order_id}"


class CampaignSend(OutboxBatch):
    """A campaign run once to the accounts it targets: who was targeted, who was held out, and the emails.

    The hold-out is chosen when the run is made, by a seeded hash of each account, and recorded on
    a row of its own, so effect can later be measured against exactly those accounts."""

    SCHEDULED = "scheduled"
    STATUSES = [(SCHEDULED, _("Scheduled")), *OutboxBatch.STATUSES]
    MANUAL, AUTOMATIC = "manual", "automatic"
    TRIGGERS = [(MANUAL, _("By hand")), (AUTOMATIC, _("Automatic"))]

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="sends")
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OutboxBatch.SENDING)
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    trigger = models.CharField(_("trigger"), max_length=10, choices=TRIGGERS, default=MANUAL)
    day = models.DateField(_("day"), null=True, blank=True)  # an automatic run's day: one a day
    channel = models.CharField(_("channel"), max_length=8, choices=CHANNELS, default=EMAIL)
    target = models.JSONField(_("target"), default=dict, blank=True)  # the discount rules' "who"
    holdout_percent = models.PositiveSmallIntegerField(_("held out (%)"), default=0)
    seed = models.CharField(max_length=32, editable=False)
    accounts = models.PositiveIntegerField(_("accounts targeted"), default=0)
    held_out = models.PositiveIntegerField(_("accounts held out"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("run"), auto_now_add=True)

    class Meta:
        verbose_name = _("campaign run")
        verbose_name_plural = _("campaign runs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day"], condition=Q(trigger="automatic"), name="campaign_auto_run_once_a_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} run {self.pk}"


class CampaignRecipient(OutboxRow):
    """One address of a targeted account with the code issued to it; a held-out account has one row
    with status ``held_out`` and no code."""

    HELD_OUT = "held_out"
    STATUSES = [*OutboxRow.STATUSES, (HELD_OUT, _("Held out"))]

    send = models.ForeignKey(CampaignSend, verbose_name=_("run"), on_delete=models.CASCADE, related_name="recipients")
    coupon = models.ForeignKey(
        Coupon, verbose_name=_("coupon"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=OutboxRow.QUEUED)
    channel = models.CharField(_("channel"), max_length=8, choices=CHANNELS, default=EMAIL)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    token = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)  # feedback link
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)  # 1 to 5
    comment = models.TextField(_("comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)

    class Meta:
        verbose_name = _("campaign recipient")
        verbose_name_plural = _("campaign recipients")
        ordering = ["send", "id"]
        indexes = [models.Index(fields=["send", "status", "id"], name="campaign_rcpt_status_idx")]
