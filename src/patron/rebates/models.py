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

from patron.core.outbox_models import OutboxBatch, OutboxRow
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


class RebateSettlement(models.Model):
    """A period's rebates computed for every agreement, reviewed by finance, then paid once.

    A *partial* settlement pays during the period what the volume so far earns; the *final* one
    (one per program and period) what the whole period earns, less what partial ones paid, and
    corrects earlier periods whose documents changed after they were settled (a claw-back when
    negative). Lines are written in chunks, each in its own transaction, so a run that is killed
    is run again from where it stopped; ``computed_at`` says every agreement has its line.
    """

    PARTIAL, FINAL = "partial", "final"
    KINDS = [(PARTIAL, _("Partial")), (FINAL, _("Final"))]
    DRAFT, APPROVED, DISCARDED = "draft", "approved", "discarded"
    STATUSES = [(DRAFT, _("Draft")), (APPROVED, _("Approved")), (DISCARDED, _("Discarded"))]

    program = models.ForeignKey(
        RebateProgram, verbose_name=_("program"), on_delete=models.PROTECT, related_name="settlements"
    )
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))  # exclusive
    kind = models.CharField(_("kind"), max_length=8, choices=KINDS, default=FINAL)
    as_of = models.DateField(_("volume as of"))  # documents dated up to and including this day
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=DRAFT, db_index=True)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("run by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)

    class Meta:
        verbose_name = _("rebate settlement")
        verbose_name_plural = _("rebate settlements")
        ordering = ["-period_start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "period_start"],
                condition=Q(kind="final") & ~Q(status="discarded"),
                name="rebate_settlement_one_final_per_period",
            ),
            models.UniqueConstraint(
                fields=["program", "period_start", "as_of"],
                condition=Q(kind="partial") & ~Q(status="discarded"),
                name="rebate_settlement_one_partial_per_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program} {self.period_start} {self.kind}"


class RebateSettlementLine(models.Model):
    """One agreement's due for one period: earned less paid before; finance may override with a comment."""

    settlement = models.ForeignKey(
        RebateSettlement, verbose_name=_("settlement"), on_delete=models.CASCADE, related_name="lines"
    )
    agreement = models.ForeignKey(
        RebateAgreement, verbose_name=_("agreement"), on_delete=models.PROTECT, related_name="settlement_lines"
    )
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="rebate_lines"
    )
    # The period this line settles: the settlement's own, or an earlier one it corrects.
    period_start = models.DateField(_("period start"))
    amount = volume_field(_("net sales"))
    quantity = volume_field(_("quantity"))
    profit = volume_field(_("gross profit"))
    tier = models.PositiveSmallIntegerField(_("tier reached"), default=0)
    earned = money_field(_("earned"))
    paid_before = money_field(_("paid before"), default=0)
    due = money_field(_("due"))
    override = money_field(_("override"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("rebate settlement line")
        verbose_name_plural = _("rebate settlement lines")
        ordering = ["settlement", "account", "period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "agreement", "period_start"], name="rebate_line_once_per_agreement_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.settlement_id} {self.account_id} {self.period_start}: {self.payable}"

    @property
    def payable(self) -> object:
        return self.override if self.override is not None else self.due


class RebatePayout(models.Model):
    """What approval paid for one line, in the program's form; made once per line."""

    CREDIT_NOTE, CASH, DISCOUNT, POINTS, CLAWBACK = "credit_note", "cash", "discount", "points", "clawback"
    FORMS = [*RebateProgram.PAYOUTS, (CLAWBACK, _("Claw-back"))]
    TO_PAY, DONE = "to_pay", "done"
    STATUSES = [(TO_PAY, _("To pay")), (DONE, _("Done"))]

    line = models.OneToOneField(
        RebateSettlementLine, verbose_name=_("settlement line"), on_delete=models.PROTECT, related_name="payout"
    )
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="rebate_payouts"
    )
    form = models.CharField(_("form"), max_length=12, choices=FORMS)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES)
    amount = money_field(_("amount"))  # negative: a claw-back, owed by the customer
    status = models.CharField(_("status"), max_length=8, choices=STATUSES, default=TO_PAY)
    credit_note = models.OneToOneField(
        "sales.CreditNote", verbose_name=_("credit note"), on_delete=models.PROTECT, null=True, blank=True
    )
    reference = models.CharField(_("reference"), max_length=100, blank=True)
    # The customer confirms receipt from a link carrying this token.
    token = models.CharField(max_length=64, unique=True, editable=False)
    confirmed_at = models.DateTimeField(_("receipt confirmed"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("rebate payout")
        verbose_name_plural = _("rebate payouts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.form} {self.amount} {self.currency}"


class PointsEntry(models.Model):
    """The points ledger: rebates paid as points (positive), spent or expired (negative)."""

    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="points"
    )
    points = models.DecimalField(_("points"), max_digits=18, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=200)
    payout = models.OneToOneField(
        RebatePayout, verbose_name=_("rebate payout"), on_delete=models.PROTECT, null=True, blank=True
    )
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "expires_on"])]

    def __str__(self) -> str:
        return f"{self.account_id} {self.points}"


