"""Classifications users write, the runs that apply them, and each account's dated membership.

Membership is kept as validity intervals: a row says "account A was in class C of
classification K from day F until day T" (T empty while it still is). A run writes rows
only for accounts whose class changed, so a year of nightly runs over a million accounts
stores the movement, not a million rows a night; "who was in S on day D" and "who moved
from high to mid this quarter" are range queries on the same table.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patron.accounts.models import BilingualName


class Classification(BilingualName):
    SINGLE, SCORE, RULES, RFM, LIFECYCLE = "single", "score", "rules", "rfm", "lifecycle"
    KINDS = [
        (SINGLE, _("One indicator")),
        (SCORE, _("Weighted score")),
        (RULES, _("Rules")),
        (RFM, _("RFM")),
        (LIFECYCLE, _("Lifecycle stage")),
    ]
    # The window the indicators are measured over, ending on the run's day.
    WINDOWS = [
        ("trailing_12_months", _("Trailing 12 months")),
        ("this_month", _("This month")),
        ("this_quarter", _("This quarter")),
        ("last_quarter", _("Last quarter")),
        ("this_year", _("This year")),
        ("custom", _("Custom dates")),
    ]

    key = models.SlugField(_("key"), max_length=40, unique=True)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=KINDS)
    definition = models.JSONField(_("definition"))
    window = models.CharField(_("period"), max_length=20, choices=WINDOWS, default="trailing_12_months")
    window_start = models.DateField(_("from"), null=True, blank=True)
    window_end = models.DateField(_("to"), null=True, blank=True)
    builtin = models.BooleanField(_("built in"), default=False, editable=False)
    active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("classification")
        verbose_name_plural = _("classifications")
        ordering = ["-builtin", "key"]


class SegmentRun(models.Model):
    """One recompute: indicators measured once, every active classification applied."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, _("Queued")), (RUNNING, _("Running")), (DONE, _("Done")), (FAILED, _("Failed"))]
    FULL, INCREMENTAL = "full", "incremental"
    SCOPES = [(FULL, _("Every account")), (INCREMENTAL, _("Changed accounts"))]

    as_of = models.DateField(_("as of"), db_index=True)
    scope = models.CharField(_("scope"), max_length=12, choices=SCOPES, default=FULL)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED)
    step = models.CharField(max_length=10, blank=True)  # measure, classify, write, done
    steps_done = models.PositiveIntegerField(default=0)
    steps_total = models.PositiveIntegerField(default=0)
    accounts = models.PositiveIntegerField(_("accounts"), default=0)
    moved = models.PositiveIntegerField(_("moved"), default=0)
    # BG/NBD and Gamma-Gamma parameters, log-likelihoods and why a fit failed (segments.churn.ChurnFit)
    churn_fit = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # seconds per step, for the health page and benchmarks
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("segment run")
        verbose_name_plural = _("segment runs")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.as_of} {self.scope} {self.status}"


class Snapshot(models.Model):
    """What one run made of one classification: the definition as it stood, the cut points it fitted, the counts."""

    run = models.ForeignKey(SegmentRun, on_delete=models.CASCADE, related_name="snapshots")
    classification = models.ForeignKey(Classification, on_delete=models.CASCADE, related_name="snapshots")
    as_of = models.DateField(_("as of"))
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    version = models.PositiveIntegerField(default=1)
    definition = models.JSONField(default=dict)
    fitted = models.JSONField(default=dict)  # cut points and normalisation, to explain one account later
    notes = models.JSONField(default=list)  # population-level reasons, e.g. quantiles that tied
    counts = models.JSONField(default=dict)  # class key -> accounts

    class Meta:
        verbose_name = _("snapshot")
        verbose_name_plural = _("snapshots")
        ordering = ["-as_of", "-id"]
        indexes = [models.Index(fields=["classification", "as_of"])]

    def __str__(self) -> str:
        return f"{self.classification_id}@{self.as_of}"


class WrittenJSON(models.JSONField):
    """JSON kept as written: PostgreSQL's ``json`` instead of ``jsonb``.

    A membership's values are written once (a million per classification on a first run), read
    whole and never searched by key; parsing each into jsonb was a quarter of that write.
    """

    def db_type(self, connection: Any) -> str | None:
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is not None and not isinstance(value, str):
            return value  # psycopg decodes json columns itself (Django has it leave only jsonb as text)
        return super().from_db_value(value, expression, connection)


class Membership(models.Model):
    """An account in a class from ``valid_from`` until ``valid_to`` (exclusive; empty while it lasts).

    Written only by runs, millions at a time: the foreign keys are not checked by the database
    (PostgreSQL's deferred checks took longer than writing the rows); deletes still cascade
    through Django.
    """

    # No single-column indexes either: the composite ones below lead with these columns.
    classification = models.ForeignKey(
        Classification, on_delete=models.CASCADE, related_name="memberships", db_constraint=False, db_index=False
    )
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="memberships", db_constraint=False, db_index=False
    )
    class_key = models.CharField(_("class"), max_length=40)
    score = models.FloatField(_("score"), null=True, blank=True)
    values = WrittenJSON(default=dict)  # the indicators that placed it, as measured then
    snapshot = models.ForeignKey(
        Snapshot, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    valid_from = models.DateField(_("from"))
    valid_to = models.DateField(_("until"), null=True, blank=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        indexes = [
            models.Index(fields=["classification", "class_key", "valid_from"]),
            models.Index(fields=["account", "classification"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["classification", "account"], condition=Q(valid_to__isnull=True), name="membership_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.class_key} from {self.valid_from}"
