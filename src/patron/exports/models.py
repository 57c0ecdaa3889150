"""A background export: a list as filtered, written to a file its owner downloads later.

The filters are kept as the list read them when the export was asked for; who may see
which rows is decided again when the file is written, as the owner's role then is.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ExportJob(models.Model):
    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [
        (QUEUED, _("Waiting")),
        (RUNNING, _("Writing")),
        (DONE, _("Ready")),
        (FAILED, _("Failed")),
    ]
    FORMATS = [("csv", "CSV"), ("xlsx", _("Excel"))]

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="exports"
    )
    list_name = models.CharField(_("list"), max_length=20)
    format = models.CharField(_("format"), max_length=4, choices=FORMATS)
    # The list page's query string (its filters), as the user filtered it.
    query = models.TextField(_("filters"), blank=True)
    # The filters as data, for lists whose filters are read before the export starts (accounts).
    filters = models.JSONField(default=dict, blank=True, editable=False)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED, db_index=True)
    rows_total = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    rows_done = models.PositiveIntegerField(_("rows written"), default=0)
    # The file under the var directory (exports/), once written; emptied when it expires.
    stored_as = models.CharField(max_length=100, blank=True, editable=False)
    file_size = models.PositiveBigIntegerField(_("size"), default=0)
    message = models.TextField(_("message"), blank=True)
    created_at = models.DateTimeField(_("asked for"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    # Last sign of life from the worker writing the file (a stalled export is failed after a while).
    progress_at = models.DateTimeField(null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    expires_at = models.DateTimeField(_("kept until"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.list_name} {self.format} ({self.status})"

    @property
    def is_busy(self) -> bool:
        return self.status in (self.QUEUED, self.RUNNING)

    @property
    def is_expired(self) -> bool:
        return self.status == self.DONE and (
            not self.stored_as or (self.expires_at is not None and self.expires_at <= timezone.now())
        )

    @property
    def is_ready(self) -> bool:
        return self.status == self.DONE and not self.is_expired

    @property
    def percent(self) -> int:
        if self.status == self.DONE:
            return 100
        if not self.rows_total:
            return 0
        return min(100, int(self.rows_done * 100 / self.rows_total))