class RebateReplay(models.Model):
    """A program's terms, changed, replayed over last year's volumes before they go live; kept with its answer."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, _("Waiting")), (RUNNING, _("Replaying")), (DONE, _("Done")), (FAILED, _("Failed"))]
    AGREEMENTS, ELIGIBLE = "agreements", "eligible"
    SOURCES = [(AGREEMENTS, _("accounts with an agreement")), (ELIGIBLE, _("accounts the program is open to"))]

    program = models.ForeignKey(
        RebateProgram, verbose_name=_("program"), on_delete=models.CASCADE, related_name="replays"
    )
    program_version = models.PositiveIntegerField(default=1)
    terms = models.JSONField(_("proposed terms"))
    source = models.CharField(_("accounts"), max_length=10, choices=SOURCES, default=AGREEMENTS)
    accounts = models.PositiveIntegerField(_("accounts"), default=0)
    first_day = models.DateField(_("from"))
    last_day = models.DateField(_("to"))
    status = models.CharField(_("status"), max_length=8, choices=STATUSES, default=QUEUED, db_index=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("asked for"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("rebate replay")
        verbose_name_plural = _("rebate replays")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.program_id} replay {self.pk}"


class RebateAnnouncement(OutboxBatch):
    """A program told to the accounts it concerns: one per program version, with what they were told.

    ``snapshot`` keeps the program as announced (name, text, dates, terms, payout), so the next
    announcement can say what changed, and from when."""

    FIRST, CHANGE = "first", "change"
    KINDS = [(FIRST, _("New program")), (CHANGE, pgettext_lazy("an announcement of changes", "Changes"))]
    program = models.ForeignKey(
        RebateProgram, verbose_name=_("program"), on_delete=models.CASCADE, related_name="announcements"
    )
    version = models.PositiveIntegerField(_("version"))
    kind = models.CharField(_("kind"), max_length=8, choices=KINDS)
    snapshot = models.JSONField()
    changes = models.JSONField(default=dict, blank=True)  # field: [before, after], for a change
    effective_on = models.DateField(_("effective from"))
    accounts = models.PositiveIntegerField(_("accounts"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("announced"), auto_now_add=True)

    class Meta:
        verbose_name = _("rebate announcement")
        verbose_name_plural = _("rebate announcements")
        ordering = ["program", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="rebate_announcement_once_per_version")
        ]

    def __str__(self) -> str:
        return f"program {self.program_id} v{self.version}"


class AnnouncementRecipient(OutboxRow):
    """One address told of an announcement."""

    announcement = models.ForeignKey(
        RebateAnnouncement, verbose_name=_("announcement"), on_delete=models.CASCADE, related_name="recipients"
    )

    class Meta:
        verbose_name = _("announcement recipient")
        verbose_name_plural = _("announcement recipients")
        ordering = ["announcement", "id"]
        indexes = [models.Index(fields=["announcement", "status", "id"], name="rebate_ann_rcpt_status_idx")]


class PayoutNotice(OutboxBatch):
    """The emails of one approved settlement: each paid account told what it gets, with its receipt link."""

    settlement = models.OneToOneField(
        RebateSettlement, verbose_name=_("settlement"), on_delete=models.CASCADE, related_name="notice"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("payout notice")
        verbose_name_plural = _("payout notices")

    def __str__(self) -> str:
        return f"notice of settlement {self.settlement_id}"


class PayoutNoticeRecipient(OutboxRow):
    notice = models.ForeignKey(
        PayoutNotice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="recipients"
    )
    payout = models.ForeignKey(RebatePayout, verbose_name=_("payout"), on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("payout notice recipient")
        verbose_name_plural = _("payout notice recipients")
        ordering = ["notice", "id"]
        indexes = [models.Index(fields=["notice", "status", "id"], name="rebate_notice_status_idx")]
