"""Key-account opportunities: a deal in the making with an account, its stage, amount, expected close and
probability (see ``patron.domain.pipeline``), the people who decide it, the documents sent, and every change
of stage (append-only: services only ever add one).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from patron.domain import pipeline as rules
from patron.sales.models import CURRENCY_CHOICES, money_field

STAGES = [
    (rules.QUALIFICATION, _("Qualification")),
    (rules.NEEDS_ANALYSIS, _("Needs analysis")),
    (rules.PROPOSAL, _("Proposal or quote")),
    (rules.NEGOTIATION, _("Negotiation")),
    (rules.WON, pgettext_lazy("opportunity stage", "Won")),
    (rules.LOST, pgettext_lazy("opportunity stage", "Lost")),
]


class Opportunity(models.Model):
    account = models.ForeignKey(
        "accounts.Account", verbose_name=_("account"), on_delete=models.PROTECT, related_name="opportunities"
    )
    name = models.CharField(_("name"), max_length=200)
    stage = models.CharField(_("stage"), max_length=20, choices=STAGES, default=rules.QUALIFICATION)
    amount = money_field(_("amount"), default=0)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CNY")
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=10, validators=[MaxValueValidator(100)]
    )
    expected_close = models.DateField(_("expected close"), db_index=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="opportunities"
    )
    lost_reason = models.CharField(_("why it was lost"), max_length=300, blank=True)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    stage_since = models.DateTimeField(_("in this stage since"))
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["expected_close", "id"]
        indexes = [
            models.Index(fields=["owner", "stage", "expected_close"], name="opp_owner_stage_idx"),
            models.Index(fields=["account", "stage"], name="opp_account_stage_idx"),
            models.Index(fields=["stage", "expected_close"], name="opp_stage_close_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(probability__lte=100), name="opp_probability_0_100"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="opp_amount_not_negative"),
            models.CheckConstraint(condition=~Q(stage="lost") | ~Q(lost_reason=""), name="opp_lost_has_reason"),
            models.CheckConstraint(
                condition=Q(stage__in=["won", "lost"], closed_at__isnull=False)
                | (~Q(stage__in=["won", "lost"]) & Q(closed_at__isnull=True)),
                name="opp_closed_when_won_or_lost",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return rules.is_open(self.stage)


class OpportunityContact(models.Model):
    """One of the account's contacts and the part they play in the decision."""

    ROLES = [
        ("decision_maker", _("Decision maker")),
        ("influencer", _("Influencer")),
        ("user", _("User")),
        ("technical_buyer", _("Technical buyer")),
        ("financial_buyer", _("Financial buyer")),
        ("gatekeeper", _("Gatekeeper")),
        ("champion", _("Champion")),
    ]
    ATTITUDES = [
        ("unknown", _("Not known yet")),
        ("supporter", _("Supports us")),
        ("neutral", _("Neutral")),
        ("skeptic", _("Doubts us")),
        ("opponent", _("Prefers a competitor")),
    ]

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="decision_makers"
    )
    contact = models.ForeignKey(
        "accounts.Contact", verbose_name=_("contact person"), on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(_("role in the decision"), max_length=20, choices=ROLES)
    attitude = models.CharField(_("attitude"), max_length=10, choices=ATTITUDES, default="unknown")
    notes = models.CharField(_("notes"), max_length=500, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("decision maker")
        verbose_name_plural = _("decision makers")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["opportunity", "contact"], name="opp_contact_once"),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.role}"


class OpportunityDocument(models.Model):
    """A file sent or received for the deal (a quote, a bid); the bytes are kept under the var directory."""

    KINDS = [
        ("quote", _("Quote")),
        ("bid", _("Bid")),
        ("contract", _("Contract")),
        ("other", _("Other")),
    ]

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="documents"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=KINDS, default="quote")
    name = models.CharField(_("name"), max_length=200)
    file_name = models.CharField(_("file"), max_length=255)
    file_size = models.PositiveBigIntegerField(_("size"), default=0)
    stored_as = models.CharField(max_length=100, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return self.name


class StageChange(models.Model):
    """One move from a stage to another (``from_stage`` empty: the stage it was opened in). Never changed."""

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="stage_changes"
    )
    from_stage = models.CharField(_("from"), max_length=20, choices=STAGES, blank=True)
    to_stage = models.CharField(_("to"), max_length=20, choices=STAGES)
    at = models.DateTimeField(_("when"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["opportunity", "at"], name="opp_stage_change_idx")]

    def __str__(self) -> str:
        return f"{self.from_stage} -> {self.to_stage}"
