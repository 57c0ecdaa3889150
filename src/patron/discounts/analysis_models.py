"""A what-if run: one policy replayed against a past period's confirmed orders, with its progress and result.

Kept as a record (not only a queue result) so that a long replay can be followed while it
runs, found again from the policy afterwards, and compared with an earlier one. The
result is data (amounts as text, class keys, codes); labels are put on it in the reader's
language when it is shown.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WhatIfRun(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, _("Waiting")), (RUNNING, _("Replaying")), (DONE, _("Done")), (FAILED, _("Failed"))]
    LAST_MONTH, LAST_QUARTER, CUSTOM = "last_month", "last_quarter", "custom"
    PERIODS = [(LAST_MONTH, _("Last month")), (LAST_QUARTER, _("Last quarter")), (CUSTOM, _("Custom dates"))]
    ORDER_DATE, PERIOD_END = "order_date", "period_end"
    AS_OF_CHOICES = [(ORDER_DATE, _("Each order's date")), (PERIOD_END, _("The period's last day"))]

    policy = models.ForeignKey(
        "discounts.Policy", verbose_name=_("policy"), on_delete=models.CASCADE, related_name="what_ifs"
    )
    policy_version = models.PositiveIntegerField(default=1)
    period = models.CharField(_("period"), max_length=12, choices=PERIODS, default=LAST_MONTH)
    start = models.DateField(_("from"))
    end = models.DateField(_("to"))  # the period's last day, included
    classification = models.ForeignKey(
        "segments.Classification",
        verbose_name=_("classification"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    classification_key = models.CharField(_("classification"), max_length=40)
    classes_as_of = models.CharField(_("classes as of"), max_length=12, choices=AS_OF_CHOICES, default=ORDER_DATE)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED, db_index=True)
    background = models.BooleanField(default=False)
    lines_total = models.PositiveBigIntegerField(_("order lines"), default=0)
    lines_done = models.PositiveBigIntegerField(_("order lines replayed"), default=0)
    result = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)  # seconds per step, for the benchmark and the curious
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("asked for"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    progress_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("what-if run")
        verbose_name_plural = _("what-if runs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["policy", "-created_at"])]

    def __str__(self) -> str:
        return f"what-if {self.pk} of policy {self.policy_id} ({self.status})"

    @property
    def is_busy(self) -> bool:
        return self.status in (self.QUEUED, self.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        if not self.lines_total:
            return 0
        return min(99, int(self.lines_done * 100 / self.lines_total))
